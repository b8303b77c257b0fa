"""Trends against release date: `TimeTrend` (log2 or logit, doubling times) and its
`DateCrossing`."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import expit, stdtr

from tripwire.calibration import HeldOut, ModelError, fit_scale, no_model_error
from tripwire.errors import InputError, InsufficientEvidence
from tripwire.forecast._common import (
    _TINY,
    DAYS_PER_YEAR,
    QUANTILES,
    _bias_corrected,
    _bootstrap_weights,
    _date,
    _floats,
    _intervals,
    _mixture_cdf,
    _mixture_quantiles,
    _plain_dict,
    _q_key,
    _year,
)
from tripwire.forecast._curve import CALIBRATION_CUTS, frontier_mask

TREND_PRIOR_SCALE: dict[str, float] = {"log2": 1.0, "logit": 1.0}
"""Prior scale of a trend's model error (log2 units, or logit units of the score; the sd is
this times growth(years past the last release), see `tripwire.calibration`): about the
leave-future-out scales of the METR frontier horizon trends (v1.0: 0.95, v1.1: 2.3)."""
_CAL_BOOT = 100
_CAL_DRAWS = 8


@dataclass
class DateCrossing:
    """When a time trend reaches a threshold: date quantiles and P(reached by `at_date`)."""

    threshold: float
    at_date: dt.date | None
    probability: float | None
    date_quantiles: dict[str, dt.date | None]
    """None where the threshold is not reached with that probability (within 100 years)."""
    predicted: float | None
    interval80: tuple[float, float] | None
    interval95: tuple[float, float] | None
    n_models: int
    warnings: list[str] = field(default_factory=list)
    first_after: dt.date | None = None
    """For a first-crossing forecast (`TimeTrend.first_crossing`): the date after which the
    first model over the threshold is forecast (None: a trend-line crossing)."""
    rate_per_year: float | None = None
    """For a first-crossing forecast: releases per year assumed."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return _plain_dict(self)


