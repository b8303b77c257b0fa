"""The compute ledger's arithmetic: per-regime totals, their spread, both methods, the one-third
test."""

from __future__ import annotations

import math

import pytest

from tripwire import compute, ledger
from tripwire.errors import InputError


def entry(component: str, flop: float, **kw) -> ledger.Entry:
    return ledger.Entry(model="m", component=component, method=kw.pop("method", "given"),
                        flop=flop, source="test", **kw)


def test_cumulative_sums_the_parts_each_regime_counts() -> None:
    es = [entry("pre-training", 8e24), entry("fine-tuning", 3e24),
          entry("other", 5e24, counts=("sb53",))]
    assert ledger.cumulative(es, "eu").flop == pytest.approx(1.1e25)
    assert ledger.cumulative(es, "sb53").flop == pytest.approx(1.6e25)
    assert ledger.cumulative(es).flop == pytest.approx(1.6e25)
    eu = ledger.cumulative(es, "eu")
    assert eu.sigma_ln == 0 and eu.p_above(1e25) == 1.0
    assert ledger.cumulative(es[:1], "eu").p_above(1e25) == 0.0
    assert eu.excluded == ["other (test)"]


def test_spread_of_a_sum_is_the_fenton_wilkinson_match() -> None:
    # One uncertain part plus an exact one: the matched sigma shrinks by the exact share.
    es = [entry("pre-training", 1e25, method="hardware", uncertainty=0.3),
          entry("fine-tuning", 1e25)]
    s = math.log1p(0.3) / 1.6448536269514722
    t = ledger.cumulative(es, "eu")
    m = 1e25 * math.exp(s * s / 2) + 1e25
    v = 1e50 * math.exp(s * s) * math.expm1(s * s)
    assert t.sigma_ln == pytest.approx(math.sqrt(math.log1p(v / m ** 2)))
    assert 0 < t.sigma_ln < s
    # Monte Carlo check of P(total > line) within sampling error.
    import numpy as np

    rng = np.random.default_rng(0)
    draws = 1e25 * np.exp(rng.normal(0, s, 200_000)) + 1e25
    line = 2.3e25
    assert t.p_above(line) == pytest.approx(float((draws > line).mean()), abs=0.02)


def test_both_methods_and_their_disagreement() -> None:
    e = entry("pre-training", 0.0, method="architecture", params=70e9, tokens=15e12,
              accelerator="H100", chips=16384, hours=24 * 54, utilization=0.4)
    est = e.estimates()
    assert est["architecture"] == pytest.approx(6 * 70e9 * 15e12)
    assert est["hardware"] == pytest.approx(
        compute.compute_from_hardware("H100", 16384, 24 * 54, 0.4))
    assert e.disagreement() == pytest.approx(abs(est["hardware"] / est["architecture"] - 1))


def test_flop_of_computes_or_refuses() -> None:
    assert ledger.flop_of("architecture", None, params=1e9, tokens=1e12) == 6e21
    with pytest.raises(InputError, match="params and tokens"):
        ledger.flop_of("architecture", None, params=1e9)
    with pytest.raises(InputError, match="non-negative"):
        ledger.flop_of("given", -1.0)
    with pytest.raises(InputError, match="non-negative"):
        ledger.flop_of("given", math.inf)


def test_one_third_test_with_and_without_the_parent_compute() -> None:
    t = ledger.modifier_test("ft", "base", 4e24, 1e25)
    assert t.provider and t.threshold == pytest.approx(1e25 / 3) and t.systemic_risk
    assert not ledger.modifier_test("ft", "base", 3e24, 1e25).provider
    # Unknown parent compute: a third of 10^23 (GPAI) or of 10^25 (systemic-risk original).
    u = ledger.modifier_test("ft", "base", 5e22, None)
    assert u.provider and u.threshold == pytest.approx(1e23 / 3) and not u.systemic_risk
    s = ledger.modifier_test("ft", "base", 3e24, None, parent_systemic=True)
    assert s.threshold == pytest.approx(1e25 / 3) and not s.provider


def test_regime_of_policy_sources() -> None:
    assert ledger.regime_of("eu-ai-act") == "eu"
    assert ledger.regime_of("sb53") == "sb53"
    assert ledger.regime_of("ny-gbl-44b") == "raise"
    assert ledger.regime_of("rsp-2.2", "anthropic-rsp") is None
