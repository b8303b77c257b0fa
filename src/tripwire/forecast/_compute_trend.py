"""The growth of training compute over release dates, built on `TimeTrend`: growth per year,
the date a compute line is first crossed, and as-of backtests of that date.

A model enters the series with its compute figure (training or effective) and its release date;
`as_of` keeps only models released on or before a date, so any forecast can be re-run as it
would have been made then and compared with what happened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tripwire.errors import InputError, InsufficientEvidence
from tripwire.forecast._common import _plain_dict
from tripwire.forecast._trend import DateCrossing, TimeTrend
from tripwire.model import Model

EPOCH_GROWTH = ("Epoch AI (2024), 'Training Compute of Frontier AI Models Grows by 4-5x per "
                "Year': 4-5x per year from 2010 to May 2024; the frontier since 2018 about 4x")
"""The published growth rate the fitted one is printed beside."""

DEEP_LEARNING_ERA = dt.date(2010, 1, 1)
"""Default start of the series: Epoch AI fits its compute trends from 2010 on."""

COMPUTE_SERIES = ("training_compute", "effective_compute")
"""Built-in series over the register's models (forecast them `--by date`)."""


def _value(m: Model, series: str) -> float | None:
    if series not in COMPUTE_SERIES:
        raise InputError(f"unknown compute series {series!r}", hint=" or ".join(COMPUTE_SERIES))
    return m.compute_flop if series == "training_compute" else m.effective_compute_flop


def compute_points(models: Sequence[Model], series: str = "training_compute",
                   as_of: dt.date | None = None) -> list[tuple[str, dt.date, float]]:
    """(name, release date, compute) of every model with both, released by `as_of`, oldest
    first."""
    pts = [(m.name, m.release_date, v) for m in models
           if m.release_date is not None and (v := _value(m, series)) is not None and v > 0
           and (as_of is None or m.release_date <= as_of)]
    return sorted(pts, key=lambda p: (p[1], p[0]))


def first_over(models: Sequence[Model], threshold: float, series: str = "training_compute",
               after: dt.date | None = None) -> tuple[str, dt.date, float] | None:
    """The earliest-released model whose compute figure is over `threshold` (released after
    `after`, when given): (name, date, compute), or None."""
    for name, d, v in compute_points(models, series):
        if v > threshold and (after is None or d > after):
            return name, d, v
    return None


def known_below(points: Sequence[tuple[str, dt.date, float]],
                as_of: dt.date | None = None) -> dt.date:
    """The date up to which the data show a threshold above all of them was not crossed: the
    as-of date of a backtest, else the latest release among the points (the register knows
    nothing later)."""
    if as_of is not None:
        return as_of
    if not points:
        raise InsufficientEvidence("no model has both a release date and a compute figure")
    return max(p[1] for p in points)


def fit_compute_trend(models: Sequence[Model], *, series: str = "training_compute",
                      frontier: bool = False, as_of: dt.date | None = None,
                      since: dt.date | None = None, n_boot: int = 1000,
                      seed: int = 0) -> TimeTrend:
    """log2(compute) linear in release date over the models (released by `as_of`)."""
    pts = compute_points(models, series, as_of)
    if not pts:
        dated = [m.release_date for m in models if m.release_date is not None
                 and _value(m, series) is not None]
        if as_of is not None and dated:
            raise InsufficientEvidence(
                f"--as-of {as_of} is before every model's release date (the first with "
                f"compute is {min(dated)})", hint="choose a later date")
        raise InsufficientEvidence(f"no model has both a release date and {series}",
                                   hint="ingest models with compute and release dates")
    trend = TimeTrend(transform="log2", frontier=frontier, since=since, n_boot=n_boot,
                      seed=seed)
    return trend.fit([p[1] for p in pts], np.array([p[2] for p in pts]))


@dataclass
class Growth:
    """Growth of the quantity per year: point and bootstrap intervals (factor per year)."""

    per_year: float
    interval80: tuple[float, float]
    interval95: tuple[float, float]
    doubling_months: float

    def to_dict(self) -> dict[str, Any]:
        return _plain_dict(self)


def growth(trend: TimeTrend) -> Growth:
    """Factor per year of a log2 trend (2 ** slope) with 80 and 95 % bootstrap intervals."""
    s = trend.boot_[:, 1]
    q = np.exp2(np.quantile(s, [0.1, 0.9, 0.025, 0.975]))
    return Growth(per_year=float(2.0 ** trend.slope_per_year_),
                  interval80=(float(q[0]), float(q[1])), interval95=(float(q[2]), float(q[3])),
                  doubling_months=12.0 / trend.slope_per_year_)


@dataclass
class CrossingBacktest:
    """A crossing-date forecast made as of a date, against what happened after it."""

    threshold: float
    as_of: dt.date
    forecast: DateCrossing
    actual_model: str | None
    actual_date: dt.date | None
    """First model over the threshold released after `as_of` (None: none yet)."""
    pit: float | None
    """P(crossed by the actual date) under the forecast: where the actual date falls."""
    inside80: bool | None
    inside95: bool | None
    already: tuple[str, dt.date] | None = None
    """A model over the threshold released on or before `as_of` (nothing to forecast)."""
    n_models: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["forecast"] = self.forecast.to_dict()
        d["already"] = list(self.already) if self.already is not None else None
        return d


