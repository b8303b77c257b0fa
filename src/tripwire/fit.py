"""Scaling laws: fit, predict with bootstrap prediction intervals, compute-optimal allocation.

Two laws, each an estimator in the scikit-learn shape (hyperparameters in ``__init__``, ``fit``
returns ``self`` and sets attributes ending in ``_``, ``predict`` refuses to run unfitted):

- :class:`ComputeLaw`, ``L(C) = E + A * C**-alpha`` (or the pure power law ``A * C**-alpha``),
- :class:`ChinchillaLaw`, ``L(N, D) = E + A / N**alpha + B / D**beta``.

Both are fitted as in Hoffmann et al. (2022, "Training Compute-Optimal Large Language Models",
approach 3): the parameters are written in log form (``A = exp(a)``, ``B = exp(b)``,
``E = exp(e)``), the predicted log-loss is a log-sum-exp of the terms, the objective is the sum
of Huber losses (delta = 1e-3) of the log-loss residuals, and L-BFGS is started from a grid of
initialisations, keeping the best optimum. The default Chinchilla grid is theirs (alpha, beta in
{0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}), as in Besiroglu et al.
(2024, "Chinchilla Scaling: A replication attempt").

Speed: the objective, its analytic gradient and its exact Hessian are evaluated for many
parameter vectors at once (one row per start or per bootstrap resample). A batched L-BFGS takes
two steps from every start; the best 32 are run to convergence by a batched Newton method
(quadratic convergence: the optimum to the last digits in a few iterations). Bootstrap resamples
are multinomial weights on the observations, warm-started from the full-data optimum and
optimised together by the same Newton method; the few that creep along a flat valley (an
irreducible loss heading to 0) are handed on to L-BFGS. Only numpy is imported: a fit does not
load SciPy or pandas (tables are built on request).

Intervals: the observations are resampled ``n_boot`` times (seeded). Parameter and derived
intervals are bootstrap percentiles. Prediction intervals add the residual scatter of the fit
(residuals rescaled by sqrt(n / (n - p))) to each resample's prediction, so they cover a new
run's loss, not only the law's mean curve. Beyond the fitted compute range they also add a
model-error term, Normal(m g(d), (s g(d))^2) in log-loss with g(d) = sqrt(d (d + 2)) and d the
decades outside the range (:mod:`tripwire.calibration`): the bootstrap measures parameter
noise, not the error of the law's form, which grows with the extrapolation and leans one way
(Besiroglu et al. 2024 show the fitted law moving as the largest runs are added). ``m`` and
``s`` are estimated at fit time by leave-future-out: the law is refitted (with its own
bootstrap) to the runs below several compute cuts (the lowest 50, 60, 70 and 80 % of runs)
and asked to predict the runs above; ``m`` is the drift of those residuals with g(d), and
``s`` is set so the held-out runs, shifted by it, fall inside their predictive
intervals as often as claimed, shrunk towards the prior :data:`LOSS_PRIOR_SCALE`. The refits
are weighted resamples warm-started at the full-data optimum, optimised in one batch by the
bootstrap's optimiser.

Units: N in parameters, D in tokens, C in FLOP, loss in nats per token (any positive loss works).
"""

from __future__ import annotations

import inspect
import itertools
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tripwire.calibration import HeldOut, ModelError, fit_scale, no_model_error
from tripwire.errors import InputError, InsufficientEvidence

if TYPE_CHECKING:
    import pandas as pd  # tables are built on request: a fit itself needs numpy only

__all__ = [
    "Allocation",
    "ChinchillaLaw",
    "ComputeLaw",
    "ExtrapolationWarning",
    "FitDidNotConverge",
    "HoldoutResult",
    "Prediction",
    "HOFFMANN_GRID",
]

FloatArray = NDArray[np.float64]
Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while the bootstrap runs."""

HUBER_DELTA = 1e-3
"""Huber threshold on log-loss residuals (Hoffmann et al. 2022, approach 3)."""
EXTRAPOLATION_LIMIT_OOM = 1.5
"""Predictions further than this many orders of magnitude outside the fitted compute range warn."""
LEVELS = (0.80, 0.95)
"""Central interval levels reported everywhere."""
C_PER_ND = 6.0
"""Training FLOP per parameter per token for a dense transformer (C = 6 N D)."""

HOFFMANN_GRID: dict[str, FloatArray] = {
    "a": np.arange(0.0, 30.0, 5.0),
    "b": np.arange(0.0, 30.0, 5.0),
    "e": np.arange(-1.0, 1.5, 0.5),
    "alpha": np.arange(0.0, 2.5, 0.5),
    "beta": np.arange(0.0, 2.5, 0.5),
}
"""Initialisation grid of Hoffmann et al. (2022), as replicated by Besiroglu et al. (2024).

