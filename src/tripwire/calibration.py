"""Out-of-sample calibration of forecast intervals, and the scores that judge it.

A bootstrap over observations measures how uncertain a fitted curve is *given that its form is
right*; it says nothing of the error of the form itself, which grows with the distance of the
extrapolation (Owen 2024, arXiv 2401.04757; Ruan, Maddison & Hashimoto 2024). tripwire adds to
every predictive distribution an explicit model-error term

    e ~ Normal(0, (s * g(d))^2),   g(d) = sqrt(d (d + 2)),
    d = distance beyond the data (decades of compute, or years),

in the space where the curve is linear in its parameters: the latent ability of the sigmoid
(logit units), the log of a loss, the log2 or logit of a trend. For a law with a link (the
sigmoid) a second part ``Normal(0, (a * g(d))^2)`` is added on the observed scale, for misses
a latent shift cannot produce (scores off the curve near the chance level), and a fitted
ceiling gets its own ``Normal(0, (c * g(d))^2)`` (logits of its place within the ceilings
allowed), so a saturating curve may rise above the ceiling it showed once far past the data.
For laws observed in their linear space (the loss laws) the term may have a mean,
``m * g(d)``: a drift of the walk-forward residuals, a form that errs one way (the location
and spread of ensemble model output statistics, Gneiting, Raftery, Westveld & Goldman 2005,
fitted on past forecasts).

The scale ``s`` is estimated where it can be checked: by leave-future-out (walk-forward)
backtests on the data at hand. At each of several cutoffs the law is refitted to the points
below it (its own bootstrap included) and asked to predict the points above; ``s`` is chosen so
that the central predictive intervals of those held-out points cover what they claim, averaged
over the levels 10 %, 20 %, ..., 90 % and 95 % (the reliability diagram, Gneiting, Balabdaoui &
Raftery 2007). Because one series has few cutoffs, the estimates are shrunk towards prior
scales with a pseudo-count (empirical Bayes; partial pooling as in Gelman et al. 2013, ch. 5):
a series with no usable backtest gets the prior itself, and says so. The prior is deliberately
conservative: the upper quartile of the per-benchmark scales over public benchmark data (see
``benchmarks/bench_calibration.py``), so that a threshold that cannot be ruled out is not
reported as unlikely.

Judging forecasts: empirical coverage of central intervals, the interval score of Gneiting &
Raftery (2007, eq. 43), and the reliability diagram of nominal against empirical coverage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

RELIABILITY_LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Nominal central-interval levels of the reliability diagram."""
CALIBRATION_LEVELS: tuple[float, ...] = (*RELIABILITY_LEVELS, 0.95)
"""Levels whose coverage the model-error scale is fitted to."""
PSEUDO_COUNT = 3.0
"""Weight of the prior scale, in fits: a series' own backtest outweighs the prior once more
than this many walk-forward fits (cutoffs) predicted beyond their data. Predictions of one fit
share its errors, so fits, not predictions, are the independent evidence."""
def growth(distance: ArrayLike) -> FloatArray:
    """How the model-error sd grows with the distance d past the data: sqrt(d (d + 2)).

    Like a random walk (sqrt(2 d)) close to the data, where walk-forward residuals already
    show the errors of the form (new model families, a curve bending), and like a linear drift
    (d + 1) beyond about a decade, as an error in the fitted slope would grow. Scaled so that
    the sd at one decade is sqrt(3) times the scale."""
    d = np.maximum(np.asarray(distance, dtype=float), 0.0)
    return np.sqrt(d * (d + 2.0))
_SCALE_GRID = np.concatenate([[0.0], np.geomspace(1e-4, 20.0, 25)])
_ADD_GRID = np.concatenate([[0.0], np.geomspace(1e-3, 0.5, 12)])
_CEIL_GRID = np.concatenate([[0.0], np.geomspace(1e-2, 20.0, 12)])


