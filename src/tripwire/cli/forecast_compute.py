"""`tripwire forecast training_compute --by date`: the growth of the register's models'
training compute over time, and when a compute line is first crossed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tripwire.cli.app import info, print_json, render, warn


def compute_forecast(series: str, *, db: str | None, threshold: float | None,
                     at: dt.date | None, frontier: bool, since: dt.date | None,
                     as_of: dt.date | None, n_boot: int, seed: int, plot: Path | None,
                     json: bool) -> None:
    """Fit, print (or JSON) and plot the compute trend; see `forecast_cmd`."""
    from tripwire import forecast as fc
    from tripwire.forecast._compute_trend import DEEP_LEARNING_ERA, compute_trend_summary
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
        crossing = (trend.first_crossing(threshold, after=fc.known_below(
                        fc.compute_points(models, series, as_of), as_of))
                    if threshold is not None
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
               title=f"release date of the first model over {c['threshold']:g} FLOP "
                     f"(after {c.get('first_after')}; blank: not within 100 years)")
        if c.get("probability") is not None:
            info(f"P(crossed by {c['at_date']}) = {c['probability']:.3f}")
    if "prediction" in out:
        render([out["prediction"]], title="prediction with 80 % and 95 % intervals")
    info(_backtest_line(out["backtest"]))
    if "plot" in out:
        info(f"figure written to {out['plot']}")
