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


def test_a_parent_stands_in_for_missing_pre_training() -> None:
    parent = (ledger.Entry("base", "pre-training", "given", 1e25, "card", uncertainty=0.3),)
    ft = [ledger.Entry("ft", "fine-tuning", "given", 2e24, "log")]
    lin = ledger.Lineage("base", parent)
    got = ledger.with_base(ft, "ft", 5e25, 0.0, "register", lin)
    assert [(e.component, e.flop) for e in got] == [("merged-weights", 1e25),
                                                    ("fine-tuning", 2e24)]
    assert got[0].source.startswith("base pre-training (initial weights)")
    assert got[0].sigma_ln == parent[0].sigma_ln  # the parent's uncertainty goes with it
    # Its own pre-training entry wins; without a parent, the register's figure stands in.
    own = [ledger.Entry("ft", "pre-training", "given", 9e24, "x"), *ft]
    assert ledger.with_base(own, "ft", None, 0.0, None, lin) == own
    assert ledger.with_base(ft, "ft", 5e25, 0.0, "register")[0].flop == 5e25


def test_share_of_independent_lognormals() -> None:
    mod = ledger.cumulative([ledger.Entry("ft", "fine-tuning", "hardware", 4e24, "x")])
    base = ledger.cumulative([ledger.Entry("b", "pre-training", "architecture", 1e25, "y")])
    ratio, sigma = ledger.share(mod, base)
    assert ratio == pytest.approx(0.4)
    assert sigma == pytest.approx(math.sqrt(2) * mod.sigma_ln)
    assert ledger.share(mod, 1e23) == (pytest.approx(40.0), mod.sigma_ln)
    t = ledger.modifier_test("ft", "b", 4e24, 1e25, modification_sigma=mod.sigma_ln,
                             parent_sigma=base.sigma_ln)
    # 0.4 against 1/3 with two +/-30 % figures: more likely than not, far from certain
    assert t.provider and 0.5 < t.p_provider < 0.9