def interval_score(lo: ArrayLike, hi: ArrayLike, y: ArrayLike, level: float) -> FloatArray:
    """Gneiting & Raftery (2007) interval score of central (level) intervals; lower is better.

    (hi - lo) + (2 / alpha) (lo - y) 1{y < lo} + (2 / alpha) (y - hi) 1{y > hi},
    alpha = 1 - level: the width, plus a penalty for a miss that grows with how far it missed.
    """
    lo_a, hi_a, y_a = (np.asarray(v, dtype=float) for v in (lo, hi, y))
    a = 1.0 - level
    return ((hi_a - lo_a) + (2.0 / a) * np.maximum(lo_a - y_a, 0.0)
            + (2.0 / a) * np.maximum(y_a - hi_a, 0.0))


def central_coverage(draws: FloatArray, y: ArrayLike,
                     levels: Sequence[float] = RELIABILITY_LEVELS) -> FloatArray:
    """Share of points inside their central interval at each level; draws are (n_draws, points).

    Returned per level (len(levels),).
    """
    y_a = np.asarray(y, dtype=float)
    pit = _pit(draws, y_a)
    return np.array([float(np.mean(np.abs(pit - 0.5) <= lvl / 2.0)) for lvl in levels])


def _pit(draws: FloatArray, y: FloatArray) -> FloatArray:
    """Probability integral transform of each observation under its predictive draws (mid
    ranks for ties, so a point mass on the observation counts as covered)."""
    below = np.mean(draws < y[None, :], axis=0)
    at = np.mean(draws == y[None, :], axis=0)
    return below + 0.5 * at


def reliability(pit: ArrayLike, levels: Sequence[float] = RELIABILITY_LEVELS
                ) -> list[dict[str, float]]:
    """Nominal vs empirical coverage of central intervals from PIT values (one per prediction)."""
    p = np.asarray(pit, dtype=float)
    p = p[np.isfinite(p)]
    return [{"nominal": float(lvl),
             "empirical": float(np.mean(np.abs(p - 0.5) <= lvl / 2.0)) if p.size else math.nan}
            for lvl in levels]


def probability_reliability(prob: ArrayLike, outcome: ArrayLike, bins: int = 10
                            ) -> list[dict[str, float]]:
    """Predicted probability against observed frequency in equal-width bins (only bins that
    hold predictions): the reliability diagram of threshold probabilities."""
    p = np.asarray(prob, dtype=float)
    o = np.asarray(outcome, dtype=float)
    keep = np.isfinite(p) & np.isfinite(o)
    p, o = p[keep], o[keep]
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        m = idx == b
        if m.any():
            out.append({"bin_low": float(edges[b]), "bin_high": float(edges[b + 1]),
                        "mean_predicted": float(p[m].mean()), "observed": float(o[m].mean()),
                        "n": int(m.sum())})
    return out


