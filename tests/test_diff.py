"""`diff_models` over real file formats: lm-eval output and Inspect logs of two versions written
here with chosen per-item scores, and the public Mamba-2 lm-eval results (aggregates only)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from difflogs import versions, write_inspect, write_lmeval
from helpers import write
from scipy import stats

from tripwire.diff import diff_models
from tripwire.errors import InputError
from tripwire.register import Register

sm_contingency = pytest.importorskip("statsmodels.stats.contingency_tables")


def _ingest(reg: Register, *paths: Path, samples: bool = True) -> None:
    for _, out in reg.ingest_paths(list(paths), samples=samples):
        assert not isinstance(out, Exception), out


def test_paired_flags_a_regression_the_unpaired_test_cannot_see(register: Register,
                                                                 tmp_path: Path) -> None:
    a, b = versions()
    calm_a, calm_b = versions(n=500, right=300, down=5, up=6, seed=1)
    pa = write_lmeval(tmp_path, "org/model-v1", {"quiz": a, "calm": calm_a})
    pb = write_lmeval(tmp_path, "org/model-v2", {"quiz": b, "calm": calm_b})
    _ingest(register, pa, pb)
    d = diff_models(register, "org/model-v2", "org/model-v1")
    quiz = next(r for r in d.rows if r.benchmark == "quiz")
    ch = quiz.change
    assert ch.method == "mcnemar-exact" and (ch.worse, ch.better) == (40, 10)
    assert abs(ch.p_value - sm_contingency.mcnemar([[0, 40], [10, 0]], exact=True).pvalue) < 1e-9
    assert quiz.items.matched == 1000 and quiz.items.only_a == quiz.items.only_b == 0
    assert quiz.verdict == "regression" and quiz.significant
    assert ch.delta == pytest.approx(-0.03)
    # The same change judged from the aggregates alone: z below 1.96.
    ra = register.results(model="org/model-v1", benchmark="quiz")[0]
    rb = register.results(model="org/model-v2", benchmark="quiz")[0]
    z = (rb.value - ra.value) / math.hypot(ra.stderr, rb.stderr)
    assert abs(z) < 1.96
    calm = next(r for r in d.rows if r.benchmark == "calm")
    assert calm.verdict == "no change"
    assert [r.label for r in d.regressions] == ["quiz acc"]
    assert d.gate() == (1, "regression on quiz acc")
    assert d.gate(["calm"])[0] == 0


def test_without_samples_the_same_logs_give_the_unpaired_test(sqlite_register: Register,
                                                              tmp_path: Path) -> None:
    a, b = versions()
    pa = write_lmeval(tmp_path, "org/model-v1", {"quiz": a})
    pb = write_lmeval(tmp_path, "org/model-v2", {"quiz": b})
    _ingest(sqlite_register, pa, pb, samples=False)
    d = diff_models(sqlite_register, "org/model-v2", "org/model-v1")
    (row,) = d.rows
    assert row.change.method == "unpaired-stderr" and not row.change.paired
    assert row.change.p_value > 0.05 and row.verdict == "no change"
    assert d.gate() == (0, "no significant regression on 1 compared")


def test_inspect_epochs_are_clustered_by_sample(sqlite_register: Register, tmp_path: Path
                                                ) -> None:
    pytest.importorskip("inspect_ai", reason="inspect_ai not installed (tripwire[inspect])")
    rng = np.random.default_rng(4)
    n = 100
    skill = rng.random(n)
    a = [[bool(rng.random() < s) for s in skill] for _ in range(2)]
    b = [[x and rng.random() > 0.15 for x in row] for row in a]
    pa = write_inspect(tmp_path / "a.eval", "openai/model-v1", a, workdir=tmp_path)
    pb = write_inspect(tmp_path / "b.eval", "openai/model-v2", b, workdir=tmp_path)
    _ingest(sqlite_register, pa, pb)
    d = diff_models(sqlite_register, "model-v2", "model-v1", items=True)
    (row,) = d.rows
    assert row.benchmark == "arith" and row.metric == "match/accuracy"
    ch = row.change
    assert ch.method == "paired-clustered" and ch.clusters == n and row.items.matched == 2 * n
    # The clustered standard error, by hand: per-sample sums of the centred differences.
    diff = np.array(b, float) - np.array(a, float)
    delta = diff.mean()
    sums = (diff - delta).sum(axis=0)
    se = math.sqrt(n / (n - 1) * float(sums @ sums)) / (2 * n)
    assert ch.stderr == pytest.approx(se, rel=1e-12)
    assert ch.p_value == pytest.approx(2 * stats.t.sf(abs(delta / se), n - 1), rel=1e-9)
    assert row.verdict == "regression"
    worse = sorted({i + 1 for e in range(2) for i in range(n) if a[e][i] and not b[e][i]})
    assert row.moved["worse"] == [str(i) for i in worse] and row.moved["better"] == []


def test_items_in_one_model_only_are_counted_and_listed(sqlite_register: Register,
                                                        tmp_path: Path) -> None:
    a, b = versions(n=300, right=200, down=3, up=3)
    ids_a = list(range(300))
    ids_b = list(range(20, 300)) + [1000, 1001]
    pa = write_lmeval(tmp_path, "org/m1", {"quiz": a}, doc_ids={"quiz": ids_a})
    pb = write_lmeval(tmp_path, "org/m2", {"quiz": b[20:] + [1.0, 0.0]},
                      doc_ids={"quiz": ids_b})
    _ingest(sqlite_register, pa, pb)
    (row,) = diff_models(sqlite_register, "org/m2", "org/m1", items=True).rows
    assert (row.items.matched, row.items.only_a, row.items.only_b) == (280, 20, 2)
    assert row.moved["only_a"] == [str(i) for i in range(20)]
    assert row.moved["only_b"] == ["1000", "1001"]
    assert any("20 items scored for A only and 2 for B only" in n for n in row.notes)


def test_incomparable_scores_are_refused_and_the_rest_compared(sqlite_register: Register,
                                                               tmp_path: Path) -> None:
    a, b = versions(n=400, right=250, down=30, up=2)
    pa = write_lmeval(tmp_path / "a", "org/m1", {"quiz": a}, n_shot=0)
    pb = write_lmeval(tmp_path / "b", "org/m2", {"quiz": b}, n_shot=5)
    qa = write_lmeval(tmp_path / "a", "org/m1", {"other": a}, ts="2025-06-02T10-00-00.000000")
    qb = write_lmeval(tmp_path / "b", "org/m2", {"other": b}, ts="2025-06-02T10-00-00.000000")
    ra = write_lmeval(tmp_path / "a", "org/m1", {"third": a}, ts="2025-06-03T10-00-00.000000")
    rb = write_lmeval(tmp_path / "b", "org/m2", {"third": b}, ts="2025-06-03T10-00-00.000000",
                      metric="exact_match")
    _ingest(sqlite_register, pa, pb, qa, qb, ra, rb)
    d = diff_models(sqlite_register, "org/m2", "org/m1")
    by = {r.benchmark: r for r in d.rows}
    assert by["quiz"].status == "refused"
    assert by["quiz"].reason == "different few-shot count: 0 for org/m1, 5 for org/m2"
    assert by["third"].status == "refused"
    assert by["third"].reason == "different metrics: acc for org/m1; exact_match for org/m2"
    assert by["other"].verdict == "regression"
    assert d.gate() == (1, "regression on other acc")


def test_no_shared_benchmark_is_insufficient(sqlite_register: Register, tmp_path: Path) -> None:
    a, _ = versions(n=50, right=20, down=2, up=2)
    _ingest(sqlite_register, write_lmeval(tmp_path, "org/m1", {"quiz": a}),
            write_lmeval(tmp_path, "org/m2", {"other": a}))
    d = diff_models(sqlite_register, "org/m2", "org/m1")
    assert d.rows == [] and d.only_a == ["quiz acc"] and d.only_b == ["other acc"]
    assert d.gate()[0] == 3


def test_lineage_parent_then_family(sqlite_register: Register, tmp_path: Path) -> None:
    write(tmp_path / "models.csv",
          "name,organization,release_date,family,parent\n"
          "fam-1,Org,2024-01-01,fam,\nfam-2,Org,2024-06-01,fam,\nfam-2-ft,Org,2024-07-01,,fam-2\n"
          "lone,Org,,,\n")
    _ingest(sqlite_register, tmp_path / "models.csv", samples=False)
    from tripwire.diff import baseline_for

    assert (baseline_for(sqlite_register, "fam-2-ft")[0].name, "parent") == (
        "fam-2", baseline_for(sqlite_register, "fam-2-ft")[1])
    assert baseline_for(sqlite_register, "fam-2")[0].name == "fam-1"
    assert baseline_for(sqlite_register, "fam-2")[1] == "family"
    with pytest.raises(InputError, match="nothing to compare fam-1 with"):
        baseline_for(sqlite_register, "fam-1")
    with pytest.raises(InputError, match="it has no parent; it has no family"):
        baseline_for(sqlite_register, "lone")


def test_bad_arguments(sqlite_register: Register, tmp_path: Path) -> None:
    a, _ = versions(n=50, right=20, down=2, up=2)
    _ingest(sqlite_register, write_lmeval(tmp_path, "org/m1", {"quiz": a}))
    with pytest.raises(InputError, match="no model named 'org/m3'.*did you mean: org/m1"):
        diff_models(sqlite_register, "org/m3", "org/m1")
    with pytest.raises(InputError, match="same model"):
        diff_models(sqlite_register, "org/m1", "org/m1")
    with pytest.raises(InputError, match="--fdr"):
        diff_models(sqlite_register, "org/m1", "org/m1", fdr=0)
    with pytest.raises(InputError, match="--cluster-by"):
        diff_models(sqlite_register, "org/m1", "org/m1", cluster_by="(")


# ---------------------------------------------------------------- the public Mamba-2 results

MAMBA = "lm_eval_harness/mamba2_zero_shot"

# Checked by hand from the files: z = (v_B - v_A) / sqrt(se_A^2 + se_B^2), p = erfc(|z| / sqrt 2),
# with v and se the `acc,none` / `acc_stderr,none` (or perplexity) entries of each file.
HAND = {
    ("130m", "370m"): {("arc_easy", "acc"): (0.074495, 5.1498, 2.608e-07),
                       ("winogrande", "acc"): (0.028414, 1.4349, 0.1513),
                       ("lambada_openai", "perplexity"): (-8.834089, -15.027, 4.885e-51),
                       ("rte", "acc"): (0.046931, 1.1067, 0.2684)},
    ("370m", "780m"): {("arc_easy", "acc"): (0.061448, 4.2974, 1.728e-05),
                       ("winogrande", "acc"): (0.048145, 2.4557, 0.01406),
                       ("lambada_openai", "perplexity"): (-2.1325, -8.0883, 6.052e-16),
                       ("rte", "acc"): (0.018051, 0.4282, 0.6685)},
    ("780m", "1.3b"): {("arc_easy", "acc"): (0.031987, 2.2791, 0.02266),
                       ("winogrande", "acc"): (0.007893, 0.4064, 0.6844),
                       ("lambada_openai", "perplexity"): (-0.838349, -4.4207, 9.839e-06),
                       ("rte", "acc"): (-0.057762, -1.3659, 0.172)},
    ("1.3b", "2.7b"): {("arc_easy", "acc"): (0.05303, 3.8877, 0.0001012),
                       ("winogrande", "acc"): (0.028414, 1.4767, 0.1397),
                       ("lambada_openai", "perplexity"): (-0.926465, -6.2622, 3.795e-10),
                       ("rte", "acc"): (0.064982, 1.5385, 0.1239)},
}


@pytest.fixture
def mamba(shared_data: Path, sqlite_register: Register) -> Register:
    _ingest(sqlite_register, *sorted((shared_data / MAMBA).glob("*.json")), samples=False)
    return sqlite_register


@pytest.mark.parametrize("pair", list(HAND))
def test_mamba2_sizes_pairwise_match_the_hand_computation(mamba: Register,
                                                          pair: tuple[str, str]) -> None:
    a, b = (f"state-spaces/mamba2-{s}" for s in pair)
    d = diff_models(mamba, b, a)
    by = {(r.benchmark, r.metric): r for r in d.rows}
    assert len(d.rows) == 27 and not d.only_a and not d.only_b
    for key, (delta, z, p) in HAND[pair].items():
        ch = by[key].change
        assert ch.method == "unpaired-stderr" and not ch.paired
        assert ch.delta == pytest.approx(delta, abs=1e-6)
        assert ch.statistic == pytest.approx(z, abs=1e-4)
        assert ch.p_value == pytest.approx(p, rel=1e-3)
    # Lower perplexity is better: a fall is an improvement, never a regression.
    assert by[("lambada_openai", "perplexity")].verdict == "improvement"
    # Matthews correlation is 0 with stderr 0 for the small models: untested, said so.
    if pair == ("130m", "370m"):
        assert by[("cola", "mcc")].status == "untested"
        assert "cannot be tested" in by[("cola", "mcc")].reason
        assert {r.label for r in d.improvements} >= {"arc_easy acc", "hellaswag acc_norm"}
        assert d.regressions == []
    if pair == ("780m", "1.3b"):  # rte falls 5.8 points, but z = -1.37: not a regression
        assert by[("rte", "acc")].verdict == "no change"


def test_policy_distances_on_mamba2(mamba: Register, tmp_path: Path) -> None:
    pol = write(tmp_path / "p.yaml", """\
