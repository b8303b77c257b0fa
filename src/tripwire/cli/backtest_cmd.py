"""`tripwire backtest`: how well would forecasts of these benchmarks have held up, beyond the
data they were fitted to? Error by extrapolation distance, interval coverage, interval score
and reliability, per benchmark and pooled."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from tripwire.cli.app import DbOpt, JsonOpt, app, info, print_json, render, warn
from tripwire.cli.forecast_cmd import By, _horizon_like, _load
from tripwire.errors import InputError, InsufficientEvidence

if TYPE_CHECKING:
    import numpy as np

_COMPUTE_BINS = (0.0, 0.5, 1.0, 2.0, 5.0)
_YEAR_BINS = (0.0, 0.5, 1.0, 2.0, 10.0)


def _series(db: str | None, bid: str, chance: float | None) -> dict[str, Any]:
    import numpy as np

    data = _load(db, bid, None)
    bm = data["benchmark"]
    models = data["models"]
    rows = data["rows"]
    return {
        "id": bm.id, "chance": chance if chance is not None else bm.chance,
        "ceiling": bm.ceiling, "higher_is_better": bm.higher_is_better,
        "names": [r.model for r in rows],
        "values": np.array([r.value for r in rows], dtype=float),
        "samples": np.array([r.samples if r.samples else np.nan for r in rows], dtype=float),
        "compute": np.array([(models[r.model].effective_compute_flop if r.model in models
                              else None) or np.nan for r in rows], dtype=float),
        "dates": [models[r.model].release_date if r.model in models else None for r in rows],
        "bench": bm,
    }


def _run_one(s: dict[str, Any], by: By, protocol: str, cutoff: float | None, n_boot: int,
             seed: int, frontier: bool) -> Any:
    import numpy as np

    from tripwire import forecast as fc
    from tripwire.forecast._evaluate import protocol_cutoffs

    if not s["higher_is_better"]:
        raise InsufficientEvidence("scored lower-is-better; forecasts model rising scores")
    v = s["values"]
    if by is By.compute:
        if s["chance"] is None:
            raise InsufficientEvidence("no chance level (give --chance or a benchmarks table)")
        x = np.log10(np.where(s["compute"] > 0, s["compute"], np.nan))
        cut: np.ndarray | None = None
        if protocol != "walk-forward":
            cut = protocol_cutoffs(x, protocol, cutoff=None if cutoff is None else
                                   math.log10(cutoff))
        events = list(np.quantile(v, [0.25, 0.5, 0.75]))
        bt = fc.backtest_compute(s["compute"], v, floor=float(s["chance"]),
                                 ceiling=s["ceiling"], samples=s["samples"],
                                 cutoffs_log10_flop=None if cut is None else list(cut),
                                 frontier=frontier, names=s["names"], n_boot=n_boot, seed=seed,
                                 events=events)
        if protocol == "owen" and len(bt.predictions):
            bt.predictions = bt.predictions[bt.predictions["decades_ahead"] <= 2.0]
        return bt
    log2 = _horizon_like(s["bench"], v)
    transform: Literal["log2", "logit"] = "log2" if log2 else "logit"
    if transform == "logit" and s["chance"] is None:
        raise InsufficientEvidence("no chance level (give --chance or a benchmarks table)")
    events = list(np.quantile(v, [0.25, 0.5, 0.75]))
    return fc.backtest_time(s["dates"], v, transform=transform,
                            floor=None if log2 else float(s["chance"]),
                            ceiling=s["ceiling"] if s["ceiling"] is not None else 1.0,
                            frontier=frontier, names=s["names"], n_boot=n_boot, seed=seed,
                            events=events)


@app.command("backtest")
def backtest_cmd(
    benchmarks: Annotated[list[str] | None, typer.Argument(
        help="Benchmark ids (or aliases); default: every benchmark in the register.",
        show_default=False)] = None,
    by: Annotated[By, typer.Option(
        "--by", help="compute: the sigmoid in effective compute; date: the trend against "
        "release date (walk-forward in time).")] = By.compute,
    protocol: Annotated[str, typer.Option(
        "--protocol", help="With --by compute: owen (fit below each cutoff, every half "
        "decade, predict up to two decades ahead; Owen 2024), ruan (one compute cutoff, "
        "predict every larger model; Ruan et al. 2024) or walk-forward (6 cutoffs, predict "
        "everything later).")] = "owen",
    cutoff: Annotated[float | None, typer.Option(
        "--cutoff", help="With --protocol ruan: the training compute cutoff in FLOP; models "
        "at or below it are fitted, the larger ones predicted (default: 8.4e22, Llama-2 7B, "
        "as in Ruan et al. 2024).", show_default=False)] = None,
    chance: Annotated[float | None, typer.Option(
        "--chance", help="Chance level for benchmarks the register has none for.",
        show_default=False)] = None,
    frontier: Annotated[bool, typer.Option(
        "--frontier", help="Fit and judge only the best model to date.")] = False,
    n_boot: Annotated[int, typer.Option(
        "--n-boot", min=20, max=10_000, help="Bootstrap resamples of each cutoff's fit.")] = 200,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the bootstrap.")] = 0,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write the reliability diagrams (.png, .svg or .pdf).",
        show_default=False)] = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Backtest forecasts out of sample: fit on the models below a cutoff (in compute, or in
    release date with --by date), predict the later ones with the intervals a forecast would
    have shown then (model-error term included), and score them: mean absolute error by
    distance past the data, coverage of the 80 % and 95 % intervals, the interval score
    (Gneiting & Raftery 2007) and reliability diagrams (nominal vs empirical coverage at
    10 %, ..., 90 %; predicted probability vs observed frequency of thresholds), per benchmark
    and pooled.

    Exit 3 when no benchmark has enough data: fewer than 3 cutoffs or fewer than 5 held-out
    models."""
    import pandas as pd

    from tripwire.forecast._evaluate import (
        FAILED_BELOW,
        MIN_CUTOFFS,
        MIN_HELD_OUT,
        PROTOCOLS,
        score,
    )
    from tripwire.register import open_register

    if protocol not in PROTOCOLS:
        raise InputError(f"--protocol {protocol!r} is not known",
                         hint=f"use one of {', '.join(PROTOCOLS)}")
    if by is By.date and protocol == "ruan":
        raise InputError("--protocol ruan splits on compute", hint="drop --by date")
    if plot is not None:
        from tripwire.plots import check_figure_path

        check_figure_path(plot)
    if not benchmarks:
        reg = open_register(db)
        try:
            benchmarks = [b.id for b in reg.benchmarks() if reg.results(benchmark=b.id)]
        finally:
            reg.close()
        if not benchmarks:
            raise InsufficientEvidence("the register holds no results to backtest",
                                       hint="ingest evaluation results first")
    distance = "decades_past_data" if by is By.compute else "years_past_data"
    bins = _COMPUTE_BINS if by is By.compute else _YEAR_BINS
    per: list[dict[str, Any]] = []
    frames = []
    for bid in benchmarks:
        s = _series(db, bid, chance)
        try:
            bt = _run_one(s, by, protocol, cutoff, n_boot, seed, frontier)
        except InsufficientEvidence as e:
            per.append({"benchmark": s["id"], "error": e.message})
            continue
        n_cut = int(bt.summary.get("n_cutoffs", 0))
        pred = bt.predictions
        need_cuts = 1 if protocol == "ruan" else MIN_CUTOFFS
        if n_cut < need_cuts or len(pred) < MIN_HELD_OUT:
            per.append({"benchmark": s["id"], "error": (
                f"{n_cut} usable cutoff{'s' if n_cut != 1 else ''} and {len(pred)} held-out "
                f"predictions; a backtest needs at least {need_cuts} cutoffs and "
                f"{MIN_HELD_OUT} held-out models")})
            continue
        pred = pred.assign(benchmark=s["id"])
        frames.append(pred)
        per.append({"benchmark": s["id"], "n_cutoffs": n_cut,
                    **score(pred, distance=distance, bins=bins)})
    if not frames:
        reasons = "; ".join(f"{p['benchmark']}: {p['error']}" for p in per[:5])
        raise InsufficientEvidence(f"no benchmark could be backtested ({reasons})")
    pooled = score(pd.concat(frames, ignore_index=True), distance=distance, bins=bins)
    failing = [p["benchmark"] for p in per if p.get("coverage80", 1.0) < FAILED_BELOW]
    out: dict[str, Any] = {"by": by.value, "protocol": protocol if by is By.compute
                           else "walk-forward", "distance_units": (
                               "decades of compute" if by is By.compute else "years"),
                           "pooled": pooled, "benchmarks": per,
                           "failed_backtest": failing}
    if plot is not None:
        from tripwire.plots_forecast import plot_reliability

        plot_reliability(pooled, per, plot)
        out["plot"] = str(plot)
    if json:
        print_json(out)
    else:
        _print(out)
    for b in failing:
        warn(f"{b}: intervals failed their backtest (80 % intervals covered under half of "
             "the later models); its forecasts say so")


