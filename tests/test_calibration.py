"""The calibration core: interval score, reliability, and the model-error scale fitted to
walk-forward predictions (shrunk towards a prior)."""

from __future__ import annotations

import numpy as np
import pytest

from tripwire.calibration import (
    HeldOut,
    fit_scale,
    growth,
    interval_score,
    probability_reliability,
    reliability,
)


def test_interval_score_is_width_plus_scaled_miss() -> None:
    s = interval_score([0.0, 0.0], [1.0, 1.0], [0.5, 2.0], 0.8)
    assert s[0] == pytest.approx(1.0)
    assert s[1] == pytest.approx(1.0 + (2 / 0.2) * 1.0)


def test_reliability_of_uniform_pit_is_the_diagonal() -> None:
    pit = np.linspace(0.0005, 0.9995, 1000)
    for r in reliability(pit):
        assert r["empirical"] == pytest.approx(r["nominal"], abs=0.01)


def test_probability_reliability_bins() -> None:
    out = probability_reliability([0.05, 0.05, 0.95, 0.95], [0, 0, 1, 1])
    assert [b["n"] for b in out] == [2, 2] and out[1]["observed"] == 1.0


def _held(sd_true: float, seed: int, fits: int = 6) -> list[HeldOut]:
    """Walk-forward fits whose draws ignore a model error of sd `sd_true` * growth(d)."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(fits):
        d = rng.uniform(0.1, 1.5, 40)
        truth = rng.normal(0.0, 0.1, 40) + rng.normal(0.0, 1.0, 40) * sd_true * growth(d)
        draws = rng.normal(0.0, 0.1, (400, 40))
        parts.append(HeldOut(draws, truth, d))
    return parts


def test_fit_scale_recovers_a_model_error_and_covers() -> None:
    me = fit_scale(_held(0.5, 1), prior_scale=0.5, seed=0, units="decades")
    assert me.source == "backtest" and me.n_backtest == 240
    assert 0.35 < me.own_scale < 0.7
    assert me.raw_coverage["80"] < 0.5
    assert 0.7 <= me.calibrated_coverage["80"] <= 0.9


def test_fit_scale_shrinks_towards_the_prior_with_few_fits() -> None:
    few = fit_scale(_held(0.5, 2, fits=1), prior_scale=5.0, seed=0)
    many = fit_scale(_held(0.5, 2, fits=12), prior_scale=5.0, seed=0)
    assert few.scale > many.scale  # the prior weighs more when the series has less evidence


def test_no_backtest_falls_back_to_the_prior_and_says_why() -> None:
    me = fit_scale([], prior_scale=1.5, reason="too few models")
    assert me.source == "prior" and me.scale == 1.5 and me.reason == "too few models"
    assert "default prior" in me.describe(1.0, "the planned compute")
    assert float(me.sd(0.0)) == 0.0 and float(me.sd(1.0)) == pytest.approx(1.5 * np.sqrt(3))


def test_sigmoid_intervals_past_the_data_widen_for_a_misspecified_curve() -> None:
    """Scores on an asymmetric curve (a complementary log-log rise, not the logistic), fitted
    on 30 models up to 1e23 FLOP and judged 0.5-1.3 decades beyond: the bootstrap alone covers
    none of the later models in its 80 % intervals; the leave-future-out model-error term
    covers most of them."""
    from tripwire.forecast import CapabilityCurve

    hits_raw, hits_cal = [], []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x = np.concatenate([rng.uniform(20.0, 23.0, 30), rng.uniform(23.5, 24.3, 10)])
        mu = 0.25 + 0.7 * (1.0 - np.exp(-np.exp(1.0 * (x - 23.2))))
        y = np.clip(mu + rng.normal(0.0, 0.01, x.size), 0.0, 1.0)
        tr, te = x <= 23.0, x > 23.0
        for calibrate, hits in ((False, hits_raw), (True, hits_cal)):
            c = CapabilityCurve(floor=0.25, n_boot=100, seed=seed,
                                calibrate=calibrate).fit(10.0 ** x[tr], y[tr])
            pr = c.predict(10.0 ** x[te])
            hits += list((pr.lo80 <= y[te]) & (y[te] <= pr.hi80))
    assert np.mean(hits_raw) < 0.2
    assert np.mean(hits_cal) >= 0.6