4,500 starts; a, b, e are log A, log B, log E."""

LOSS_PRIOR_SCALE = 0.03
"""Prior model-error sd of log-loss per decade of compute beyond the fitted range (see
:mod:`tripwire.calibration`; measured by ``benchmarks/bench_calibration.py``)."""
CALIBRATION_CUTS = (0.5, 0.6, 0.7, 0.8)
"""Shares of the runs (lowest compute first) each leave-future-out refit sees."""
_CAL_BOOT = 60
_CAL_DRAWS = 5
_DRAWS_PER_RESAMPLE = 10
_BACKTRACK_BATCH = 6
_BOOT_CHUNK = 200
_BOOT_CELLS = 4_000_000
_MAX_BOOT_FAILED = 0.10
_NEWTON_ITERS = 30
_NEWTON_ITERS_FAR = 200
_LBFGS_ITERS = 500


class ExtrapolationWarning(UserWarning):
    """A prediction lies far outside the compute range the law was fitted on."""


class FitDidNotConverge(InsufficientEvidence):
    """The optimiser did not reach an optimum; no numbers are reported."""


# --------------------------------------------------------------------------------------------
# The objective: Huber loss of log-loss residuals of a log-sum-exp law, many rows at once.
# --------------------------------------------------------------------------------------------


class _Objective:
    """Sum of Huber losses of ``log L_i - LSE_k(c_k - g_k * z_ki [, e])`` for many rows at once.

    Parameter columns: the K power-term coefficients ``c_k`` (log A, log B), then ``e`` (log E)
    when there is an irreducible term, then the K exponents ``g_k``. ``z`` holds the K log
    features (log N, log D or log C). ``weights`` (rows x points) are bootstrap counts.
    """

    def __init__(self, z: FloatArray, log_loss: FloatArray, *, irreducible: bool,
                 delta: float, weights: FloatArray | None = None) -> None:
        self.z = np.ascontiguousarray(z, dtype=float)
        self.t = np.ascontiguousarray(log_loss, dtype=float)
        self.k = self.z.shape[0]
        self.irreducible = irreducible
        self.delta = float(delta)
        self.weights = weights
        self.n_params = 2 * self.k + (1 if irreducible else 0)
        self.chunk = max(8, 16384 // max(1, self.t.size))  # rows per block: fits in cache

    def _row_weights(self, rows: NDArray[np.intp] | None) -> FloatArray | None:
        """The observation weights of the parameter rows being evaluated (None: all ones)."""
        if self.weights is None or rows is None:
            return self.weights
        return self.weights[rows]

    def __call__(self, theta: FloatArray, rows: NDArray[np.intp] | None = None
                 ) -> tuple[FloatArray, FloatArray]:
        """Objective values (rows,) and gradients (rows, p) at ``theta`` (rows, p)."""
        theta = np.asarray(theta, dtype=float)
        g_rows = theta.shape[0]
        f = np.empty(g_rows)
        grad = np.empty_like(theta)
        k, d, t, z = self.k, self.delta, self.t, self.z
        ke = k + (1 if self.irreducible else 0)
        wts = self._row_weights(rows)
        with np.errstate(all="ignore"):
            for s0 in range(0, g_rows, self.chunk):
                s1 = min(g_rows, s0 + self.chunk)
                th = theta[s0:s1]
                u = [th[:, j:j + 1] - th[:, ke + j:ke + j + 1] * z[j] for j in range(k)]
                m = u[0].copy()
                for j in range(1, k):
                    np.maximum(m, u[j], out=m)
                if self.irreducible:
                    ecol = th[:, k:k + 1]
                    np.maximum(m, ecol, out=m)
                for j in range(k):
                    u[j] -= m
                    np.exp(u[j], out=u[j])
                s = u[0].copy()
                for j in range(1, k):
                    s += u[j]
                if self.irreducible:
                    ex = np.exp(ecol - m)
                    s += ex
                r = np.log(s)
                r += m
                r -= t
                h = np.clip(r, -d, d)
                hub = h * r
                hub -= 0.5 * h * h  # |r| <= d: r^2/2; else d |r| - d^2/2
                if wts is not None:
                    w = wts[s0:s1]
                    hub *= w
                    h *= w
                f[s0:s1] = hub.sum(axis=1)
                h /= s
                for j in range(k):
                    u[j] *= h
                    grad[s0:s1, j] = u[j].sum(axis=1)
                    grad[s0:s1, ke + j] = -(u[j] @ z[j])
                if self.irreducible:
                    ex *= h
                    grad[s0:s1, k] = ex.sum(axis=1)
        bad = ~np.isfinite(f) | ~np.isfinite(grad).all(axis=1)
        f[bad] = np.inf
        return f, grad

    def _softmax(self, th: FloatArray) -> tuple[list[FloatArray], FloatArray]:
        """For parameter rows ``th``: each term's share of the predicted loss (softmax weights,
        rows x points; the irreducible term last) and the log-loss residuals."""
        k, z = self.k, self.z
        ke = k + (1 if self.irreducible else 0)
        prob = []
        for j in range(k):
            u = th[:, ke + j:ke + j + 1] * z[j]
            np.subtract(th[:, j:j + 1], u, out=u)
            prob.append(u)
        m = prob[0].copy()
        for u in prob[1:]:
            np.maximum(m, u, out=m)
        if self.irreducible:
            np.maximum(m, th[:, k:k + 1], out=m)
            prob.append(np.exp(th[:, k:k + 1] - m))
        for u in prob[:k]:
            u -= m
            np.exp(u, out=u)
        s = prob[0].copy()
        for u in prob[1:]:
            s += u
        r = np.log(s)
        r += m
        r -= self.t
        for u in prob:
            u /= s
        return prob, r

    def value(self, theta: FloatArray, rows: NDArray[np.intp] | None = None) -> FloatArray:
        """Objective values (rows,) alone, for line searches."""
        theta = np.asarray(theta, dtype=float)
        f = np.empty(theta.shape[0])
        wts = self._row_weights(rows)
        with np.errstate(all="ignore"):
            for s0 in range(0, theta.shape[0], self.chunk):
                s1 = min(theta.shape[0], s0 + self.chunk)
                _, r = self._softmax(theta[s0:s1])
                h = np.clip(r, -self.delta, self.delta)
                r *= h
                h *= h
                r -= 0.5 * h  # huber: h r - h^2 / 2
                if wts is not None:
                    r *= wts[s0:s1]
                f[s0:s1] = r.sum(axis=1)
        f[~np.isfinite(f)] = np.inf
        return f

    def with_hessian(self, theta: FloatArray, rows: NDArray[np.intp] | None = None
                     ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Objective values (rows,), gradients (rows, p) and Hessians (rows, p, p).

        With softmax weights ``p_k`` of the log-sum-exp terms and ``v_k`` the (constant)
        derivative of term k's exponent, the prediction's gradient is ``J = sum_k p_k v_k`` and
        its Hessian ``sum_k p_k v_k v_k' - J J'``; with ``psi`` the Huber derivative (the
        residual clipped to +-delta) the objective's Hessian is
        ``sum_i w_i [psi'(r_i) J_i J_i' + psi(r_i) (sum_k p_ik v_ik v_ik' - J_i J_i')]``.
        """
        theta = np.asarray(theta, dtype=float)
        g_rows, n_p = theta.shape
        f = np.empty(g_rows)
        grad = np.empty_like(theta)
        hess = np.empty((g_rows, n_p, n_p))
        k, d, z = self.k, self.delta, self.z
        ke = k + (1 if self.irreducible else 0)
        zz = [zj * zj for zj in z]
        wts = self._row_weights(rows)
        with np.errstate(all="ignore"):
            for s0 in range(0, g_rows, self.chunk):
                s1 = min(g_rows, s0 + self.chunk)
                prob, r = self._softmax(theta[s0:s1])
                h = np.clip(r, -d, d)
                inside = np.abs(r) < d  # psi' = 1 there, 0 outside
                r *= h
                r -= 0.5 * h * h
                coef = inside.astype(float)
                if wts is not None:
                    w = wts[s0:s1]
                    r *= w
                    h *= w
                    coef *= w
                f[s0:s1] = r.sum(axis=1)
                coef -= h  # weight of J J' in the Hessian: w (psi' - psi)
                jac = np.empty((s1 - s0, n_p, self.t.size))
                for j in range(k):
                    jac[:, j] = prob[j]
                    np.multiply(prob[j], -z[j], out=jac[:, ke + j])
                if self.irreducible:
                    jac[:, k] = prob[k]
                grad[s0:s1] = np.matmul(jac, h[:, :, None])[:, :, 0]
                hs = jac @ (jac * coef[:, None, :]).transpose(0, 2, 1)
                for j in range(k):  # psi * sum_k p_k v_k v_k': term j touches (c_j, g_j) only
                    q = prob[j]
                    q *= h
                    qz = q @ z[j]
                    hs[:, j, j] += q.sum(axis=1)
                    hs[:, j, ke + j] -= qz
                    hs[:, ke + j, j] -= qz
                    hs[:, ke + j, ke + j] += q @ zz[j]
                if self.irreducible:
                    hs[:, k, k] += np.einsum("ij,ij->i", prob[k], h)
                hess[s0:s1] = hs
        bad = ~np.isfinite(f) | ~np.isfinite(grad).all(axis=1) | ~np.isfinite(hess).all(axis=(1, 2))
        f[bad] = np.inf
        return f, grad, hess

    def log_predict(self, theta: FloatArray, z: FloatArray) -> FloatArray:
        """Predicted log-loss, (rows, points), for parameter rows and log features z (K, points)."""
        theta = np.atleast_2d(theta)
        k = self.k
        ke = k + (1 if self.irreducible else 0)
        terms = [theta[:, j:j + 1] - theta[:, ke + j:ke + j + 1] * z[j] for j in range(k)]
        if self.irreducible:
            terms.append(np.broadcast_to(theta[:, k:k + 1], terms[0].shape))
        with np.errstate(over="ignore"):
            return np.logaddexp.reduce(np.stack(terms), axis=0)


# --------------------------------------------------------------------------------------------
# Optimisers: batched L-BFGS and Newton (one independent problem per row).
# --------------------------------------------------------------------------------------------


@dataclass
class _BatchResult:
    theta: FloatArray
    f: FloatArray
    done: NDArray[np.bool_]  # stopped by a convergence test (not by the iteration limit)
    limit: NDArray[np.bool_]  # still running at the iteration limit


def _backtrack_batch(tried: int) -> int:
    """How many shorter steps a line search tries in one batched call after `tried`: 2, then
    4, then 6 (most rows accept the first or second; the order tried, and so the step taken,
    does not depend on the batch)."""
    return min(2 + tried, _BACKTRACK_BATCH)


def _batched_lbfgs(fun: Callable[[FloatArray, NDArray[np.intp]], tuple[FloatArray, FloatArray]],
                   theta0: FloatArray, *, maxiter: int, memory: int = 10, ftol: float = 1e-12,
                   gtol: float = 1e-12, max_backtrack: int = 36, first_step: float = 1.0,
                   shrink: float = 0.3) -> _BatchResult:
    """Minimise many independent smooth problems at once, one per row of ``theta0``.

    Limited-memory BFGS (Nocedal & Wright 2006, algorithm 7.4) with the two-loop recursion done
    for all rows together and an Armijo backtracking line search that re-evaluates only the
    rows still searching. A row stops when its relative decrease stays below ``ftol`` for three
    iterations, its gradient is below ``gtol``, or its line search fails (the objective has
    Huber kinks, so the last digits cannot be improved); rows still running at ``maxiter`` are
    reported as not done.
    """
    th = np.array(theta0, dtype=float, copy=True)
    rows, p = th.shape
    with np.errstate(all="ignore"):
        f, g = fun(th, np.arange(rows))
        S = np.zeros((rows, memory, p))
        Y = np.zeros((rows, memory, p))
        R = np.zeros((rows, memory))
        active = np.isfinite(f)
        stall = np.zeros(rows, dtype=int)
        for it in range(maxiter):
            if not _lbfgs_step(fun, it, th, f, g, S, Y, R, active, stall, ftol=ftol, gtol=gtol,
                               max_backtrack=max_backtrack, first_step=first_step, shrink=shrink):
                break
    return _BatchResult(theta=th, f=f, done=~active, limit=active)


