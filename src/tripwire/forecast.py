"""Capability forecasts: benchmark scores against effective compute and against time.

Loss falls smoothly with compute; benchmark scores often do not look smooth ("emergence"), yet
the underlying probabilities usually improve gradually (Schaeffer et al. 2023). tripwire models a
score as a sigmoid in log10 effective compute between the benchmark's chance level and a ceiling,

    score(C) = floor + (ceiling - floor) * sigmoid(k * (log10 C - x0)),

and every model's own deviation from that curve as a normal shift ``u ~ N(0, tau^2)`` of its
latent ability ``k * (log10 C - x0)``. Parameters are fitted by maximum likelihood with binomial
noise when the number of scored samples is known (least squares otherwise); uncertainty comes from
a case bootstrap over models, fitted all at once by a batched Levenberg-Marquardt solver. From
those draws come threshold-crossing forecasts (the distribution of the compute at which a score
is reached, and P(score(C) >= s*) for a planned C), time trends with doubling times (METR,
Kwa et al. 2025), observational-scaling capability factors (Ruan, Maddison & Hashimoto 2024),
backtests and anomaly (sandbagging) flags.

Pure numerics: arrays and DataFrames in, results out; no storage, no files.
Units: compute in FLOP (log10 FLOP inside), dates as `datetime.date`, durations in days.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import brentq
from scipy.special import expit, ndtr, stdtr, xlogy

from tripwire.errors import InputError, InsufficientEvidence

__all__ = [
    "QUANTILES",
    "Backtest",
    "CapabilityCurve",
    "CapabilityFactors",
    "CrossingForecast",
    "DateCrossing",
    "FactorRegression",
    "TimeTrend",
    "backtest_compute",
    "backtest_time",
    "compute_anomalies",
    "crossing_probability",
    "factor_anomalies",
    "frontier_mask",
    "mitigation_gaps",
]

QUANTILES: tuple[float, ...] = (0.05, 0.1, 0.5, 0.9, 0.95)
"""Quantiles reported for crossing distributions."""

DAYS_PER_YEAR = 365.2425
_EPOCH = dt.date(1970, 1, 1)
_SLOPE_MAX = 20.0
"""Largest sigmoid slope, per decade of compute (a 12% -> 88% rise within 0.2 decades)."""
_TINY = 1e-12


# --------------------------------------------------------------------------- small helpers


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


def _mixture_cdf(x: np.ndarray, a: np.ndarray, k: np.ndarray, t: np.ndarray,
                 tau: np.ndarray, dof: float = math.inf) -> np.ndarray:
    """mean_b F((a_b + k_b x - t_b) / tau_b) for each x: P(latent ability at x >= threshold),
    F the Student-t CDF with `dof` degrees of freedom (normal when infinite).

    `t_b = +inf` marks draws whose curve never reaches the threshold.
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    with np.errstate(invalid="ignore", over="ignore"):
        z = (a[None, :] + k[None, :] * x[:, None] - t[None, :]) / tau[None, :]
    z = np.where(np.isposinf(t)[None, :], -np.inf, z)
    cdf = ndtr(z) if math.isinf(dof) else stdtr(dof, z)
    return cdf.mean(axis=1)


def _mixture_quantiles(qs: Sequence[float], a: np.ndarray, k: np.ndarray, t: np.ndarray,
                       tau: np.ndarray, lo: float, hi: float,
                       dof: float = math.inf) -> dict[str, float]:
    """Quantiles of the crossing point of the mixture CDF above, by bisection on [lo, hi].

    Returns +inf where the threshold is not reached with that probability within `hi`, and
    -inf where it is already reached at `lo`.
    """
    qs_arr = np.asarray(qs, dtype=float)
    f_lo = _mixture_cdf(np.array([lo]), a, k, t, tau, dof)[0]
    f_hi = _mixture_cdf(np.array([hi]), a, k, t, tau, dof)[0]
    left = np.full(qs_arr.size, lo)
    right = np.full(qs_arr.size, hi)
    for _ in range(60):
        mid = 0.5 * (left + right)
        f = _mixture_cdf(mid, a, k, t, tau, dof)
        below = f < qs_arr
        left = np.where(below, mid, left)
        right = np.where(below, right, mid)
    out = 0.5 * (left + right)
    out = np.where(qs_arr > f_hi, np.inf, out)
    out = np.where(qs_arr <= f_lo, -np.inf, out)
    return {_q_key(q): float(v) for q, v in zip(qs_arr, out, strict=True)}


# --------------------------------------------------------------------------- batched solver


