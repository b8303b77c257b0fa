"""Score against compute: the sigmoid `CapabilityCurve`, its `CrossingForecast`, the
planning entry point `crossing_probability`, and the best-model-to-date `frontier_mask`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtri

from tripwire.calibration import HeldOut, ModelError, fit_scale, no_model_error
from tripwire.errors import InputError, InsufficientEvidence
from tripwire.forecast._common import (
    _TINY,
    QUANTILES,
    ThresholdAt,
    _check_samples,
    _floats,
    _intervals,
    _mixture_cdf,
    _mixture_quantiles,
    _plain_dict,
    _running_cdf,
)
from tripwire.forecast._sigmoid import (
    _ceiling_shift,
    _fit_bootstrap,
    _latent_draws,
    _latent_to_scores,
    _predictive_draws,
    _score_bounds,
    _SigmoidProblem,
)

LATENT_PRIOR_SCALE = 2.5
"""Prior scale of the model error of latent ability (logit units; the sd is this times
growth(decades past the data), see `tripwire.calibration`): about the median of the
per-benchmark leave-future-out scales over 61 public benchmarks with >= 20 models (obsscaling,
Open LLM Leaderboard, Gadre et al. 2024, Pythia; quartiles 0.5, 2.6, 15.5)."""
ADDITIVE_PRIOR_SCALE = 0.02
"""Prior scale of the score-scale part of the model error (score units; sd = this times
growth(decades past the data)): scores off the curve that no latent shift explains."""
CEILING_PRIOR_SCALE = 0.5
"""Prior scale of the model error of a fitted ceiling (logits of its place between the
lowest and highest ceiling allowed; sd = this times growth(decades past the data))."""
CALIBRATION_CUTS = (0.5, 0.6, 0.7, 0.8)
"""Shares of the models (lowest compute first) each leave-future-out refit sees."""
_CAL_BOOT = 100
_CAL_DRAWS = 4
_SLOPE_MAX = 20.0
"""Largest sigmoid slope, per decade of compute (a 12% -> 88% rise within 0.2 decades)."""


def frontier_mask(x: ArrayLike, scores: ArrayLike) -> np.ndarray:
    """True for models that beat every model with smaller `x` (compute, or release date).

    The "best model to date" frontier: sorted by x, a model is kept when its score exceeds the
    running maximum of all models with strictly smaller x; of several models at the same x only
    the best can be kept.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(scores, dtype=float)
    order = np.lexsort((-y, x))
    keep = np.zeros(x.size, dtype=bool)
    best = -np.inf
    last_x = None
    for i in order:
        if x[i] == last_x:
            continue  # a better model at the same x came first
        if y[i] > best:
            keep[i] = True
            best = y[i]
        last_x = x[i]
    return keep


def _latent_sd_at(est: Any, threshold: float, ceilings: np.ndarray) -> np.ndarray:
    """Per bootstrap fit, the sd of a model's latent ability as seen through a measured score
    at the threshold: tau^2 plus the additive and binomial variance divided by the curve's
    slope df/deta there (the crossing event linearised at the threshold)."""
    prob = est.problem_
    q = np.clip((threshold - prob.floor) / (ceilings - prob.floor), 1e-9, 1 - 1e-9)
    fp = (ceilings - prob.floor) * q * (1.0 - q)
    var = est.boot_sigma_**2 * q
    if est.trials_ is not None:
        var = var + threshold * (1.0 - threshold) / float(np.median(est.trials_))
    return np.sqrt(est.boot_tau_**2 + var / np.maximum(fp, _TINY) ** 2)