class TimeTrend:
    """A log-linear trend against release date: log2 of a quantity (e.g. METR's 50 % task
    horizon in minutes), or the logit of a score between `floor` and `ceiling`.

    Fitted by least squares (as METR does, Kwa et al. 2025) with a case bootstrap over models.
    The doubling time is that of the quantity (log2) or of the score's odds (logit).
    `frontier=True` keeps only models that beat every earlier release.

    Predictions past the last release add a model-error term in the trend's space, sd
    ``scale * growth(years past the last release)`` (`tripwire.calibration`): with
    `calibrate` (the default) its scale comes from leave-future-out refits on the earliest
    50, 60, 70 and 80 % of the models predicting the later ones, shrunk towards
    `prior_scale` (default :data:`TREND_PRIOR_SCALE` of the transform); ``model_error_``
    says which.
    """

    def __init__(self, *, transform: Literal["log2", "logit"] = "log2",
                 floor: float | None = None, ceiling: float | None = None,
                 frontier: bool = False, since: dt.date | str | None = None,
                 until: dt.date | str | None = None, n_boot: int = 1000, seed: int = 0,
                 min_models: int = 4, min_years: float = 1.0, calibrate: bool = True,
                 prior_scale: float | None = None) -> None:
        self.transform = transform
        self.calibrate = calibrate
        self.prior_scale = prior_scale
        self.floor = floor
        self.ceiling = ceiling
        self.frontier = frontier
        self.since = since
        self.until = until
        self.n_boot = n_boot
        self.seed = seed
        self.min_models = min_models
        self.min_years = min_years

    def _to_space(self, v: np.ndarray) -> np.ndarray:
        if self.transform == "log2":
            if np.any(v <= 0):
                raise InputError("a log2 trend needs positive values")
            return np.log2(v)
        if self.transform == "logit":
            if self.floor is None:
                raise InsufficientEvidence("a logit trend needs the benchmark's chance level")
            ceiling = 1.0 if self.ceiling is None else float(self.ceiling)
            q = (v - self.floor) / (ceiling - self.floor)
            q = np.clip(q, 1e-3, 1 - 1e-3)
            return np.log(q) - np.log1p(-q)
        raise InputError(f"unknown transform {self.transform!r}", hint="log2 or logit")

    def _from_space(self, z: np.ndarray) -> np.ndarray:
        if self.transform == "log2":
            with np.errstate(over="ignore"):  # far-tail draws are +inf, which is right
                return np.exp2(z)
        ceiling = 1.0 if self.ceiling is None else float(self.ceiling)
        assert self.floor is not None
        return self.floor + (ceiling - self.floor) * expit(z)

    def fit(self, dates: Sequence[dt.date | str | None], values: ArrayLike) -> Self:
        """Fit the trend and its bootstrap; InsufficientEvidence on too little data."""
        warnings: list[str] = []
        v = _floats("values", values, allow_nan=True)
        if len(dates) != v.size:
            raise InputError(f"{len(dates)} dates for {v.size} values")
        t = np.array([_year(d) if d is not None and not (isinstance(d, float) and
                                                          math.isnan(d)) else np.nan
                      for d in dates])
        known = np.isfinite(t) & np.isfinite(v)
        if not known.all():
            warnings.append(f"{int((~known).sum())} models without a release date or value "
                            "left out")
        if self.since is not None:
            known &= t >= _year(self.since)
        if self.until is not None:
            known &= t <= _year(self.until)
        t, v = t[known], v[known]
        self.mask_ = known.copy()
        if self.frontier and t.size:
            keep = frontier_mask(t, v)
            t, v = t[keep], v[keep]
            self.mask_[np.flatnonzero(known)[~keep]] = False
        n = t.size
        if n < self.min_models:
            raise InsufficientEvidence(f"{n} models with a release date; a trend needs at "
                                       f"least {self.min_models}")
        span = float(t.max() - t.min())
        if span < self.min_years:
            raise InsufficientEvidence(f"release dates span {span * 12:.1f} months; at least "
                                       f"{self.min_years * 12:.0f} needed")
        z = self._to_space(v)
        if np.ptp(z) == 0:
            raise InsufficientEvidence("every model has the same value: no trend")
        tbar = float(t.mean())
        W = np.ones((1, n))
        if self.n_boot > 0:
            W = np.vstack([W, _bootstrap_weights(n, self.n_boot, self.seed)])
        ab, sig = self._ols(t - tbar, z, W)
        self.t_, self.z_, self.values_, self.tbar_ = t, z, v, tbar
        self.intercept_, self.slope_per_year_ = float(ab[0, 0]), float(ab[0, 1])
        self.sigma_ = float(sig[0])
        self.boot_ = ab[1:] if self.n_boot > 0 else ab
        self.boot_sigma_ = _bias_corrected(sig[1:], self.sigma_) if self.n_boot > 0 else sig
        self.n_models_ = n
        self.dof_ = float(max(n - 2, 1))
        if self.slope_per_year_ <= 0:
            raise InsufficientEvidence("values do not rise with release date (slope <= 0)")
        self.warnings_ = warnings
        self.model_error_ = self._calibrate(t, v)
        return self

    def _calibrate(self, t: np.ndarray, v: np.ndarray) -> ModelError:
        """Leave-future-out refits on the earlier models, scored on the later ones in the
        trend's space (`tripwire.calibration.fit_scale`)."""
        units = "years"
        if not self.calibrate:
            return no_model_error(units)
        prior = (self.prior_scale if self.prior_scale is not None
                 else TREND_PRIOR_SCALE[self.transform])
        parts: list[HeldOut] = []
        reasons: list[str] = []
        order = np.sort(t)
        seen: set[bytes] = set()
        for frac in CALIBRATION_CUTS:
            cut = order[min(t.size - 1, int(round(frac * t.size)))]
            train = t < cut
            if train.all() or train.tobytes() in seen:
                continue
            seen.add(train.tobytes())
            sub = TimeTrend(transform=self.transform, floor=self.floor, ceiling=self.ceiling,
                            n_boot=min(_CAL_BOOT, max(self.n_boot, 20)), seed=self.seed,
                            min_models=self.min_models,
                            min_years=self.min_years, calibrate=False)
            try:
                sub.fit([_date(float(a)) for a in t[train]], v[train])
            except InsufficientEvidence as e:
                reasons.append(e.message)
                continue
            test = ~train
            parts.append(HeldOut(sub._draws(t[test], _CAL_DRAWS), self._to_space(v[test]),
                                 t[test] - float(t[train].max())))
        why = None if parts else ("no refit on the earlier models was possible"
                                  + (f" ({reasons[0]})" if reasons else ""))
        return fit_scale(parts, prior_scale=prior, seed=self.seed, units=units, reason=why)

    def _past(self, t: np.ndarray) -> np.ndarray:
        """Years past the last release fitted (0 before it)."""
        return np.maximum(0.0, np.asarray(t, dtype=float) - float(self.t_.max()))

    def _extra_sd(self, t: np.ndarray) -> np.ndarray:
        return self.model_error_.sd(self._past(t))

    def draws(self, years: np.ndarray, n_draws: int = 16) -> np.ndarray:
        """Predictive draws of a new model's value (original units) at decimal years since
        1970, (n_draws * n_boot, points), model error included."""
        self._check_fitted()
        return self._from_space(self._draws(np.asarray(years, dtype=float), n_draws,
                                            model_error=True))

    def _draws(self, t: np.ndarray, n_draws: int, *, model_error: bool = False) -> np.ndarray:
        """Predictive draws of a new model's value in the trend's space at times t (decimal
        years), (n_draws * B, points): bootstrap lines plus Student-t scatter, and the model
        error past the last release when asked."""
        zb = self.boot_[:, :1] + self.boot_[:, 1:] * (t[None, :] - self.tbar_)
        rng = np.random.default_rng(self.seed + 1)
        z = zb[None] + rng.standard_t(self.dof_, (n_draws, *zb.shape)) \
            * self.boot_sigma_[None, :, None]
        if model_error and self.model_error_.scale > 0:
            z = z + rng.standard_normal(z.shape) * self._extra_sd(t)[None, None, :]
        return z.reshape(-1, t.size)

    @staticmethod
    def _ols(t: np.ndarray, z: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted least squares for every weight row at once: (intercept, slope), sigma."""
        sw = W.sum(axis=1)
        tm = (W * t).sum(axis=1) / sw
        zm = (W * z).sum(axis=1) / sw
        dt_ = t[None, :] - tm[:, None]
        sxx = (W * dt_**2).sum(axis=1)
        slope = np.where(sxx > 0, (W * dt_ * (z[None, :] - zm[:, None])).sum(axis=1)
                         / np.maximum(sxx, _TINY), 0.0)
        intercept = zm - slope * tm
        resid = z[None, :] - intercept[:, None] - slope[:, None] * t[None, :]
        sigma = np.sqrt((W * resid**2).sum(axis=1) / np.maximum(sw - 2, 1))
        return np.column_stack([intercept, slope]), np.maximum(sigma, 1e-9)

    def _check_fitted(self) -> None:
        if not hasattr(self, "slope_per_year_"):
            raise InputError("the trend is not fitted yet", hint="call fit() first")

    @property
    def doubling_days_(self) -> float:
        """Days for the quantity (log2) or the score's odds (logit) to double."""
        self._check_fitted()
        per_doubling = 1.0 if self.transform == "log2" else math.log(2.0)
        return DAYS_PER_YEAR * per_doubling / self.slope_per_year_

    def doubling_interval(self, level: float = 0.95) -> tuple[float, float]:
        """Percentile bootstrap interval of the doubling time, in days (inf: no growth)."""
        self._check_fitted()
        per_doubling = 1.0 if self.transform == "log2" else math.log(2.0)
        a = (1.0 - level) / 2.0
        s_lo, s_hi = np.quantile(self.boot_[:, 1], [1.0 - a, a])
        conv = [DAYS_PER_YEAR * per_doubling / s if s > 0 else math.inf for s in (s_lo, s_hi)]
        return float(conv[0]), float(conv[1])

    def summary(self) -> dict[str, Any]:
        """Slope, doubling time with 80/95 % intervals, scatter, data range."""
        self._check_fitted()
        return {
            "transform": self.transform,
            "slope_per_year": self.slope_per_year_,
            "doubling_days": self.doubling_days_,
            "doubling_days_80": list(self.doubling_interval(0.80)),
            "doubling_days_95": list(self.doubling_interval(0.95)),
            "doubling_months": self.doubling_days_ / (DAYS_PER_YEAR / 12),
            "residual_sd": self.sigma_,
            "n_models": self.n_models_,
            "first_date": _date(float(self.t_.min())),
            "last_date": _date(float(self.t_.max())),
            "n_boot": self.n_boot,
            "seed": self.seed,
            "warnings": list(self.warnings_),
        }

    def predict(self, dates: Sequence[dt.date | str], *, kind: Literal["prediction", "curve"]
                = "prediction", n_draws: int = 16) -> pd.DataFrame:
        """Trend value (original units) at each date, with 80 % and 95 % intervals."""
        self._check_fitted()
        t = np.array([_year(d) for d in dates])
        z_point = self.intercept_ + self.slope_per_year_ * (t - self.tbar_)
        if kind == "prediction":
            zb = self._draws(t, n_draws, model_error=True)
        else:
            zb = self.boot_[:, :1] + self.boot_[:, 1:] * (t[None, :] - self.tbar_)
        qs = np.quantile(zb, [0.025, 0.1, 0.9, 0.975], axis=0)
        conv = self._from_space
        return pd.DataFrame({"date": [_date(x) for x in t], "predicted": conv(z_point),
                             "lo95": conv(qs[0]), "lo80": conv(qs[1]), "hi80": conv(qs[2]),
                             "hi95": conv(qs[3])})

    def _mixture_args(self, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                       np.ndarray]:
        zt = float(self._to_space(np.array([threshold]))[0])
        b = self.boot_
        return b[:, 0] - b[:, 1] * self.tbar_, b[:, 1], np.full(b.shape[0], zt), self.boot_sigma_

    def crossing_cdf(self, threshold: float, dates: Sequence[dt.date | str]) -> np.ndarray:
        """P(the trend's next model at each date is at or above `threshold`)."""
        self._check_fitted()
        t = np.array([_year(d) for d in dates])
        return _mixture_cdf(t, *self._mixture_args(threshold), self.dof_, self._extra_sd)

    def crossing(self, threshold: float, *, at_date: dt.date | str | None = None,
                 quantiles: Sequence[float] = QUANTILES) -> DateCrossing:
        """Distribution of the date at which the trend reaches `threshold` (original units)."""
        self._check_fitted()
        threshold = float(threshold)
        if self.transform == "log2" and threshold <= 0:
            raise InsufficientEvidence(f"threshold {threshold:g} must be positive")
        if self.transform == "logit":
            ceiling = 1.0 if self.ceiling is None else float(self.ceiling)
            assert self.floor is not None
            if not self.floor < threshold < ceiling:
                raise InsufficientEvidence(f"threshold {threshold:g} is outside (floor "
                                           f"{self.floor:g}, ceiling {ceiling:g})")
        args = self._mixture_args(threshold)
        qd = _mixture_quantiles(quantiles, *args, float(self.t_.min()) - 100.0,
                                float(self.t_.max()) + 100.0, self.dof_, self._extra_sd)
        warnings = list(self.warnings_)
        probability = predicted = i80 = i95 = None
        at = None
        if at_date is not None:
            at = dt.date.fromisoformat(at_date[:10]) if isinstance(at_date, str) else at_date
            probability = float(_mixture_cdf(np.array([_year(at)]), *args, self.dof_,
                                             self._extra_sd)[0])
            predicted, i80, i95 = _intervals(self.predict([at]).iloc[0])
        return DateCrossing(threshold=threshold, at_date=at, probability=probability,
                            date_quantiles={q: _date(v) for q, v in qd.items()},
                            predicted=predicted, interval80=i80, interval95=i95,
                            n_models=self.n_models_, warnings=warnings)

    def _first_cdf(self, threshold: float, after: float, rate: float,
                   horizon: float = 100.0, points: int = 801) -> tuple[np.ndarray, np.ndarray]:
        """(grid of decimal years from `after`, P(first model over `threshold` by each))."""
        zt = float(self._to_space(np.array([threshold]))[0])
        grid = after + horizon * np.linspace(0.0, 1.0, points) ** 2  # dense near `after`
        b = self.boot_
        mu = b[:, :1] + b[:, 1:] * (grid[None, :] - self.tbar_)
        sd = np.sqrt(self.boot_sigma_[:, None] ** 2 + self._extra_sd(grid)[None, :] ** 2)
        p = stdtr(self.dof_, (mu - zt) / sd)
        steps = (p[:, 1:] + p[:, :-1]) / 2 * np.diff(grid)[None, :]
        hazard = np.concatenate([np.zeros((b.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1)
        return grid, 1.0 - np.exp(-rate * hazard).mean(axis=0)

    def release_rate(self) -> float:
        """Releases per year in the fitted series (models over the span of their dates)."""
        self._check_fitted()
        return self.n_models_ / max(float(self.t_.max() - self.t_.min()), 1.0 / 12)

    def first_crossing_cdf(self, threshold: float, dates: Sequence[dt.date | str], *,
                           after: dt.date | str, rate: float | None = None) -> np.ndarray:
        """P(the first model over `threshold` is released by each date), given none was by
        `after` (`first_crossing`)."""
        self._check_fitted()
        t = np.array([_year(d) for d in dates])
        t0 = _year(after)
        horizon = min(100.0, max(float(t.max()) - t0, 0.0) + 1e-6)
        grid, f = self._first_cdf(threshold, t0, rate or self.release_rate(), horizon, 301)
        return np.where(t <= grid[0], 0.0, np.interp(t, grid, f))

    def first_crossing(self, threshold: float, *, after: dt.date | str,
                       at_date: dt.date | str | None = None, rate: float | None = None,
                       quantiles: Sequence[float] = QUANTILES) -> DateCrossing:
        """Distribution of the release date of the first model over `threshold`, given that
        none released by `after` was (e.g. the as-of date of a backtest, or the last release
        the data hold).

        Models are released at `rate` per year (default: the fitted series' own rate,
        `release_rate`), each landing around the trend with its predictive spread (bootstrap
        line, Student-t scatter, model error past the data), independently. The first
        crossing is then the first arrival of a Poisson process thinned by p(t) = P(a model at
        t is over the threshold): P(T <= t) = 1 - E_b exp(-rate * integral_after^t p_b(s) ds),
        averaged over the bootstrap. Unlike the trend line's own crossing (`crossing`), it puts
        no probability before `after`, and a trend already past the threshold at `after`
        (the frontier lagging its trend) gives a crossing soon after it."""
        self._check_fitted()
        threshold = float(threshold)
        if self.transform == "log2" and threshold <= 0:
            raise InsufficientEvidence(f"threshold {threshold:g} must be positive")
        r = float(rate or self.release_rate())
        grid, f = self._first_cdf(threshold, _year(after), r)
        qd: dict[str, dt.date | None] = {}
        for q in quantiles:
            qd[_q_key(q)] = (_date(float(np.interp(q, f, grid))) if f[-1] >= q and f[0] < q
                             else None)
        probability = predicted = i80 = i95 = None
        at = None
        if at_date is not None:
            at = dt.date.fromisoformat(at_date[:10]) if isinstance(at_date, str) else at_date
            probability = float(self.first_crossing_cdf(threshold, [at], after=after,
                                                        rate=r)[0])
            predicted, i80, i95 = _intervals(self.predict([at]).iloc[0])
        return DateCrossing(threshold=threshold, at_date=at, probability=probability,
                            date_quantiles=qd, predicted=predicted, interval80=i80,
                            interval95=i95, n_models=self.n_models_,
                            warnings=list(self.warnings_),
                            first_after=_date(_year(after)), rate_per_year=r)
