"""`tripwire forecast`: a benchmark's score against effective compute or release date, when a
threshold will be crossed, how such forecasts have fared, and which scores look too low."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from tripwire.cli.app import DbOpt, JsonOpt, app, info, print_json, render, warn
from tripwire.errors import InputError, InsufficientEvidence

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tripwire.model import Benchmark, EvalResult, Model


class By(StrEnum):
    """The forecast's axis."""

    compute = "compute"
    date = "date"


_PREFERENCE = {"pre-mitigation": 0, None: 1, "post-mitigation": 2}


def _variant(r: EvalResult, m: Model | None) -> str | None:
    v = r.variant or (m.variant if m is not None else None)
    return str(v) if v is not None else None


def _pick(results: list[EvalResult], models: dict[str, Model],
          metric: str | None) -> tuple[list[EvalResult], str | None, list[str]]:
    """One result per model: the chosen metric; pre-mitigation before unmarked before
    post-mitigation; the latest of equals. Returns the rows, the metric and notes."""
    notes: list[str] = []
    metrics = Counter(r.metric for r in results)
    if metric is None and len(metrics) > 1:
        metric = metrics.most_common(1)[0][0]
        notes.append(f"results carry {len(metrics)} metrics ({', '.join(sorted(metrics))}); "
                     f"using {metric!r} (choose with --metric)")
    elif metric is None and metrics:
        metric = next(iter(metrics))
    chosen: dict[str, EvalResult] = {}
    for r in results:
        if metric is not None and r.metric != metric:
            continue
        old = chosen.get(r.model)
        rank = _PREFERENCE.get(_variant(r, models.get(r.model)), 1)
        if old is None or rank <= _PREFERENCE.get(_variant(old, models.get(old.model)), 1):
            chosen[r.model] = r
    rows = list(chosen.values())
    post = sum(1 for r in rows if _variant(r, models.get(r.model)) == "post-mitigation")
    if post:
        notes.append(f"{post} models have only post-mitigation results; they may understate "
                     "capability")
    return rows, metric, notes


def _parse_date(option: str, text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} {text!r} is not a date", hint="use YYYY-MM-DD") from None


def _load(db: str | None, benchmark: str, metric: str | None,
          as_of: dt.date | None = None, *, everything: bool = False) -> dict[str, Any]:
    """Everything the forecast needs from the register, as plain data (only models released
    by `as_of`, when given); with `everything`, every benchmark's results too (for the
    anomaly checks against other benchmarks)."""
    from tripwire.register import open_register

    reg = open_register(db)
    try:
        bm = reg.get_benchmark(benchmark)
        models = {m.name: m for m in reg.models()}
        results = reg.results(benchmark=bm.id)
        all_results = reg.results() if everything else []
        where = reg.display
    finally:
        reg.close()
    if not results:
        raise InsufficientEvidence(f"no results for {bm.id!r} in {where}",
                                   hint="ingest evaluation results first")
    if as_of is not None:
        def dated(name: str) -> dt.date | None:
            m = models.get(name)
            return m.release_date if m is not None else None

        kept = [r for r in results if (d := dated(r.model)) is not None and d <= as_of]
        if not kept:
            known = [d for r in results if (d := dated(r.model)) is not None]
            raise InsufficientEvidence(
                f"--as-of {as_of} is before every model's release date"
                + (f" (the first is {min(known)})" if known else " (no model has a release date)"),
                hint="choose a later date")
        results = kept
    rows, metric, notes = _pick(results, models, metric)
    if as_of is not None:
        notes.append(f"as of {as_of}: only models released on or before it")
    return {"benchmark": bm, "models": models, "rows": rows, "metric": metric, "notes": notes,
            "all_results": all_results, "where": where}


def _floor(bm: Benchmark) -> float:
    if not bm.higher_is_better:
        raise InputError(f"{bm.id} is scored lower-is-better; forecasts model rising scores",
                         hint="forecast a higher-is-better metric of it")
    if bm.chance is None:
        raise InsufficientEvidence(
            f"benchmark {bm.id!r} has no chance level, so the sigmoid has no floor",
            hint="give it with --chance 0.25, or ingest a benchmarks table (CSV with header "
                 "`benchmark,chance`); tripwire's catalogue and lm-eval task configs have "
                 "none for it")
    return float(bm.chance)