@dataclass
class CrossingForecast:
    """When a benchmark score will reach a threshold, and how likely a planned model reaches it.

    `probability` is P(score(at_compute_flop) >= threshold) for a model at the planned
    compute, over fit uncertainty (bootstrap) and model-to-model scatter. `compute_quantiles`
    gives quantiles of the effective compute (FLOP) at which a model reaches the threshold from
    the same distribution, so probability == P(crossing compute <= at_compute_flop); +inf where
    it is never reached with that probability. `predicted` is the fitted score at the planned
    compute and `interval80`/`interval95` the prediction intervals for a model's measured score.
    """

    threshold: float
    at_compute_flop: float | None
    probability: float | None
    compute_quantiles: dict[str, float]
    predicted: float | None
    interval80: tuple[float, float] | None
    interval95: tuple[float, float] | None
    n_models: int
    warnings: list[str] = field(default_factory=list)
    curve_quantiles: dict[str, float] = field(default_factory=dict)
    """Quantiles of the compute at which the fitted *curve* reaches the threshold (no scatter)."""
    floor: float = 0.0
    ceiling: float = 1.0
    ceiling_fitted: bool = False
    midpoint_log10_flop: float = math.nan
    slope_per_decade: float = math.nan
    scatter: float = math.nan
    """Model-to-model scatter of latent ability (sd, logit units)."""
    additive_sd: float = 0.0
    """Model-to-model scatter added to the score itself (sd, score units)."""
    method: str = ""
    n_boot: int = 0
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return _plain_dict(self)


