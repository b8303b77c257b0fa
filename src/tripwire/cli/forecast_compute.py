"""`tripwire forecast training_compute --by date`: the growth of the register's models'
training compute over time, and when a compute line is first crossed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tripwire.cli.app import info, print_json, render, warn
from tripwire.errors import InsufficientEvidence

EPOCH_GROWTH = ("Epoch AI (2024), 'Training Compute of Frontier AI Models Grows by 4-5x per "
                "Year': 4-5x per year from 2010 to May 2024; the frontier since 2018 about 4x")
"""The published growth rate the fitted one is printed beside."""

DEEP_LEARNING_ERA = dt.date(2010, 1, 1)
"""Default start of the series: Epoch AI fits its compute trends from 2010 on."""


def compute_forecast(series: str, *, db: str | None, threshold: float | None,
                     at: dt.date | None, frontier: bool, since: dt.date | None,
                     as_of: dt.date | None, n_boot: int, seed: int, plot: Path | None,
                     json: bool) -> None:
    """Fit, print (or JSON) and plot the compute trend; see `forecast_cmd`."""
    from tripwire import forecast as fc
    from tripwire.register import open_register

    reg = open_register(db)
    try:
        models = reg.models()
        where = reg.display
    finally:
        reg.close()
    out = compute_trend_summary(models, series, threshold=threshold, at=at, frontier=frontier,
                                since=since, as_of=as_of, n_boot=n_boot, seed=seed)
    out["source"] = where
    if plot is not None:
        from tripwire.plots_forecast import plot_time_trend

        trend = fc.fit_compute_trend(models, series=series, frontier=frontier, as_of=as_of,
                                     since=since or DEEP_LEARNING_ERA, n_boot=n_boot, seed=seed)
        crossing = (trend.crossing(threshold) if threshold is not None
                    and "crossed_by" not in out.get("crossing", {}) else None)
        plot_time_trend(trend, plot, threshold=threshold,
                        title=f"{series.replace('_', ' ')} (FLOP)", crossing=crossing)
        out["plot"] = str(plot)
    if json:
        print_json(out)
    else:
        _print(out)
    for m in out["warnings"]:
        warn(m)


def compute_trend_summary(models: list[Any], series: str = "training_compute", *,
                          threshold: float | None = None, at: dt.date | None = None,
                          frontier: bool = False, since: dt.date | None = None,
                          as_of: dt.date | None = None, n_boot: int = 1000,
                          seed: int = 0) -> dict[str, Any]:
    """The trend, growth per year, crossing of `threshold` and backtest, as plain data."""
    from tripwire import forecast as fc

    since = since or DEEP_LEARNING_ERA
    trend = fc.fit_compute_trend(models, series=series, frontier=frontier, as_of=as_of,
                                 since=since, n_boot=n_boot, seed=seed)
    g = fc.growth(trend)
    messages = list(trend.warnings_)
    out: dict[str, Any] = {
        "series": series, "by": "date", "frontier": frontier, "since": since, "as_of": as_of,
        "fit": {"model": f"log2({series}) linear in release date"
                         + (" (running maximum)" if frontier else ""), **trend.summary()},
        "growth": {**g.to_dict(), "published": EPOCH_GROWTH},
        "threshold": threshold,
    }
    if threshold is not None:
        if threshold <= 0:
            raise InsufficientEvidence(f"threshold {threshold:g} FLOP must be positive")
        pts = fc.compute_points(models, series, as_of)
        first = fc.first_over(models, threshold, series)
        if first is not None and (as_of is None or first[1] <= as_of):
            out["crossing"] = {"threshold": threshold, "crossed_by": first[0],
                               "date": first[1], "compute_flop": first[2]}
            messages.append(f"{threshold:g} FLOP has already been crossed: first by {first[0]} "
                            f"({first[2]:.3g} FLOP), released {first[1]}")
        else:
            c = trend.crossing(threshold, at_date=at)
            out["crossing"] = c.to_dict()
            messages += c.warnings
            if not frontier:
                messages.append("the all-models trend says when a typical model reaches the "
                                "threshold; --frontier says when the first one does")
            top = max(pts, key=lambda p: p[2]) if pts else None
            if top is not None:
                out["crossing"]["largest_so_far"] = {"model": top[0], "date": top[1],
                                                     "compute_flop": top[2]}
    elif at is not None:
        out["prediction"] = trend.predict([at]).iloc[0].to_dict()
    try:
        pts = fc.compute_points(models, series, as_of)
        bt = fc.backtest_time([p[1] for p in pts], [p[2] for p in pts], transform="log2",
                              threshold=threshold if "crossed_by" not in out.get("crossing", {})
                              else None, frontier=frontier, since=since,
                              names=[p[0] for p in pts], n_boot=min(n_boot, 200) or 200,
                              seed=seed)
        out["backtest"] = {**bt.summary}
    except InsufficientEvidence as e:
        out["backtest"] = {"error": e.message}
    out["warnings"] = list(dict.fromkeys(messages))
    return out


def _print(out: dict[str, Any]) -> None:
    from tripwire.cli.forecast_cmd import _backtest_line

    f, g = out["fit"], out["growth"]
    info(f"{out['series']}: {f['model']}, {f['n_models']} models from {f['first_date']} to "
         f"{f['last_date']}" + (f" (as of {out['as_of']})" if out["as_of"] else "")
         + f"; {f['n_boot']} bootstrap resamples, seed {f['seed']}; {out['source']}")
    render([{"quantity": "growth per year (x)", "estimate": g["per_year"],
             "lo80": g["interval80"][0], "hi80": g["interval80"][1],
             "lo95": g["interval95"][0], "hi95": g["interval95"][1]},
            {"quantity": "doubling time (months)", "estimate": g["doubling_months"]},
            {"quantity": "residual sd (log2)", "estimate": f["residual_sd"]}],
           title="trend")
    info(f"published: {g['published']}")
    c = out.get("crossing")
    if c and "crossed_by" not in c:
        render([{"quantile": q, "date": d} for q, d in c["date_quantiles"].items()],
               title=f"date at which the trend reaches {c['threshold']:g} FLOP "
                     "(blank: not within 100 years)")
        if c.get("probability") is not None:
            info(f"P(crossed by {c['at_date']}) = {c['probability']:.3f}")
    if "prediction" in out:
        render([out["prediction"]], title="prediction with 80 % and 95 % intervals")
    info(_backtest_line(out["backtest"]))
    if "plot" in out:
        info(f"figure written to {out['plot']}")