def _lbfgs_step(fun: Callable[[FloatArray, NDArray[np.intp]], tuple[FloatArray, FloatArray]],
                it: int, th: FloatArray, f: FloatArray, g: FloatArray, S: FloatArray,
                Y: FloatArray, R: FloatArray, active: NDArray[np.bool_], stall: NDArray[np.int_],
                *, ftol: float, gtol: float, max_backtrack: int, first_step: float,
                shrink: float) -> bool:
    """One L-BFGS iteration for the active rows, in place; False when no row is active."""
    m = S.shape[1]
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return False
    gi = g[idx]
    q = gi.copy()
    Si, Yi, Ri = S[idx], Y[idx], R[idx]
    newest = [(it - 1 - j) % m for j in range(m)]
    alph = np.zeros((idx.size, m))
    for j in newest:
        alph[:, j] = Ri[:, j] * np.einsum("ij,ij->i", Si[:, j], q)
        q -= alph[:, j:j + 1] * Yi[:, j]
    jn = newest[0]
    yy = np.einsum("ij,ij->i", Yi[:, jn], Yi[:, jn])
    gamma = np.where((Ri[:, jn] > 0) & (yy > 0), 1.0 / (Ri[:, jn] * np.where(yy > 0, yy, 1.0)), 0.0)
    gnorm = np.abs(gi).max(axis=1)
    first = ~(gamma > 0)
    gamma[first] = first_step / np.maximum(gnorm[first], 1e-300)  # largest move: first_step
    q *= gamma[:, None]
    for j in reversed(newest):
        beta = Ri[:, j] * np.einsum("ij,ij->i", Yi[:, j], q)
        q += Si[:, j] * (alph[:, j] - beta)[:, None]
    d = -q
    gd = np.einsum("ij,ij->i", gi, d)
    bad = ~(gd < 0)
    if bad.any():  # not a descent direction: forget the history, step along -g
        d[bad] = -gi[bad] * (first_step / np.maximum(gnorm[bad], 1e-300))[:, None]
        gd[bad] = np.einsum("ij,ij->i", gi[bad], d[bad])
        R[idx[bad]] = 0.0
    fi = f[idx]
    step = np.ones(idx.size)
    th_new = th[idx] + d
    f_new, g_new = fun(th_new, idx)
    ok = f_new <= fi + 1e-4 * step * gd
    tried = 0
    while not ok.all() and tried < max_backtrack:
        # rows that failed try several shorter steps in one batched call; keep the longest good one
        nb = np.flatnonzero(~ok)
        k = min(_backtrack_batch(tried), max_backtrack - tried)
        steps = step[nb, None] * shrink ** np.arange(1, k + 1)[None, :]  # (nb, k)
        cand = th[idx[nb], None, :] + steps[:, :, None] * d[nb, None, :]
        f2, g2 = fun(cand.reshape(-1, cand.shape[-1]), np.repeat(idx[nb], k))
        f2, g2 = f2.reshape(nb.size, k), g2.reshape(nb.size, k, -1)
        good = f2 <= fi[nb, None] + 1e-4 * steps * gd[nb, None]
        first_good = np.where(good.any(axis=1), good.argmax(axis=1), k - 1)
        r = np.arange(nb.size)
        step[nb] = steps[r, first_good]
        th_new[nb] = cand[r, first_good]
        f_new[nb], g_new[nb] = f2[r, first_good], g2[r, first_good]
        ok[nb] = good[r, first_good]
        tried += k
    s = th_new - th[idx]
    yv = g_new - gi
    sy = np.einsum("ij,ij->i", s, yv)
    keep = ok & (sy > 1e-10 * np.sqrt(np.einsum("ij,ij->i", s, s) * np.einsum("ij,ij->i", yv, yv)))
    slot = it % m
    S[idx, slot] = np.where(keep[:, None], s, 0.0)
    Y[idx, slot] = np.where(keep[:, None], yv, 0.0)
    R[idx, slot] = np.where(keep, 1.0 / np.where(keep, sy, 1.0), 0.0)
    upd = idx[ok]
    dec = fi[ok] - f_new[ok]
    th[upd], f[upd], g[upd] = th_new[ok], f_new[ok], g_new[ok]
    small = dec <= ftol * np.maximum(np.abs(f_new[ok]), 1e-300)
    stall[upd] = np.where(small, stall[upd] + 1, 0)
    stop = np.zeros(idx.size, dtype=bool)
    stop[ok] = (stall[upd] >= 3) | (np.abs(g[upd]).max(axis=1) <= gtol)
    stop |= ~ok  # line search failed: no further progress possible along L-BFGS directions
    active[idx[stop]] = False
    return True


def _newton_direction(g: FloatArray, h: FloatArray, max_move: float
                      ) -> tuple[FloatArray, FloatArray]:
    """Newton directions for rows of gradients and Hessians, and each row's Newton decrement.

    The Hessian's eigenvalues are replaced by their absolute values, floored at 1e-10 of the
    largest, so the direction descends where the objective is not convex and stays finite
    along flat directions; a direction moving a parameter by more than ``max_move`` is
    shortened (a trust region in the spirit of Nocedal & Wright 2006, ch. 4).
    """
    lam, vec = np.linalg.eigh(h)
    lam = np.abs(lam)
    lam = np.maximum(lam, 1e-10 * lam.max(axis=1, keepdims=True) + 1e-300)
    gv = np.einsum("rij,ri->rj", vec, g)
    step = -np.einsum("rij,rj->ri", vec, gv / lam)
    decrement = np.einsum("rj,rj->r", gv, gv / lam)
    big = np.abs(step).max(axis=1)
    scale = np.where(big > max_move, max_move / np.maximum(big, 1e-300), 1.0)
    return step * scale[:, None], decrement


def _newton(obj: _Objective, theta0: FloatArray, *, maxiter: int, rtol: float = 1e-13,
            ftol: float = 1e-12, max_move: float = 1.0, max_backtrack: int = 40,
            progress: Callable[[int], None] | None = None) -> _BatchResult:
    """Minimise the objective for every row of ``theta0`` at once by Newton's method.

    Each row is an independent problem (its own observation weights). The exact Hessian
    (:meth:`_Objective.with_hessian`) makes the convergence quadratic, so a few iterations
    reach full precision from a warm start; an Armijo backtracking line search, batched over
    rows, keeps every step a descent. A row is done when its Newton decrement (the predicted
    decrease) is below ``rtol`` times its objective, or when no step along the direction lowers
    the objective and the decrement is below 1e-9 times it (the last digits at a Huber kink),
    or, as in :func:`_batched_lbfgs`, when its relative decrease stays below ``ftol`` for three
    iterations (an optimum at the boundary, such as E -> 0, approached along a flat valley);
    rows still running at ``maxiter``, or stopped farther from an optimum, are not done.
    """
    th = np.array(theta0, dtype=float, copy=True)
    rows = th.shape[0]
    done = np.zeros(rows, dtype=bool)
    stall = np.zeros(rows, dtype=int)
    with np.errstate(all="ignore"):
        f, g, h = obj.with_hessian(th)
        active = np.isfinite(f)
        for _ in range(maxiter):
            moved = np.flatnonzero(active)
            f_before = f[moved]
            _newton_iteration(obj, th, f, g, h, active, done, rtol=rtol, max_move=max_move,
                              max_backtrack=max_backtrack)
            if moved.size == 0:
                break
            small = f_before - f[moved] <= ftol * np.maximum(np.abs(f[moved]), 1e-28 * obj.t.size)
            stall[moved] = np.where(small, stall[moved] + 1, 0)
            flat = moved[active[moved] & (stall[moved] >= 3)]
            done[flat] = True
            active[flat] = False
            if progress is not None:
                progress(int(rows - active.sum()))
    return _BatchResult(theta=th, f=f, done=done, limit=active)


