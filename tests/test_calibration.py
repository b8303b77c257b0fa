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
    s = interval_score([0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 2.0, -0.5], 0.8)
    assert s[0] == pytest.approx(1.0)  # Gneiting & Raftery (2007), eq. 43, alpha = 0.2
    assert s[1] == pytest.approx(1.0 + (2 / 0.2) * 1.0)
    assert s[2] == pytest.approx(1.0 + (2 / 0.2) * 0.5)


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


def _biased(bias: float, seed: int, fits: int = 6) -> list[HeldOut]:
    """Walk-forward fits whose later points all lie `bias` * growth(d) off their draws
    (a law whose form errs in one direction), with scatter the draws capture."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(fits):
        d = rng.uniform(0.1, 1.5, 40)
        truth = bias * growth(d) + rng.normal(0.0, 0.1, 40)
        parts.append(HeldOut(rng.normal(0.0, 0.1, (400, 40)), truth, d))
    return parts


def test_drift_is_estimated_on_walk_forward_residuals() -> None:
    me = fit_scale(_biased(-0.4, 3), prior_scale=0.1, seed=0, drift=True)
    assert me.drift == pytest.approx(-0.4, abs=0.03)
    assert float(me.shift(1.0)) == pytest.approx(me.drift * np.sqrt(3))
    assert float(me.shift(0.0)) == 0.0 and me.to_dict()["drift"] == me.drift
    assert 0.7 <= me.calibrated_coverage["80"] <= 0.9 and me.calibrated_coverage["95"] >= 0.9
    assert "drift" in me.describe(1.0, "the planned compute")
    plain = fit_scale(_biased(-0.4, 3), prior_scale=0.1, seed=0)
    assert plain.drift == 0.0 and plain.scale > me.scale  # without it, only width can cover


def test_drift_of_a_law_seen_through_a_link_is_not_estimated() -> None:
    from tripwire.calibration import drift_of

    parts = _biased(-0.4, 4, fits=2)
    assert drift_of(parts) < -0.3
    linked = [HeldOut(p.draws, p.observed, p.distance, post=lambda z: z) for p in parts]
    assert drift_of(linked) == 0.0 and np.isnan(drift_of([]))


def _saturating(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(20.0, 24.0, 40)
    y = 0.25 + 0.45 / (1.0 + np.exp(-1.5 * (x - 22.0))) + rng.normal(0.0, 0.01, x.size)
    return x, y


def test_a_fitted_ceiling_can_be_passed_past_the_data_but_not_inside_it() -> None:
    """Scores levelling off at 0.7: with a fitted ceiling, a model far past the data may score
    above it (the ceiling's model error grows with the distance), a model inside the data may
    not; the threshold probability agrees with the predictive draws; a fixed ceiling stays."""
    from dataclasses import replace

    from tripwire.forecast import CapabilityCurve

    x, y = _saturating(0)
    c = CapabilityCurve(floor=0.25, n_boot=300).fit(10.0**x, y)
    ceiling = c.params_["ceiling"]
    assert 0.68 < ceiling < 0.73 and c.model_error_.ceiling > 0
    c.model_error_ = replace(c.model_error_, ceiling=1.0)  # a ceiling the backtest doubted
    far, inside = 1e27, 10.0**23.5
    assert c.predict([far]).hi95.iloc[0] > ceiling + 0.05
    assert c.predict([inside]).hi95.iloc[0] < ceiling + 0.01
    threshold = ceiling + 0.08
    p_far = c.crossing(threshold, at_compute_flop=far).probability
    share = float(np.mean(c.draws([far]) >= threshold))
    assert p_far > 0.05 and p_far == pytest.approx(share, abs=0.06)
    assert c.crossing(threshold, at_compute_flop=inside).probability < 0.01
    assert c.crossing_cdf(threshold, [inside, far])[1] >= p_far - 1e-9
    fixed = CapabilityCurve(floor=0.25, ceiling=0.72, n_boot=300).fit(10.0**x, y)
    assert fixed.model_error_.ceiling == 0.0
    assert fixed.predict([far]).hi95.iloc[0] <= 0.72 + 4 * fixed.model_error_.additive_sd(3.0)
