"""The growth of training compute over release dates, built on `TimeTrend`: growth per year,
the date a compute line is first crossed, and as-of backtests of that date.

A model enters the series with its compute figure (training or effective) and its release date;
`as_of` keeps only models released on or before a date, so any forecast can be re-run as it
would have been made then and compared with what happened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tripwire.errors import InputError, InsufficientEvidence
from tripwire.forecast._common import _plain_dict
from tripwire.forecast._trend import DateCrossing, TimeTrend
from tripwire.model import Model

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
        d = _plain_dict(self)
        d["forecast"] = self.forecast.to_dict() if self.forecast is not None else None
        return d


def crossing_backtest(models: Sequence[Model], threshold: float, as_of: dt.date, *,
                      series: str = "training_compute", frontier: bool = True,
                      n_boot: int = 1000, seed: int = 0) -> CrossingBacktest:
    """Forecast the date `threshold` is first crossed from the models released by `as_of`, and
    place the actual first crossing after `as_of` in that forecast's distribution."""
    before = first_over(models, threshold, series)
    trend = fit_compute_trend(models, series=series, frontier=frontier, as_of=as_of,
                              n_boot=n_boot, seed=seed)
    fc = trend.crossing(threshold)
    if before is not None and before[1] <= as_of:
        return CrossingBacktest(threshold, as_of, fc, None, None, None, None, None,
                                already=(before[0], before[1]), n_models=trend.n_models_,
                                warnings=list(trend.warnings_))
    actual = first_over(models, threshold, series, after=as_of)
    pit = inside80 = inside95 = None
    if actual is not None:
        pit = float(trend.crossing_cdf(threshold, [actual[1]])[0])
        inside80 = 0.1 <= pit <= 0.9
        inside95 = 0.025 <= pit <= 0.975
    return CrossingBacktest(threshold, as_of, fc, actual[0] if actual else None,
                            actual[1] if actual else None, pit, inside80, inside95,
                            n_models=trend.n_models_, warnings=list(trend.warnings_))

