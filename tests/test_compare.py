"""The comparison statistics against independent references: statsmodels' McNemar, scipy's
exact binomial and paired t tests, statsmodels' cluster-robust OLS and its BH procedure."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tripwire.compare import (
    benjamini_hochberg,
    cohen_h,
    mcnemar_exact,
    paired_change,
    unpaired_change,
)
from tripwire.errors import InputError

sm_contingency = pytest.importorskip("statsmodels.stats.contingency_tables")
sm_multitest = pytest.importorskip("statsmodels.stats.multitest")
sm_api = pytest.importorskip("statsmodels.api")


@pytest.mark.parametrize("worse,better", [(0, 0), (0, 1), (1, 0), (3, 3), (5, 17), (40, 21),
                                          (0, 30), (250, 310), (1000, 1120), (7, 0)])
def test_mcnemar_exact_matches_statsmodels_and_scipy(worse: int, better: int) -> None:
    table = [[100, worse], [better, 50]]
    ref = sm_contingency.mcnemar(table, exact=True).pvalue
    p = mcnemar_exact(worse, better)
    assert abs(p - ref) < 1e-9
    if worse + better:
        assert abs(p - stats.binomtest(better, worse + better, 0.5).pvalue) < 1e-9


def test_paired_binary_uses_mcnemar_on_the_discordant_items() -> None:
    rng = np.random.default_rng(3)
    a = (rng.random(800) < 0.7).astype(float)
    b = a.copy()
    flip_down = rng.choice(np.flatnonzero(a == 1), 30, replace=False)
    flip_up = rng.choice(np.flatnonzero(a == 0), 9, replace=False)
    b[flip_down], b[flip_up] = 0, 1
    ch = paired_change(a, b)
    assert ch.method == "mcnemar-exact"
    assert (ch.worse, ch.better) == (30, 9)
    ref = sm_contingency.mcnemar([[0, 30], [9, 0]], exact=True).pvalue
    assert abs(ch.p_value - ref) < 1e-9
    assert ch.delta == pytest.approx((9 - 30) / 800)
    assert ch.low < ch.delta < ch.high
    assert ch.effect_kind == "cohen_h"
    assert ch.effect_size == pytest.approx(cohen_h(a.mean(), b.mean()))


def test_paired_continuous_is_scipys_paired_t() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(0.5, 0.2, 300)
    b = a + rng.normal(-0.02, 0.05, 300)
    ch = paired_change(a, b, level=0.9)
    ref = stats.ttest_rel(b, a)
    assert ch.method == "paired-t"
    assert abs(ch.p_value - ref.pvalue) < 1e-9
    assert abs(ch.statistic - ref.statistic) < 1e-9
    ci = ref.confidence_interval(0.9)
    assert abs(ch.low - ci.low) < 1e-9 and abs(ch.high - ci.high) < 1e-9


def test_clustered_standard_error_is_statsmodels_cluster_robust() -> None:
    rng = np.random.default_rng(11)
    groups = np.repeat(np.arange(60), 4)  # 60 samples, 4 epochs each
    item = rng.normal(0, 0.3, 60)[groups]
    a = (rng.random(240) < 0.6).astype(float)
    b = np.where(rng.random(240) < 0.1 + (item > 0.3) * 0.2, 1 - a, a)
    ch = paired_change(a, b, clusters=groups)
    fit = sm_api.OLS(b - a, np.ones(240)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert ch.method == "paired-clustered" and ch.clusters == 60
    assert abs(ch.stderr - float(fit.bse[0])) < 1e-12
    assert abs(ch.p_value - 2 * stats.t.sf(abs(ch.delta / ch.stderr), 59)) < 1e-9


def test_singleton_clusters_are_the_ordinary_paired_test() -> None:
    a = np.array([1.0, 0, 1, 1, 0, 1, 0, 1])
    b = np.array([0.0, 0, 1, 0, 0, 1, 1, 0])
    assert paired_change(a, b, clusters=list("abcdefgh")).method == "mcnemar-exact"


def test_degenerate_paired_inputs() -> None:
    same = paired_change([1.0, 0.0, 1.0], [1.0, 0.0, 1.0])
    assert same.p_value == 1.0 and same.delta == 0
    shift = paired_change([0.25, 0.5, 0.75], [0.5, 0.75, 1.0])
    assert shift.p_value == 0.0 and "same amount" in shift.note
    one = paired_change([0.5], [0.7])
    assert one.p_value is None and "one matched item" in one.note
    with pytest.raises(InputError, match="item for item"):
        paired_change([1, 0], [1])
    with pytest.raises(InputError, match="finite"):
        paired_change([1, math.nan], [1, 0])


def test_unpaired_from_stderr_and_from_counts() -> None:
    ch = unpaired_change(0.50, 0.47, stderr_a=0.01, stderr_b=0.012)
    z = -0.03 / math.hypot(0.01, 0.012)
    assert ch.method == "unpaired-stderr" and not ch.paired
    assert ch.statistic == pytest.approx(z)
    assert abs(ch.p_value - 2 * stats.norm.sf(abs(z))) < 1e-12
    binom = unpaired_change(0.8, 0.7, n_a=200, n_b=200)
    se = math.sqrt(0.8 * 0.2 / 200 + 0.7 * 0.3 / 200)
    assert binom.method == "unpaired-binomial" and binom.stderr == pytest.approx(se)
    none = unpaired_change(12.0, 13.0)
    assert none.p_value is None and "cannot be tested" in none.note
    zero = unpaired_change(0.0, 0.0, stderr_a=0.0, stderr_b=0.0)
    assert zero.p_value is None


def test_benjamini_hochberg_matches_statsmodels() -> None:
    rng = np.random.default_rng(2)
    p = np.concatenate([rng.uniform(0, 1, 50), rng.uniform(0, 0.002, 10)])
    ps: list[float | None] = list(p)
    ps.insert(7, None)  # an untested benchmark is not one of the m hypotheses
    adj, rej = benjamini_hochberg(ps, 0.05)
    ref_rej, ref_adj, _, _ = sm_multitest.multipletests(p, alpha=0.05, method="fdr_bh")
    got_adj = [x for x in adj if x is not None]
    assert adj[7] is None and rej[7] is False
    assert np.allclose(got_adj, ref_adj, atol=1e-12, rtol=0)
    assert [r for i, r in enumerate(rej) if i != 7] == list(ref_rej)
    with pytest.raises(InputError, match="--fdr"):
        benjamini_hochberg([0.1], 1.5)
