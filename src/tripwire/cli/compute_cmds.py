"""`tripwire compute`: training compute, effective compute and cost, for one run or the register."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tripwire import compute
from tripwire.cli.app import DbOpt, JsonOpt, app, print_json, render
from tripwire.cli.register_cmds import model_rows
from tripwire.errors import InputError


@app.command("compute")
def compute_cmd(
    model: Annotated[str | None, typer.Argument(help="A register model (default: all).")] = None,
    params: Annotated[float | None, typer.Option(help="Parameters N, e.g. 7e9.")] = None,
    tokens: Annotated[float | None, typer.Option(help="Training tokens D, e.g. 2e12.")] = None,
    accelerator: Annotated[str | None, typer.Option(help="e.g. H100, A100, TPU v5p.")] = None,
    count: Annotated[float | None, typer.Option(help="Number of accelerators.")] = None,
    hours: Annotated[float | None, typer.Option(help="Wall-clock training hours.")] = None,
    utilization: Annotated[
        float, typer.Option(help="Model-FLOP utilisation, 0-1.")
    ] = compute.DEFAULT_UTILIZATION,
    price: Annotated[
        float | None, typer.Option(help="USD per accelerator-hour (default: the cited list price).")
    ] = None,
    multiplier: Annotated[float, typer.Option(help="Declared algorithmic multiplier.")] = 1.0,
    accelerators: Annotated[
        bool, typer.Option("--accelerators", help="List the accelerator table with sources.")
    ] = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Estimate training compute (6ND or hardware-time), effective compute and cost.

    With --params/--tokens or --accelerator/--count/--hours it computes one run; with MODEL it
    prints that model's compute ledger, the cumulative total each regime counts with
    P(total > line) for every line, both methods side by side where the inputs allow, and the
    one-third test against its parent; otherwise it lists the register's models, estimating C
    where only N and D are known."""
    from tripwire.register import open_register

    if accelerators:
        render(
            [
                dict(
                    name=a.name,
                    peak_flops=a.peak_flops,
                    precision=a.precision,
                    source=a.source,
                    usd_per_hour=a.price_per_hour,
                    price_source=a.price_source,
                )
                for a in compute.ACCELERATORS.values()
            ],
            as_json=json,
            title="accelerators",
        )
        return
    if params is not None or tokens is not None or accelerator is not None:
        out: dict[str, Any] = {}
        c: float | None = None
        if params is not None or tokens is not None:
            if params is None or tokens is None:
                raise InputError("6ND needs both --params and --tokens")
            c = out["compute_6nd_flop"] = compute.compute_6nd(params, tokens)
        if accelerator is not None:
            if count is None or hours is None:
                raise InputError("a hardware estimate needs --accelerator, --count and --hours")
            acc = compute.accelerator(accelerator)
            out["accelerator"] = acc.name
            c = out["compute_hardware_flop"] = compute.compute_from_hardware(
                accelerator, count, hours, utilization
            )
            out["accelerator_hours"] = count * hours
            if price is not None or acc.price_per_hour is not None:
                out["cost_usd"] = compute.training_cost(accelerator, count, hours, price)
                out["price_per_hour"] = price if price is not None else acc.price_per_hour
                out["price_source"] = "given" if price is not None else acc.price_source
        assert c is not None
        out["effective_compute_flop"] = compute.effective_compute(c, multiplier)
        out["regulatory_lines"] = [label for _, label in compute.lines_passed(c)]
        if json:
            print_json(out)
        else:
            render([{"quantity": k, "value": v} for k, v in out.items()], title="compute")
        return
    reg = open_register(db)
    if model:
        _account(reg, model, json)
        return
    models = reg.models()
    models = [compute.with_estimates(m) for m in models]
    rows = model_rows(models)
    if json:
        print_json([{k: v for k, v in r.items() if k != "lines"} for r in rows])
        return
    for r in rows:
        r["method"] = r["compute_method"]
    render(
        rows,
        title="training compute",
        columns=[
            "name",
            "params",
            "tokens",
            "compute_flop",
            "method",
            "multiplier",
            "effective_compute_flop",
            "cost_usd",
            "lines",
        ],
    )


def _account(reg: Any, model: str, as_json: bool) -> None:
    """One model's compute account (tripwire.accounts)."""
    from tripwire.accounts import account
    from tripwire.cli.app import stdout, warn

    acc = account(reg, model)
    if as_json:
        print_json(acc.to_dict())
        return
    render([e.to_dict() | {"counts": " ".join(e.counts) or "none"} for e in acc.entries],
           title=f"compute ledger of {acc.model}",
           columns=["component", "method", "flop", "architecture_flop", "hardware_flop",
                    "disagreement", "uncertainty", "counts", "source"])
    rows = []
    for t in acc.totals:
        for line in t["lines"]:
            rows.append({"regime": t["regime"], "cumulative_flop": t["total_flop"],
                         "entries": t["entries"], "line": line["line"],
                         "p_above": line["p_above"], "label": line["label"]})
    render(rows, title="cumulative training compute by regime",
           columns=["regime", "cumulative_flop", "entries", "line", "p_above", "label"])
    if acc.modifier is not None:
        mt = acc.modifier
        verdict = ("the modifier is presumed the provider of the modified model"
                   + (", a GPAI model with systemic risk" if mt.systemic_risk else "")
                   if mt.provider else "the modifier does not become its provider")
        chance = (f", P = {mt.p_provider:.2f} with both figures' spread"
                  if mt.p_provider is not None and 0 < mt.p_provider < 1 else "")
        stdout.print(f"modification of {mt.parent}: {mt.modification_flop:.3g} FLOP against "
                     f"{mt.threshold:.3g} FLOP ({mt.basis}): {verdict}{chance} (Commission "
                     "guidelines C(2025) 5045, points 60-61)", markup=False)
    for w in acc.warnings:
        warn(w)