def _newton_iteration(obj: _Objective, th: FloatArray, f: FloatArray, g: FloatArray,
                      h: FloatArray, active: NDArray[np.bool_], done: NDArray[np.bool_], *,
                      rtol: float, max_move: float, max_backtrack: int) -> None:
    """One Newton iteration of :func:`_newton` for the active rows, in place."""
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return
    d, dec = _newton_direction(g[idx], h[idx], max_move)
    fi = f[idx]
    # a decrease below the rounding of the residuals (1e-14 in log-loss) cannot be measured
    scale = np.maximum(np.abs(fi), 1e-28 * obj.t.size / rtol)
    conv = dec <= 2.0 * rtol * scale
    done[idx[conv]] = True
    active[idx[conv]] = False
    go = ~conv
    idx, d, dec, fi, scale = idx[go], d[go], dec[go], fi[go], scale[go]
    if idx.size == 0:
        return
    gd = np.einsum("ij,ij->i", g[idx], d)
    # the full Newton step is usually taken: evaluate it with its Hessian at once
    f_new, g_new, h_new = obj.with_hessian(th[idx] + d, idx)
    ok = f_new <= fi + 1e-4 * gd
    upd = idx[ok]
    th[upd] += d[ok]
    f[upd], g[upd], h[upd] = f_new[ok], g_new[ok], h_new[ok]
    nb = np.flatnonzero(~ok)
    if nb.size == 0:
        return
    # the rest backtrack, several shorter steps per batched call, values only
    idx, d, gd, fi, dec, scale = idx[nb], d[nb], gd[nb], fi[nb], dec[nb], scale[nb]
    step = np.ones(idx.size)
    found = np.zeros(idx.size, dtype=bool)
    tried = 0
    while not found.all() and tried < max_backtrack:
        nb = np.flatnonzero(~found)
        k = min(_backtrack_batch(tried), max_backtrack - tried)
        steps = step[nb, None] * 0.5 ** np.arange(1, k + 1)[None, :]
        cand = th[idx[nb], None, :] + steps[:, :, None] * d[nb, None, :]
        f2 = obj.value(cand.reshape(-1, cand.shape[-1]), np.repeat(idx[nb], k))
        good = f2.reshape(nb.size, k) <= fi[nb, None] + 1e-4 * steps * gd[nb, None]
        first_good = np.where(good.any(axis=1), good.argmax(axis=1), k - 1)
        step[nb] = steps[np.arange(nb.size), first_good]
        found[nb] = good[np.arange(nb.size), first_good]
        tried += k
    stuck = ~found
    done[idx[stuck]] = dec[stuck] <= 2e-9 * scale[stuck]
    active[idx[stuck]] = False
    upd = idx[found]
    if upd.size:
        th[upd] += step[found, None] * d[found]
        f[upd], g[upd], h[upd] = obj.with_hessian(th[upd], upd)
        active[upd[~np.isfinite(f[upd])]] = False


def _minimise(obj: _Objective, theta0: FloatArray, *, newton_iters: int | None = None,
              progress: Callable[[int], None] | None = None) -> _BatchResult:
    """Minimise every row: Newton's method first (a few iterations settle well-determined
    problems to full precision), then L-BFGS for the rows it left running, which creep along a
    flat valley (an irreducible loss heading to 0) where Newton's steps stay short.
    ``progress(k)`` is told how many rows have finished after each Newton iteration."""
    res = _newton(obj, theta0, maxiter=newton_iters or _NEWTON_ITERS, progress=progress)
    rest = np.flatnonzero(res.limit)
    if rest.size:
        weights = None if obj.weights is None else obj.weights[rest]
        sub = _Objective(obj.z, obj.t, irreducible=obj.irreducible, delta=obj.delta,
                         weights=weights)
        more = _batched_lbfgs(sub, res.theta[rest], maxiter=_LBFGS_ITERS)
        res.theta[rest], res.f[rest] = more.theta, more.f
        res.done[rest], res.limit[rest] = more.done, more.limit
    return res


def _multistart(obj: _Objective, starts: FloatArray, *, first_iters: int = 2,
                keep: int = 32) -> tuple[FloatArray, float, str]:
    """Best optimum from a grid of starts: batched L-BFGS steps on all, the best continued by
    Newton's method to full precision.

    Returns (theta, objective, message); raises FitDidNotConverge when no start reaches a
    converged, finite optimum, or when one that did not converge lies lower than the best that
    did (the worse optimum is not reported).
    """
    starts = np.asarray(starts, dtype=float)
    fun = lambda th, rows: obj(th)  # noqa: E731  (no per-row weights in a point fit)
    res = _batched_lbfgs(fun, starts, maxiter=first_iters)
    order = np.argsort(res.f)
    top = order[: min(keep, order.size)]
    top = top[np.isfinite(res.f[top])]
    if top.size == 0:
        raise FitDidNotConverge("the fit did not converge: the objective is not finite at any "
                                "starting point (check that the losses are in a sensible range)")
    res2 = _minimise(obj, res.theta[top], newton_iters=_NEWTON_ITERS_FAR)
    finite = np.isfinite(res2.f)
    ok = res2.done & finite
    if not ok.any():
        raise FitDidNotConverge("the fit did not converge: " + _why_not(res2))
    best = int(np.flatnonzero(ok)[np.argmin(res2.f[ok])])
    fbest = float(res2.f[best])
    lower = finite & ~res2.done & (res2.f < fbest * (1 - 1e-9))
    if lower.any():  # a better optimum exists but was not reached: do not report the worse one
        raise FitDidNotConverge("the fit did not converge: " + _why_not(res2))
    return res2.theta[best], fbest, "Newton decrement below tolerance"


def _why_not(res: _BatchResult) -> str:
    """Why rows of :func:`_minimise` did not converge, for the error message."""
    if res.limit.any():
        return (f"the optimiser stopped at its iteration limit ({_LBFGS_ITERS} L-BFGS "
                "iterations after Newton's)")
    if not np.isfinite(res.f).any():
        return "the objective became non-finite"
    return "no step lowered the objective before an optimum was reached"


def _bootstrap(obj: _Objective, theta_hat: FloatArray, n_boot: int, rng: np.random.Generator,
               progress: Progress | None) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Fit ``n_boot`` multinomial resamples of the observations, warm-started at ``theta_hat``.

    Returns the parameter rows (n_boot, p) and a mask of resamples that converged.
    """
    n = obj.t.size
    thetas = np.empty((n_boot, theta_hat.size))
    done = np.zeros(n_boot, dtype=bool)
    if progress:
        progress(0, n_boot)
    chunk = max(_BOOT_CHUNK, _BOOT_CELLS // n)  # resamples per batch: as many as memory allows
    for s0 in range(0, n_boot, chunk):
        s1 = min(n_boot, s0 + chunk)
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=s1 - s0).astype(float)
        wobj = _Objective(obj.z, obj.t, irreducible=obj.irreducible, delta=obj.delta, weights=w)
        res = _minimise(wobj, np.repeat(theta_hat[None, :], s1 - s0, axis=0),
                        progress=_offset(progress, s0, n_boot))
        thetas[s0:s1] = res.theta
        done[s0:s1] = res.done & np.isfinite(res.f)
        if progress:
            progress(s1, n_boot)
    return thetas, done


def _offset(progress: Progress | None, start: int, total: int) -> Callable[[int], None] | None:
    """A batch's ``progress(k)`` reported as ``progress(start + k, total)``."""
    if progress is None:
        return None
    report = progress
    return lambda k: report(start + k, total)


def _past(z: FloatArray, compute: FloatArray, z_range: tuple[FloatArray, FloatArray],
          c_range: tuple[float, float]) -> FloatArray:
    """Decades outside the fitted range, the largest over compute and the law's features."""
    lo, hi = z_range
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.maximum(np.log10(compute / c_range[1]), np.log10(c_range[0] / compute))
        feat = np.maximum(z - hi[:, None], lo[:, None] - z).max(axis=0) / math.log(10.0)
    return np.maximum(np.maximum(out, feat), 0.0)


def _leave_future_out(obj: _Objective, theta_hat: FloatArray, compute: FloatArray,
                      rng: np.random.Generator) -> tuple[list[HeldOut], str | None]:
    """Walk-forward predictions of the runs above each compute cut in CALIBRATION_CUTS, each by
    a refit (with a `_CAL_BOOT`-resample bootstrap) on the runs below it.

    Predictive draws are in log-loss: each refit resample's curve plus that refit's residual
    scatter. All refits run in one batch (:func:`_minimise`) from `theta_hat`. Returns the held-out
    predictions and, when there are none, why.
    """
    n = obj.t.size
    order = np.sort(compute)
    rows: list[FloatArray] = []
    cuts: list[NDArray[np.bool_]] = []
    for frac in CALIBRATION_CUTS:
        cut = order[min(n - 1, int(round(frac * n)))]
        train = compute < cut
        m = int(train.sum())
        if (m < 2 * obj.n_params or m == n or np.unique(compute[train]).size < 2
                or math.log10(compute[train].max() / compute[train].min()) < MIN_DECADES):
            continue
        if cuts and np.array_equal(cuts[-1], train):
            continue
        w = np.zeros((_CAL_BOOT + 1, n))
        w[0, train] = 1.0
        w[1:, train] = rng.multinomial(m, np.full(m, 1.0 / m), size=_CAL_BOOT)
        rows.append(w)
        cuts.append(train)
    if not cuts:
        return [], "too few runs below any compute cut to refit the law"
    W = np.vstack(rows)
    wobj = _Objective(obj.z, obj.t, irreducible=obj.irreducible, delta=obj.delta, weights=W)
    res = _minimise(wobj, np.repeat(theta_hat[None, :], W.shape[0], axis=0))
    ok = res.done & np.isfinite(res.f)
    parts = []
    for j, train in enumerate(cuts):
        r0 = j * (_CAL_BOOT + 1)
        if not ok[r0]:
            continue
        boot = res.theta[r0 + 1:r0 + _CAL_BOOT + 1][ok[r0 + 1:r0 + _CAL_BOOT + 1]]
        if boot.shape[0] < _CAL_BOOT // 2:
            continue
        m = int(train.sum())
        resid = (obj.t - obj.log_predict(res.theta[r0], obj.z)[0])[train]
        resid = resid * math.sqrt(m / max(m - obj.n_params, 1))
        test = ~train
        lp = obj.log_predict(boot, obj.z[:, test])  # (B, M)
        noise = resid[rng.integers(0, m, size=(boot.shape[0], _CAL_DRAWS))]
        draws = (lp[:, None, :] + noise[:, :, None]).reshape(-1, int(test.sum()))
        zt = obj.z[:, train]
        dist = _past(obj.z[:, test], compute[test], (zt.min(axis=1), zt.max(axis=1)),
                     (float(compute[train].min()), float(compute[train].max())))
        parts.append(HeldOut(draws, obj.t[test], dist))
    if not parts:
        return [], "the refits below the compute cuts did not converge"
    return parts, None


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _as_1d(name: str, v: ArrayLike) -> FloatArray:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers") from None
    if a.ndim == 0:
        a = a[None]
    if a.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {a.shape}")
    return a


