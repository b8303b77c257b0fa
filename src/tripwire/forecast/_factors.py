"""Observational scaling (Ruan, Maddison & Hashimoto 2024): `CapabilityFactors` from many
benchmark scores, and `FactorRegression` predicting a benchmark from them."""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd

from tripwire.errors import InputError, InsufficientEvidence
from tripwire.forecast._common import _check_samples
from tripwire.forecast._curve import CapabilityCurve
from tripwire.forecast._sigmoid import (
    _fit_bootstrap,
    _predictive_draws,
    _score_bounds,
    _SigmoidProblem,
)


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
