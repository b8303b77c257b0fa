"""Shared pieces of the forecasts: reported quantiles, the date axis, input checks, the
crossing-distribution mixture, crossing results as dicts, and the case bootstrap."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtr, stdtr

from tripwire.errors import InputError

QUANTILES: tuple[float, ...] = (0.05, 0.1, 0.5, 0.9, 0.95)
"""Quantiles reported for crossing distributions."""

DAYS_PER_YEAR = 365.2425
_EPOCH = dt.date(1970, 1, 1)
_TINY = 1e-12


def _q_key(q: float) -> str:
    return f"{q:g}"


def _floats(name: str, values: ArrayLike, *, allow_nan: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as e:
        raise InputError(f"{name} must be numbers", hint=str(e)) from None
    if not allow_nan and not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InputError(f"{name} is not a finite number", where=f"item {bad}")
    return arr


def _year(d: dt.date | dt.datetime | str | pd.Timestamp) -> float:
    """A date as decimal years since 1970 (the time axis of trends)."""
    if isinstance(d, str):
        try:
            d = dt.date.fromisoformat(d[:10])
        except ValueError:
            raise InputError(f"not a date: {d!r}", hint="use YYYY-MM-DD") from None
    if isinstance(d, pd.Timestamp):
        d = d.date()
    if isinstance(d, dt.datetime):
        d = d.date()
    if not isinstance(d, dt.date):
        raise InputError(f"not a date: {d!r}", hint="use YYYY-MM-DD")
    return (d - _EPOCH).days / DAYS_PER_YEAR


def _date(year: float) -> dt.date | None:
    """Decimal years since 1970 back to a date (None when not finite or out of range)."""
    if not math.isfinite(year) or abs(year) > 5000:
        return None
    return _EPOCH + dt.timedelta(days=round(year * DAYS_PER_YEAR))


ExtraSd = Callable[[np.ndarray], np.ndarray]
"""Model-error sd (latent units) at places x on the axis: see `tripwire.calibration`."""
ThresholdAt = Callable[[np.ndarray], np.ndarray]
"""Latent thresholds (len(x), components) at places x, for thresholds that move with x."""
_CHUNK = 128


def _mixture_cdf(x: np.ndarray, a: np.ndarray, k: np.ndarray, t: np.ndarray,
                 tau: np.ndarray, dof: float = math.inf,
                 extra_sd: ExtraSd | None = None,
                 t_at: ThresholdAt | None = None) -> np.ndarray:
    """mean_b F((a_b + k_b x - t_b) / s_b(x)) for each x: P(latent ability at x >= threshold),
    F the Student-t CDF with `dof` degrees of freedom (normal when infinite) and
    s_b(x) = sqrt(tau_b^2 + extra_sd(x)^2), the model-error term widening the spread beyond
    the data.

    `t_b = +inf` marks draws whose curve never reaches the threshold. With `t_at`, the
    thresholds depend on x (a fitted ceiling with model error past the data) and replace `t`.
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    if t_at is not None and x.size > _CHUNK:  # thresholds per place: bounded memory
        return np.concatenate([_mixture_cdf(x[i:i + _CHUNK], a, k, t, tau, dof, extra_sd, t_at)
                               for i in range(0, x.size, _CHUNK)])
    spread = tau[None, :]
    if extra_sd is not None:
        spread = np.sqrt(tau[None, :] ** 2 + extra_sd(x)[:, None] ** 2)
    tx = t[None, :] if t_at is None else t_at(x)
    with np.errstate(invalid="ignore", over="ignore"):
        z = (a[None, :] + k[None, :] * x[:, None] - tx) / spread
    z = np.where(np.isposinf(tx), -np.inf, z)
    cdf = ndtr(z) if math.isinf(dof) else stdtr(dof, z)
    return cdf.mean(axis=1)