def _sigmoid_inplace(eta: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-eta)), overwriting `eta` (a temporary): fewer passes than expit."""
    with np.errstate(over="ignore"):
        np.negative(eta, out=eta)
        np.exp(eta, out=eta)
    eta += 1.0
    return np.reciprocal(eta, out=eta)


@dataclass
class _SigmoidProblem:
    """score = floor + (c - floor) * sigmoid(X @ beta), the ceiling c fixed or fitted in [lo, hi].

    Objective: least squares, or the binomial deviance when `trials` (sample counts) are known.
    Every method works on a batch of parameter vectors `theta` (B, p) with case weights
    `w` (B, n): the bootstrap resamples (multinomial counts) or leave-one-out masks.
    """

    X: np.ndarray
    y: np.ndarray
    floor: float
    ceiling: float | None
    c_lo: float
    c_hi: float
    trials: np.ndarray | None
    lb: np.ndarray
    ub: np.ndarray
    additive_moments: bool = True
    """Whether `solve` keeps the moments of the additive scatter term (else latent only)."""

    @property
    def q(self) -> int:
        return self.X.shape[1]

    @property
    def p(self) -> int:
        return self.q + (self.ceiling is None)

    def ceilings(self, theta: np.ndarray) -> np.ndarray:
        if self.ceiling is not None:
            return np.full(theta.shape[0], self.ceiling)
        return theta[:, self.q]

    def evaluate(self, theta: np.ndarray, X: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores f, sigmoid values s and ceilings c (B,) for each parameter row."""
        X = self.X if X is None else X
        s = _sigmoid_inplace(theta[:, : self.q] @ X.T)
        c = self.ceilings(theta)
        f = s * (c - self.floor)[:, None]
        f += self.floor
        return f, s, c

    def losses(self, f: np.ndarray) -> np.ndarray:
        if self.trials is None:
            r = self.y - f
            return r * r
        fc = np.clip(f, _TINY, 1.0 - _TINY)
        return self._dev_const - 2.0 * self.trials * (self.y * np.log(fc)
                                                      + (1.0 - self.y) * np.log1p(-fc))

    def __post_init__(self) -> None:
        q = self.X.shape[1]
        self._XX = (self.X[:, :, None] * self.X[:, None, :]).reshape(-1, q * q)
        if self.trials is not None:
            y = self.y
            self._dev_const = 2.0 * self.trials * (xlogy(y, y) + xlogy(1.0 - y, 1.0 - y))

    def objective(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        f, _, _ = self.evaluate(theta)
        return np.einsum("bn,bn->b", w, self.losses(f))

    def _step_terms(self, w: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objective per row and the weighted residual A r (A: case x IRLS weights)."""
        r = self.y - f
        if self.trials is None:
            wr = w * r
            return np.einsum("bn,bn->b", wr, r), wr
        fc = np.clip(f, 1e-12, 1.0 - 1e-12)
        obj = np.einsum("bn,bn->b", w, self.losses(fc))
        return obj, w * self.trials * r / (fc * (1.0 - fc))

    def _curvature(self, theta: np.ndarray, w: np.ndarray, f: np.ndarray, s: np.ndarray,
                   c: np.ndarray, ar: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradient g (B, p), Gauss-Newton / Fisher matrix G and residual curvature R (B, p, p).

        With J = [(c - floor) v X, s] (v = s (1 - s)) and A the case weights (times the
        binomial weights n / (f (1 - f))): g = J' A r, G = J' B J (B = A for least squares,
        the observed binomial information otherwise), R = sum(A r d2f); the exact Hessian of
        the objective is G - R. All three are linear in the case weights.
        """
        B, q, p = theta.shape[0], self.q, self.p
        if self.trials is None:
            b = w
        else:  # `ar` already carries the binomial weights n / (f (1 - f))
            fc = np.clip(f, 1e-12, 1.0 - 1e-12)
            b = w * self.trials * (self.y / fc**2 + (1.0 - self.y) / (1.0 - fc) ** 2)
        v = 1.0 - s
        v *= s
        arv = ar * v
        bvv = b * v
        if self.ceiling is None:
            bvs = bvv * s
        bvv *= v
        scale = c - self.floor
        G = np.empty((B, p, p))
        R = np.zeros((B, p, p))
        g = np.empty((B, p))
        arvX = arv @ self.X
        g[:, :q] = arvX * scale[:, None]
        G[:, :q, :q] = (bvv @ self._XX).reshape(B, q, q) * (scale**2)[:, None, None]
        # residual curvature: d2f/dbeta2 = (c - floor) v (1 - 2 s) X X'
        arv_xx = arv @ self._XX
        arv *= s
        R[:, :q, :q] = (arv_xx - 2.0 * (arv @ self._XX)).reshape(B, q, q) * scale[:, None, None]
        if self.ceiling is None:
            g[:, q] = np.einsum("bn,bn->b", ar, s)
            hc = (bvs @ self.X) * scale[:, None]
            G[:, :q, q] = hc
            G[:, q, :q] = hc
            G[:, q, q] = np.einsum("bn,bn->b", b * s, s)
            R[:, :q, q] = arvX
            R[:, q, :q] = arvX
        return g, G, R

    @staticmethod
    def _newton_matrix(G: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The exact Hessian G - R where positive definite, else Gauss-Newton G."""
        newton = G - R
        pd = _positive_definite(newton)
        return np.where(pd[:, None, None], newton, G), pd

    @staticmethod
    def _solve(H: np.ndarray, g: np.ndarray) -> np.ndarray:
        if H.shape[1] == 2:  # closed form, the common fixed-ceiling case
            det = H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] * H[:, 1, 0]
            det = np.where(det == 0, _TINY, det)
            return np.column_stack([(H[:, 1, 1] * g[:, 0] - H[:, 0, 1] * g[:, 1]) / det,
                                    (H[:, 0, 0] * g[:, 1] - H[:, 1, 0] * g[:, 0]) / det])
        return np.linalg.solve(H, g[:, :, None])[:, :, 0]

    def _step(self, th: np.ndarray, la: np.ndarray, g: np.ndarray,
              H: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Damped step, the model's promised reduction g.step, and rows with a bound held."""
        eye = np.eye(th.shape[1])
        d = np.diagonal(H, axis1=1, axis2=2)
        reg = (1e-12 * (1.0 + d))[:, :, None] * eye
        Hd = H.copy()
        Hd[:, np.arange(th.shape[1]), np.arange(th.shape[1])] += d * la[:, None] + 1e-12 * (1 + d)
        step = self._solve(Hd, g)
        fixed = ((th <= self.lb + 1e-12) & (step < 0)) | ((th >= self.ub - 1e-12) & (step > 0))
        if fixed.any():
            free = (~fixed).astype(float)
            H = H * free[:, :, None] * free[:, None, :] + (fixed[:, :, None] * eye)
            g = g * free
            d = np.diagonal(H, axis1=1, axis2=2)
            step = self._solve(H + reg + (la[:, None] * d)[:, :, None] * eye, g)
        return step, np.einsum("bp,bp->b", g, step), np.asarray(fixed.any(axis=1))

    def solve(self, theta0: np.ndarray, w: np.ndarray, *, max_iter: int = 200,
              ftol: float = 1e-7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Minimise the objective for every row of case weights `w` (B, n) from `theta0`.

        Rows are processed in blocks small enough for the CPU cache (~800 kB per working
        array), several times faster than one pass over a large batch. When every row starts
        at the same point (a bootstrap warm-started from the full fit), the first Newton step
        of every row comes from per-case gradients and curvatures at that point, combined with
        the weights by one matrix product. Returns (theta, objective, converged); the scatter
        moments of the solutions are kept for `scatter`.
        """
        theta0 = np.clip(np.array(theta0, dtype=float), self.lb, self.ub)
        w = np.asarray(w, dtype=float)
        B, n = w.shape
        per_case = self._per_case(theta0[:1]) if B > 1 and np.all(theta0 == theta0[:1]) else None
        n_blocks = -(-B // max(32, 60_000 // max(n, 1)))
        block = -(-B // n_blocks)
        theta, obj = np.empty_like(theta0), np.empty(B)
        conv = np.empty(B, dtype=bool)
        moments = np.empty((B, 8))
        for i in range(0, B, block):
            sl = slice(i, i + block)
            theta[sl], obj[sl], conv[sl], moments[sl] = self._solve_block(
                theta0[sl], w[sl], per_case, max_iter=max_iter, ftol=ftol)
        self._moments_cache = (theta, moments)
        return theta, obj, conv

    def _per_case(self, theta1: np.ndarray) -> dict[str, np.ndarray]:
        """Objective, gradient and curvature contributions of each case at one point."""
        n, pp = self.y.size, self.p * self.p
        f1, s1, c1 = self.evaluate(theta1)
        eye_n = np.eye(n)
        fi = np.repeat(f1, n, axis=0)
        ob_i, ar_i = self._step_terms(eye_n, fi)
        gi, Gi, Ri = self._curvature(np.repeat(theta1, n, axis=0), eye_n, fi,
                                     np.repeat(s1, n, axis=0), np.repeat(c1, n), ar_i)
        return {"theta": theta1[0], "f": f1, "s": s1, "c": c1, "ob": ob_i, "g": gi,
                "G": Gi.reshape(n, pp), "R": Ri.reshape(n, pp)}

    def _moments(self, w: np.ndarray, f: np.ndarray, s: np.ndarray,
                 c: np.ndarray) -> np.ndarray:
        """Weighted sums per row for the scatter fit (B, 8), with e = (y - f)^2 less the
        binomial variance, g = f'^2 (f' = df/deta) and s = the sigmoid (the score's share of
        the way from floor to ceiling): e, e g, g g, e s, s s, g s, g, n (the weights)."""
        g = 1.0 - s
        g *= s
        g *= g
        g *= ((c - self.floor) ** 2)[:, None]
        e = self.y - f
        e *= e
        if self.trials is not None:
            e -= f * (1.0 - f) / self.trials
        if not self.additive_moments:  # latent scatter only: e, g and n suffice
            z = np.zeros(w.shape[0])
            return np.column_stack([np.einsum("bn,bn->b", w, e), z, z, z, z, z,
                                    np.einsum("bn,bn->b", w, g), w.sum(axis=1)])
        we, ws = w * e, w * s
        return np.column_stack([we.sum(axis=1), np.einsum("bn,bn->b", we, g),
                                np.einsum("bn,bn->b", w * g, g), np.einsum("bn,bn->b", we, s),
                                np.einsum("bn,bn->b", ws, s), np.einsum("bn,bn->b", ws, g),
                                np.einsum("bn,bn->b", w, g), w.sum(axis=1)])

    def _solve_block(self, theta0: np.ndarray, w: np.ndarray,
                     per_case: dict[str, np.ndarray] | None, *, max_iter: int,
                     ftol: float) -> tuple[np.ndarray, ...]:
        """Damped Newton (Levenberg-Marquardt) on every row at once; Fisher scoring / Gauss-
        Newton where the exact Hessian is not positive definite.

        Bounds are kept by projection: a parameter at a bound whose step points outward is
        held fixed for that step. A row has converged when the Newton decrement (the objective
        reduction the quadratic model still promises) falls below `ftol` times the objective,
        a parameter error of about sqrt(ftol * n) standard errors; or, in the quadratic regime
        (decrement below sqrt(ftol / 10) times the objective, with the exact Hessian), after
        one more pure Newton step, which lands within about the square of that decrement.
        Returns (theta, objective, converged, scatter moments).
        """
        theta = theta0.copy()
        B = w.shape[0]
        qtol = math.sqrt(ftol / 10.0)
        obj, moments = np.empty(B), np.empty((B, 8))
        converged = np.zeros(B, dtype=bool)
        # working state of the rows in `rows`; rows that have finished stay in it ("dead",
        # frozen) until fewer than 70 % are alive, then they retire and the arrays compact
        rows = np.arange(B)
        th, wa, la = theta.copy(), w, np.full(B, 1e-4)

        if per_case is not None:
            pc, p = per_case, self.p
            ob = w @ pc["ob"]
            H, newton = self._newton_matrix((w @ pc["G"]).reshape(B, p, p),
                                            (w @ pc["R"]).reshape(B, p, p))
            step, dec, held = self._step(th, la, w @ pc["g"], H)
            quadratic = (dec <= qtol * ob) & newton & ~held
            new = np.clip(th + step, self.lb, self.ub)
            f, s, c = self.evaluate(new)
            ob_new, ar = self._step_terms(w, f)
            ok = ob_new <= ob
            if not ok.all():
                bad = ~ok
                new[bad], ob_new[bad] = th[bad], ob[bad]
                f[bad], s[bad], c[bad] = pc["f"], pc["s"], pc["c"]
                _, ar[bad] = self._step_terms(w[bad], f[bad])
            th, ob = new, ob_new
            la = np.where(ok, la / 3.0, la * 4.0)
            dead = ok & quadratic
            converged[dead] = True
        else:
            f, s, c = self.evaluate(th)
            ob, ar = self._step_terms(wa, f)
            dead = np.zeros(B, dtype=bool)

        for _ in range(max_iter):
            alive = ~dead
            n_alive = int(alive.sum())
            if n_alive == 0:
                break
            if n_alive < 0.7 * rows.size:  # retire the dead rows, compact the rest
                out = rows[dead]
                theta[out], obj[out] = th[dead], ob[dead]
                moments[out] = self._moments(wa[dead], f[dead], s[dead], c[dead])
                rows, th, wa, la, ob = rows[alive], th[alive], wa[alive], la[alive], ob[alive]
                f, s, c, ar = f[alive], s[alive], c[alive], ar[alive]
                dead = np.zeros(rows.size, dtype=bool)
            g, G, R = self._curvature(th, wa, f, s, c, ar)
            H, newton = self._newton_matrix(G, R)
            step, dec, held = self._step(th, la, g, H)
            small = la < 1e-2
            done = (dec <= ftol * ob + 1e-300) & small & ~dead
            # in the quadratic regime (converged rows included) take the pure Newton step
            # without evaluating it: f and s stay those of the current point, off by a
            # relative ~dec in the scatter moments
            quadratic = (dec <= qtol * ob) & small & newton & ~held & ~dead
            if quadratic.any():
                th[quadratic] = np.clip(th[quadratic] + step[quadratic], self.lb, self.ub)
                ob[quadratic] -= dec[quadratic]
            converged[rows[done | quadratic]] = True
            dead |= done | quadratic | (la > 1e10)
            if dead.all():
                break
            step[dead] = 0.0
            new = np.clip(th + step, self.lb, self.ub)
            f_new, s_new, c_new = self.evaluate(new)
            ob_new, ar_new = self._step_terms(wa, f_new)
            ok = (ob_new <= ob) & ~dead
            # a rejected step that changes the objective only by rounding: nothing left to gain
            flat = ~ok & ~dead & (ob_new - ob <= 1e-13 * np.abs(ob))
            keep_old = ~ok
            if keep_old.any():
                new[keep_old], ob_new[keep_old] = th[keep_old], ob[keep_old]
                f_new[keep_old], s_new[keep_old] = f[keep_old], s[keep_old]
                c_new[keep_old], ar_new[keep_old] = c[keep_old], ar[keep_old]
            th, ob, f, s, c, ar = new, ob_new, f_new, s_new, c_new, ar_new
            la = np.where(ok, np.maximum(la / 3.0, 1e-12), np.where(dead, la, la * 4.0))
            converged[rows[flat]] = True
            dead |= flat
        theta[rows], obj[rows] = th, ob
        moments[rows] = self._moments(wa, f, s, c)
        return theta, obj, converged, moments

    def additive_supported(self, theta: np.ndarray, *, f_crit: float = 4.0) -> bool:
        """Whether the data need the additive scatter term beside the latent one: an F test
        (1 extra parameter) on the regression of the squared residuals at the fit `theta`."""
        f, s, c = self.evaluate(theta[None, :])
        f, s = f[0], s[0]
        g = ((c[0] - self.floor) * s * (1.0 - s)) ** 2
        e = (self.y - f) ** 2
        if self.trials is not None:
            e = e - f * (1.0 - f) / self.trials
        n = e.size
        t1 = float(e @ g) / max(float(g @ g), _TINY)
        sse1 = float(np.sum((e - g * t1) ** 2))
        A = np.column_stack([g, s])
        coef, *_ = np.linalg.lstsq(A, e, rcond=None)
        if coef[0] < 0 or coef[1] <= 0:
            return False
        sse2 = float(np.sum((e - A @ coef) ** 2))
        return (sse1 - sse2) / max(sse2 / max(n - 2, 1), _TINY) > f_crit

    def latent_variance(self, theta: np.ndarray, tau: float,
                        X: np.ndarray | None = None) -> np.ndarray:
        """E (F(eta + u) - F(eta))^2 for u ~ N(0, tau^2) at each design row (Gauss-Hermite):
        the score variance a latent scatter tau causes, without linearising the sigmoid."""
        X = self.X if X is None else X
        eta = X @ theta[: self.q]
        c = float(self.ceilings(theta[None, :])[0])
        nodes, weights = _GH_NODES, _GH_WEIGHTS
        base = expit(eta)
        shifted = expit(eta[:, None] + tau * nodes[None, :])
        return (c - self.floor) ** 2 * (((shifted - base[:, None]) ** 2) @ weights)

    def exact_tau(self, theta: np.ndarray, sigma: float) -> float:
        """The latent scatter solving sum E (y - f)^2 = sum [latent variance + s sigma^2 +
        binomial variance] exactly (Brent's method on tau), at one parameter vector. The moment
        estimate in `scatter` linearises the sigmoid and under-states tau when it is large
        (scores bunched near the floor hide big latent shifts)."""
        f, s, _ = self.evaluate(theta[None, :])
        f, s = f[0], s[0]
        e = (self.y - f) ** 2 - sigma**2 * s
        if self.trials is not None:
            e = e - f * (1.0 - f) / self.trials
        target = float(e.sum())
        if target <= 0:
            return 0.0

        def excess(tau: float) -> float:
            return float(self.latent_variance(theta, tau).sum()) - target

        hi = 1.0
        while excess(hi) < 0:
            if hi >= 64.0:
                return hi
            hi *= 2.0
        return float(brentq(excess, 0.0, hi, xtol=1e-6, rtol=1e-6))

    def scatter(self, theta: np.ndarray, w: np.ndarray, *,
                additive: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Model-to-model scatter per row: latent sd tau and additive sd sigma, from
        E (y - f)^2 = f'^2 tau^2 + s sigma^2 + binomial variance.

        f' = df/deta and s = (f - floor) / (ceiling - floor): the latent part vanishes at the
        floor and the ceiling, the additive part at chance (a model at chance varies only by
        sampling), and grows towards the ceiling (label noise, benchmark-specific skill).
        Fitted by non-negative least squares on the squared residuals; with additive=False, or
        when the two regressors are nearly collinear, all scatter is taken as latent.
        Degrees of freedom: n / (n - p).
        """
        cache = getattr(self, "_moments_cache", None)
        if cache is not None and cache[0] is theta:
            m = cache[1]
        else:
            f, s, c = self.evaluate(theta)
            m = self._moments(w, f, s, c)
        se, seg, sgg, ses, sss, sgs, sg, n = m.T
        det = sgg * sss - sgs**2
        ok = (det > 1e-3 * np.maximum(sgg * sss, _TINY)) & additive
        safe = np.where(ok, det, 1.0)
        tau2 = (seg * sss - sgs * ses) / safe
        sig2 = (sgg * ses - sgs * seg) / safe
        latent_only = ~ok | (sig2 < 0)
        tau2 = np.where(latent_only, se / np.maximum(sg, _TINY), tau2)
        sig2 = np.where(latent_only, 0.0, sig2)
        additive_only = tau2 < 0
        tau2 = np.where(additive_only, 0.0, tau2)
        ssum = np.maximum(ses / np.maximum(sss, _TINY), 0.0)
        sig2 = np.where(additive_only, ssum, sig2)
        infl = n / np.maximum(n - self.p, 1.0)
        return np.sqrt(np.maximum(tau2 * infl, 1e-8)), np.sqrt(np.maximum(sig2 * infl, 0.0))


_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(16)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def _positive_definite(H: np.ndarray) -> np.ndarray:
    """Row-wise test that symmetric matrices (B, p, p) are positive definite."""
    p = H.shape[1]
    if p == 2:
        return (H[:, 0, 0] > 0) & (H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] ** 2 > 0)
    if p == 3:
        m2 = H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] ** 2
        return (H[:, 0, 0] > 0) & (m2 > 0) & (np.linalg.det(H) > 0)
    return np.all(np.linalg.eigvalsh(H) > 0, axis=1)


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


def _fit_bootstrap(est: Any, prob: _SigmoidProblem, theta: np.ndarray, n_boot: int,
                   seed: int) -> np.ndarray:
    """Scatter at the full fit, then `n_boot` case-bootstrap refits warm-started from it.

    The additive scatter term is used only where an F test at the full fit supports it.
    Sets est.tau_, est.sigma_, est.boot_ (n_boot, p), est.boot_tau_, est.boot_sigma_ (bias
    corrected); returns which refits converged.
    """
    n = prob.y.size
    additive = prob.additive_supported(theta)
    tau, sig = prob.scatter(theta[None, :], np.ones((1, n)), additive=additive)
    # the bootstrap's moment estimates linearise the sigmoid; rescale them to the exact
    # moment solution at the full fit
    infl = math.sqrt(n / max(n - prob.p, 1))
    exact = prob.exact_tau(theta, float(sig[0]) / infl) * infl
    ratio = exact / float(tau[0]) if tau[0] > 1e-6 and exact > 0 else 1.0
    tau = tau * ratio
    est.tau_, est.sigma_ = float(tau[0]), float(sig[0])
    est.tau_ratio_ = ratio
    if n_boot <= 0:
        est.boot_ = theta[None, :].copy()
        est.boot_tau_, est.boot_sigma_ = tau, sig
        return np.array([True])
    W = _bootstrap_weights(n, n_boot, seed)
    prob.additive_moments = additive
    try:
        est.boot_, _, conv = prob.solve(np.tile(theta, (n_boot, 1)), W)
    finally:
        prob.additive_moments = True
    bt, bs = prob.scatter(est.boot_, W, additive=additive)
    est.boot_tau_ = _bias_corrected(bt * ratio, est.tau_)
    est.boot_sigma_ = _bias_corrected(bs, est.sigma_)
    return conv


def _score_bounds(floor: float, ceiling: float, y: np.ndarray) -> tuple[float, float]:
    """Where a measured score can lie: up to the ceiling (or the best score seen), and down to
    0 for proportions (floor >= 0, ceiling <= 1); predictive draws are clipped to it."""
    hi = max(float(ceiling), float(np.max(y)))
    lo = 0.0 if floor >= 0.0 and hi <= 1.0 else -math.inf
    return lo, hi


def _predictive_draws(est: Any, X: np.ndarray, kind: str, n_draws: int) -> np.ndarray:
    """Draws of a new model's score at the design rows X: per bootstrap fit, `n_draws` latent
    shifts (Student t, the fit's degrees of freedom) and additive noise (the additive scatter
    plus binomial noise at the median sample count). kind="curve": the fitted curves only."""
    prob, b = est.problem_, est.boot_
    eta = b[:, : prob.q] @ X.T
    c = prob.ceilings(b)[:, None]
    if kind == "curve":
        return prob.floor + (c - prob.floor) * expit(eta)
    rng = np.random.default_rng(est.seed + 1)
    u = rng.standard_t(est.dof_, (n_draws, b.shape[0], 1)) * est.boot_tau_[None, :, None]
    sig = expit(eta[None] + u)
    f = prob.floor + (c[None] - prob.floor) * sig
    var = (est.boot_sigma_**2)[None, :, None] * sig
    if est.trials_ is not None:
        var = var + np.clip(f * (1 - f), 0, None) / float(np.median(est.trials_))
    f = f + rng.standard_normal(f.shape) * np.sqrt(var)
    lo, hi = est.score_bounds_
    return np.clip(f, lo, hi).reshape(-1, X.shape[0])


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


# --------------------------------------------------------------------------- result types


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
        d = asdict(self)
        for key in ("interval80", "interval95"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d


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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("interval80", "interval95"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d


# --------------------------------------------------------------------------- score vs compute


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


class CapabilityCurve:
    """A benchmark score as a sigmoid in log10 effective compute, with bootstrap uncertainty.

    `floor` is the benchmark's chance level. `ceiling` is the best attainable score; None fits
    it within [floor + 0.9 (max score - floor), ceiling_max] (ceiling_max defaults to 1 for
    scores in [0, 1]). With `samples` (scored items per model) the fit is binomial maximum
    likelihood, otherwise least squares. `frontier=True` keeps only the best model to date at
    each compute. Model-to-model scatter has two parts: a shift of latent ability with sd
    `tau_` (logit units), and noise added to the score with sd `sigma_`.
    """

    tau_: float
    sigma_: float
    boot_: np.ndarray
    boot_tau_: np.ndarray
    boot_sigma_: np.ndarray

    def __init__(self, *, floor: float, ceiling: float | None = None,
                 ceiling_max: float | None = None, frontier: bool = False,
                 n_boot: int = 1000, seed: int = 0, min_models: int = 5,
                 min_decades: float = 1.0) -> None:
        self.floor = floor
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
        x0 = self.params_["midpoint_log10_flop"]
        if x0 > x.max() + 1.0:
            warnings.append(f"the fitted midpoint (1e{x0:.1f} FLOP) is {x0 - x.max():.1f} "
                            "decades beyond the largest model: an extrapolation")
        self.warnings_ = warnings
        return self

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

    def _draws(self, X: np.ndarray, kind: str, n_draws: int) -> np.ndarray:
        return _predictive_draws(self, X, kind, n_draws)

    def _latent_threshold(self, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Per draw: the latent level t_b where the curve equals threshold (+inf if never)."""
        ceil = self.problem_.ceilings(self.boot_)
        q = (threshold - self.problem_.floor) / (ceil - self.problem_.floor)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(q < 1.0, np.log(q) - np.log1p(-q), np.inf)
        return t, ceil

    def _mixture_args(self, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                       np.ndarray]:
        b = self.boot_
        t, ceil = self._latent_threshold(threshold)
        tau = _latent_sd_at(self, threshold, ceil)
        # eta = a + k (x - xbar) = (a - k xbar) + k x
        return b[:, 0] - b[:, 1] * self.xbar_, b[:, 1], t, tau

    def crossing_cdf(self, threshold: float, compute_flop: ArrayLike) -> np.ndarray:
        """P(a model at each compute reaches `threshold`): the crossing distribution's CDF."""
        self._check_fitted()
        xs = np.log10(_floats("compute_flop", compute_flop))
        return _mixture_cdf(xs, *self._mixture_args(threshold), self.dof_)

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
        a, k, t, tau = self._mixture_args(threshold)
        lo, hi = float(self.x_.min()) - 10.0, float(self.x_.max()) + 30.0
        qd = _mixture_quantiles(quantiles, a, k, t, tau, lo, hi, self.dof_)
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
                                             self.dof_)[0])
            row = self.predict([at]).iloc[0]
            predicted = float(row["predicted"])
            i80 = (float(row["lo80"]), float(row["hi80"]))
            i95 = (float(row["lo95"]), float(row["hi95"]))
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


# --------------------------------------------------------------------------- time trends


class TimeTrend:
    """A log-linear trend against release date: log2 of a quantity (e.g. METR's 50 % task
    horizon in minutes), or the logit of a score between `floor` and `ceiling`.

    Fitted by least squares (as METR does, Kwa et al. 2025) with a case bootstrap over models.
    The doubling time is that of the quantity (log2) or of the score's odds (logit).
    `frontier=True` keeps only models that beat every earlier release.
    """

    def __init__(self, *, transform: Literal["log2", "logit"] = "log2",
                 floor: float | None = None, ceiling: float | None = None,
                 frontier: bool = False, since: dt.date | str | None = None,
                 until: dt.date | str | None = None, n_boot: int = 1000, seed: int = 0,
                 min_models: int = 4, min_years: float = 1.0) -> None:
        self.transform = transform
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
        return self

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
        zb = self.boot_[:, :1] + self.boot_[:, 1:] * (t[None, :] - self.tbar_)
        if kind == "prediction":
            rng = np.random.default_rng(self.seed + 1)
            zb = (zb[None] + rng.standard_t(self.dof_, (n_draws, *zb.shape))
                  * self.boot_sigma_[None, :, None]).reshape(-1, t.size)
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
        return _mixture_cdf(t, *self._mixture_args(threshold), self.dof_)

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
                                float(self.t_.max()) + 100.0, self.dof_)
        warnings = list(self.warnings_)
        probability = predicted = i80 = i95 = None
        at = None
        if at_date is not None:
            at = dt.date.fromisoformat(at_date[:10]) if isinstance(at_date, str) else at_date
            probability = float(_mixture_cdf(np.array([_year(at)]), *args, self.dof_)[0])
            row = self.predict([at]).iloc[0]
            predicted = float(row["predicted"])
            i80 = (float(row["lo80"]), float(row["hi80"]))
            i95 = (float(row["lo95"]), float(row["hi95"]))
        return DateCrossing(threshold=threshold, at_date=at, probability=probability,
                            date_quantiles={q: _date(v) for q, v in qd.items()},
                            predicted=predicted, interval80=i80, interval95=i95,
                            n_models=self.n_models_, warnings=warnings)


# --------------------------------------------------------------------------- observational scaling


class CapabilityFactors:
    """Principal components of several benchmark scores: a few capability factors per model.

    Observational scaling laws (Ruan, Maddison & Hashimoto 2024): a model's scores on many
    benchmarks are well summarised by a low-dimensional capability vector, which then predicts
    other (harder) benchmarks without knowing the model's compute. Each benchmark is
    standardised; missing scores are imputed by iterated low-rank reconstruction. Factor signs
    are chosen so that higher factors mean higher scores.
    """

    def __init__(self, *, n_factors: int = 3, min_models: int = 8, max_iter: int = 200,
                 tol: float = 1e-8) -> None:
        self.n_factors = n_factors
        self.min_models = min_models
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, scores: pd.DataFrame) -> Self:
        """`scores`: one row per model (index = model), one column per benchmark."""
        df = scores.apply(pd.to_numeric, errors="coerce").astype(float)
        df = df.dropna(axis=1, how="all")
        df = df.loc[df.notna().sum(axis=1) >= 2]
        if df.shape[1] < 2:
            raise InsufficientEvidence(f"{df.shape[1]} benchmarks with scores; capability "
                                       "factors need at least 2")
        if df.shape[0] < self.min_models:
            raise InsufficientEvidence(f"{df.shape[0]} models with two or more scores; "
                                       f"factors need at least {self.min_models}")
        k = min(self.n_factors, df.shape[1] - 1, df.shape[0] - 1)
        mean = df.mean()
        scale = df.std(ddof=0).replace(0.0, 1.0)
        Z = ((df - mean) / scale).to_numpy()
        miss = np.isnan(Z)
        filled = np.where(miss, 0.0, Z)
        for _ in range(self.max_iter):
            centre = filled.mean(axis=0)
            U, S, Vt = np.linalg.svd(filled - centre, full_matrices=False)
            recon = centre + (U[:, :k] * S[:k]) @ Vt[:k]
            change = float(np.sum((recon[miss] - filled[miss]) ** 2)) if miss.any() else 0.0
            filled[miss] = recon[miss]
            if change <= self.tol * max(float(np.sum(filled**2)), 1.0):
                break
        centre = filled.mean(axis=0)
        U, S, Vt = np.linalg.svd(filled - centre, full_matrices=False)
        signs = np.sign(Vt[:k].sum(axis=1))
        signs[signs == 0] = 1.0
        self.components_ = Vt[:k] * signs[:, None]
        self.centre_ = centre
        self.mean_, self.scale_ = mean, scale
        self.benchmarks_ = list(df.columns)
        var = S**2
        self.explained_variance_ratio_ = var[:k] / var.sum()
        self.n_factors_ = k
        self.factors_ = pd.DataFrame((filled - centre) @ self.components_.T, index=df.index,
                                     columns=[f"PC{i + 1}" for i in range(k)])
        return self

    def transform(self, scores: pd.DataFrame) -> pd.DataFrame:
        """Factors for (new) models from whichever of the fitted benchmarks they have."""
        if not hasattr(self, "components_"):
            raise InputError("factors are not fitted yet", hint="call fit() first")
        df = scores.reindex(columns=self.benchmarks_).apply(pd.to_numeric, errors="coerce")
        Z = ((df - self.mean_) / self.scale_).to_numpy(dtype=float) - self.centre_
        out = np.full((Z.shape[0], self.n_factors_), np.nan)
        for i, row in enumerate(Z):
            ok = np.isfinite(row)
            if ok.sum() >= self.n_factors_:
                V = self.components_[:, ok].T
                out[i] = np.linalg.lstsq(V, row[ok], rcond=None)[0]
        return pd.DataFrame(out, index=df.index, columns=self.factors_.columns)


class FactorRegression:
    """A benchmark predicted from capability factors: floor + (c - floor) sigmoid(a + b.F).

    The observational-scaling predictor of Ruan et al. (2024), fitted like `CapabilityCurve`
    (binomial MLE with sample counts, else least squares; bootstrap over models).
    """

    tau_: float
    sigma_: float
    boot_: np.ndarray
    boot_tau_: np.ndarray
    boot_sigma_: np.ndarray

    def __init__(self, *, floor: float, ceiling: float | None = None, n_boot: int = 1000,
                 seed: int = 0, min_models: int = 8) -> None:
        self.floor = floor
        self.ceiling = ceiling
        self.n_boot = n_boot
        self.seed = seed
        self.min_models = min_models

    def fit(self, factors: pd.DataFrame, target: pd.Series,
            samples: pd.Series | None = None) -> Self:
        """Fit on models present in both `factors` and `target` (joined on the index)."""
        warnings: list[str] = []
        joined = factors.join(pd.to_numeric(target, errors="coerce").rename("__y"),
                              how="inner").dropna()
        n = len(joined)
        if n < self.min_models:
            raise InsufficientEvidence(f"{n} models have both factors and the target score; "
                                       f"at least {self.min_models} needed")
        F = joined[list(factors.columns)].to_numpy(dtype=float)
        y = joined["__y"].to_numpy(dtype=float)
        trials = None
        if samples is not None:
            trials = _check_samples(samples.reindex(joined.index).to_numpy(), n, y, warnings)
        curve = CapabilityCurve(floor=self.floor, ceiling=self.ceiling)
        ceiling, c_lo, c_hi = curve._ceiling_bounds(y, float(self.floor))
        self.score_bounds_ = _score_bounds(float(self.floor),
                                           ceiling if ceiling is not None else c_hi, y)
        self.fmean_ = F.mean(axis=0)
        X = np.column_stack([np.ones(n), F - self.fmean_])
        q = X.shape[1]
        lb = [-60.0] * q + ([] if ceiling is not None else [c_lo])
        ub = [60.0] * q + ([] if ceiling is not None else [c_hi])
        prob = _SigmoidProblem(X=X, y=y, floor=float(self.floor), ceiling=ceiling, c_lo=c_lo,
                               c_hi=c_hi, trials=trials, lb=np.array(lb), ub=np.array(ub))
        c_ref = ceiling if ceiling is not None else c_hi
        qn = np.clip((y - self.floor) / (c_ref - self.floor), 0.02, 0.98)
        beta0 = np.linalg.lstsq(X, np.log(qn) - np.log1p(-qn), rcond=None)[0]
        starts = [beta0, beta0 * 0.5, np.r_[beta0[0], beta0[1:] * 2.0]]
        if ceiling is None:
            starts = [np.r_[s, cc] for s in starts for cc in (c_lo, 0.5 * (c_lo + c_hi), c_hi)]
        S = np.array(starts)
        theta, obj, _ = prob.solve(S, np.ones((S.shape[0], n)), max_iter=500)
        theta = theta[int(np.argmin(obj))]
        self.problem_, self.theta_ = prob, theta
        self.columns_ = list(factors.columns)
        self.method_ = "binomial-mle" if trials is not None else "least-squares"
        self.trials_ = trials
        self.models_ = list(joined.index)
        self.n_models_ = n
        self.dof_ = float(max(n - prob.p, 1))
        _fit_bootstrap(self, prob, theta, self.n_boot, self.seed)
        self.warnings_ = warnings
        return self

    def predict(self, factors: pd.DataFrame, *, n_draws: int = 16) -> pd.DataFrame:
        """Predicted score per model with 80 % and 95 % prediction intervals."""
        if not hasattr(self, "theta_"):
            raise InputError("the regression is not fitted yet", hint="call fit() first")
        F = factors[self.columns_].to_numpy(dtype=float)
        ok = np.all(np.isfinite(F), axis=1)
        X = np.column_stack([np.ones(F.shape[0]), np.where(ok[:, None], F, 0.0) - self.fmean_])
        point, _, _ = self.problem_.evaluate(self.theta_[None, :], X)
        f = _predictive_draws(self, X, "prediction", n_draws)
        qs = np.quantile(f, [0.025, 0.1, 0.9, 0.975], axis=0)
        out = pd.DataFrame({"predicted": point[0], "lo95": qs[0], "lo80": qs[1],
                            "hi80": qs[2], "hi95": qs[3]}, index=factors.index)
        out.loc[~ok, :] = np.nan
        return out


# --------------------------------------------------------------------------- anomalies


def _loo_z(prob: _SigmoidProblem, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out expected score and z-score for every point, in one batched fit."""
    n = prob.y.size
    W = 1.0 - np.eye(n)
    loo, _, _ = prob.solve(np.tile(theta, (n, 1)), W)
    tau, sig = prob.scatter(loo, W, additive=prob.additive_supported(theta))
    f, s, c = prob.evaluate(loo)
    idx = np.arange(n)
    expected, s = f[idx, idx], s[idx, idx]
    var = ((c - prob.floor) * s * (1.0 - s) * tau) ** 2 + sig**2 * s
    if prob.trials is not None:
        var = var + expected * (1.0 - expected) / prob.trials
    z = (prob.y - expected) / np.sqrt(np.maximum(var, 1e-12))
    return expected, z


def _anomaly_frame(names: Sequence[str], y: np.ndarray, expected: np.ndarray, z: np.ndarray,
                   z_flag: float, basis: str) -> pd.DataFrame:
    df = pd.DataFrame({"model": list(names), "score": y, "expected": expected,
                       "gap": y - expected, "z": z, "p_low": ndtr(z), "basis": basis})
    df["flagged"] = df["z"] <= z_flag
    return df.sort_values("z").reset_index(drop=True)


def compute_anomalies(names: Sequence[str], compute_flop: ArrayLike, scores: ArrayLike, *,
                      floor: float, ceiling: float | None = None,
                      samples: ArrayLike | None = None, z_flag: float = -2.5) -> pd.DataFrame:
    """Models whose score is implausibly low for their effective compute.

    Each model is compared with the sigmoid fitted to all *other* models (leave-one-out), so a
    sandbagged score cannot drag its own expectation down. z = (score - expected) / sd, with sd
    from model-to-model scatter and binomial noise; flagged when z <= z_flag (one-sided
    p = Phi(z)). Models without compute are left out.
    """
    curve = CapabilityCurve(floor=floor, ceiling=ceiling, n_boot=0).fit(compute_flop, scores,
                                                                       samples)
    kept = [nm for nm, m in zip(names, curve.mask_, strict=True) if m]
    expected, z = _loo_z(curve.problem_, curve.theta_)
    return _anomaly_frame(kept, curve.y_, expected, z, z_flag, "compute")


def factor_anomalies(scores: pd.DataFrame, target: str, *, floor: float,
                     ceiling: float | None = None, n_factors: int = 2,
                     z_flag: float = -2.5) -> pd.DataFrame:
    """Models whose `target` score is implausibly low given their other benchmark scores.

    Capability factors come from the other benchmarks only (the target never enters them);
    the target is predicted from the factors, leaving each model out of the regression in turn.
    """
    if target not in scores.columns:
        raise InsufficientEvidence(f"no scores for {target!r}")
    others = scores.drop(columns=[target])
    factors = CapabilityFactors(n_factors=n_factors).fit(others).factors_
    reg = FactorRegression(floor=floor, ceiling=ceiling, n_boot=0).fit(factors, scores[target])
    expected, z = _loo_z(reg.problem_, reg.theta_)
    return _anomaly_frame(reg.models_, reg.problem_.y, expected, z, z_flag, "other benchmarks")


def mitigation_gaps(results: pd.DataFrame) -> pd.DataFrame:
    """Pre- vs post-mitigation scores of the same model on the same benchmark, side by side.

    `results` has columns model, benchmark, variant ("pre-mitigation"/"post-mitigation"),
    value and optionally stderr and samples. Returns one row per (model, benchmark) with both
    variants: pre, post, gap = pre - post, its standard error and z (a large positive gap means
    mitigations suppress a capability the model has; evaluations of the post-mitigation model
    alone would understate it).
    """
    cols = {"model", "benchmark", "variant", "value"}
    if missing := cols - set(results.columns):
        raise InputError(f"results lack columns {sorted(missing)}")
    df = results.copy()
    df["variant"] = df["variant"].astype(str).str.lower().str.replace("_", "-")
    df["variant"] = df["variant"].map(lambda v: "pre" if v.startswith("pre")
                                      else ("post" if v.startswith("post") else None))
    df = df.dropna(subset=["variant"])
    if "stderr" not in df:
        df["stderr"] = np.nan
    if "samples" not in df:
        df["samples"] = np.nan
    v = pd.to_numeric(df["value"], errors="coerce")
    n = pd.to_numeric(df["samples"], errors="coerce")
    se = pd.to_numeric(df["stderr"], errors="coerce")
    df["se"] = se.where(se.notna(), np.sqrt(np.clip(v * (1 - v), 0, None) / n))
    df["value"] = v
    agg = df.groupby(["model", "benchmark", "variant"], as_index=False).agg(
        value=("value", "mean"), se=("se", "mean"))
    wide = agg.pivot(index=["model", "benchmark"], columns="variant", values=["value", "se"])
    rows = []
    for key in wide.index:
        model, bench = key
        r = wide.loc[key]
        pre, post = r.get(("value", "pre")), r.get(("value", "post"))
        if pre is None or post is None or pd.isna(pre) or pd.isna(post):
            continue
        se_gap = math.hypot(float(r.get(("se", "pre"), math.nan)),
                            float(r.get(("se", "post"), math.nan)))
        gap = float(pre - post)
        rows.append({"model": model, "benchmark": bench, "pre": float(pre),
                     "post": float(post), "gap": gap,
                     "se": se_gap if math.isfinite(se_gap) else None,
                     "z": gap / se_gap if math.isfinite(se_gap) and se_gap > 0 else None})
    return pd.DataFrame(rows, columns=["model", "benchmark", "pre", "post", "gap", "se", "z"])


# --------------------------------------------------------------------------- backtests


@dataclass
class Backtest:
    """How past forecasts fared: fit on what was known at each cutoff, predict what came after.

    `cutoffs` has one row per cutoff (training size, error, interval coverage, the crossing
    forecast then); `predictions` one row per (cutoff, later model); `summary` pools them:
    mean absolute error, coverage of the 80 % and 95 % prediction intervals, and the lead
    time — how long before the threshold was first reached (in decades of compute, or days)
    every later forecast's 80 % crossing interval already contained the actual crossing.
    """

    axis: str
    cutoffs: pd.DataFrame
    predictions: pd.DataFrame
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"axis": self.axis, "summary": self.summary,
                "cutoffs": self.cutoffs.to_dict(orient="records")}


def _lead(cut: np.ndarray, lo: np.ndarray, hi: np.ndarray, actual: float | None) -> float | None:
    """Time (or compute) between the earliest cutoff from which every forecast's 80 % crossing
    interval was bounded and contained the actual crossing, and the crossing itself.
    None when it was never foreseen that way."""
    if actual is None:
        return None
    before = cut < actual
    if not before.any():
        return None
    ok = (lo <= actual) & (actual <= hi) & np.isfinite(hi)
    idx = np.flatnonzero(before)
    start = None
    for i in idx[::-1]:
        if ok[i]:
            start = i
        else:
            break
    return None if start is None else float(actual - cut[start])


def _summarise(preds: pd.DataFrame, rows: list[dict[str, Any]], lead: float | None,
               actual: float | dt.date | None, skipped: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"n_cutoffs": len(rows), "n_predictions": int(len(preds)),
                           "skipped": skipped, "actual_crossing": actual, "lead": lead,
                           "cutoffs_before_crossing": None}
    if len(preds):
        err = preds["actual"] - preds["predicted"]
        out.update(mae=float(err.abs().mean()), rmse=float(np.sqrt((err**2).mean())),
                   bias=float(err.mean()), coverage80=float(preds["in80"].mean()),
                   coverage95=float(preds["in95"].mean()))
    return out


def backtest_compute(compute_flop: ArrayLike, scores: ArrayLike, *, floor: float,
                     ceiling: float | None = None, samples: ArrayLike | None = None,
                     cutoffs_log10_flop: Sequence[float] | None = None,
                     threshold: float | None = None, frontier: bool = False,
                     names: Sequence[str] | None = None, n_boot: int = 300,
                     seed: int = 0) -> Backtest:
    """Backtest the score-vs-compute forecast at several compute levels.

    At each cutoff, fit on models at or below that compute and predict every larger model's
    score (with `frontier`, every larger frontier model's). Default cutoffs: up to 6 evenly
    spaced levels from the first one with enough models and a decade of compute, to the last
    one leaving 3 larger models. Lead time is in decades.
    """
    c = _floats("compute_flop", compute_flop, allow_nan=True)
    y = _floats("scores", scores)
    ok = np.isfinite(c) & (c > 0)
    if not ok.any():
        raise InsufficientEvidence("no model has an effective compute figure")
    x = np.log10(np.where(ok, c, 1.0))
    nm = list(names) if names is not None else [str(i) for i in range(y.size)]
    sm = None if samples is None else np.asarray(samples, dtype=object).ravel()
    xs = np.sort(x[ok])
    if cutoffs_log10_flop is None:
        start = None
        for j in range(4, xs.size):
            if xs[j] - xs[0] >= 1.0:
                start = xs[j]
                break
        if start is None or xs.size < 8 or start >= xs[-4]:
            raise InsufficientEvidence("too few models spread over too little compute for a "
                                       "backtest")
        cut = np.unique(np.round(np.linspace(start, xs[-4], 6), 2))
    else:
        cut = np.asarray(cutoffs_log10_flop, dtype=float)
    actual = None
    if threshold is not None:
        hit = ok & (y >= threshold)
        actual = float(x[hit].min()) if hit.any() else None
    # a frontier forecast is judged on later frontier models only
    judged = ok.copy()
    if frontier:
        judged[np.flatnonzero(ok)[~frontier_mask(x[ok], y[ok])]] = False
    rows, preds, skipped = [], [], []
    seen: set[bytes] = set()
    for cu in cut:
        train = ok & (x <= cu + 1e-12)
        test = judged & (x > cu + 1e-12)
        if train.tobytes() in seen:
            continue  # same models known as at an earlier cutoff
        seen.add(train.tobytes())
        if not test.any():
            skipped.append(f"{cu:g}: no later model")
            continue
        try:
            curve = CapabilityCurve(floor=floor, ceiling=ceiling, frontier=frontier,
                                    n_boot=n_boot, seed=seed)
            curve.fit(10.0 ** x[train], y[train], None if sm is None else sm[train])
        except InsufficientEvidence as e:
            skipped.append(f"{cu:g}: {e.message}")
            continue
        pr = curve.predict(10.0 ** x[test])
        actual_y = y[test]
        in80 = (pr["lo80"].to_numpy() <= actual_y) & (actual_y <= pr["hi80"].to_numpy())
        in95 = (pr["lo95"].to_numpy() <= actual_y) & (actual_y <= pr["hi95"].to_numpy())
        cols = {k: pr[k].to_numpy(dtype=float) for k in ("predicted", "lo80", "hi80", "lo95",
                                                          "hi95")}
        for j, i in enumerate(np.flatnonzero(test)):
            preds.append({"cutoff": float(cu), "model": nm[i], "log10_flop": float(x[i]),
                          "decades_ahead": float(x[i] - cu), "actual": float(y[i]),
                          **{k: float(v[j]) for k, v in cols.items()},
                          "in80": bool(in80[j]), "in95": bool(in95[j])})
        err = actual_y - pr["predicted"].to_numpy()
        row: dict[str, Any] = {"cutoff_log10_flop": float(cu), "n_train": curve.n_models_,
                               "n_test": int(test.sum()), "mae": float(np.abs(err).mean()),
                               "coverage80": float(in80.mean()),
                               "coverage95": float(in95.mean())}
        if threshold is not None:
            try:
                cf = curve.crossing(threshold)
                q = cf.compute_quantiles
                row.update(crossing_p10=_log10(q["0.1"]), crossing_median=_log10(q["0.5"]),
                           crossing_p90=_log10(q["0.9"]))
            except InsufficientEvidence as e:
                row.update(crossing_p10=None, crossing_median=None, crossing_p90=None)
                skipped.append(f"{cu:g}: crossing: {e.message}")
        rows.append(row)
    cutoffs = pd.DataFrame(rows)
    predictions = pd.DataFrame(preds)
    lead = None
    if threshold is not None and actual is not None and len(cutoffs):
        lo = cutoffs["crossing_p10"].astype(float).fillna(np.inf).to_numpy()
        hi = cutoffs["crossing_p90"].astype(float).fillna(-np.inf).to_numpy()
        lead = _lead(cutoffs["cutoff_log10_flop"].to_numpy(), lo, hi, actual)
    summary = _summarise(predictions, rows, lead, actual, skipped)
    summary["lead_units"] = "decades of compute"
    if actual is not None and len(cutoffs):
        summary["cutoffs_before_crossing"] = int((cutoffs["cutoff_log10_flop"] < actual).sum())
    return Backtest("compute", cutoffs, predictions, summary)


def _log10(v: float) -> float | None:
    if v == math.inf:
        return math.inf
    return math.log10(v) if v > 0 else -math.inf


def backtest_time(dates: Sequence[dt.date | str | None], values: ArrayLike, *,
                  transform: Literal["log2", "logit"] = "log2", floor: float | None = None,
                  ceiling: float | None = None, cutoffs: Sequence[dt.date | str] | None = None,
                  threshold: float | None = None, frontier: bool = False,
                  since: dt.date | str | None = None, names: Sequence[str] | None = None,
                  n_boot: int = 300, seed: int = 0) -> Backtest:
    """Backtest a time trend: at each cutoff date fit the models released by then, predict the
    later ones (with `frontier`, the later frontier models). Default cutoffs: up to 6 dates
    evenly spaced from the first with 4 models over a year to the last leaving 3 later models.
    Lead time is in days."""
    v = _floats("values", values, allow_nan=True)
    t = np.array([_year(d) if d is not None else np.nan for d in dates])
    ok = np.isfinite(t) & np.isfinite(v)
    if since is not None:
        ok &= t >= _year(since)
    nm = list(names) if names is not None else [str(i) for i in range(v.size)]
    ts = np.sort(t[ok])
    if cutoffs is None:
        start = None
        for j in range(3, ts.size):
            if ts[j] - ts[0] >= 1.0:
                start = ts[j]
                break
        if start is None or ts.size < 7 or start >= ts[-4]:
            raise InsufficientEvidence("too few dated models for a backtest")
        cut = np.unique(np.linspace(start, ts[-4], 6))
    else:
        cut = np.array([_year(d) for d in cutoffs])
    actual = None
    if threshold is not None:
        hit = ok & (v >= threshold)
        actual = float(t[hit].min()) if hit.any() else None
    judged = ok.copy()
    if frontier:
        judged[np.flatnonzero(ok)[~frontier_mask(t[ok], v[ok])]] = False
    rows, preds, skipped = [], [], []
    seen: set[bytes] = set()
    for cu in cut:
        train = ok & (t <= cu + 1e-9)
        test = judged & (t > cu + 1e-9)
        if train.tobytes() in seen:
            continue  # same models known as at an earlier cutoff
        seen.add(train.tobytes())
        label = _date(float(cu))
        if not test.any():
            skipped.append(f"{label}: no later model")
            continue
        try:
            tr = TimeTrend(transform=transform, floor=floor, ceiling=ceiling, frontier=frontier,
                           n_boot=n_boot, seed=seed)
            tr.fit([_date(float(a)) for a in t[train]], v[train])
        except InsufficientEvidence as e:
            skipped.append(f"{label}: {e.message}")
            continue
        test_dates = [_EPOCH + dt.timedelta(days=round(float(a) * DAYS_PER_YEAR))
                      for a in t[test]]
        pr = tr.predict(test_dates)
        actual_v = v[test]
        in80 = (pr["lo80"].to_numpy() <= actual_v) & (actual_v <= pr["hi80"].to_numpy())
        in95 = (pr["lo95"].to_numpy() <= actual_v) & (actual_v <= pr["hi95"].to_numpy())
        z_pred = tr._to_space(np.maximum(pr["predicted"].to_numpy(), 1e-300))
        z_act = tr._to_space(np.maximum(actual_v, 1e-300))
        cols = {k: pr[k].to_numpy(dtype=float) for k in ("predicted", "lo80", "hi80", "lo95",
                                                          "hi95")}
        for j, i in enumerate(np.flatnonzero(test)):
            preds.append({"cutoff": label, "model": nm[i], "date": test_dates[j],
                          "days_ahead": float((t[i] - cu) * DAYS_PER_YEAR),
                          "actual": float(v[i]), "error_transformed": float(z_act[j] - z_pred[j]),
                          **{k: float(c[j]) for k, c in cols.items()},
                          "in80": bool(in80[j]), "in95": bool(in95[j])})
        row: dict[str, Any] = {"cutoff": label, "n_train": tr.n_models_,
                               "n_test": int(test.sum()),
                               "mae_transformed": float(np.abs(z_act - z_pred).mean()),
                               "coverage80": float(in80.mean()),
                               "coverage95": float(in95.mean()),
                               "doubling_days": tr.doubling_days_}
        if threshold is not None:
            try:
                dq = tr.crossing(threshold).date_quantiles
                row.update(crossing_p10=dq["0.1"], crossing_median=dq["0.5"],
                           crossing_p90=dq["0.9"])
            except InsufficientEvidence as e:
                row.update(crossing_p10=None, crossing_median=None, crossing_p90=None)
                skipped.append(f"{label}: crossing: {e.message}")
        rows.append(row)
    cutoffs_df = pd.DataFrame(rows)
    predictions = pd.DataFrame(preds)
    lead = None
    if threshold is not None and actual is not None and len(cutoffs_df):
        def yrs(col: str, missing: float) -> np.ndarray:
            return np.array([_year(d) if d is not None else missing for d in cutoffs_df[col]])
        lead_years = _lead(np.array([_year(d) for d in cutoffs_df["cutoff"]]),
                           yrs("crossing_p10", np.inf), yrs("crossing_p90", -np.inf), actual)
        lead = None if lead_years is None else lead_years * DAYS_PER_YEAR
    summary = _summarise(predictions, rows, lead, None if actual is None else _date(actual),
                         skipped)
    if actual is not None and len(cutoffs_df):
        summary["cutoffs_before_crossing"] = int(sum(_year(d) < actual
                                                     for d in cutoffs_df["cutoff"]))
    if len(predictions):
        summary["mae_transformed"] = float(predictions["error_transformed"].abs().mean())
        summary.pop("mae", None)
        summary.pop("rmse", None)
        summary.pop("bias", None)
    summary["lead_units"] = "days"
    return Backtest("date", cutoffs_df, predictions, summary)