@dataclass(frozen=True)
class ModelError:
    """The model-error term ``Normal(0, (scale * growth(distance))^2)`` added to a predictive
    distribution, where ``distance`` is how far past the data a prediction lies (``units``).

    ``source`` says where the scale came from: ``"backtest"`` (this series' walk-forward
    backtest, shrunk towards the prior), ``"prior"`` (no usable backtest: the prior scale, not
    calibrated on this series), or ``"none"`` (calibration switched off).
    ``raw_coverage``/``calibrated_coverage`` are the backtest's empirical coverage of the 80 %
    and 95 % intervals without and with the term (in-sample for the scale).
    """

    scale: float
    units: str
    source: str
    prior_scale: float
    n_backtest: int = 0
    own_scale: float | None = None
    raw_coverage: dict[str, float] = field(default_factory=dict)
    calibrated_coverage: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    """Why no backtest could be used (source "prior")."""
    additive: float = 0.0
    """Scale of a second part added on the observed scale after the link (score units), for
    laws with one (the sigmoid): misses a latent shift cannot produce, such as scores off
    the curve near the chance level."""
    ceiling: float = 0.0
    """Scale of the model error of a fitted ceiling (sd = this times the growth of the
    distance, in logits of the ceiling's place between the lowest and highest ceiling the fit
    allowed): past the data a saturating curve may yet rise above the ceiling it showed."""
    drift: float = 0.0
    """Mean of the term in units of its growth (linear space): a systematic error of the
    law's form, ``drift * growth(d)`` at distance d, estimated on the walk-forward residuals
    (0: none)."""

    def sd(self, distance: ArrayLike) -> FloatArray:
        """The term's standard deviation at each distance (0 inside the data)."""
        return self.scale * growth(distance)

    def ceiling_sd(self, distance: ArrayLike) -> FloatArray:
        """The fitted ceiling's model-error standard deviation at each distance."""
        return self.ceiling * growth(distance)

    def shift(self, distance: ArrayLike) -> FloatArray:
        """The term's mean at each distance: ``drift * growth(d)`` (0 inside the data)."""
        return self.drift * growth(distance)

    def additive_sd(self, distance: ArrayLike) -> FloatArray:
        """The observed-scale part's standard deviation at each distance."""
        return self.additive * growth(distance)

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "units": self.units, "source": self.source,
                "prior_scale": self.prior_scale, "n_backtest": self.n_backtest,
                "own_scale": self.own_scale, "raw_coverage": dict(self.raw_coverage),
                "calibrated_coverage": dict(self.calibrated_coverage), "reason": self.reason,
                "additive": self.additive, "ceiling": self.ceiling, "drift": self.drift}

    def describe(self, distance: float, what: str) -> str:
        """One line: how far a prediction extrapolates and the error the backtests give there."""
        d = max(float(distance), 0.0)
        if d <= 0:
            return f"{what} lies inside the data: no extrapolation"
        base = (f"{what} lies {d:.2g} {self.units} beyond the data; "
                f"model-error sd there {float(self.sd(d)):.3g}")
        if self.drift:
            base += f", drift {float(self.shift(d)):+.3g}"
        if self.source == "backtest":
            return base + f" (from {self.n_backtest} walk-forward predictions)"
        if self.source == "prior":
            return base + (" (the default prior: this series' own backtest could not be run"
                           + (f": {self.reason})" if self.reason else ")"))
        return base


@dataclass
class HeldOut:
    """One walk-forward fit's predictions of the points after its cutoff.

    ``draws`` (n_draws, points) are predictive draws without model error in the law's linear
    space (latent ability, log-loss, log2 or logit), ``observed`` the measured values and
    ``distance`` how far past the fit's data each point lies. ``post`` maps draws from the
    linear space to the observed scale (the sigmoid with its ceiling and additive noise);
    None when they are observed in the linear space. Called as ``post(z)``, or
    ``post(z, shift)`` with logit shifts of a fitted ceiling (same shape as z).
    """

    draws: FloatArray
    observed: FloatArray
    distance: FloatArray
    post: Callable[..., FloatArray] | None = None
    bounds: tuple[float, float] = (-math.inf, math.inf)
    """Where an observed value can lie (draws with the observed-scale part are clipped)."""

    @property
    def size(self) -> int:
        return int(self.observed.size)

    def pit(self, scale: float, noise: FloatArray, additive: float = 0.0,
            drift: float = 0.0, ceiling: float = 0.0) -> FloatArray:
        """PIT of each observation with the model-error term at `scale` and mean
        `drift` * growth(distance) added (for a law with a link, also the observed-scale part
        at `additive` and the model error of a fitted ceiling at `ceiling`)."""
        d = growth(self.distance)
        rows, cols = self.draws.shape
        z = self.draws + scale * d[None, :] * noise[:rows, :cols]
        if drift:
            z = z + drift * d[None, :]
        if self.post is not None:
            if ceiling > 0:
                z = self.post(z, ceiling * d[None, :] * noise[:, ::-1][:rows, :cols])
            else:
                z = self.post(z)
            if additive > 0:
                z = np.clip(z + additive * d[None, :] * noise[::-1][:rows, :cols],
                            *self.bounds)
        return _pit(z, self.observed)


def _noise(parts: Sequence[HeldOut], seed: int) -> FloatArray:
    rows = max(p.draws.shape[0] for p in parts)
    cols = max(p.size for p in parts)
    return np.random.default_rng(seed).standard_normal((rows, cols))


def _coverage(parts: Sequence[HeldOut], scale: float, noise: FloatArray,
              levels: Sequence[float], additive: float = 0.0, drift: float = 0.0,
              ceiling: float = 0.0) -> FloatArray:
    pit = np.concatenate([p.pit(scale, noise, additive, drift, ceiling) for p in parts])
    return np.array([float(np.mean(np.abs(pit - 0.5) <= lvl / 2.0)) for lvl in levels])


