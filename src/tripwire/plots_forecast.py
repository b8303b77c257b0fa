"""Figures for capability forecasts: the data, the fitted curve, its band, the threshold and
the distribution of where (or when) the threshold is crossed.

Uses matplotlib's object API (``Figure``, Agg canvas) without pyplot, so nothing global changes
and no display is needed; the file type follows the suffix (.png, .svg or .pdf).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tripwire.forecast import CapabilityCurve, CrossingForecast, DateCrossing, TimeTrend
from tripwire.plots import check_figure_path

__all__ = ["plot_capability_forecast", "plot_reliability", "plot_time_trend"]

_BAND95, _BAND80, _LINE, _THRESH = "#c6dbef", "#6baed6", "#08519c", "#cb181d"


def _figure() -> tuple[Figure, Any, Any]:
    fig = Figure(figsize=(7.5, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    return fig, top, bottom


def plot_capability_forecast(curve: CapabilityCurve, path: str | Path, *,
                             threshold: float | None = None,
                             crossing: CrossingForecast | None = None,
                             title: str | None = None) -> Path:
    """Score against log10 effective compute: models, fitted sigmoid, 80/95 % prediction band,
    threshold line, planned compute; below, the density of the compute at which the threshold
    is reached (with its 10/50/90 % quantiles)."""
    p = check_figure_path(path)
    x_all, y_all = curve.data_
    x, y = curve.x_, curve.y_
    hi = float(x.max()) + 1.5
    if crossing is not None:
        q95 = crossing.compute_quantiles.get("0.95", math.inf)
        if math.isfinite(q95) and q95 > 0:
            hi = max(hi, math.log10(q95) + 0.3)
        if crossing.at_compute_flop:
            hi = max(hi, math.log10(crossing.at_compute_flop) + 0.3)
    hi = min(hi, float(x.max()) + 8.0)
    grid = np.linspace(float(x_all.min()) - 0.3, hi, 200)
    band = curve.predict(10.0**grid)

    fig, ax, dax = _figure()
    ax.fill_between(grid, band["lo95"], band["hi95"], color=_BAND95, label="95 % prediction")
    ax.fill_between(grid, band["lo80"], band["hi80"], color=_BAND80, label="80 % prediction")
    ax.plot(grid, band["predicted"], color=_LINE, lw=2, label=f"fit ({curve.method_})")
    if x_all.size > x.size:
        ax.scatter(x_all, y_all, s=14, color="#bdbdbd", label="other models", zorder=3)
    ax.scatter(x, y, s=18, color="black", label="models fitted", zorder=4)
    ax.axhline(curve.problem_.floor, color="#999999", lw=0.8, ls=":", label="chance")
    ax.axvspan(float(x.max()), hi, color="#f5f5f5", zorder=0)
    if threshold is not None:
        ax.axhline(threshold, color=_THRESH, lw=1.2, ls="--", label=f"threshold {threshold:g}")
    if crossing is not None and crossing.at_compute_flop and crossing.probability is not None:
        xa = math.log10(crossing.at_compute_flop)
        ax.axvline(xa, color="#54278f", lw=1, ls="-.",
                   label=f"planned: P(score >= {crossing.threshold:g}) = "
                         f"{crossing.probability:.2f}")
    ax.set_ylabel("score")
    ax.set_title(title or "score against effective compute")
    ax.legend(fontsize=7, loc="upper left")

    if threshold is not None:
        cdf = curve.crossing_cdf(threshold, 10.0**grid)
        dens = np.gradient(cdf, grid)
        dax.fill_between(grid, 0, dens, color="#fcbba1")
        dax.plot(grid, dens, color=_THRESH, lw=1)
        if crossing is not None:
            for q in ("0.1", "0.5", "0.9"):
                v = crossing.compute_quantiles.get(q, math.inf)
                if math.isfinite(v) and v > 0 and grid[0] <= math.log10(v) <= grid[-1]:
                    dax.axvline(math.log10(v), color=_THRESH, lw=0.8, ls=":")
                    dax.annotate(f"{float(q):.0%}", (math.log10(v), 0), fontsize=7,
                                 xytext=(2, 2), textcoords="offset points")
        never = 1.0 - float(cdf[-1])
        dax.set_title(f"where the threshold is reached (density; P(not within the axis) = "
                      f"{never:.2f})", fontsize=8)
    else:
        dax.text(0.5, 0.5, "no threshold given", ha="center", va="center",
                 transform=dax.transAxes, fontsize=8, color="#777777")
    dax.set_xlabel("log10 effective training compute (FLOP)")
    dax.set_yticks([])
    fig.savefig(p, dpi=120)
    return p


def _years(dates: list[dt.date]) -> np.ndarray:
    return np.array([d.year + (d.timetuple().tm_yday - 1) / 365.2425 for d in dates])


def plot_time_trend(trend: TimeTrend, path: str | Path, *, threshold: float | None = None,
                    crossing: DateCrossing | None = None, title: str | None = None) -> Path:
    """A trend against release date: models, fit, 80/95 % band (log2 quantities on a log
    axis), threshold line; below, the density of the date at which the threshold is reached."""
    p = check_figure_path(path)
    start = dt.date(1970, 1, 1)
    t0, t1 = float(trend.t_.min()), float(trend.t_.max())
    hi = t1 + 1.5
    if crossing is not None:
        d95 = crossing.date_quantiles.get("0.95")
        if d95 is not None:
            hi = max(hi, (d95 - start).days / 365.2425 + 0.3)
    hi = min(hi, t1 + 15.0)
    grid_t = np.linspace(t0 - 0.3, hi, 160)
    dates = [start + dt.timedelta(days=round(v * 365.2425)) for v in grid_t]
    band = trend.predict(dates)
    gx = _years(dates)
    data_dates = [start + dt.timedelta(days=round(v * 365.2425)) for v in trend.t_]

    fig, ax, dax = _figure()
    ax.fill_between(gx, band["lo95"], band["hi95"], color=_BAND95, label="95 % prediction")
    ax.fill_between(gx, band["lo80"], band["hi80"], color=_BAND80, label="80 % prediction")
    label = f"fit: doubling every {trend.doubling_days_:.0f} days"
    if trend.transform == "logit":
        label = f"fit: odds double every {trend.doubling_days_:.0f} days"
    ax.plot(gx, band["predicted"], color=_LINE, lw=2, label=label)
    ax.scatter(_years(data_dates), trend.values_, s=18, color="black", zorder=4,
               label="models fitted")
    if trend.transform == "log2":
        ax.set_yscale("log")
    if threshold is not None:
        ax.axhline(threshold, color=_THRESH, lw=1.2, ls="--", label=f"threshold {threshold:g}")
    ax.set_ylabel("value")
    ax.set_title(title or "trend against release date")
    ax.legend(fontsize=7, loc="upper left")
    if threshold is not None:
        cdf = trend.crossing_cdf(threshold, dates)
        dens = np.gradient(cdf, gx)
        dax.fill_between(gx, 0, dens, color="#fcbba1")
        dax.plot(gx, dens, color=_THRESH, lw=1)
        if crossing is not None:
            for q in ("0.1", "0.5", "0.9"):
                d = crossing.date_quantiles.get(q)
                if d is not None and gx[0] <= _years([d])[0] <= gx[-1]:
                    dax.axvline(_years([d])[0], color=_THRESH, lw=0.8, ls=":")
                    dax.annotate(f"{float(q):.0%}", (_years([d])[0], 0), fontsize=7,
                                 xytext=(2, 2), textcoords="offset points")
        dax.set_title("when the threshold is reached (density)", fontsize=8)
    else:
        dax.text(0.5, 0.5, "no threshold given", ha="center", va="center",
                 transform=dax.transAxes, fontsize=8, color="#777777")
    dax.set_xlabel("release date (year)")
    dax.set_yticks([])
    fig.savefig(p, dpi=120)
    return p


def plot_reliability(pooled: dict[str, Any], per: list[dict[str, Any]],
                     path: str | Path) -> Path:
    """Reliability diagrams of a backtest: nominal vs empirical coverage of central intervals
    (pooled, and each benchmark faintly), and predicted vs observed threshold probabilities."""
    p = check_figure_path(path)
    fig = Figure(figsize=(9.0, 4.2), layout="constrained")
    cov, prob = fig.subplots(1, 2)
    for ax in (cov, prob):
        ax.plot([0, 1], [0, 1], color="#999999", lw=1, ls="--")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    for b in per:
        rel = b.get("reliability")
        if rel:
            cov.plot([r["nominal"] for r in rel], [r["empirical"] for r in rel],
                     color=_BAND80, lw=0.8, alpha=0.5)
    rel = pooled.get("reliability") or []
    if rel:
        cov.plot([r["nominal"] for r in rel], [r["empirical"] for r in rel], color=_LINE,
                 lw=2, marker="o", label="pooled")
        cov.legend(fontsize=8, loc="upper left")
    cov.set_xlabel("nominal coverage of the central interval")
    cov.set_ylabel("share of later models inside")
    cov.set_title("interval reliability", fontsize=9)
    pr = pooled.get("probability_reliability") or []
    if pr:
        prob.plot([r["mean_predicted"] for r in pr], [r["observed"] for r in pr], color=_LINE,
                  lw=2, marker="o")
    prob.set_xlabel("predicted P(score >= threshold)")
    prob.set_ylabel("observed frequency")
    prob.set_title("threshold probabilities", fontsize=9)
    fig.savefig(p, dpi=120)
    return p
