"""The batched sigmoid fit behind `CapabilityCurve` and `FactorRegression`.

score = floor + (ceiling - floor) * sigmoid(X @ beta), fitted by damped Newton on many case-weight
rows at once (bootstrap resamples, leave-one-out masks); model-to-model scatter from the squared
residuals; bootstrap refits and predictive draws of a new model's score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, xlogy

from tripwire.forecast._common import _TINY, _bias_corrected, _bootstrap_weights


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
        return _root(excess, 0.0, hi, -target, excess(hi))

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


def _root(f: Any, lo: float, hi: float, f_lo: float, f_hi: float, *,
          xtol: float = 1e-6, rtol: float = 1e-6, max_iter: int = 100) -> float:
    """The root of an increasing f in [lo, hi] (f_lo <= 0 <= f_hi), to xtol + rtol * |x|, by
    regula falsi with the Illinois step (Dowell & Jarratt 1971). Here rather than
    scipy.optimize.brentq, whose import would be a fifth of a forecast's time."""
    if f_lo == 0:
        return lo
    if f_hi == 0:
        return hi
    side = 0
    x = hi
    for _ in range(max_iter):
        x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not lo < x < hi:
            x = 0.5 * (lo + hi)
        fx = f(x)
        if fx == 0:
            return x
        if fx < 0:
            lo, f_lo = x, fx
            if side == -1:
                f_hi *= 0.5
            side = -1
        else:
            hi, f_hi = x, fx
            if side == 1:
                f_lo *= 0.5
            side = 1
        if hi - lo <= xtol + rtol * abs(x):
            break
    return float(x)


def _positive_definite(H: np.ndarray) -> np.ndarray:
    """Row-wise test that symmetric matrices (B, p, p) are positive definite."""
    p = H.shape[1]
    if p == 2:
        return (H[:, 0, 0] > 0) & (H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] ** 2 > 0)
    if p == 3:
        m2 = H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] ** 2
        return (H[:, 0, 0] > 0) & (m2 > 0) & (np.linalg.det(H) > 0)
    return np.all(np.linalg.eigvalsh(H) > 0, axis=1)


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


def _latent_draws(est: Any, X: np.ndarray, n_draws: int,
                  extra_sd: np.ndarray | None = None) -> np.ndarray:
    """Draws of a new model's latent ability at the design rows X, (n_draws, B, points): per
    bootstrap fit, `n_draws` latent shifts (Student t, the fit's degrees of freedom), plus a
    normal model-error shift with sd `extra_sd` (per point) when given."""
    prob, b = est.problem_, est.boot_
    eta = b[:, : prob.q] @ X.T
    rng = np.random.default_rng(est.seed + 1)
    u = rng.standard_t(est.dof_, (n_draws, b.shape[0], 1)) * est.boot_tau_[None, :, None]
    z = eta[None] + u
    if extra_sd is not None:
        z = z + rng.standard_normal(z.shape) * extra_sd[None, None, :]
    return z


def _ceiling_shift(prob: Any, c: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """A fitted ceiling `c` moved by `shift` logit units within the bounds it was fitted in
    ([c_lo, c_hi]): the model error of the ceiling past the data, which can carry it up to the
    highest ceiling the benchmark allows (a fixed ceiling is returned as it is)."""
    if prob.ceiling is not None:
        return np.broadcast_to(c, np.broadcast_shapes(np.shape(c), np.shape(shift)))
    lo, hi = prob.c_lo, prob.c_hi
    share = np.clip((c - lo) / max(hi - lo, _TINY), 1e-3, 1.0 - 1e-3)
    moved = lo + (hi - lo) * expit(np.log(share) - np.log1p(-share) + shift)
    return np.where(shift == 0, c, moved)


def _latent_to_scores(est: Any, z: np.ndarray, seed_offset: int = 2,
                      extra_add: np.ndarray | None = None,
                      eps: np.ndarray | None = None,
                      ceiling_shift: np.ndarray | None = None) -> np.ndarray:
    """Latent draws (n_draws, B, points) to measured scores: the sigmoid between floor and each
    fit's ceiling, plus the additive scatter and binomial noise at the median sample count,
    clipped to where a score can lie. With `ceiling_shift` (logit units, the shape of z), a
    fitted ceiling is moved by the model error of the ceiling (`_ceiling_shift`)."""
    prob, b = est.problem_, est.boot_
    c = prob.ceilings(b)[None, :, None]
    if ceiling_shift is not None and prob.ceiling is None:
        c = _ceiling_shift(prob, c, ceiling_shift)
    sig = expit(z)
    f = prob.floor + (c - prob.floor) * sig
    var = (est.boot_sigma_**2)[None, :, None] * sig
    if est.trials_ is not None:
        var = var + np.clip(f * (1 - f), 0, None) / float(np.median(est.trials_))
    if extra_add is not None:
        var = var + (extra_add**2)[None, None, :]
    if eps is None:  # standard normals for the additive noise (given: reused across calls)
        eps = np.random.default_rng(est.seed + seed_offset).standard_normal(f.shape)
    f = f + eps * np.sqrt(var)
    lo, hi = est.score_bounds_
    return np.clip(f, lo, hi)


def _predictive_draws(est: Any, X: np.ndarray, kind: str, n_draws: int,
                      extra_sd: np.ndarray | None = None,
                      extra_add: np.ndarray | None = None,
                      ceiling_sd: np.ndarray | None = None) -> np.ndarray:
    """Draws of a new model's score at the design rows X: per bootstrap fit, `n_draws` latent
    shifts (Student t, the fit's degrees of freedom), the model-error shift (`extra_sd`, latent
    units, per point) and additive noise (the additive scatter plus binomial noise at the
    median sample count). kind="curve": the fitted curves only."""
    prob, b = est.problem_, est.boot_
    if kind == "curve":
        eta = b[:, : prob.q] @ X.T
        c = prob.ceilings(b)[:, None]
        return prob.floor + (c - prob.floor) * expit(eta)
    z = _latent_draws(est, X, n_draws, extra_sd)
    shift = None
    if ceiling_sd is not None:
        e = np.random.default_rng(est.seed + 3).standard_normal(z.shape)
        shift = e * ceiling_sd[None, None, :]
    return _latent_to_scores(est, z, extra_add=extra_add,
                             ceiling_shift=shift).reshape(-1, X.shape[0])