def _check_points(columns: dict[str, ArrayLike], *, n_params: int,
                  law: str) -> dict[str, FloatArray]:
    """Validate observation columns: equal lengths, finite and positive, enough points.

    Raises InputError naming the bad points and how many are usable, or InsufficientEvidence
    when the usable points cannot determine the law's parameters.
    """
    cols = {k: _as_1d(k, v) for k, v in columns.items()}
    lengths = {k: a.size for k, a in cols.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise InputError(f"the columns differ in length ({desc})", hint="give one value per run")
    n = next(iter(lengths.values()))
    if n == 0:
        raise InsufficientEvidence(f"no observations to fit the {law} law to")
    bad_msgs: list[str] = []
    bad = np.zeros(n, dtype=bool)
    for k, a in cols.items():
        b = ~np.isfinite(a) | (a <= 0)
        for i in np.flatnonzero(b)[:5]:
            if len(bad_msgs) < 5:
                bad_msgs.append(f"point {i + 1} has {k} = {a[i]:g}")
        bad |= b
    usable = int(n - bad.sum())
    if bad.any():
        more = "" if bad.sum() <= len(bad_msgs) else f" and {int(bad.sum()) - len(bad_msgs)} more"
        raise InputError(
            f"{int(bad.sum())} of {n} points are not positive finite numbers "
            f"({'; '.join(bad_msgs)}{more}); {usable} of {n} points are usable",
            hint="remove or correct those rows")
    need = n_params + 1
    if n < need:
        raise InsufficientEvidence(
            f"{n} usable point{'s' if n != 1 else ''}: the {law} law has {n_params} parameters, "
            f"so at least {need} points are needed")
    return cols


def _need_spread(name: str, a: FloatArray, min_distinct: int, law: str, what: str) -> None:
    distinct = np.unique(a).size
    if distinct < min_distinct:
        if distinct == 1:
            raise InsufficientEvidence(
                f"all {a.size} usable points have the same {what} ({name} = {a[0]:.4g}): the "
                f"{law} law needs runs at {min_distinct} or more different values of {name}")
        raise InsufficientEvidence(
            f"the {a.size} usable points have only {distinct} different values of {name}: the "
            f"{law} law needs at least {min_distinct}")


MIN_DECADES = 1.0
"""Least span of training compute (orders of magnitude) a scaling law is fitted over: across
less, a power law's exponent is not determined by the data."""


def _need_scaling(compute: FloatArray, loss: FloatArray, law: str) -> None:
    """InsufficientEvidence when the runs cannot show scaling: every loss the same, or training
    compute spanning less than MIN_DECADES orders of magnitude."""
    if np.ptp(loss) == 0:
        raise InsufficientEvidence(
            f"all {loss.size} losses are the same ({loss[0]:.4g}): the data show no scaling, so "
            f"the {law} law has nothing to fit")
    span = float(np.log10(compute.max() / compute.min()))
    if span < MIN_DECADES:
        raise InsufficientEvidence(
            f"training compute spans {span:.2f} decades ({compute.min():.3g} to "
            f"{compute.max():.3g} FLOP); fitting the {law} law needs at least {MIN_DECADES:g}")


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


def _pct(level: float) -> int:
    return round(level * 100)


def _interval(draws: FloatArray, level: float, axis: int = 0) -> tuple[FloatArray, FloatArray]:
    lo, hi = np.nanquantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=axis)
    return lo, hi


@dataclass(frozen=True)
class Prediction:
    """Predicted losses with 80 % and 95 % prediction intervals (for a new run's loss).

    ``fit_lo95``/``fit_hi95`` bound the law's curve alone (no run-to-run scatter).
    ``extrapolation_oom`` is how many orders of magnitude each point's compute lies outside
    the fitted range (0 inside it).
    """

    inputs: dict[str, FloatArray]
    loss: FloatArray
    lo80: FloatArray
    hi80: FloatArray
    lo95: FloatArray
    hi95: FloatArray
    fit_lo95: FloatArray
    fit_hi95: FloatArray
    extrapolation_oom: FloatArray
    warnings_: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per predicted point."""
        import pandas as pd

        return pd.DataFrame({**self.inputs, "loss": self.loss, "lo80": self.lo80,
                             "hi80": self.hi80, "lo95": self.lo95, "hi95": self.hi95,
                             "fit_lo95": self.fit_lo95, "fit_hi95": self.fit_hi95,
                             "extrapolation_oom": self.extrapolation_oom})


@dataclass(frozen=True)
class Allocation:
    """Compute-optimal N and D for budgets C under C = 6 N D, with bootstrap intervals.

    Each quantity is a DataFrame-ready mapping ``{"estimate", "lo80", "hi80", "lo95", "hi95"}``
    of arrays, one value per budget. ``loss`` is the loss a run at the optimum would reach, with
    prediction intervals (residual scatter included).
    """

    compute: FloatArray
    params: dict[str, FloatArray]
    tokens: dict[str, FloatArray]
    tokens_per_param: dict[str, FloatArray]
    loss: dict[str, FloatArray]
    extrapolation_oom: FloatArray
    warnings_: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per (budget, quantity) with the estimate and its intervals."""
        import pandas as pd

        rows = []
        for i, c in enumerate(self.compute):
            for name, q in (("params", self.params), ("tokens", self.tokens),
                            ("tokens_per_param", self.tokens_per_param), ("loss", self.loss)):
                rows.append({"compute": c, "quantity": name,
                             **{k: float(v[i]) for k, v in q.items()}})
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class HoldoutResult:
    """Out-of-sample check: fit below a compute cut, predict the largest runs above it.

    ``table`` has one row per held-out run (inputs, ``observed`` and ``predicted`` loss, the
    prediction intervals, errors, and whether the intervals cover it); the scalar fields
    summarise it.
    """

    n_train: int
    n_test: int
    compute_cut: float
    table: pd.DataFrame
    mean_abs_error: float
    mean_abs_rel_error: float
    max_abs_error: float
    coverage80: float
    coverage95: float
    max_extrapolation_oom: float
    warnings_: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float | int]:
        """The scalar results as one mapping."""
        return {"n_train": self.n_train, "n_test": self.n_test, "compute_cut": self.compute_cut,
                "mean_abs_error": self.mean_abs_error,
                "mean_abs_rel_error": self.mean_abs_rel_error,
                "max_abs_error": self.max_abs_error, "coverage80": self.coverage80,
                "coverage95": self.coverage95, "max_extrapolation_oom": self.max_extrapolation_oom}


# --------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------


