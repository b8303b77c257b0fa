"""Two sets of scores compared: the change, its interval and the right test; and false-discovery
control across many such comparisons. Arrays in, results out; no storage, no files.

Which test:

* **paired, binary** (both models scored 0/1 on the same items, one score per item): McNemar's
  test (McNemar 1947), exact form. Of the n items, b went right -> wrong and c wrong -> right;
  under "no change" each of the b + c discordant items is equally likely to go either way, so
  c ~ Binomial(b + c, 1/2) and the two-sided p-value is min(1, 2 P(X <= min(b, c))), the
  exact binomial test of the discordant pairs (what statsmodels' `mcnemar(exact=True)` and
  scipy's `binomtest(c, b + c)` give).
* **paired, otherwise** (scores that are not all 0/1): the paired-differences t test on
  d_i = b_i - a_i: mean(d) / (sd(d) / sqrt(n)) with n - 1 degrees of freedom (scipy's
  `ttest_rel`).
* **paired, clustered** (items in groups: the epochs of one Inspect sample, or several questions
  on one passage): the same differences with a cluster-robust standard error,
  var = G / (G - 1) x sum_g (sum_{i in g} (d_i - mean d))^2 / n^2 over G clusters (the CR1
  sandwich of a regression on a constant; Stata's and statsmodels' `cov_type="cluster"`), and a
  t test with G - 1 degrees of freedom. Used for binary scores too, since McNemar assumes
  independent items. This is the recommendation of Miller 2024, "Adding Error Bars to Evals: A
  Statistical Approach to Language Model Evaluations" (arXiv:2411.00640): analyse the per-item
  differences, and cluster the standard error when items are not independent.
* **unpaired** (only aggregate scores): z = (v_B - v_A) / sqrt(se_A^2 + se_B^2), from the
  reported standard errors, or, for a proportion with a sample count n and no stderr, the
  binomial se = sqrt(v (1 - v) / n). Marked unpaired: it ignores that the items are shared, so
  it is conservative where the models agree on most items.

The interval of a paired change is mean(d) +- t x se (the same se as the test; for McNemar the
test is exact and the interval is this normal-theory one). Effect sizes: Cohen's h
(2 asin sqrt p_B - 2 asin sqrt p_A) for proportions, Cohen's d (change / pooled sd) otherwise.

Across benchmarks, `benjamini_hochberg` controls the false discovery rate (Benjamini & Hochberg
1995, "Controlling the false discovery rate", JRSS B 57:289-300): a sweep of 60 benchmarks at
q = 0.05 expects at most 5 % of the changes it calls real to be noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tripwire.errors import InputError

__all__ = [
    "Change",
    "benjamini_hochberg",
    "cohen_h",
    "mcnemar_exact",
    "paired_change",
    "unpaired_change",
]


@dataclass
class Change:
    """The change from A to B on one benchmark (B - A, in the metric's units)."""

    method: str
    """`mcnemar-exact`, `paired-t`, `paired-clustered`, `unpaired-stderr` or
    `unpaired-binomial`."""
    paired: bool
    delta: float
    """B - A: mean of the per-item differences (paired) or of the aggregates (unpaired)."""
    stderr: float | None
    low: float | None
    high: float | None
    level: float
    p_value: float | None
    """Two-sided; None when the data cannot be tested (no spread, too few items)."""
    statistic: float | None = None
    """t or z; for McNemar the count c of items that went wrong -> right."""
    df: float | None = None
    n: int | None = None
    """Matched items (paired) or None."""
    clusters: int | None = None
    """Clusters behind a clustered standard error."""
    mean_a: float | None = None
    mean_b: float | None = None
    worse: int | None = None
    """Items whose score fell (binary: right -> wrong, McNemar's b)."""
    better: int | None = None
    """Items whose score rose (binary: wrong -> right, McNemar's c)."""
    effect_size: float | None = None
    effect_kind: str | None = None
    """`cohen_h` or `cohen_d`."""
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------ distributions

def _special() -> Any:
    import scipy.special as sp  # scipy.stats costs ~0.5 s to import; the special functions do not

    return sp


def _t_two_sided(t: float, df: float) -> float:
    return float(min(1.0, 2.0 * _special().stdtr(df, -abs(t))))


def _t_quantile(level: float, df: float) -> float:
    return float(_special().stdtrit(df, 0.5 + level / 2.0))


def _z_two_sided(z: float) -> float:
    return float(min(1.0, 2.0 * _special().ndtr(-abs(z))))


def _z_quantile(level: float) -> float:
    return float(_special().ndtri(0.5 + level / 2.0))


def _check_level(level: float) -> None:
    if not (0.0 < level < 1.0):
        raise InputError(f"the interval level must be between 0 and 1, not {level:g}")


# ----------------------------------------------------------------------------------- tests

def mcnemar_exact(worse: int, better: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (b = worse, c = better):
    min(1, 2 P(X <= min(b, c))) for X ~ Binomial(b + c, 1/2); 1 when there are none."""
    if worse < 0 or better < 0:
        raise InputError("discordant counts cannot be negative")
    m = worse + better
    if m == 0:
        return 1.0
    return float(min(1.0, 2.0 * _special().bdtr(min(worse, better), m, 0.5)))


def cohen_h(p_a: float, p_b: float) -> float:
    """Cohen's h between two proportions: 2 asin sqrt(p_B) - 2 asin sqrt(p_A)."""
    return 2.0 * math.asin(math.sqrt(min(1.0, max(0.0, p_b)))) - 2.0 * math.asin(
        math.sqrt(min(1.0, max(0.0, p_a))))


def _cohen_d(delta: float, sd_a: float | None, sd_b: float | None) -> float | None:
    if sd_a is None or sd_b is None:
        return None
    pooled = math.sqrt((sd_a * sd_a + sd_b * sd_b) / 2.0)
    return delta / pooled if pooled > 0 else None


def _as_array(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-d array of scores")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} holds a score that is not a finite number")
    return arr


def _cluster_codes(clusters: ArrayLike | None, n: int) -> np.ndarray | None:
    if clusters is None:
        return None
    labels = np.asarray(clusters)
    if labels.shape != (n,):
        raise InputError(f"clusters must give one label per item ({n}), not {labels.shape}")
    _, codes = np.unique(labels, return_inverse=True)
    return codes.reshape(-1)


def paired_change(a: ArrayLike, b: ArrayLike, *, clusters: ArrayLike | None = None,
                  level: float = 0.95) -> Change:
    """The change from A to B on the same items (`a[i]` and `b[i]` score item i).

    Binary scores without clusters get McNemar's exact test; other scores the paired t test;
    with `clusters` (one label per item; items sharing a label are not independent) a
    cluster-robust standard error. See the module docstring for the formulas.
    """
    _check_level(level)
    xa, xb = _as_array(a, "scores of A"), _as_array(b, "scores of B")
    if xa.shape != xb.shape:
        raise InputError(f"paired scores must match item for item: {xa.size} vs {xb.size}")
    n = int(xa.size)
    if n == 0:
        raise InputError("no matched items to compare")
    codes = _cluster_codes(clusters, n)
    n_clusters = int(codes.max()) + 1 if codes is not None else n
    if codes is not None and n_clusters == n:
        codes = None  # every item its own cluster: the ordinary paired analysis
    d = xb - xa
    delta = float(d.mean())
    mean_a, mean_b = float(xa.mean()), float(xb.mean())
    binary = bool(np.all((xa == 0) | (xa == 1)) and np.all((xb == 0) | (xb == 1)))
    worse, better = int(np.count_nonzero(d < 0)), int(np.count_nonzero(d > 0))
    effect: float | None
    if binary:
        effect, kind = cohen_h(mean_a, mean_b), "cohen_h"
    else:
        sd_a = float(xa.std(ddof=1)) if n > 1 else None
        sd_b = float(xb.std(ddof=1)) if n > 1 else None
        effect, kind = _cohen_d(delta, sd_a, sd_b), "cohen_d"
    out = Change(method="paired-t", paired=True, delta=delta, stderr=None, low=None, high=None,
                 level=level, p_value=None, n=n, mean_a=mean_a, mean_b=mean_b, worse=worse,
                 better=better, effect_size=effect, effect_kind=kind)
    if codes is None:
        if n < 2:
            out.note = "one matched item: no spread to test against"
            return out
        se = float(d.std(ddof=1)) / math.sqrt(n)
        df = float(n - 1)
    else:
        out.method, out.clusters = "paired-clustered", n_clusters
        if n_clusters < 2:
            out.note = "every item in one cluster: no spread between clusters to test against"
            return out
        sums = np.bincount(codes, weights=d - delta, minlength=n_clusters)
        se = math.sqrt(n_clusters / (n_clusters - 1) * float(np.dot(sums, sums))) / n
        df = float(n_clusters - 1)
    out.stderr, out.df = se, df
    q = _t_quantile(level, df)
    out.low, out.high = delta - q * se, delta + q * se
    if binary and codes is None:
        out.method = "mcnemar-exact"
        out.statistic = float(better)
        out.p_value = mcnemar_exact(worse, better)
    elif se > 0:
        out.statistic = delta / se
        out.p_value = _t_two_sided(out.statistic, df)
    else:
        # No spread at all: every item moved by exactly the same amount.
        out.p_value = 1.0 if delta == 0 else 0.0
        out.note = ("every item changed by the same amount" if delta != 0
                    else "no item changed")
    return out


def unpaired_change(value_a: float, value_b: float, *, stderr_a: float | None = None,
                    stderr_b: float | None = None, n_a: int | None = None,
                    n_b: int | None = None, level: float = 0.95) -> Change:
    """The change between two aggregate scores, tested as independent (a z test).

    Each side's standard error is its reported stderr, else, for a proportion in [0, 1] with
    a sample count, the binomial sqrt(v (1 - v) / n). Without either the change is reported
    untested (p = None) with a note saying why.
    """
    _check_level(level)
    for name, v in (("A", value_a), ("B", value_b)):
        if not math.isfinite(v):
            raise InputError(f"the score of {name} is not a finite number")
    delta = float(value_b - value_a)
    ses: list[float | None] = []
    used_binomial = False
    for v, se, n in ((value_a, stderr_a, n_a), (value_b, stderr_b, n_b)):
        if se is not None and math.isfinite(se) and se > 0:
            ses.append(float(se))
        elif n is not None and n > 0 and 0.0 <= v <= 1.0:
            ses.append(math.sqrt(v * (1.0 - v) / n))
            used_binomial = True
        else:
            ses.append(None)
    proportion = 0.0 <= value_a <= 1.0 and 0.0 <= value_b <= 1.0
    effect: float | None
    if proportion and used_binomial:
        effect, kind = cohen_h(value_a, value_b), "cohen_h"
    else:
        sds = [se * math.sqrt(n) if se is not None and n else None
               for se, n in zip(ses, (n_a, n_b), strict=True)]
        effect, kind = _cohen_d(delta, sds[0], sds[1]), "cohen_d"
        if effect is None and proportion:
            effect, kind = cohen_h(value_a, value_b), "cohen_h"
    out = Change(method="unpaired-binomial" if used_binomial else "unpaired-stderr",
                 paired=False, delta=delta, stderr=None, low=None, high=None, level=level,
                 p_value=None, mean_a=float(value_a), mean_b=float(value_b),
                 effect_size=effect, effect_kind=kind)
    if ses[0] is None or ses[1] is None:
        missing = " and ".join(s for s, se in zip("AB", ses, strict=True) if se is None)
        out.note = (f"no standard error or sample count for {missing}: the change cannot be "
                    "tested")
        return out
    se = math.sqrt(ses[0] ** 2 + ses[1] ** 2)
    if se == 0:
        out.note = "both standard errors are 0: the change cannot be tested"
        return out
    out.stderr = se
    q = _z_quantile(level)
    out.low, out.high = delta - q * se, delta + q * se
    out.statistic = delta / se
    out.p_value = _z_two_sided(out.statistic)
    return out


# --------------------------------------------------------------------------------------- FDR

def benjamini_hochberg(p_values: Sequence[float | None], q: float = 0.05
                       ) -> tuple[list[float | None], list[bool]]:
    """Benjamini-Hochberg adjusted p-values and which hypotheses are rejected at FDR `q`.

    The step-up procedure over the m tested hypotheses (None = not tested, left out of m):
    reject the k smallest p-values, k the largest with p_(k) <= k q / m. The adjusted value is
    min over j >= i of p_(j) m / j, capped at 1 (statsmodels' `fdr_bh`), so `adjusted <= q`
    is the same decision.
    """
    if not (0.0 < q < 1.0):
        raise InputError(f"--fdr must be between 0 and 1, not {q:g}")
    idx = [i for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    rejected = [False] * len(p_values)
    m = len(idx)
    if m == 0:
        return adjusted, rejected
    p = np.array([p_values[i] for i in idx], dtype=float)
    if np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise InputError("p-values must lie in [0, 1]")
    order = np.argsort(p, kind="mergesort")
    scaled = p[order] * m / np.arange(1, m + 1)
    adj_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    adj = np.empty(m)
    adj[order] = np.minimum(adj_sorted, 1.0)
    for j, i in enumerate(idx):
        adjusted[i] = float(adj[j])
        rejected[i] = bool(adj[j] <= q)
    return adjusted, rejected