def _running_cdf(x: np.ndarray, a: np.ndarray, k: np.ndarray, t: np.ndarray,
                 tau: np.ndarray, lo: float, dof: float = math.inf,
                 extra_sd: ExtraSd | None = None,
                 t_at: ThresholdAt | None = None) -> np.ndarray:
    """P(the threshold is crossed by x): the running maximum over [lo, x] of the mixture CDF.

    With a model-error term that widens past the data, P(score at x >= threshold) need not
    rise with x (the spread can grow faster than the curve). A crossing by x is implied by a
    crossing at any x' <= x, so the running maximum is the tightest bound the per-x
    predictive distributions give, and it is a distribution function (monotone).
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    top = float(np.max(x)) if x.size else lo
    grid = np.union1d(np.linspace(lo, max(top, lo), 801), x)
    f = np.maximum.accumulate(_mixture_cdf(grid, a, k, t, tau, dof, extra_sd, t_at))
    return f[np.searchsorted(grid, x)]


_FINE = 2001
"""Points of the grid crossing quantiles are read from."""
_STRIDE = 10
"""Every this many points of that grid are evaluated first (a coarse grid of 201 points)."""


def _mixture_quantiles(qs: Sequence[float], a: np.ndarray, k: np.ndarray, t: np.ndarray,
                       tau: np.ndarray, lo: float, hi: float,
                       dof: float = math.inf, extra_sd: ExtraSd | None = None,
                       t_at: ThresholdAt | None = None) -> dict[str, float]:
    """Quantiles of the crossing point: where the running-maximum CDF (`_running_cdf`) first
    reaches each level on [lo, hi], on a grid of 2,001 points refined by linear interpolation.

    The Student-t CDF over every bootstrap fit is the largest part of a forecast's cost, so the
    grid is evaluated sparsely: every 10th point, then every point of the cells beside a local
    maximum (where the model error widens faster than the curve rises and the CDF dips) and of
    the cell where a level is crossed. The answer is the full grid's wherever the CDF has at
    most one turn within two cells (a fifth of the range): it is a mixture over bootstrap fits
    whose spread grows over decades.

    Returns +inf where the threshold is not reached with that probability within `hi`, and
    -inf where it is already reached at `lo`.
    """
    qs_arr = np.asarray(qs, dtype=float)
    grid = np.linspace(lo, hi, _FINE)
    vals = np.full(_FINE, -np.inf)
    done = np.zeros(_FINE, dtype=bool)

    def fill(idx: np.ndarray) -> None:
        idx = idx[~done[idx]]
        if idx.size:
            vals[idx] = _mixture_cdf(grid[idx], a, k, t, tau, dof, extra_sd, t_at)
            done[idx] = True

    def cell(c: int) -> np.ndarray:
        """Fine indices of coarse cell c: (coarse[c-1], coarse[c])."""
        return np.arange((c - 1) * _STRIDE + 1, c * _STRIDE)

    coarse = np.arange(0, _FINE, _STRIDE)
    fill(coarse)
    raw = vals[coarse]
    turns = np.flatnonzero(raw[1:-1] > raw[2:]) + 1  # a coarse point higher than the next
    turns = turns[raw[turns] >= raw[turns - 1]]       # ... and not lower than the previous
    for i in ([0] if raw.size > 1 and raw[0] > raw[1] else []) + list(turns):
        fill(np.concatenate([cell(i) if i > 0 else np.empty(0, dtype=int), cell(i + 1)]))
    out = np.empty(qs_arr.size)
    for i, q in enumerate(qs_arr):
        f = np.maximum.accumulate(vals)  # unevaluated points carry the running max before them
        if q <= f[0]:
            out[i] = -np.inf
            continue
        if q > f[-1]:
            out[i] = np.inf
            continue
        j = int(np.searchsorted(f, q, side="left"))
        c = -(-j // _STRIDE)  # the coarse cell holding fine point j
        fill(cell(c))
        f = np.maximum.accumulate(vals)
        j = int(np.searchsorted(f, q, side="left"))
        f0, f1 = f[j - 1], f[j]
        w = 0.0 if f1 <= f0 else (q - f0) / (f1 - f0)
        out[i] = grid[j - 1] + w * (grid[j] - grid[j - 1])
    return {_q_key(q): float(v) for q, v in zip(qs_arr, out, strict=True)}


def _intervals(row: pd.Series) -> tuple[float, tuple[float, float], tuple[float, float]]:
    """The prediction and its 80 % and 95 % intervals from one row of a `predict` frame."""
    return (float(row["predicted"]), (float(row["lo80"]), float(row["hi80"])),
            (float(row["lo95"]), float(row["hi95"])))


def _plain_dict(result: Any) -> dict[str, Any]:
    """A crossing result (dataclass) as a plain JSON-able dict: its interval tuples as lists."""
    d = asdict(result)
    for key in ("interval80", "interval95"):
        if d[key] is not None:
            d[key] = list(d[key])
    return d


def _bias_corrected(boot_tau: np.ndarray, tau: float) -> np.ndarray:
    """Bootstrap bias correction of the scatter: resampled fits see fewer distinct models and
    so under-estimate tau; scale the draws so their mean is 2 tau - mean(draws), never less than
    tau (Efron & Tibshirani 1993, sec. 10.6)."""
    mean = float(np.mean(boot_tau))
    target = max(2.0 * tau - mean, tau)
    return boot_tau * (target / mean) if mean > 0 else boot_tau


def _bootstrap_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Case-bootstrap resamples as counts (n_boot, n): how often each model was drawn."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n)) + n * np.arange(n_boot)[:, None]
    return np.bincount(idx.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(float)


def _check_samples(samples: ArrayLike | None, n: int, y: np.ndarray,
                   warnings: list[str]) -> np.ndarray | None:
    if samples is None:
        return None
    raw = pd.to_numeric(pd.Series(list(np.asarray(samples, dtype=object).ravel())),
                        errors="coerce").to_numpy(dtype=float)
    if raw.size != n:
        raise InputError(f"samples has {raw.size} entries for {n} scores")
    known = np.isfinite(raw) & (raw > 0)
    if not known.any():
        return None
    if np.any((y < 0) | (y > 1)):
        raise InputError("scores with sample counts must be proportions in [0, 1]",
                         hint="give accuracies, not percentages")
    if not known.all():
        fill = float(np.median(raw[known]))
        warnings.append(f"{int((~known).sum())} models have no sample count; "
                        f"used the median {fill:g}")
        raw = np.where(known, raw, fill)
    return raw