def _calibration(me: dict[str, Any], bt: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The backtest's verdict on the intervals ({"status", "text"}) and the warnings on how
    far the intervals past the data can be trusted."""
    from tripwire.forecast._evaluate import verdict

    notes = []
    if me.get("source") == "prior":
        notes.append("intervals past the data use the default model-error prior, not this "
                     f"benchmark's own backtest ({me.get('reason') or 'none could be run'})")
    status, text = verdict(None if "error" in bt else bt, error=bt.get("error"),
                           model_error=me)
    if status != "calibrated":
        notes.append(text)
    return {"status": status, "text": text}, notes


def _parse_at(at: str | None, by: By) -> float | dt.date | None:
    if at is None:
        return None
    if by is By.date:
        try:
            return dt.date.fromisoformat(at)
        except ValueError:
            raise InputError(f"--at {at!r} is not a date",
                             hint="use YYYY-MM-DD with --by date") from None
    try:
        v = float(at)
    except ValueError:
        raise InputError(f"--at {at!r} is not a compute figure",
                         hint="give effective FLOP such as 1e26 (or use --by date)") from None
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"--at {at!r} must be a positive FLOP figure")
    return v


def _horizon_like(bm: Benchmark, values: np.ndarray) -> bool:
    import numpy as np

    text = f"{bm.id} {bm.name or ''} {bm.metric or ''}".lower()
    if any(k in text for k in ("horizon", "minute", "hours", "time")):
        return True
    return bm.chance is None and bool(np.all(values > 0)) and float(values.max()) > 1.0


def _score_matrix(results: list[EvalResult], models: dict[str, Model]) -> pd.DataFrame:
    """Models x benchmarks of preferred scores (for the capability factors)."""
    import pandas as pd

    by_bench: dict[str, list[EvalResult]] = {}
    for r in results:
        by_bench.setdefault(r.benchmark, []).append(r)
    cols = {}
    for b, rs in by_bench.items():
        rows, _, _ = _pick(rs, models, None)
        cols[b] = pd.Series({r.model: r.value for r in rows}, dtype=float)
    return pd.DataFrame(cols)


def _mitigation_frame(results: list[EvalResult], models: dict[str, Model]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for r in results:
        m = models.get(r.model)
        v = _variant(r, m)
        if v is None:
            continue
        key = m.parent if (m is not None and m.variant and m.parent) else r.model
        rows.append({"model": key, "benchmark": r.benchmark, "variant": v, "value": r.value,
                     "stderr": r.stderr, "samples": r.samples})
    return pd.DataFrame(rows, columns=["model", "benchmark", "variant", "value", "stderr",
                                       "samples"])


def _log10(v: float) -> float | None:
    return math.log10(v) if v and math.isfinite(v) and v > 0 else None


def _backtest_line(bt: dict[str, Any]) -> str:
    s = bt
    if "error" in s:
        return f"backtest: none ({s['error']})"
    if not s.get("n_predictions"):
        return "backtest: none (no cutoff left models to predict)"
    err = (f"mean abs error {s['mae']:.3g}" if "mae" in s
           else f"mean abs error {s['mae_transformed']:.3g} (transformed scale)")
    text = (f"backtest: {s['n_cutoffs']} cutoffs, {s['n_predictions']} later models predicted; "
            f"{err}; 80 % intervals covered {s['coverage80']:.0%}, 95 % covered "
            f"{s['coverage95']:.0%}")
    if s.get("actual_crossing") is not None:
        lead = s.get("lead")
        unit = "decades of compute" if s.get("lead_units", "").startswith("decades") else "days"
        crossed = s["actual_crossing"]
        crossed = f"1e{crossed:.1f} FLOP" if isinstance(crossed, float) else str(crossed)
        if not s.get("cutoffs_before_crossing"):
            verdict = "before the first cutoff"
        elif lead is not None:
            verdict = f"foreseen {lead:.3g} {unit} ahead"
        else:
            verdict = "not foreseen by the earlier cutoffs"
        text += f"; threshold first reached at {crossed}, {verdict}"
    return text


@app.command("forecast")
def forecast_cmd(
    benchmark: Annotated[str, typer.Argument(help="Benchmark id (or alias) in the register.")],
    threshold: Annotated[float | None, typer.Option(
        "--threshold", help="Score (or horizon) whose crossing to forecast, e.g. 0.8.",
        show_default=False)] = None,
    by: Annotated[By, typer.Option(
        "--by", help="compute: sigmoid in log10 effective compute; date: log-linear trend "
        "against release date (logit of the score, or log2 of a time horizon).")] = By.compute,
    at: Annotated[str | None, typer.Option(
        "--at", help="Planned effective compute in FLOP (e.g. 1e26), or a date YYYY-MM-DD "
        "with --by date: P(score >= threshold) there.", show_default=False)] = None,
    backtest: Annotated[bool, typer.Option(
        "--backtest", help="Show the backtest cutoff by cutoff (its summary is always "
        "printed when one can be run).")] = False,
    anomalies: Annotated[bool, typer.Option(
        "--anomalies", help="Flag scores implausibly low for a model's compute and for its "
        "other benchmark scores; pre- vs post-mitigation gaps.")] = False,
    frontier: Annotated[bool, typer.Option(
        "--frontier", help="Fit only the best model to date at each compute (or date).")] = False,
    metric: Annotated[str | None, typer.Option(
        "--metric", help="Which metric of the benchmark (default: the most common).",
        show_default=False)] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="With --by date: only models released on or after YYYY-MM-DD.",
        show_default=False)] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Use only models released on or before YYYY-MM-DD, as the forecast "
        "would have been made then (a backtest).", show_default=False)] = None,
    n_boot: Annotated[int, typer.Option(
        "--n-boot", min=0, max=100_000, help="Bootstrap resamples for the intervals.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the bootstrap.")] = 0,
    chance: Annotated[float | None, typer.Option(
        "--chance", help="The benchmark's chance level (the sigmoid floor) for this forecast, "
        "when the register has none or to override it.", show_default=False)] = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write a figure (.png, .svg or .pdf): data, fit, band, threshold and "
        "crossing distribution.", show_default=False)] = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Forecast a benchmark: score against effective compute (a sigmoid between the chance
    level and the ceiling) or against release date, with bootstrap intervals; where a
    --threshold is crossed (quantiles) and P(score >= threshold) --at a planned compute or
    date; the backtest record of such forecasts; and, with --anomalies, sandbagging flags.

    Intervals past the data include a model-error term calibrated by leave-future-out
    backtests on the data at hand (see docs/forecasting.md); every prediction says how far it
    extrapolates and what error the backtests give there.

    BENCHMARK may also be `training_compute` or `effective_compute` with --by date: the growth
    of the register's models' compute over time (per year, with intervals), and with
    --threshold the date a compute line is first crossed.

    Exit 3 when the register holds too little evidence (too few models, no compute, all scores
    at chance, under a decade of compute, a threshold outside (chance, ceiling), an --as-of
    date before every model's release)."""
    import numpy as np

    from tripwire import forecast as fc

    if plot is not None:
        from tripwire.plots import check_figure_path

        check_figure_path(plot)
    if threshold is not None and not math.isfinite(threshold):
        raise InputError(f"--threshold {threshold}: the score must be a finite number")
    at_value = _parse_at(at, by)
    if chance is not None and not math.isfinite(chance):
        raise InputError(f"--chance {chance}: the chance level must be a finite number")
    as_of_date = _parse_date("--as-of", as_of)
    if benchmark in fc.COMPUTE_SERIES:
        from tripwire.cli.forecast_compute import compute_forecast

        if by is not By.date:
            raise InputError(f"{benchmark} is forecast against release date",
                             hint=f"use: tripwire forecast {benchmark} --by date")
        compute_forecast(benchmark, db=db, threshold=threshold,
                         at=at_value if isinstance(at_value, dt.date) else None,
                         frontier=frontier, since=_parse_date("--since", since),
                         as_of=as_of_date, n_boot=n_boot, seed=seed, plot=plot, json=json)
        return
    data = _load(db, benchmark, metric, as_of_date, everything=anomalies)
    bm: Benchmark = data["benchmark"]
    if chance is not None:
        bm = bm.model_copy(update={"chance": chance})
    models: dict[str, Model] = data["models"]
    rows: list[EvalResult] = data["rows"]
    messages: list[str] = list(data["notes"])
    names = [r.model for r in rows]
    values = np.array([r.value for r in rows], dtype=float)
    samples = np.array([r.samples if r.samples else np.nan for r in rows], dtype=float)
    compute = np.array([(models[r.model].effective_compute_flop if r.model in models else None)
                        or np.nan for r in rows], dtype=float)
    dates = [models[r.model].release_date if r.model in models else None for r in rows]
    out: dict[str, Any] = {"benchmark": bm.id, "metric": data["metric"], "by": by.value,
                           "source": data["where"], "threshold": threshold,
                           "frontier": frontier}
    curve: fc.CapabilityCurve | None = None
    trend: fc.TimeTrend | None = None
    crossing: fc.CrossingForecast | fc.DateCrossing | None = None

    if by is By.compute:
        floor = _floor(bm)
        if threshold is not None and not floor < threshold:
            raise InsufficientEvidence(f"threshold {threshold:g} is not above the chance level "
                                       f"{floor:g} of {bm.id}")
        if threshold is not None and bm.ceiling is not None and not threshold < bm.ceiling:
            raise InsufficientEvidence(f"threshold {threshold:g} is not below the ceiling "
                                       f"{bm.ceiling:g} of {bm.id}")
        curve = fc.CapabilityCurve(floor=floor, ceiling=bm.ceiling, frontier=frontier,
                                   n_boot=n_boot, seed=seed).fit(compute, values, samples)
        messages += curve.warnings_
        out["fit"] = {"model": "floor + (ceiling - floor) * sigmoid(slope * (log10 C - "
                      "midpoint))", **curve.summary()}
        at_flop = at_value if isinstance(at_value, float) else None
        if threshold is not None:
            crossing = curve.crossing(threshold, at_compute_flop=at_flop)
            out["crossing"] = crossing.to_dict()
            messages += crossing.warnings
        elif at_flop is not None:
            out["prediction"] = curve.predict([at_flop]).iloc[0].to_dict()
            beyond = math.log10(at_flop) - float(np.nanmax(np.log10(compute)))
            if beyond > 1.0:
                messages.append(f"planned compute is {beyond:.1f} decades beyond the largest "
                                "model")
        me = curve.model_error_
        out["model_error"] = me.to_dict()
        if at_flop is not None:
            dist = float(curve._past(np.array([math.log10(at_flop)]))[0])
            out["extrapolation"] = {"distance": dist, "units": me.units,
                                    "model_error_sd": float(me.sd(dist)),
                                    "text": me.describe(dist, "the planned compute")}
        try:
            bt = fc.backtest_compute(compute, values, floor=floor, ceiling=bm.ceiling,
                                     samples=samples, threshold=threshold, frontier=frontier,
                                     names=names, n_boot=min(n_boot, 50) or 50, seed=seed)
            out["backtest"] = {**bt.summary}
            if backtest:
                out["backtest"]["cutoffs"] = bt.cutoffs.to_dict(orient="records")
        except InsufficientEvidence as e:
            out["backtest"] = {"error": e.message}
        out["calibration"], notes = _calibration(out["model_error"], out["backtest"])
        messages += notes
    else:
        transform: Literal["log2", "logit"] = "log2" if _horizon_like(bm, values) else "logit"
        t_floor = None if transform == "log2" else _floor(bm)
        ceiling = bm.ceiling if bm.ceiling is not None else 1.0
        trend = fc.TimeTrend(transform=transform, floor=t_floor, ceiling=ceiling,
                             frontier=frontier, since=since, n_boot=n_boot,
                             seed=seed).fit(dates, values)
        messages += trend.warnings_
        out["fit"] = {"model": ("log2(value) linear in release date" if transform == "log2"
                                else "logit((score - floor)/(ceiling - floor)) linear in "
                                     "release date"), **trend.summary()}
        at_date = at_value if isinstance(at_value, dt.date) else None
        if threshold is not None:
            crossing = trend.crossing(threshold, at_date=at_date)
            out["crossing"] = crossing.to_dict()
            messages += crossing.warnings
        elif at_date is not None:
            out["prediction"] = trend.predict([at_date]).iloc[0].to_dict()
        me = trend.model_error_
        out["model_error"] = me.to_dict()
        if at_date is not None:
            dist = float(trend._past(np.array([fc.year(at_date)]))[0])
            out["extrapolation"] = {"distance": dist, "units": me.units,
                                    "model_error_sd": float(me.sd(dist)),
                                    "text": me.describe(dist, "the date")}
        try:
            bt = fc.backtest_time(dates, values, transform=transform, floor=t_floor,
                                  ceiling=ceiling, threshold=threshold, frontier=frontier,
                                  since=since, names=names, n_boot=min(n_boot, 50) or 50,
                                  seed=seed)
            out["backtest"] = {**bt.summary}
            if backtest:
                out["backtest"]["cutoffs"] = bt.cutoffs.to_dict(orient="records")
        except InsufficientEvidence as e:
            out["backtest"] = {"error": e.message}
        out["calibration"], notes = _calibration(out["model_error"], out["backtest"])
        messages += notes

    if anomalies:
        out["anomalies"] = _anomalies(fc, bm, names, data, messages)

    if plot is not None:
        from tripwire.plots_forecast import plot_capability_forecast, plot_time_trend

        title = f"{bm.name or bm.id} ({data['metric'] or 'score'})"
        if curve is not None:
            plot_capability_forecast(curve, plot, threshold=threshold, title=title,
                                     crossing=crossing if isinstance(
                                         crossing, fc.CrossingForecast) else None)
        elif trend is not None:
            plot_time_trend(trend, plot, threshold=threshold, title=title,
                            crossing=crossing if isinstance(crossing, fc.DateCrossing) else None)
        out["plot"] = str(plot)
    out["warnings"] = list(dict.fromkeys(messages))
    if json:
        print_json(out)
    else:
        _print(out, backtest=backtest)
    for m in out["warnings"]:
        warn(m)


def _anomalies(fc: Any, bm: Benchmark, names: list[str], data: dict[str, Any],
               messages: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    shown = set(names)  # the models this forecast uses (released by --as-of, if given)
    try:  # the check assess and the reports show, on each model's best result
        a = fc.benchmark_anomalies([r for r in data["all_results"] if r.model in shown],
                                   data["models"], bm, metric=data["metric"])
        out["compute"] = a.to_dict(orient="records")
    except InsufficientEvidence as e:
        out["compute"] = []
        messages.append(f"no compute-based anomaly check: {e.message}")
    matrix = _score_matrix(data["all_results"], data["models"])
    try:
        a = fc.factor_anomalies(matrix, bm.id, floor=_floor(bm), ceiling=bm.ceiling)
        out["other_benchmarks"] = a.to_dict(orient="records")
    except InsufficientEvidence as e:
        out["other_benchmarks"] = []
        messages.append(f"no check against other benchmarks: {e.message}")
    gaps = fc.mitigation_gaps(_mitigation_frame(data["all_results"], data["models"]))
    out["mitigation_gaps"] = gaps.to_dict(orient="records")
    return out


def _print(out: dict[str, Any], *, backtest: bool) -> None:
    f = out["fit"]
    if out["by"] == "compute":
        lo, hi = f["log10_flop_range"]
        ceiling = ("fitted" if f["ceiling_fitted"] else "from the benchmark")
        info(f"{out['benchmark']} ({out['metric']}): sigmoid in log10 effective compute fitted "
             f"to {f['n_models']} models{' on the frontier' if out['frontier'] else ''} by "
             f"{f['method']} (compute 1e{lo:.1f} to 1e{hi:.1f} FLOP; floor {f['floor']:g}, "
             f"ceiling {ceiling}); {f['n_boot']} bootstrap resamples, seed {f['seed']}; "
             f"{out['source']}")
        render([{"parameter": k, "estimate": f[k], "lo95": f[f"{k}_95"][0],
                 "hi95": f[f"{k}_95"][1]}
                for k in ("midpoint_log10_flop", "slope_per_decade", "ceiling", "scatter",
                          "additive_sd")],
               title="fit: estimate and 95 % bootstrap interval")
    else:
        info(f"{out['benchmark']} ({out['metric']}): {f['model']}, {f['n_models']} models "
             f"from {f['first_date']} to {f['last_date']}; {f['n_boot']} bootstrap resamples, "
             f"seed {f['seed']}; {out['source']}")
        render([{"quantity": "doubling time (days)", "estimate": f["doubling_days"],
                 "lo80": f["doubling_days_80"][0], "hi80": f["doubling_days_80"][1],
                 "lo95": f["doubling_days_95"][0], "hi95": f["doubling_days_95"][1]},
                {"quantity": "slope per year", "estimate": f["slope_per_year"]},
                {"quantity": "residual sd", "estimate": f["residual_sd"]}],
               title="trend")
    if "crossing" in out:
        c = out["crossing"]
        if out["by"] == "compute":
            rows = [{"quantile": q, "effective_compute_flop": v,
                     "log10_flop": _log10(v),
                     "curve_only_flop": c["curve_quantiles"].get(q)}
                    for q, v in c["compute_quantiles"].items()]
            render(rows, title=f"effective compute at which a model reaches "
                               f"{c['threshold']:g} (inf: not reached)")
            if c["probability"] is not None:
                info(f"P(score >= {c['threshold']:g} at {c['at_compute_flop']:.3g} FLOP) = "
                     f"{c['probability']:.3f}; predicted {c['predicted']:.3g} "
                     f"(80 %: {c['interval80'][0]:.3g} to {c['interval80'][1]:.3g}; "
                     f"95 %: {c['interval95'][0]:.3g} to {c['interval95'][1]:.3g})")
        else:
            render([{"quantile": q, "date": d} for q, d in c["date_quantiles"].items()],
                   title=f"date at which the trend reaches {c['threshold']:g} "
                         "(blank: not within 100 years)")
            if c["probability"] is not None:
                info(f"P(value >= {c['threshold']:g} by {c['at_date']}) = "
                     f"{c['probability']:.3f}; predicted {c['predicted']:.3g} "
                     f"(80 %: {c['interval80'][0]:.3g} to {c['interval80'][1]:.3g})")
    if "prediction" in out:
        render([out["prediction"]], title="prediction with 80 % and 95 % intervals")
    if "extrapolation" in out:
        info(out["extrapolation"]["text"])
    info(_backtest_line(out["backtest"]))
    if backtest and out["backtest"].get("cutoffs"):
        render(out["backtest"]["cutoffs"], title="backtest: one row per cutoff")
    if "anomalies" in out:
        a = out["anomalies"]
        cols = ["model", "score", "expected", "gap", "z", "p_low", "flagged"]
        for key, title in (("compute", "scores against compute (leave-one-out z)"),
                           ("other_benchmarks", "scores against the model's other benchmarks")):
            rows = [r for r in a[key] if r["flagged"]] or a[key][:5]
            if rows:
                flagged = sum(r["flagged"] for r in a[key])
                render(rows, columns=cols, title=f"{title}: {flagged} flagged "
                       f"(z <= -2.5){'' if flagged else '; lowest 5 shown'}")
        if a["mitigation_gaps"]:
            render(a["mitigation_gaps"], title="pre- vs post-mitigation scores")
    if "plot" in out:
        info(f"figure written to {out['plot']}")