class CapabilityCurve:
    """A benchmark score as a sigmoid in log10 effective compute, with bootstrap uncertainty.

    `floor` is the benchmark's chance level. `ceiling` is the best attainable score; None fits
    it within [floor + 0.9 (max score - floor), ceiling_max] (ceiling_max defaults to 1 for
    scores in [0, 1]). With `samples` (scored items per model) the fit is binomial maximum
    likelihood, otherwise least squares. `frontier=True` keeps only the best model to date at
    each compute. Model-to-model scatter has two parts: a shift of latent ability with sd
    `tau_` (logit units), and noise added to the score with sd `sigma_`.

    Past the compute range of the data a third part is added, the model error of the sigmoid
    form: a latent shift with sd ``scale * growth(decades past the data)``, a shift of the
    score with sd ``additive * growth(...)`` and, for a fitted ceiling, a shift of the ceiling
    (logits of its place between the lowest and highest ceiling allowed) with sd
    ``ceiling * growth(decades above the largest model)``, so that a curve that seemed to
    saturate may rise above its fitted ceiling far past the data. With `calibrate`
    (the default) its scale is fitted by leave-future-out on the data at hand (refits on the
    lowest 50, 60, 70 and 80 % of models by compute predict the rest) and shrunk towards
    `prior_scale` (the additive and ceiling parts towards their own priors;
    :mod:`tripwire.calibration`); ``model_error_`` says which, and how the backtest's coverage
    changed.
    """

    tau_: float
    sigma_: float
    boot_: np.ndarray
    boot_tau_: np.ndarray
    boot_sigma_: np.ndarray

    def __init__(self, *, floor: float, ceiling: float | None = None,
                 ceiling_max: float | None = None, frontier: bool = False,
                 n_boot: int = 1000, seed: int = 0, min_models: int = 5,
                 min_decades: float = 1.0, calibrate: bool = True,
                 prior_scale: float = LATENT_PRIOR_SCALE) -> None:
        self.floor = floor
        self.calibrate = calibrate
        self.prior_scale = prior_scale
        self.ceiling = ceiling
        self.ceiling_max = ceiling_max
        self.frontier = frontier
        self.n_boot = n_boot
        self.seed = seed
        self.min_models = min_models
        self.min_decades = min_decades

    # ---- fitting

    def fit(self, compute_flop: ArrayLike, scores: ArrayLike,
            samples: ArrayLike | None = None) -> Self:
        """Fit the curve and its bootstrap; raise InsufficientEvidence on degenerate data."""
        warnings: list[str] = []
        c = _floats("compute_flop", compute_flop, allow_nan=True)
        y = _floats("scores", scores)
        if c.size != y.size:
            raise InputError(f"{c.size} compute values for {y.size} scores")
        floor = float(self.floor)
        if not math.isfinite(floor):
            raise InsufficientEvidence("the benchmark has no chance level (sigmoid floor)",
                                       hint="set the benchmark's chance score")
        trials = _check_samples(samples, y.size, y, warnings)
        known = np.isfinite(c) & (c > 0)
        if not known.any():
            raise InsufficientEvidence("no model has an effective compute figure",
                                       hint="add training compute (or N and D) for the models")
        if not known.all():
            warnings.append(f"{int((~known).sum())} models without compute left out")
        x, y = np.log10(c[known]), y[known]
        trials = None if trials is None else trials[known]
        self.mask_ = known.copy()
        self.data_ = (x, y)  # every model with compute (log10 FLOP, score), frontier or not
        if self.frontier:
            keep = frontier_mask(x, y)
            x, y = x[keep], y[keep]
            trials = None if trials is None else trials[keep]
            self.mask_[np.flatnonzero(known)[~keep]] = False
        n = y.size
        if n < self.min_models:
            raise InsufficientEvidence(
                f"{n} models with compute{' on the frontier' if self.frontier else ''}; "
                f"a sigmoid fit needs at least {self.min_models}")
        span = float(x.max() - x.min())
        if span < self.min_decades:
            raise InsufficientEvidence(
                f"compute spans {span:.2f} decades; at least {self.min_decades:g} needed "
                "to see a trend")
        ceiling, c_lo, c_hi = self._ceiling_bounds(y, floor)
        c_ref = ceiling if ceiling is not None else c_hi
        self.score_bounds_ = _score_bounds(floor, c_ref, y)
        delta = 0.02 * (c_ref - floor)
        if trials is not None:
            delta = max(delta, 2.0 * math.sqrt(max(floor * (1 - floor), 1e-6)
                                                / float(np.median(trials))))
        above = int(np.sum(y > floor + delta))
        if above < 2:
            raise InsufficientEvidence(
                f"scores are at chance: {n - above} of {n} models within {delta:.3g} of "
                f"the floor {floor:g}")
        if np.any(y > c_ref + 1e-9) and ceiling is not None:
            warnings.append(f"{int(np.sum(y > ceiling))} scores above the ceiling {ceiling:g}")

        xbar = float(x.mean())
        X = np.column_stack([np.ones(n), x - xbar])
        lb = [-60.0, 0.0] + ([] if ceiling is not None else [c_lo])
        ub = [60.0, _SLOPE_MAX] + ([] if ceiling is not None else [c_hi])
        prob = _SigmoidProblem(X=X, y=y, floor=floor, ceiling=ceiling, c_lo=c_lo, c_hi=c_hi,
                               trials=trials, lb=np.array(lb), ub=np.array(ub))
        theta = self._full_fit(prob, x, xbar)
        if theta[1] <= 1e-6:
            raise InsufficientEvidence("scores do not rise with compute (fitted slope is 0)")

        self.problem_ = prob
        self.xbar_ = xbar
        self.x_, self.y_, self.trials_ = x, y, trials
        self.theta_ = theta
        self.method_ = "binomial-mle" if trials is not None else "least-squares"
        self.n_models_ = n
        self.dof_ = float(max(n - prob.p, 1))
        self.boot_converged_ = _fit_bootstrap(self, prob, theta, self.n_boot, self.seed)
        if self.boot_converged_.mean() < 0.95:
            warnings.append(f"{int((~self.boot_converged_).sum())} of {self.n_boot} bootstrap "
                            "fits stopped before converging")
        self.model_error_ = self._calibrate(x, y, trials)
        x0 = self.params_["midpoint_log10_flop"]
        if x0 > x.max() + 1.0:
            warnings.append(f"the fitted midpoint (1e{x0:.1f} FLOP) is {x0 - x.max():.1f} "
                            "decades beyond the largest model: an extrapolation")
        self.warnings_ = warnings
        return self

    def _calibrate(self, x: np.ndarray, y: np.ndarray,
                   trials: np.ndarray | None) -> ModelError:
        """The model-error term: leave-future-out refits below compute cuts, their predictions
        of the larger models scored for coverage (`tripwire.calibration.fit_scale`)."""
        units = "decades of compute"
        if not self.calibrate:
            return no_model_error(units)
        parts: list[HeldOut] = []
        reasons: list[str] = []
        order = np.sort(x)
        seen: set[bytes] = set()
        for frac in CALIBRATION_CUTS:
            cut = order[min(x.size - 1, int(round(frac * x.size)))]
            train = x < cut
            if train.all() or train.tobytes() in seen:
                continue
            seen.add(train.tobytes())
            sub = CapabilityCurve(floor=self.floor, ceiling=self.ceiling,
                                  ceiling_max=self.ceiling_max,
                                  n_boot=min(_CAL_BOOT, max(self.n_boot, 20)),
                                  seed=self.seed, min_models=self.min_models,
                                  min_decades=self.min_decades, calibrate=False)
            try:
                sub.fit(10.0 ** x[train], y[train], None if trials is None else trials[train])
            except InsufficientEvidence as e:
                reasons.append(e.message)
                continue
            test = ~train
            z = _latent_draws(sub, sub._design(x[test]), _CAL_DRAWS)
            shape = z.shape

            eps = np.random.default_rng(self.seed + 2).standard_normal(shape)

            def post(lat: np.ndarray, ceiling_shift: np.ndarray | None = None,
                     sub: CapabilityCurve = sub, shape: tuple[int, ...] = shape,
                     eps: np.ndarray = eps) -> np.ndarray:
                cs = None if ceiling_shift is None else ceiling_shift.reshape(shape)
                return _latent_to_scores(sub, lat.reshape(shape), eps=eps,
                                         ceiling_shift=cs).reshape(-1, shape[2])

            parts.append(HeldOut(z.reshape(-1, shape[2]), y[test], sub._past(x[test]), post,
                                 sub.score_bounds_))
        why = None if parts else ("no refit below a compute cut was possible"
                                  + (f" ({reasons[0]})" if reasons else ""))
        return fit_scale(parts, prior_scale=self.prior_scale, seed=self.seed, units=units,
                         reason=why, prior_additive=ADDITIVE_PRIOR_SCALE,
                         prior_ceiling=CEILING_PRIOR_SCALE if self.ceiling is None else None)

    def _past(self, log10_c: np.ndarray) -> np.ndarray:
        """Decades of compute outside the fitted range (0 inside)."""
        lo, hi = float(self.x_.min()), float(self.x_.max())
        return np.maximum(0.0, np.maximum(log10_c - hi, lo - log10_c))

    def _extra_sd(self, log10_c: np.ndarray) -> np.ndarray:
        """Latent model-error sd at each place, the score-scale part included as latent
        spread at the threshold being asked about (`_threshold_slope`)."""
        d = self._past(np.asarray(log10_c, dtype=float))
        sd = self.model_error_.sd(d)
        slope = getattr(self, "_threshold_slope", None)
        if slope and self.model_error_.additive > 0:
            sd = np.sqrt(sd**2 + (self.model_error_.additive_sd(d) / slope) ** 2)
        return sd

    def _ceiling_bounds(self, y: np.ndarray, floor: float) -> tuple[float | None, float, float]:
        if self.ceiling is not None:
            ceiling = float(self.ceiling)
            if not ceiling > floor:
                raise InsufficientEvidence(f"ceiling {ceiling:g} is not above floor {floor:g}")
            return ceiling, ceiling, ceiling
        y_max = float(y.max())
        if self.ceiling_max is not None:
            c_hi = float(self.ceiling_max)
        elif floor >= 0 and y_max <= 1:
            c_hi = 1.0
        else:
            c_hi = floor + 2.0 * (y_max - floor)
        c_lo = floor + 0.9 * (y_max - floor)
        if not c_hi > c_lo:
            c_hi = c_lo + 1e-6
        return None, c_lo, c_hi

    def _full_fit(self, prob: _SigmoidProblem, x: np.ndarray, xbar: float) -> np.ndarray:
        """Multi-start: score a grid of (midpoint, slope[, ceiling]), refine the best few."""
        x0s = np.linspace(x.min() - 1.0, x.max() + 3.0, 25)
        ks = np.geomspace(0.2, 8.0, 10)
        gs = [None] if prob.ceiling is not None else list(np.linspace(prob.c_lo, prob.c_hi, 3))
        starts = []
        for g in gs:
            for k in ks:
                for x0 in x0s:
                    row = [k * (xbar - x0), k]
                    starts.append(row if g is None else row + [g])
        S = np.array(starts)
        ones = np.ones((S.shape[0], prob.y.size))
        obj = prob.objective(S, ones)
        best = S[np.argsort(obj)[:2]]
        theta, obj, _ = prob.solve(best, np.ones((best.shape[0], prob.y.size)), max_iter=500,
                                   ftol=1e-10)
        return theta[int(np.argmin(obj))]

    # ---- fitted values

    def _check_fitted(self) -> None:
        if not hasattr(self, "theta_"):
            raise InputError("the curve is not fitted yet", hint="call fit() first")

    @property
    def params_(self) -> dict[str, float]:
        """Point estimates: floor, ceiling, midpoint (log10 FLOP), slope per decade, scatter."""
        self._check_fitted()
        a, k = self.theta_[0], self.theta_[1]
        ceiling = float(self.problem_.ceilings(self.theta_[None, :])[0])
        return {
            "floor": float(self.floor),
            "ceiling": ceiling,
            "midpoint_log10_flop": float(self.xbar_ - a / k) if k > 0 else math.inf,
            "slope_per_decade": float(k),
            "scatter": float(self.tau_),
            "additive_sd": float(self.sigma_),
        }

    def summary(self) -> dict[str, Any]:
        """Point estimates with 95 % bootstrap intervals, method and data range."""
        self._check_fitted()
        b = self.boot_
        k = b[:, 1]
        with np.errstate(divide="ignore"):
            x0 = np.where(k > 0, self.xbar_ - b[:, 0] / np.maximum(k, _TINY), np.inf)
        ceil = self.problem_.ceilings(b)
        out: dict[str, Any] = dict(self.params_)
        for name, vals in (("midpoint_log10_flop", x0), ("slope_per_decade", k),
                           ("ceiling", ceil), ("scatter", self.boot_tau_),
                           ("additive_sd", self.boot_sigma_)):
            lo, hi = np.quantile(vals, [0.025, 0.975])
            out[f"{name}_95"] = [float(lo), float(hi)]
        out.update(method=self.method_, n_models=self.n_models_, n_boot=self.n_boot,
                   seed=self.seed, ceiling_fitted=self.ceiling is None,
                   log10_flop_range=[float(self.x_.min()), float(self.x_.max())],
                   warnings=list(self.warnings_))
        return out

    def _design(self, log10_c: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(log10_c.size), log10_c - self.xbar_])

    def predict(self, compute_flop: ArrayLike, *, kind: Literal["prediction", "curve"] =
                "prediction", n_draws: int = 16) -> pd.DataFrame:
        """Fitted score at each compute with 80 % and 95 % intervals.

        kind="prediction": the measured score of a new model at that compute (fit uncertainty,
        model-to-model scatter and, when sample counts are known, binomial noise at the median
        count); kind="curve": the fitted curve only (fit uncertainty).
        """
        self._check_fitted()
        c = _floats("compute_flop", compute_flop)
        if np.any(c <= 0):
            raise InputError("compute_flop must be positive")
        xs = np.log10(c)
        X = self._design(xs)
        point, _, _ = self.problem_.evaluate(self.theta_[None, :], X)
        draws = self._draws(X, kind, n_draws)
        qs = np.quantile(draws, [0.025, 0.1, 0.9, 0.975], axis=0)
        return pd.DataFrame({"compute_flop": c, "log10_flop": xs, "predicted": point[0],
                             "lo95": qs[0], "lo80": qs[1], "hi80": qs[2], "hi95": qs[3]})

    def draws(self, compute_flop: ArrayLike, n_draws: int = 16) -> np.ndarray:
        """Predictive draws of a new model's measured score at each compute,
        (n_draws * n_boot, points), model error included."""
        self._check_fitted()
        xs = np.log10(_floats("compute_flop", compute_flop))
        return self._draws(self._design(xs), "prediction", n_draws)

    def _draws(self, X: np.ndarray, kind: str, n_draws: int) -> np.ndarray:
        extra = add = ceil = None
        if kind == "prediction" and self.model_error_.scale > 0:
            xs = X[:, 1] + self.xbar_
            extra = self._extra_sd(xs)
            add = self.model_error_.additive_sd(self._past(xs))
            ceil = self._ceiling_sd(xs)
        return _predictive_draws(self, X, kind, n_draws, extra, add, ceil)

    def _ceiling_sd(self, log10_c: np.ndarray) -> np.ndarray | None:
        """Model-error sd of a fitted ceiling (logit of its place between the lowest and
        highest ceiling allowed) at each place, growing with the distance above the largest
        model, so that far past the data the ceiling may rise up to the highest one (below
        the data the ceiling is not what limits a score); None for a fixed ceiling or none."""
        if self.problem_.ceiling is not None or self.model_error_.ceiling <= 0:
            return None
        return self.model_error_.ceiling_sd(np.maximum(np.asarray(log10_c, dtype=float)
                                                       - float(self.x_.max()), 0.0))

    def _latent_threshold(self, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Per draw: the latent level t_b where the curve equals threshold (+inf if never)."""
        ceil = self.problem_.ceilings(self.boot_)
        q = (threshold - self.problem_.floor) / (ceil - self.problem_.floor)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(q < 1.0, np.log(q) - np.log1p(-q), np.inf)
        return t, ceil

    def _mixture_args(self, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                       np.ndarray, ThresholdAt | None]:
        """Per mixture component: intercept and slope of latent ability in log10 compute,
        the latent threshold, the latent spread at it; and, for a fitted ceiling with model
        error, the thresholds at each place (each bootstrap fit then stands for one
        component per `_CEILING_NODES` node of its ceiling's model error)."""
        b = self.boot_
        t, ceil = self._latent_threshold(threshold)
        tau = _latent_sd_at(self, threshold, ceil)
        # the score-scale part of the model error, as latent spread at the threshold
        c0 = float(np.median(ceil))
        q = min(max((threshold - self.problem_.floor) / (c0 - self.problem_.floor), 1e-6),
                1 - 1e-6)
        self._threshold_slope = (c0 - self.problem_.floor) * q * (1.0 - q)
        # eta = a + k (x - xbar) = (a - k xbar) + k x
        a, k = b[:, 0] - b[:, 1] * self.xbar_, b[:, 1]
        if self._ceiling_sd(np.zeros(1)) is None:
            return a, k, t, tau, None
        prob = self.problem_
        # one equiprobable normal node per bootstrap fit, in a fixed random order: the
        # mixture over fits integrates the ceiling's model error too (Latin hypercube)
        m = ceil.size
        order = np.random.default_rng(self.seed + 5).permutation(m)
        nodes = ndtri((order + 0.5) / m)

        def t_at(x: np.ndarray) -> np.ndarray:
            sd = self._ceiling_sd(x)
            assert sd is not None
            out = np.broadcast_to(t, (x.size, m)).copy()
            past = sd > 0  # inside the data the ceiling is the fitted one
            if past.any():
                c = _ceiling_shift(prob, ceil[None, :], sd[past, None] * nodes[None, :])
                q = (threshold - prob.floor) / (c - prob.floor)
                with np.errstate(divide="ignore", invalid="ignore"):
                    out[past] = np.where(q < 1.0, np.log(q) - np.log1p(-q), np.inf)
            return out

        return a, k, t, tau, t_at

    def crossing_cdf(self, threshold: float, compute_flop: ArrayLike) -> np.ndarray:
        """P(the threshold is crossed by each compute): the crossing distribution's CDF, the
        running maximum of P(score >= threshold) from far below the data (`_running_cdf`)."""
        self._check_fitted()
        xs = np.log10(_floats("compute_flop", compute_flop))
        a, k, t, tau, t_at = self._mixture_args(threshold)
        return _running_cdf(xs, a, k, t, tau, float(self.x_.min()) - 10.0, self.dof_,
                            self._extra_sd, t_at)

    def crossing(self, threshold: float, *, at_compute_flop: float | None = None,
                 quantiles: Sequence[float] = QUANTILES) -> CrossingForecast:
        """Where the score reaches `threshold`, and P(score >= threshold) at a planned compute."""
        self._check_fitted()
        threshold = float(threshold)
        floor = self.problem_.floor
        upper = self.problem_.ceiling if self.problem_.ceiling is not None else self.problem_.c_hi
        if not floor < threshold < upper:
            raise InsufficientEvidence(
                f"threshold {threshold:g} is outside (floor {floor:g}, ceiling {upper:g}): "
                "no sigmoid between them can say when it is reached")
        warnings = list(self.warnings_)
        a, k, t, tau, t_at = self._mixture_args(threshold)
        lo, hi = float(self.x_.min()) - 10.0, float(self.x_.max()) + 30.0
        qd = _mixture_quantiles(quantiles, a, k, t, tau, lo, hi, self.dof_, self._extra_sd,
                                t_at)
        zero = np.full_like(tau, 1e-9)
        qc = _mixture_quantiles(quantiles, a, k, t, zero, lo, hi)
        never = float(np.mean(np.isposinf(t)))
        if never > 0:
            warnings.append(f"in {never:.0%} of bootstrap fits the ceiling is below the "
                            "threshold (never reached)")
        params = self.params_
        if params["ceiling"] <= threshold:
            warnings.append(f"the fitted ceiling {params['ceiling']:.3g} is below the threshold")
        probability = predicted = i80 = i95 = None
        if at_compute_flop is not None:
            at = float(at_compute_flop)
            if not (math.isfinite(at) and at > 0):
                raise InputError(f"planned compute {at_compute_flop!r} is not a positive number")
            probability = float(_mixture_cdf(np.array([math.log10(at)]), a, k, t, tau,
                                             self.dof_, self._extra_sd, t_at)[0])
            predicted, i80, i95 = _intervals(self.predict([at]).iloc[0])
            xa = math.log10(at)
            if xa > self.x_.max() + 1.0:
                warnings.append(f"planned compute is {xa - self.x_.max():.1f} decades beyond "
                                "the largest model")

        def flop(d: dict[str, float]) -> dict[str, float]:
            return {q: (10.0**v if math.isfinite(v) else (0.0 if v < 0 else math.inf))
                    for q, v in d.items()}

        return CrossingForecast(
            threshold=threshold, at_compute_flop=at_compute_flop, probability=probability,
            compute_quantiles=flop(qd), predicted=predicted, interval80=i80, interval95=i95,
            n_models=self.n_models_, warnings=warnings, curve_quantiles=flop(qc),
            floor=floor, ceiling=params["ceiling"], ceiling_fitted=self.ceiling is None,
            midpoint_log10_flop=params["midpoint_log10_flop"],
            slope_per_decade=params["slope_per_decade"], scatter=params["scatter"],
            additive_sd=params["additive_sd"], method=self.method_, n_boot=self.n_boot,
            seed=self.seed)


def crossing_probability(compute_flop: ArrayLike, scores: ArrayLike, *, threshold: float,
                         at_compute_flop: float, floor: float, ceiling: float | None = None,
                         samples: ArrayLike | None = None, n_boot: int = 1000,
                         seed: int = 0) -> CrossingForecast:
    """P(score(at_compute_flop) >= threshold) and the crossing-compute quantiles.

    The stable entry point for planning a scale-up: fit the score-vs-compute sigmoid
    (`CapabilityCurve`) to the models' effective compute (FLOP) and scores, then forecast the
    threshold crossing. Raises InsufficientEvidence when the data cannot support a forecast
    (too few models, no compute, all at chance, < 1 decade of compute, threshold outside
    (floor, ceiling)).
    """
    threshold = float(threshold)
    if not float(floor) < threshold:
        raise InsufficientEvidence(f"threshold {threshold:g} is not above the floor {floor:g}")
    if ceiling is not None and not threshold < float(ceiling):
        raise InsufficientEvidence(f"threshold {threshold:g} is not below the ceiling "
                                   f"{ceiling:g}")
    curve = CapabilityCurve(floor=floor, ceiling=ceiling, n_boot=n_boot, seed=seed)
    curve.fit(compute_flop, scores, samples)
    return curve.crossing(threshold, at_compute_flop=at_compute_flop)