class _Law(ABC):
    """Shared machinery: fitting, bootstrap, prediction draws and summaries."""

    _law_name = "scaling"
    _param_names: tuple[str, ...] = ()

    def __init__(self, *, n_boot: int = 1000, seed: int = 0, huber_delta: float = HUBER_DELTA,
                 extrapolation_limit: float = EXTRAPOLATION_LIMIT_OOM, calibrate: bool = True,
                 prior_scale: float = LOSS_PRIOR_SCALE) -> None:
        self.n_boot = n_boot
        self.seed = seed
        self.huber_delta = huber_delta
        self.extrapolation_limit = extrapolation_limit
        self.calibrate = calibrate
        self.prior_scale = prior_scale

    # -- subclass hooks -------------------------------------------------------------------
    @abstractmethod
    def _starts(self, obj: _Objective) -> FloatArray:
        """Initialisation rows for the multi-start optimiser."""

    @abstractmethod
    def _natural(self, theta: FloatArray) -> FloatArray:
        """Raw rows (log A, ..., exponents) -> natural parameters in ``_param_names`` order."""

    # -- fitting --------------------------------------------------------------------------
    def _fit_core(self, obj: _Objective, compute: FloatArray, progress: Progress | None) -> None:
        if self.n_boot < 0:
            raise InputError(f"n_boot must be 0 or more, got {self.n_boot}")
        if not (0 < self.huber_delta):
            raise InputError(f"huber_delta must be positive, got {self.huber_delta}")
        theta, fbest, _ = _multistart(obj, self._starts(obj))
        nat = self._natural(theta[None, :])[0]
        if not np.all(np.isfinite(nat)):
            raise FitDidNotConverge(
                "the fit did not converge: the optimum has non-finite parameters "
                f"({dict(zip(self._param_names, nat.round(6).tolist(), strict=True))})")
        self.warnings_: list[str] = []
        self.theta_ = theta
        self.objective_ = float(fbest)
        self._obj = obj
        self.n_obs_ = int(obj.t.size)
        self.compute_range_ = (float(compute.min()), float(compute.max()))
        self._z_range = (obj.z.min(axis=1), obj.z.max(axis=1))
        pred = obj.log_predict(theta, obj.z)[0]
        self.residuals_ = obj.t - pred
        n, p = obj.t.size, obj.n_params
        self.residual_scale_ = float(np.sqrt(n / max(n - p, 1)))
        self.params_ = dict(zip(self._param_names, (float(v) for v in nat), strict=True))
        for k, v in self.params_.items():
            setattr(self, f"{k}_", v)
        for k in self._param_names:
            if k in ("alpha", "beta") and self.params_[k] <= 0:
                self.warnings_.append(f"{k} = {self.params_[k]:.4g} is not positive: the loss "
                                      "does not fall with scale in this data")
        rng = np.random.default_rng(self.seed)
        if self.n_boot > 0:
            thetas, ok = _bootstrap(obj, theta, self.n_boot, rng, progress)
            n_bad = int((~ok).sum())
            if n_bad > _MAX_BOOT_FAILED * self.n_boot:
                raise FitDidNotConverge(
                    f"the fit did not converge on {n_bad} of {self.n_boot} bootstrap resamples, "
                    "so no intervals can be given (the data may not determine the law)")
            if n_bad:
                self.warnings_.append(f"{n_bad} of {self.n_boot} bootstrap resamples did not "
                                      "converge and were left out of the intervals")
            self.boot_theta_ = thetas[ok]
        else:
            self.boot_theta_ = np.empty((0, theta.size))
        self.n_boot_ok_ = int(self.boot_theta_.shape[0])
        # residual draws paired with resamples, fixed at fit time for reproducible intervals
        nb = max(self.n_boot_ok_, 1)
        idx = rng.integers(0, n, size=(nb, _DRAWS_PER_RESAMPLE))
        self._noise = self.residuals_[idx] * self.residual_scale_
        self._me_noise = rng.standard_normal((nb, _DRAWS_PER_RESAMPLE))
        units = "decades of compute"
        if not self.calibrate:
            self.model_error_ = no_model_error(units)
        elif self.n_boot == 0:
            self.model_error_ = ModelError(scale=self.prior_scale, units=units, source="prior",
                                           prior_scale=self.prior_scale,
                                           reason="no bootstrap (n_boot = 0)")
        else:
            held, why = _leave_future_out(obj, theta, compute, rng)
            self.model_error_ = fit_scale(held, prior_scale=self.prior_scale, seed=self.seed,
                                          units=units, reason=why, drift=True)

    def _distance(self, z: FloatArray, compute: FloatArray) -> FloatArray:
        """Decades past the data: the largest of the compute's and each feature's (N, D, C)
        distance outside the fitted range."""
        return _past(z, compute, self._z_range, self.compute_range_)

    def _draw_noise(self, dist: FloatArray) -> FloatArray:
        """Residual scatter plus model error at distances `dist` (decades past the data),
        (resamples, draws, points) in log-loss."""
        sd = self.model_error_.sd(dist)
        mean = self.model_error_.shift(dist)
        return (self._noise[:, :, None] + self._me_noise[:, :, None] * sd[None, None, :]
                + mean[None, None, :])

    def _check_fitted(self) -> None:
        if not hasattr(self, "theta_"):
            raise InputError(f"this {type(self).__name__} is not fitted yet; call fit() first")

    def _need_boot(self, what: str) -> None:
        if self.n_boot_ok_ == 0:
            raise InsufficientEvidence(f"{what} need a bootstrap; fit with n_boot > 0")

    # -- summaries ------------------------------------------------------------------------
    def _derived(self, nat: FloatArray) -> dict[str, FloatArray]:
        return {}

    @property
    def boot_params_(self) -> pd.DataFrame:
        """The converged bootstrap resamples' parameters, one row each (natural units)."""
        import pandas as pd

        self._check_fitted()
        return pd.DataFrame(self._natural(self.boot_theta_), columns=list(self._param_names))

    def summary(self) -> pd.DataFrame:
        """Parameters (and derived quantities) with bootstrap standard errors and intervals.

        Columns: estimate, std_err, ci80_low, ci80_high, ci95_low, ci95_high.
        """
        import pandas as pd

        rows = self.summary_rows()
        return pd.DataFrame([{"parameter": k, **v} for k, v in rows.items()]
                            ).set_index("parameter")

    def summary_rows(self) -> dict[str, dict[str, float]]:
        """:meth:`summary` as plain data: parameter name -> its row."""
        self._check_fitted()
        est = self._natural(self.theta_[None, :])
        boot = self._natural(self.boot_theta_)
        names = list(self._param_names)
        cols_est = [est[:, i] for i in range(est.shape[1])]
        cols_boot = [boot[:, i] for i in range(boot.shape[1])]
        for k, v in self._derived(est).items():
            names.append(k)
            cols_est.append(v)
            cols_boot.append(self._derived(boot)[k])
        rows: dict[str, dict[str, float]] = {}
        for name, e, b in zip(names, cols_est, cols_boot, strict=True):
            row: dict[str, float] = {"estimate": float(e[0])}
            b = b[np.isfinite(b)]
            row["std_err"] = float(np.std(b, ddof=1)) if b.size > 1 else math.nan
            for lvl in LEVELS:
                lo, hi = _interval(b, lvl) if b.size else (math.nan, math.nan)
                row[f"ci{_pct(lvl)}_low"], row[f"ci{_pct(lvl)}_high"] = float(lo), float(hi)
            rows[name] = row
        return rows

    # -- predictions ----------------------------------------------------------------------
    def _oom(self, compute: FloatArray) -> FloatArray:
        lo, hi = self.compute_range_
        with np.errstate(divide="ignore"):
            return np.maximum(0.0, np.maximum(np.log10(compute / hi), np.log10(lo / compute)))

    def _extrapolation_warnings(self, compute: FloatArray, oom: FloatArray, *,
                                stacklevel: int) -> list[str]:
        far = oom > self.extrapolation_limit
        if not far.any():
            return []
        lo, hi = self.compute_range_
        worst = int(np.argmax(oom))
        what = "predictions extrapolate" if far.sum() > 1 else "prediction extrapolates"
        msg = (f"{int(far.sum())} {what} more than "
               f"{self.extrapolation_limit:g} orders of magnitude beyond the fitted compute range "
               f"({lo:.3g} to {hi:.3g} FLOP): C = {compute[worst]:.3g} FLOP is "
               f"{oom[worst]:.2f} orders out; treat the intervals as optimistic")
        warnings.warn(msg, ExtrapolationWarning, stacklevel=stacklevel + 1)
        return [msg]

    def _predict_z(self, z: FloatArray, compute: FloatArray, inputs: dict[str, FloatArray]
                   ) -> Prediction:
        point = np.exp(self._obj.log_predict(self.theta_, z)[0])
        oom = self._oom(compute)
        warns = self._extrapolation_warnings(compute, oom, stacklevel=3)
        m = point.size
        if self.n_boot_ok_ == 0:
            nanv = np.full(m, np.nan)
            warns.append("no bootstrap (n_boot = 0): intervals are not available")
            return Prediction(inputs, point, nanv, nanv, nanv, nanv, nanv, nanv, oom, warns)
        out = {k: np.empty(m) for k in ("lo80", "hi80", "lo95", "hi95", "flo", "fhi")}
        step = max(1, 200_000 // (self.n_boot_ok_ * _DRAWS_PER_RESAMPLE))
        for s0 in range(0, m, step):
            s1 = min(m, s0 + step)
            lp = self._obj.log_predict(self.boot_theta_, z[:, s0:s1])  # (B, M)
            out["flo"][s0:s1], out["fhi"][s0:s1] = np.exp(_interval(lp, 0.95))
            dist = self._distance(z[:, s0:s1], compute[s0:s1])
            draws = (lp[:, None, :] + self._draw_noise(dist)).reshape(-1, s1 - s0)
            for lvl in LEVELS:
                lo, hi = _interval(draws, lvl)
                out[f"lo{_pct(lvl)}"][s0:s1], out[f"hi{_pct(lvl)}"][s0:s1] = np.exp(lo), np.exp(hi)
        return Prediction(inputs, point, out["lo80"], out["hi80"], out["lo95"], out["hi95"],
                          out["flo"], out["fhi"], oom, warns)

    def _holdout(self, data: dict[str, FloatArray], compute: FloatArray, fraction: float,
                 fit: Callable[[Any, NDArray[np.bool_]], Any],
                 predict: Callable[[Any, NDArray[np.bool_]], Prediction]) -> HoldoutResult:
        if not (0 < fraction < 1):
            raise InputError(f"the holdout fraction must be between 0 and 1, got {fraction:g}")
        n = compute.size
        n_test = max(1, math.ceil(fraction * n))
        cut = float(np.sort(compute)[n - n_test])
        test = compute >= cut  # ties at the cut go to the test side: train compute < cut
        if (~test).sum() < 2:
            raise InsufficientEvidence(
                f"holding out {int(test.sum())} of {n} runs leaves {int((~test).sum())} to fit on")
        hyper = inspect.signature(type(self).__init__).parameters
        est = type(self)(**{k: getattr(self, k) for k in hyper if k != "self"})
        fit(est, ~test)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtrapolationWarning)
            pred = predict(est, test)
        obs = data["loss"][test]
        err = pred.loss - obs
        table = pred.to_frame().rename(columns={"loss": "predicted"})
        table.insert(len(pred.inputs), "observed", obs)
        table["abs_error"] = np.abs(err)
        table["rel_error"] = err / obs
        table["in80"] = (obs >= pred.lo80) & (obs <= pred.hi80)
        table["in95"] = (obs >= pred.lo95) & (obs <= pred.hi95)
        have_iv = est.n_boot_ok_ > 0
        return HoldoutResult(
            n_train=int((~test).sum()), n_test=int(test.sum()), compute_cut=cut, table=table,
            mean_abs_error=float(np.mean(np.abs(err))),
            mean_abs_rel_error=float(np.mean(np.abs(err) / obs)),
            max_abs_error=float(np.max(np.abs(err))),
            coverage80=float(table["in80"].mean()) if have_iv else math.nan,
            coverage95=float(table["in95"].mean()) if have_iv else math.nan,
            max_extrapolation_oom=float(pred.extrapolation_oom.max()),
            warnings_=list(est.warnings_) + list(pred.warnings_))


