"""`tripwire fit`: fit a scaling law to loss observations and extrapolate it with intervals."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tripwire.cli.app import DbOpt, JsonOpt, app, info, print_json, render, stderr, warn
from tripwire.errors import InputError, InsufficientEvidence, TripwireError

if TYPE_CHECKING:
    from tripwire.fit import ChinchillaLaw, ComputeLaw
    from tripwire.model import LossObservation


class LawName(StrEnum):
    """Which law `tripwire fit` fits."""

    chinchilla = "chinchilla"
    compute = "compute"


def _observations(source: Path | None, db: str | None) -> tuple[list[LossObservation], str]:
    """Loss observations from a CSV file, or else from the register."""
    if source is not None:
        from tripwire.ingest.csv import read_loss_csv

        return read_loss_csv(source), str(source)
    from tripwire.register import open_register

    reg = open_register(db)
    try:
        return reg.loss_observations(), reg.display
    finally:
        reg.close()


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr for the bootstrap, as a ``progress(done, total)`` callback."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=stderr, transient=True)
    task = bar.add_task(label, total=None)
    with bar:
        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _targets(law: LawName, target_compute: list[float], params: float | None,
             tokens: float | None) -> list[dict[str, Any]]:
    """Where to predict: rows of compute/params/tokens and how they were chosen."""
    import numpy as np

    from tripwire.fit import C_PER_ND

    for name, v in (("--target-compute", target_compute), ("--params", [params]),
                    ("--tokens", [tokens])):
        for x in v:
            if x is not None and not (np.isfinite(x) and x > 0):
                raise InputError(f"{name} must be a positive number, got {x:g}")
    rows: list[dict[str, Any]] = []
    if params is not None and tokens is not None:
        if target_compute:
            raise InputError("give --params and --tokens, or --target-compute with at most one "
                             "of them, not all three")
        return [{"compute": C_PER_ND * params * tokens, "params": params, "tokens": tokens,
                 "basis": "given N and D"}]
    if (params is not None or tokens is not None) and not target_compute:
        raise InputError("--params or --tokens alone does not fix a run",
                         hint="add the other one, or --target-compute to derive it from C = 6ND")
    for c in target_compute:
        if params is not None:
            rows.append({"compute": c, "params": params, "tokens": c / (C_PER_ND * params),
                         "basis": "given N, D = C/6N"})
        elif tokens is not None:
            rows.append({"compute": c, "params": c / (C_PER_ND * tokens), "tokens": tokens,
                         "basis": "given D, N = C/6D"})
        else:
            rows.append({"compute": c, "params": None, "tokens": None,
                         "basis": "compute-optimal" if law is LawName.chinchilla else "compute"})
    return rows


@app.command("fit")
def fit_cmd(
    source: Annotated[Path | None, typer.Option(
        "--from", help="A loss CSV (model, params, tokens, compute, loss; or Chinchilla-style "
        "params_N, tokens_D, flops_C, loss). Default: the register's loss observations.",
        show_default=False)] = None,
    law: Annotated[LawName, typer.Option(
        "--law", help="chinchilla: L(N, D) = E + A/N^alpha + B/D^beta; "
        "compute: L(C) = E + A*C^-alpha.")] = LawName.chinchilla,
    target_compute: Annotated[list[float] | None, typer.Option(
        "--target-compute", help="Training compute (FLOP) to extrapolate to, e.g. 1e24; "
        "repeatable.", show_default=False)] = None,
    params: Annotated[float | None, typer.Option(
        "--params", help="Parameters N of the run to predict, e.g. 7e10.",
        show_default=False)] = None,
    tokens: Annotated[float | None, typer.Option(
        "--tokens", help="Training tokens D of the run to predict, e.g. 1.4e12.",
        show_default=False)] = None,
    irreducible: Annotated[bool, typer.Option(
        "--irreducible/--no-irreducible",
        help="Compute law only: keep the irreducible loss E, or fit the pure power law.")] = True,
    holdout: Annotated[float | None, typer.Option(
        "--holdout", min=0.0, max=1.0, help="Also fit without the top FRACTION of runs by "
        "compute and report the error and interval coverage on them, e.g. 0.2.",
        show_default=False)] = None,
    n_boot: Annotated[int, typer.Option(
        "--n-boot", min=0, max=100_000, help="Bootstrap resamples for the intervals.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the bootstrap.")] = 0,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write a figure (.png or .svg): data, fit and extrapolation band.",
        show_default=False)] = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Fit a scaling law to loss observations and extrapolate it with 80 % and 95 % intervals.

    The Chinchilla law is fitted as Hoffmann et al. (2022) approach 3 (Huber on log-loss,
    L-BFGS from a grid of starts); intervals come from a seeded bootstrap over the runs and
    include the run-to-run scatter. Prints the parameters, the predictions at --target-compute
    (or --params/--tokens), and the compute-optimal allocation under C = 6ND."""
    import numpy as np

    from tripwire.fit import C_PER_ND, ChinchillaLaw, ComputeLaw, ExtrapolationWarning

    targets = _targets(law, target_compute or [], params, tokens)
    if plot is not None:
        from tripwire.plots import check_figure_path  # matplotlib only when a figure is asked

        check_figure_path(plot)
    obs, where = _observations(source, db)
    if not obs:
        raise InsufficientEvidence(f"no loss observations in {where}",
                                   hint="ingest a loss CSV first, or pass --from FILE")
    n = np.array([o.params for o in obs], dtype=float)
    d = np.array([o.tokens for o in obs], dtype=float)
    y = np.array([o.loss for o in obs], dtype=float)
    c = np.array([o.compute_flop if o.compute_flop else C_PER_ND * o.params * o.tokens
                  for o in obs], dtype=float)
    show_bar = stderr.is_terminal and n_boot >= 200
    est: ChinchillaLaw | ComputeLaw
    if law is LawName.chinchilla:
        est = ChinchillaLaw(n_boot=n_boot, seed=seed)
    else:
        est = ComputeLaw(irreducible=irreducible, n_boot=n_boot, seed=seed)

    messages: list[str] = []
    try:
        with warnings.catch_warnings():
            # the same texts come back in the results' warnings_ and are printed once, below
            warnings.simplefilter("ignore", ExtrapolationWarning)
            with _progress(show_bar, "bootstrap") as cb:
                if isinstance(est, ChinchillaLaw):
                    est.fit(n, d, y, c, progress=cb)
                else:
                    est.fit(c, y, progress=cb)
            messages += est.warnings_
            out = _results(est, targets, messages)
            if holdout is not None:
                with _progress(show_bar, "holdout bootstrap") as cb:
                    if isinstance(est, ChinchillaLaw):
                        h = est.holdout(n, d, y, c, fraction=holdout)
                    else:
                        h = est.holdout(c, y, fraction=holdout)
                messages += h.warnings_
                out["holdout"] = {**h.summary(), "runs": h.table.to_dict(orient="records")}
    except TripwireError as e:
        if e.source is None and source is not None:
            e.source = str(source)
        raise

    out = {"law": law.value, "source": where, "n_points": est.n_obs_,
           "compute_range_flop": list(est.compute_range_), "objective": est.objective_,
           "n_boot": n_boot, "n_boot_converged": est.n_boot_ok_, "seed": seed, **out,
           "warnings": list(dict.fromkeys(messages))}
    if plot is not None:
        from tripwire.plots import plot_fit

        plot_fit(est, plot, loss=y, compute=c, params=n, tokens=d,
                 targets=[t["compute"] for t in targets])
        out["plot"] = str(plot)
    if json:
        print_json(out)
    else:
        _print(out, est)
    for m in out["warnings"]:
        warn(m)