def _print(out: dict[str, Any]) -> None:
    units = out["distance_units"]
    rows = []
    for p in out["benchmarks"]:
        if "error" in p:
            rows.append({"benchmark": p["benchmark"], "note": f"not backtested: {p['error']}"})
            continue
        rows.append({"benchmark": p["benchmark"], "note": "", "cutoffs": p["n_cutoffs"],
                     "predictions": p["n_predictions"], "mae": p["mae"],
                     "coverage80": p["coverage80"], "coverage95": p["coverage95"],
                     "interval_score80": p["interval_score80"]})
    render(rows, title=f"backtest ({out['protocol']}, by {out['by']}) per benchmark")
    pl = out["pooled"]
    info(f"pooled: {pl['n_predictions']} predictions; mean abs error {pl['mae']:.3g}; "
         f"80 % intervals covered {pl['coverage80']:.0%}, 95 % covered {pl['coverage95']:.0%}; "
         f"interval score {pl['interval_score80']:.3g} (80 %), {pl['interval_score95']:.3g} "
         "(95 %)")
    render(pl["by_distance"], title=f"pooled error by distance past the data ({units})")
    if pl.get("reliability"):
        render(pl["reliability"], title="reliability: nominal vs empirical coverage of "
                                        "central intervals")
    if pl.get("probability_reliability"):
        render(pl["probability_reliability"], title="threshold probabilities: predicted vs "
                                                    "observed")
    if "plot" in out:
        info(f"figure written to {out['plot']}")