class ComputeLaw(_Law):
    """Loss against training compute, ``L(C) = E + A * C**-alpha``.

    ``irreducible=False`` fits the pure power law ``L(C) = A * C**-alpha`` (Kaplan et al. 2020).
    Fitted like the Chinchilla law (Huber on log-loss, log-sum-exp, L-BFGS from a grid); the
    grid is built from the data: exponents 0.01 to 1, E from 0 to 97 % of the smallest loss,
    and log A set so the law passes through the data's middle.

    Fitted attributes: ``params_`` (dict), ``E_``, ``A_``, ``alpha_``, ``theta_`` (log form),
    ``objective_``, ``residuals_`` (log-loss), ``boot_params_``, ``compute_range_``,
    ``warnings_``.
    """

    _law_name = "compute"

    def __init__(self, *, irreducible: bool = True, n_boot: int = 1000, seed: int = 0,
                 huber_delta: float = HUBER_DELTA,
                 extrapolation_limit: float = EXTRAPOLATION_LIMIT_OOM, calibrate: bool = True,
                 prior_scale: float = LOSS_PRIOR_SCALE) -> None:
        super().__init__(n_boot=n_boot, seed=seed, huber_delta=huber_delta,
                         extrapolation_limit=extrapolation_limit, calibrate=calibrate,
                         prior_scale=prior_scale)
        self.irreducible = irreducible

    @property
    def _param_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("E", "A", "alpha") if self.irreducible else ("A", "alpha")

    def _natural(self, theta: FloatArray) -> FloatArray:
        theta = np.atleast_2d(theta)
        with np.errstate(over="ignore"):
            if self.irreducible:  # columns a, e, alpha
                return np.column_stack([np.exp(theta[:, 1]), np.exp(theta[:, 0]), theta[:, 2]])
            return np.column_stack([np.exp(theta[:, 0]), theta[:, 1]])

    def _starts(self, obj: _Objective) -> FloatArray:
        logc, t = obj.z[0], obj.t
        lmin = float(np.exp(t.min()))
        rows = []
        for alpha in (0.01, 0.03, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0):
            if not self.irreducible:
                rows.append([float(np.median(t + alpha * logc)), alpha])
                continue
            for frac in (0.0, 0.25, 0.5, 0.75, 0.9, 0.97):
                e_val = frac * lmin
                a = float(np.median(np.log(np.exp(t) - e_val) + alpha * logc))
                rows.append([a, math.log(max(e_val, 1e-3 * lmin)), alpha])
        return np.asarray(rows)

    def fit(self, compute: ArrayLike, loss: ArrayLike, *, progress: Progress | None = None) -> Self:
        """Fit to runs' training compute (FLOP) and final loss; returns self."""
        p = 3 if self.irreducible else 2
        cols = _check_points({"compute": compute, "loss": loss}, n_params=p, law="compute")
        _need_spread("compute", cols["compute"], p, "compute", "training compute")
        _need_scaling(cols["compute"], cols["loss"], "compute")
        obj = _Objective(np.log(cols["compute"])[None, :], np.log(cols["loss"]),
                         irreducible=self.irreducible, delta=self.huber_delta)
        self._fit_core(obj, cols["compute"], progress)
        return self

    def predict(self, compute: ArrayLike) -> Prediction:
        """Loss at training compute C (FLOP), with 80 % and 95 % prediction intervals."""
        self._check_fitted()
        c = _as_1d("compute", compute)
        if np.any(~np.isfinite(c) | (c <= 0)):
            raise InputError("compute to predict at must be positive finite numbers")
        return self._predict_z(np.log(c)[None, :], c, {"compute": c})

    def holdout(self, compute: ArrayLike, loss: ArrayLike, *,
                fraction: float = 0.2) -> HoldoutResult:
        """Fit on the lower-compute runs, then check predictions on the top ``fraction`` by compute.

        Reports the prediction errors on the held-out (largest) runs and how often their
        80 % and 95 % prediction intervals cover the observed loss. Does not change ``self``.
        """
        cols = _check_points({"compute": compute, "loss": loss}, n_params=3 if self.irreducible
                             else 2, law="compute")
        c, y = cols["compute"], cols["loss"]
        return self._holdout(cols, c, fraction,
                             lambda est, m: est.fit(c[m], y[m]),
                             lambda est, m: est.predict(c[m]))