def _results(est: ChinchillaLaw | ComputeLaw, targets: list[dict[str, Any]],
             messages: list[str]) -> dict[str, Any]:
    """Parameters, predictions and (Chinchilla law) the allocation, as JSON-ready data."""
    from tripwire.fit import ChinchillaLaw

    out: dict[str, Any] = {"parameters": est.summary_rows()}
    rows: list[dict[str, Any]] = []
    if isinstance(est, ChinchillaLaw):
        budgets = [t["compute"] for t in targets] or [est.compute_range_[1]]
        alloc = est.allocate(budgets)
        messages += alloc.warnings_
        out["allocation"] = [
            {"compute": c, "params": alloc.params["estimate"][i],
             "tokens": alloc.tokens["estimate"][i],
             "tokens_per_param": alloc.tokens_per_param["estimate"][i],
             "loss": alloc.loss["estimate"][i],
             **{f"{q}_{k}": getattr(alloc, q)[k][i] for q in ("params", "tokens",
                                                                "tokens_per_param", "loss")
                for k in ("lo80", "hi80", "lo95", "hi95")}}
            for i, c in enumerate(alloc.compute)]
        for t in targets:
            if t["params"] is None:  # compute-optimal: predict at the estimated optimum
                i = budgets.index(t["compute"])
                t = {**t, "params": alloc.params["estimate"][i],
                     "tokens": alloc.tokens["estimate"][i]}
            rows.append(t)
        if rows:
            pred = est.predict([r["params"] for r in rows], [r["tokens"] for r in rows])
            messages += [m for m in pred.warnings_ if m not in messages]
    elif targets:
        rows = [dict(t) for t in targets]
        pred = est.predict([r["compute"] for r in rows])
        messages += pred.warnings_
    out["predictions"] = []
    for i, r in enumerate(rows):
        out["predictions"].append({**r, "loss": float(pred.loss[i]),
                                   **{k: float(getattr(pred, k)[i])
                                      for k in ("lo80", "hi80", "lo95", "hi95")},
                                   "extrapolation_oom": float(pred.extrapolation_oom[i])})
    return out