name: easy-bar
version: "1"
levels:
  - id: L1
thresholds:
  - id: arc-half
    level: L1
    condition: score("arc_easy") >= 0.5
    confidence: 0.9
""")
    d = diff_models(mamba, "state-spaces/mamba2-370m", "state-spaces/mamba2-130m",
                    policy=str(pol))
    (t,) = d.policy["thresholds"]
    (bar,) = t["bars"]
    assert bar["bar"] == 0.5 and bar["benchmark"] == "arc_easy"
    assert bar["to_go_a"] == pytest.approx(0.5 - 0.4739057239057239)
    assert bar["to_go_b"] == pytest.approx(0.5 - 0.5484006734006734)
    se_a = mamba.results(model="state-spaces/mamba2-130m", benchmark="arc_easy",
                         metric="acc")[0].stderr
    assert t["p_a"] == pytest.approx(stats.norm.sf(0.5, 0.4739057239057239, se_a), rel=1e-6)
    assert t["state_a"] == "clear" and t["state_b"] == "crossed"
    assert t["p_change"] == pytest.approx(t["p_b"] - t["p_a"])


def test_a_metric_one_model_lacks_is_listed(sqlite_register: Register, tmp_path: Path) -> None:
    a, b = versions(n=200, right=120, down=2, up=2)
    pa = write_lmeval(tmp_path / "a", "org/m1", {"quiz": a})
    pb = write_lmeval(tmp_path / "b", "org/m2", {"quiz": b})
    qa = write_lmeval(tmp_path / "a", "org/m1", {"quiz": a}, metric="acc_norm",
                      ts="2025-06-02T10-00-00.000000")
    _ingest(sqlite_register, pa, pb, qa)
    d = diff_models(sqlite_register, "org/m2", "org/m1")
    assert [r.label for r in d.rows] == ["quiz acc"] and d.only_a == ["quiz acc_norm"]


def test_declared_clusters(sqlite_register: Register, tmp_path: Path) -> None:
    """Four questions per passage: the passage is the cluster (a CSV or a regular expression)."""
    sm_api = pytest.importorskip("statsmodels.api")
    a, b = versions(n=400, right=260, down=30, up=8, seed=7)
    _ingest(sqlite_register, write_lmeval(tmp_path, "org/m1", {"quiz": a}),
            write_lmeval(tmp_path, "org/m2", {"quiz": b}))
    groups = np.arange(400) // 4
    declared = {(None, str(i)): f"passage-{g}" for i, g in enumerate(groups)}
    (row,) = diff_models(sqlite_register, "org/m2", "org/m1", clusters=declared).rows
    ch = row.change
    assert ch.method == "paired-clustered" and ch.clusters == 100
    d = np.array(b) - np.array(a)
    fit = sm_api.OLS(d, np.ones(400)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert abs(ch.stderr - float(fit.bse[0])) < 1e-12
    # Declared per benchmark: another benchmark's labels do not apply.
    other = {("elsewhere", str(i)): "one" for i in range(400)}
    (row,) = diff_models(sqlite_register, "org/m2", "org/m1", clusters=other).rows
    assert row.change.method == "mcnemar-exact"


def test_mamba2_mmlu_5shot_with_fdr_across_the_subjects(shared_data: Path,
                                                       sqlite_register: Register) -> None:
    sm_multitest = pytest.importorskip("statsmodels.stats.multitest")
    files = sorted((shared_data / "lm_eval_harness/mamba2_mmlu_5shot").glob("*.json"))
    _ingest(sqlite_register, *files, samples=False)
    d = diff_models(sqlite_register, "state-spaces/mamba2-2.7b", "state-spaces/mamba2-1.3b")
    mmlu = next(r for r in d.rows if (r.benchmark, r.metric) == ("mmlu", "acc"))
    # By hand from the files: 0.25765560461472725 -> 0.2455490670844609, stderrs
    # 0.00368372729635127 and the 2.7b's; z = -2.3413, p = 0.019217.
    assert mmlu.change.delta == pytest.approx(-0.01210653753026636, abs=1e-12)
    assert mmlu.change.statistic == pytest.approx(-2.3412866899737694, abs=1e-9)
    assert mmlu.change.p_value == pytest.approx(0.019217403965425185, rel=1e-9)
    tested = [r for r in d.rows if r.status == "compared"]
    assert len(tested) == 62
    reject, adj, _, _ = sm_multitest.multipletests([r.change.p_value for r in tested],
                                                   alpha=0.05, method="fdr_bh")
    assert [r.q_value for r in tested] == pytest.approx(list(adj), abs=1e-12)
    assert [r.significant for r in tested] == list(reject)