class ChinchillaLaw(_Law):
    """Loss against parameters N and training tokens D, ``L(N, D) = E + A/N**alpha + B/D**beta``.

    Hoffmann et al. (2022) approach 3: Huber (delta = 1e-3) on log-loss residuals, log-sum-exp
    parametrisation, L-BFGS from a grid of initialisations (``grid``: a mapping of value lists
    for ``a, b, e, alpha, beta``, or an array of rows in that order; default
    :data:`HOFFMANN_GRID`), best optimum kept.

    Fitted attributes: ``params_`` (dict), ``E_``, ``A_``, ``B_``, ``alpha_``, ``beta_``,
    ``theta_`` (log A, log B, log E, alpha, beta), ``objective_``, ``residuals_``,
    ``boot_params_``, ``compute_range_``, ``warnings_``.
    """

    _law_name = "Chinchilla"
    _param_names = ("E", "A", "B", "alpha", "beta")

    def __init__(self, *, n_boot: int = 1000, seed: int = 0, huber_delta: float = HUBER_DELTA,
                 grid: dict[str, Sequence[float]] | ArrayLike | None = None,
                 extrapolation_limit: float = EXTRAPOLATION_LIMIT_OOM, calibrate: bool = True,
                 prior_scale: float = LOSS_PRIOR_SCALE) -> None:
        super().__init__(n_boot=n_boot, seed=seed, huber_delta=huber_delta,
                         extrapolation_limit=extrapolation_limit, calibrate=calibrate,
                         prior_scale=prior_scale)
        self.grid = grid

    def _natural(self, theta: FloatArray) -> FloatArray:
        theta = np.atleast_2d(theta)  # columns a, b, e, alpha, beta
        with np.errstate(over="ignore"):
            return np.column_stack([np.exp(theta[:, 2]), np.exp(theta[:, 0]),
                                    np.exp(theta[:, 1]), theta[:, 3], theta[:, 4]])

    def _starts(self, obj: _Objective) -> FloatArray:
        g = HOFFMANN_GRID if self.grid is None else self.grid
        if isinstance(g, dict):
            missing = {"a", "b", "e", "alpha", "beta"} - set(g)
            if missing:
                raise InputError(f"the initialisation grid lacks {', '.join(sorted(missing))}")
            rows = list(itertools.product(*(np.atleast_1d(np.asarray(g[k], dtype=float))
                                            for k in ("a", "b", "e", "alpha", "beta"))))
            return np.asarray(rows, dtype=float)
        arr = np.atleast_2d(np.asarray(g, dtype=float))
        if arr.shape[1] != 5 or not np.isfinite(arr).all():
            raise InputError(
                "the initialisation grid must be finite rows of (a, b, e, alpha, beta)")
        return arr

    @staticmethod
    def _opt_exponents(nat: FloatArray) -> tuple[FloatArray, FloatArray]:
        alpha, beta = nat[:, 3], nat[:, 4]
        with np.errstate(divide="ignore", invalid="ignore"):
            return beta / (alpha + beta), alpha / (alpha + beta)

    def _derived(self, nat: FloatArray) -> dict[str, FloatArray]:
        a, b = self._opt_exponents(nat)
        return {"N_opt_exponent": a, "D_opt_exponent": b}

    def fit(self, params: ArrayLike, tokens: ArrayLike, loss: ArrayLike,
            compute: ArrayLike | None = None, *, progress: Progress | None = None) -> Self:
        """Fit to runs' parameters N, training tokens D and final loss; returns self.

        ``compute`` (FLOP) sets the fitted compute range used by the extrapolation warning;
        it defaults to 6 N D.
        """
        cols: dict[str, ArrayLike] = {"params": params, "tokens": tokens, "loss": loss}
        if compute is not None:
            cols["compute"] = compute
        checked = _check_points(cols, n_params=5, law="Chinchilla")
        n, d = checked["params"], checked["tokens"]
        _need_spread("params", n, 2, "Chinchilla", "model size")
        _need_spread("tokens", d, 2, "Chinchilla", "number of training tokens")
        ratio = np.log(d) - np.log(n)
        if np.ptp(ratio) < 1e-9 * max(1.0, float(np.abs(ratio).max())):
            raise InsufficientEvidence(
                f"all {n.size} usable points have the same tokens per parameter "
                f"(D/N = {d[0] / n[0]:.4g}): N and D move together, so their terms cannot be "
                "told apart; add runs at other D/N ratios")
        c = checked.get("compute", C_PER_ND * n * d)
        _need_scaling(c, checked["loss"], "Chinchilla")
        obj = _Objective(np.vstack([np.log(n), np.log(d)]), np.log(checked["loss"]),
                         irreducible=True, delta=self.huber_delta)
        self._fit_core(obj, c, progress)
        return self

    def predict(self, params: ArrayLike, tokens: ArrayLike) -> Prediction:
        """Loss of a run with N parameters trained on D tokens, with 80 % and 95 % intervals.

        The intervals are prediction intervals for that run's loss (residual scatter included).
        """
        self._check_fitted()
        n, d = _as_1d("params", params), _as_1d("tokens", tokens)
        n, d = np.broadcast_arrays(n, d)
        if np.any(~np.isfinite(n) | (n <= 0) | ~np.isfinite(d) | (d <= 0)):
            raise InputError("params and tokens to predict at must be positive finite numbers")
        c = C_PER_ND * n * d
        return self._predict_z(np.vstack([np.log(n), np.log(d)]), c,
                               {"params": n.astype(float), "tokens": d.astype(float), "compute": c})

    def _optimum(self, nat: FloatArray, compute: FloatArray) -> tuple[FloatArray, FloatArray]:
        """N_opt, D_opt (rows x budgets) minimising the law under C = 6 N D.

        Hoffmann et al. (2022) eq. 4: N_opt = G (C/6)^a, D_opt = (C/6)^b / G with
        G = (alpha A / (beta B))^(1/(alpha+beta)), a = beta/(alpha+beta), b = alpha/(alpha+beta).
        Undefined (NaN) unless alpha and beta are both positive.
        """
        E, A, B, alpha, beta = (nat[:, i:i + 1] for i in range(5))
        with np.errstate(all="ignore"):
            valid = (alpha > 0) & (beta > 0)
            s = alpha + beta
            log_g = (np.log(alpha * A) - np.log(beta * B)) / s
            lc = np.log(compute / C_PER_ND)[None, :]
            log_n = log_g + (beta / s) * lc
            log_d = (alpha / s) * lc - log_g
            n_opt = np.where(valid, np.exp(log_n), np.nan)
            d_opt = np.where(valid, np.exp(log_d), np.nan)
        return n_opt, d_opt

    def allocate(self, compute: ArrayLike) -> Allocation:
        """Compute-optimal N, D, tokens per parameter and loss at budgets C (FLOP), with intervals.

        Warns (ExtrapolationWarning) for budgets far outside the fitted compute range.
        """
        self._check_fitted()
        c = _as_1d("compute", compute)
        if np.any(~np.isfinite(c) | (c <= 0)):
            raise InputError("compute budgets must be positive finite numbers")
        est = self._natural(self.theta_[None, :])
        n_hat, d_hat = self._optimum(est, c)
        if not np.isfinite(n_hat).all():
            raise InsufficientEvidence(
                "no compute-optimal allocation: the fitted exponents are not both positive "
                f"(alpha = {est[0, 3]:.4g}, beta = {est[0, 4]:.4g})")
        oom = self._oom(c)
        warns = self._extrapolation_warnings(c, oom, stacklevel=2)
        point_loss = np.exp(self._obj.log_predict(self.theta_, np.vstack([np.log(n_hat[0]),
                                                                          np.log(d_hat[0])]))[0])
        out: dict[str, dict[str, FloatArray]] = {
            "params": {"estimate": n_hat[0]}, "tokens": {"estimate": d_hat[0]},
            "tokens_per_param": {"estimate": d_hat[0] / n_hat[0]}, "loss": {"estimate": point_loss}}
        if self.n_boot_ok_:
            boot = self._natural(self.boot_theta_)
            nb, db = self._optimum(boot, c)
            n_undef = int(np.isnan(nb[:, 0]).sum())
            if n_undef:
                warns.append(f"{n_undef} of {nb.shape[0]} bootstrap fits have a non-positive "
                             "exponent and no optimum; they are left out of the intervals")
            with np.errstate(all="ignore"):
                lz = np.stack([np.log(nb), np.log(db)])  # (2, B, M)
                lp = np.logaddexp.reduce(np.stack([
                    self.boot_theta_[:, 0:1] - self.boot_theta_[:, 3:4] * lz[0],
                    self.boot_theta_[:, 1:2] - self.boot_theta_[:, 4:5] * lz[1],
                    np.broadcast_to(self.boot_theta_[:, 2:3], lz[0].shape)]), axis=0)
            zopt = np.vstack([np.log(n_hat[0]), np.log(d_hat[0])])
            loss_draws = np.exp((lp[:, None, :] + self._draw_noise(self._distance(zopt, c))
                                 ).reshape(-1, c.size))
            for name, draws in (("params", nb), ("tokens", db), ("tokens_per_param", db / nb),
                                ("loss", loss_draws)):
                for lvl in LEVELS:
                    lo, hi = _interval(draws, lvl)
                    out[name][f"lo{_pct(lvl)}"], out[name][f"hi{_pct(lvl)}"] = lo, hi
        else:
            warns.append("no bootstrap (n_boot = 0): intervals are not available")
            for q in out.values():
                for lvl in LEVELS:
                    q[f"lo{_pct(lvl)}"] = q[f"hi{_pct(lvl)}"] = np.full(c.size, np.nan)
        return Allocation(c, out["params"], out["tokens"], out["tokens_per_param"], out["loss"],
                          oom, warns)

    def holdout(self, params: ArrayLike, tokens: ArrayLike, loss: ArrayLike,
                compute: ArrayLike | None = None, *, fraction: float = 0.2) -> HoldoutResult:
        """Fit on the lower-compute runs, then check predictions on the top ``fraction`` by compute.

        Reports the prediction errors on the held-out (largest) runs and how often their
        80 % and 95 % prediction intervals cover the observed loss. Does not change ``self``.
        """
        cols: dict[str, ArrayLike] = {"params": params, "tokens": tokens, "loss": loss}
        if compute is not None:
            cols["compute"] = compute
        checked = _check_points(cols, n_params=5, law="Chinchilla")
        n, d, y = checked["params"], checked["tokens"], checked["loss"]
        c = checked.get("compute", C_PER_ND * n * d)
        return self._holdout(checked, c, fraction,
                             lambda est, m: est.fit(n[m], d[m], y[m], c[m]),
                             lambda est, m: est.predict(n[m], d[m]))