def _fit_weights(parts: Sequence[HeldOut]) -> FloatArray:
    """Weights of the predictions pooled over walk-forward fits for the drift, each fit
    weighing the same (its predictions share its errors: fits, not predictions, are the
    independent evidence of a systematic error), summing to 1."""
    w = np.concatenate([np.full(p.size, 1.0 / p.size) for p in parts])
    return w / w.sum()


def _masked(post: Callable[..., FloatArray], m: NDArray[np.bool_]
            ) -> Callable[..., FloatArray]:
    """`post` for a subset `m` of its points (it may need every column)."""
    def sub(z: FloatArray, *shift: FloatArray) -> FloatArray:
        full = np.zeros((z.shape[0], m.size))
        full[:, m] = z
        if not shift:
            return post(full)[:, m]
        cs = np.zeros_like(full)
        cs[:, m] = shift[0]
        return post(full, cs)[:, m]
    return sub


def _beyond(parts: Sequence[HeldOut]) -> list[HeldOut]:
    """Each part restricted to its points past the data (the ones the term can change)."""
    out = []
    for p in parts:
        m = p.distance > 0
        if m.any():
            post = p.post
            if post is not None and not m.all():
                post = _masked(post, m)
            out.append(HeldOut(p.draws[:, m], p.observed[m], p.distance[m], post, p.bounds))
    return out


def scale_of(parts: Sequence[HeldOut], *, seed: int = 0,
             levels: Sequence[float] = CALIBRATION_LEVELS, drift: float = 0.0) -> float:
    """The scale at which the walk-forward predictions in `parts` (shifted by `drift` times
    the growth of distance) cover best over `levels` (least squares between the reliability curve
    and the diagonal; ties go to the smallest scale), with no prior; NaN when no prediction
    lies past its data."""
    return _scales(parts, seed=seed, levels=levels, additive=False, drift=drift)[0]


def drift_of(parts: Sequence[HeldOut]) -> float:
    """The drift of walk-forward residuals with distance: the least-squares slope, through
    the origin, of each prediction's residual (observed minus the median of its predictive
    draws, in the law's linear space) on the growth of its distance past the data (the mean
    of the model error per unit of the growth its sd follows), each walk-forward fit weighing
    the same (`_fit_weights`). NaN when no prediction
    lies past its data; 0 for laws observed through a link (their residuals are not in the
    linear space)."""
    parts = _beyond(parts)
    if not parts:
        return math.nan
    if any(p.post is not None for p in parts):
        return 0.0
    r = np.concatenate([p.observed - np.median(p.draws, axis=0) for p in parts])
    d = growth(np.concatenate([p.distance for p in parts]))
    w = _fit_weights(parts)
    ok = np.isfinite(r)
    den = float(np.sum(w[ok] * d[ok] ** 2))
    return float(np.sum(w[ok] * d[ok] * r[ok]) / den) if den > 0 else 0.0


def _scales(parts: Sequence[HeldOut], *, seed: int, levels: Sequence[float],
            additive: bool, drift: float = 0.0, ceiling: bool = False
            ) -> tuple[float, float, float]:
    """(scale, additive scale, ceiling scale) fitting the reliability curve to the diagonal,
    the predictions shifted by `drift` times the growth of distance: the scale on a coarse
    then a fine grid; with `additive` (and `ceiling`), then the additive (and ceiling) scale
    given it, then the scale again given those (coordinate descent)."""
    parts = _beyond(parts)
    if not parts:
        return math.nan, 0.0, 0.0
    noise = _noise(parts, seed)
    target = np.asarray(levels)

    def search(grid: FloatArray, err_at: Callable[[float], float]) -> float:
        best, best_err = 0, math.inf
        for i, v in enumerate(grid):
            err = err_at(float(v))
            if err < best_err - 1e-12:
                best, best_err = i, err
        lo = grid[max(best - 1, 0)]
        hi = grid[min(best + 1, grid.size - 1)]
        fine = np.unique(np.concatenate([[grid[best]],
                                         np.geomspace(max(lo, 1e-5), max(hi, 2e-5), 7)]))
        errs = [err_at(float(v)) for v in fine]
        return float(fine[int(np.argmin(errs))])

    def err(s: float, a: float, c: float = 0.0) -> float:
        cov = _coverage(parts, s, noise, levels, a, drift, c)
        return float(np.sum((cov - target) ** 2))

    s = search(_SCALE_GRID, lambda v: err(v, 0.0))
    if not additive:
        return s, 0.0, 0.0
    a = search(_ADD_GRID, lambda v: err(s, v))
    c = search(_CEIL_GRID, lambda v: err(s, a, v)) if ceiling else 0.0
    if a > 0 or c > 0:
        s = search(_SCALE_GRID, lambda v: err(v, a, c))
    return s, a, c