_FORMULA = {"chinchilla": "L(N, D) = E + A/N^alpha + B/D^beta",
            "compute": "L(C) = E + A*C^-alpha"}


def _print(out: dict[str, Any], est: ChinchillaLaw | ComputeLaw) -> None:
    lo, hi = out["compute_range_flop"]
    formula = _FORMULA[out["law"]] if "E" in out["parameters"] else "L(C) = A*C^-alpha"
    info(f"{out['law']} law {formula} fitted to {out['n_points']} runs from "
         f"{out['source']} (compute {lo:.3g} to {hi:.3g} FLOP); {out['n_boot_converged']} of "
         f"{out['n_boot']} bootstrap resamples, seed {out['seed']}; "
         + ("`--law compute` fits L(C), the law `tripwire demo` and the reports plot"
            if out["law"] == "chinchilla" else "`--law chinchilla` (the default) fits L(N, D)"))
    render([{"parameter": k, **v} for k, v in out["parameters"].items()],
           title="parameters: estimate, bootstrap standard error, 80 % and 95 % intervals")
    if out["predictions"]:
        render(out["predictions"], title="predicted loss with 80 % and 95 % prediction intervals",
               columns=["compute", "params", "tokens", "basis", "loss", "lo80", "hi80", "lo95",
                        "hi95", "extrapolation_oom"])
    if "allocation" in out:
        rows = []
        for a in out["allocation"]:
            for q in ("params", "tokens", "tokens_per_param", "loss"):
                rows.append({"compute": a["compute"], "quantity": q, "estimate": a[q],
                             **{k: a[f"{q}_{k}"] for k in ("lo80", "hi80", "lo95", "hi95")}})
        render(rows, title="compute-optimal allocation under C = 6ND (loss: prediction interval)")
    if "holdout" in out:
        h = out["holdout"]
        render([{"quantity": k, "value": v} for k, v in h.items() if k != "runs"],
               title=f"holdout: fitted below {h['compute_cut']:.3g} FLOP, "
                     f"checked on the {h['n_test']} largest runs")
        render(h["runs"], title="held-out runs",
               columns=[c for c in ("compute", "params", "tokens", "observed", "predicted", "lo80",
                                    "hi80", "lo95", "hi95", "in80", "in95") if c in h["runs"][0]])
    if "plot" in out:
        info(f"figure written to {out['plot']}")