def crossing_backtest(models: Sequence[Model], threshold: float, as_of: dt.date, *,
                      series: str = "training_compute", frontier: bool = False,
                      since: dt.date | None = DEEP_LEARNING_ERA, n_boot: int = 1000,
                      seed: int = 0) -> CrossingBacktest:
    """Forecast the date `threshold` is first crossed from the models released by `as_of`, and
    place the actual first crossing after `as_of` in that forecast's distribution."""
    before = first_over(models, threshold, series)
    trend = fit_compute_trend(models, series=series, frontier=frontier, as_of=as_of,
                              since=since, n_boot=n_boot, seed=seed)
    fc = trend.first_crossing(threshold, after=as_of)
    if before is not None and before[1] <= as_of:
        return CrossingBacktest(threshold, as_of, fc, None, None, None, None, None,
                                already=(before[0], before[1]), n_models=trend.n_models_,
                                warnings=list(trend.warnings_))
    actual = first_over(models, threshold, series, after=as_of)
    pit = inside80 = inside95 = None
    if actual is not None:
        pit = float(trend.first_crossing_cdf(threshold, [actual[1]], after=as_of)[0])
        inside80 = 0.1 <= pit <= 0.9
        inside95 = 0.025 <= pit <= 0.975
    return CrossingBacktest(threshold, as_of, fc, actual[0] if actual else None,
                            actual[1] if actual else None, pit, inside80, inside95,
                            n_models=trend.n_models_, warnings=list(trend.warnings_))


def compute_trend_summary(models: list[Any], series: str = "training_compute", *,
                          threshold: float | None = None, at: dt.date | None = None,
                          frontier: bool = False, since: dt.date | None = None,
                          as_of: dt.date | None = None, n_boot: int = 1000,
                          seed: int = 0, backtest: bool = True) -> dict[str, Any]:
    """The trend, growth per year, crossing of `threshold` and (unless `backtest` is False)
    the trend's walk-forward backtest, as plain data."""
    from tripwire.forecast._backtest import backtest_time

    since = since or DEEP_LEARNING_ERA
    trend = fit_compute_trend(models, series=series, frontier=frontier, as_of=as_of,
                                 since=since, n_boot=n_boot, seed=seed)
    g = growth(trend)
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
        pts = compute_points(models, series, as_of)
        first = first_over(models, threshold, series)
        if first is not None and (as_of is None or first[1] <= as_of):
            out["crossing"] = {"threshold": threshold, "crossed_by": first[0],
                               "date": first[1], "compute_flop": first[2]}
            messages.append(f"{threshold:g} FLOP has already been crossed: first by {first[0]} "
                            f"({first[2]:.3g} FLOP), released {first[1]}")
        else:
            c = trend.first_crossing(threshold, at_date=at, after=known_below(pts, as_of))
            out["crossing"] = c.to_dict()
            messages += c.warnings
            messages.append(
                f"first crossing: models released at {c.rate_per_year:.1f} per year (the "
                f"{'record-setting ' if frontier else ''}series' own rate), each scattering "
                f"around the trend as the fitted ones do; none over the line by {c.first_after}")
            top = max(pts, key=lambda p: p[2]) if pts else None
            if top is not None:
                out["crossing"]["largest_so_far"] = {"model": top[0], "date": top[1],
                                                     "compute_flop": top[2]}
    elif at is not None:
        out["prediction"] = trend.predict([at]).iloc[0].to_dict()
    try:
        if not backtest:
            raise InsufficientEvidence("not run")
        pts = compute_points(models, series, as_of)
        bt = backtest_time([p[1] for p in pts], [p[2] for p in pts], transform="log2",
                              threshold=threshold if "crossed_by" not in out.get("crossing", {})
                              else None, frontier=frontier, since=since,
                              names=[p[0] for p in pts], n_boot=min(n_boot, 200) or 200,
                              seed=seed)
        out["backtest"] = {**bt.summary}
    except InsufficientEvidence as e:
        out["backtest"] = {"error": e.message}
    out["warnings"] = list(dict.fromkeys(messages))
    return out


def crossing_calibration(models: Sequence[Model], *, series: str = "training_compute",
                         years: Sequence[int] = (1, 2, 3), since: dt.date = DEEP_LEARNING_ERA,
                         frontier: bool = False, n_boot: int = 200,
                         seed: int = 0) -> dict[str, Any]:
    """How first-crossing forecasts (`TimeTrend.first_crossing`) have fared: for every half-decade
    of compute (10^20, 10^20.5, ...) first crossed at least three years after `since`, the
    forecast made as of the end of each of `years` before the crossing, and where the actual
    date fell in it (its percentile). Returns the rows and how often the 80 and 95 % intervals
    held the actual date. Rows share data (overlapping fits), so the counts are indicative."""
    rows: list[dict[str, Any]] = []
    trends: dict[dt.date, TimeTrend | None] = {}
    for tenth in range(200, 320, 5):
        line = 10 ** (tenth / 10)
        first = first_over(models, line, series)
        if first is None or first[1].year < since.year + 3:
            continue
        for k in years:
            as_of = dt.date(first[1].year - k, 12, 31)
            if as_of not in trends:
                try:
                    trends[as_of] = fit_compute_trend(models, series=series, frontier=frontier,
                                                      as_of=as_of, since=since,
                                                      n_boot=n_boot, seed=seed)
                except InsufficientEvidence:
                    trends[as_of] = None
            trend = trends[as_of]
            if trend is None:
                continue
            pit = float(trend.first_crossing_cdf(line, [first[1]], after=as_of)[0])
            rows.append({"threshold": line, "as_of": as_of, "model": first[0],
                         "date": first[1], "percentile": pit})
    n = len(rows)
    p = np.array([r["percentile"] for r in rows])
    return {"rows": rows, "n": n,
            "inside80": float(np.mean((p >= 0.1) & (p <= 0.9))) if n else None,
            "inside95": float(np.mean((p >= 0.025) & (p <= 0.975))) if n else None,
            "mean_percentile": float(p.mean()) if n else None}