def fit_scale(parts: Sequence[HeldOut], *, prior_scale: float,
              pseudo_count: float = PSEUDO_COUNT, seed: int = 0, units: str = "",
              levels: Sequence[float] = CALIBRATION_LEVELS,
              reason: str | None = None, prior_additive: float | None = None,
              prior_ceiling: float | None = None, drift: bool = False) -> ModelError:
    """The model-error scale for a series from its walk-forward fits, shrunk towards
    ``prior_scale``.

    The series' own scale is :func:`scale_of`. The reported scale is the weighted mean, in log
    space, of the own and prior scales with weights n / (n + pseudo_count) and
    pseudo_count / (n + pseudo_count), n the number of walk-forward fits with a prediction
    past their data. With none, the prior, and the reason.

    With `drift`, the term also gets a mean ``drift * growth(d)``: the series' own drift
    (:func:`drift_of`), estimated first and not shrunk (a prior of no drift would keep the
    bias the backtest measured; the caution is in the width, whose prior is wide); the scale
    is then fitted to the predictions shifted by it (the location and spread of a predictive
    distribution fitted on past errors, as in ensemble model output statistics, Gneiting et
    al. 2005).

    With `prior_additive` (laws with a link), a second part on the observed scale is fitted
    after the scale (coordinate descent) and shrunk towards it the same way (in linear
    space: an own value of 0 is kept as evidence of none); with `prior_ceiling` too, the
    scale of a fitted ceiling's model error after that, shrunk the same way.
    """
    beyond = _beyond(parts)
    n = len(beyond)
    if n == 0:
        return ModelError(scale=prior_scale, units=units, source="prior",
                          prior_scale=prior_scale, additive=prior_additive or 0.0,
                          ceiling=prior_ceiling or 0.0,
                          reason=reason or "no walk-forward fit had a later point to predict")
    w = n / (n + pseudo_count)
    shift = drift_of(beyond) if drift else 0.0
    own, own_add, own_ceil = _scales(beyond, seed=seed, levels=levels,
                                     additive=prior_additive is not None, drift=shift,
                                     ceiling=prior_ceiling is not None)
    floor = 1e-3 * max(prior_scale, 1e-6)
    scale = float(math.exp(w * math.log(max(own, floor))
                           + (1.0 - w) * math.log(max(prior_scale, floor))))
    add = 0.0 if prior_additive is None else w * own_add + (1.0 - w) * prior_additive
    ceil = 0.0 if prior_ceiling is None else w * own_ceil + (1.0 - w) * prior_ceiling
    noise = _noise(beyond, seed)
    raw = _coverage(beyond, 0.0, noise, (0.8, 0.95))
    cal = _coverage(beyond, scale, noise, (0.8, 0.95), add, shift, ceil)
    return ModelError(scale=scale, units=units, source="backtest", prior_scale=prior_scale,
                      n_backtest=int(sum(p.size for p in beyond)), own_scale=own,
                      raw_coverage={"80": float(raw[0]), "95": float(raw[1])},
                      calibrated_coverage={"80": float(cal[0]), "95": float(cal[1])},
                      additive=add, ceiling=ceil, drift=shift)


def no_model_error(units: str) -> ModelError:
    """The term switched off (scale 0)."""
    return ModelError(scale=0.0, units=units, source="none", prior_scale=0.0)

