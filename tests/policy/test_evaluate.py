"""Judging thresholds with uncertainty: distributions, states, levels, safeguards, cadence."""

from __future__ import annotations

import datetime as dt
import math
import textwrap

import numpy as np
import pytest
from scipy import stats

from tripwire.model import Attestation, Benchmark, Determination, EvalResult, Model
from tripwire.policy.evaluate import (
    Evidence,
    add_months,
    evaluate_policy,
    quantity_distribution,
    result_distribution,
)
from tripwire.policy.loader import check_text

AT = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def policy(body: str, **kw):
    loaded, issues = check_text(textwrap.dedent(body), "t.yaml", **kw)
    assert loaded is not None, [str(i) for i in issues]
    return loaded


SIMPLE = """\
    name: simple
    version: "1"
    confidence: 0.9
    alert_margin: 0.05
    alert_factor: 4
    default_level: base
    level_states: [crossed]
    cadence: {compute_factor: 4, months: 6}
    levels:
      - id: base
        requires: {deploy: [basic]}
      - id: high
        requires: {train: [vault], deploy: [vault, filters]}
    safeguards: [{id: basic}, {id: vault}, {id: filters}, {id: extra}]
    thresholds:
      - id: bench
        level: high
        condition: score("b") >= 0.6
        requires: {deploy: [extra]}
      - id: compute
        level: high
        condition: training_compute >= 1e26
    """


def res(value, *, stderr=None, samples=None, bench="b", rid=1, **kw):
    return EvalResult(id=rid, model="m", benchmark=bench, value=value, stderr=stderr,
                      samples=samples, source_sha256="ab" * 32, **kw)


def model(**kw):
    kw.setdefault("compute_flop", 1e24)
    kw.setdefault("compute_method", "given")
    return Model(name="m", **kw)


def judge(results, m=None, **kw) -> Determination:
    return evaluate_policy(policy(SIMPLE), Evidence(model=m or model(), results=results, **kw),
                           at=AT)


def state(det, tid):
    return next(t for t in det.thresholds if t.id == tid)


# ---------------------------------------------------------------- distributions


def test_normal_from_stderr():
    d = result_distribution(res(0.62, stderr=0.01))
    assert d.prob(">=", 0.6) == pytest.approx(stats.norm.sf(0.6, 0.62, 0.01))
    assert d.prob("<", 0.6) == pytest.approx(stats.norm.cdf(0.6, 0.62, 0.01))


def test_jeffreys_binomial_from_samples():
    d = result_distribution(res(0.62, samples=200))
    k = 0.62 * 200
    assert d.prob(">=", 0.6) == pytest.approx(stats.beta.sf(0.6, k + 0.5, 200 - k + 0.5))
    # the benchmark's test-set size stands in when the result has none
    d2 = result_distribution(res(0.62), Benchmark(id="b", samples=200))
    assert d2.prob(">=", 0.6) == pytest.approx(d.prob(">=", 0.6))


def test_interval_becomes_lognormal_or_normal():
    d = result_distribution(res(300.0, extra={"ci_low": 150.0, "ci_high": 600.0}))
    sigma = math.log(4) / (2 * 1.959963984540054)
    assert d.prob(">=", 480) == pytest.approx(stats.norm.sf(math.log(480), math.log(300), sigma))
    d = result_distribution(res(0.1, extra={"ci_low": -0.1, "ci_high": 0.3, "ci_level": 0.9}))
    assert d.kind == "normal" and d.b == pytest.approx(0.4 / (2 * 1.6448536269514722))


def test_point_value_is_exact_with_a_note():
    d = result_distribution(res(0.7))
    assert d.kind == "exact" and "judged as exact" in d.note
    assert d.prob(">=", 0.7) == 1.0 and d.prob(">", 0.7) == 0.0


def test_model_quantities():
    exact, v = quantity_distribution(model(compute_flop=2e25), "training_compute")
    assert exact.kind == "exact" and v == 2e25
    est, _ = quantity_distribution(model(compute_flop=2e25, compute_method="6ND"),
                                   "training_compute")
    # a factor of 2 is one standard deviation: P(C >= C_hat / 2) = Phi(1)
    assert est.prob(">=", 1e25) == pytest.approx(stats.norm.cdf(1.0))
    eff, v = quantity_distribution(model(compute_flop=2e25, multiplier=3.0), "effective_compute")
    assert v == pytest.approx(6e25)
    assert quantity_distribution(model(), "cost_usd") is None
    cost, _ = quantity_distribution(model(cost_usd=1e8), "cost_usd")
    assert cost.kind == "lognormal"
    assert quantity_distribution(model(params=7e9), "params")[0].kind == "exact"


def test_confidence_is_calibrated_for_binomial_results():
    """At a true rate exactly at the threshold, 'crossed' (P >= 0.9) must be rare (~<= 10%)."""
    rng = np.random.default_rng(0)
    n, t = 400, 0.6
    ks = rng.binomial(n, t, size=4000)
    p = stats.beta.sf(t, ks + 0.5, n - ks + 0.5)
    crossed = np.mean(p >= 0.9)
    assert 0.06 < crossed <= 0.12
    d = result_distribution(res(float(ks[0]) / n, samples=n))
    assert d.prob(">=", t) == pytest.approx(p[0])


# ---------------------------------------------------------------- states


@pytest.mark.parametrize("value,expected", [
    (0.65, "crossed"),   # z = 5
    (0.61, "likely"),    # P ~ 0.84
    (0.57, "alert"),     # within 0.05 below
    (0.40, "clear"),
])
def test_score_states(value, expected):
    det = judge([res(value, stderr=0.01)])
    assert state(det, "bench").state == expected


def test_compute_alert_factor_and_missing_quantity():
    det = judge([res(0.1, stderr=0.01)], m=model(compute_flop=3e25))
    assert state(det, "compute").state == "alert"
    det = judge([res(0.1, stderr=0.01)], m=Model(name="m"))
    st = state(det, "compute")
    assert st.state == "insufficient" and st.probability is None
    assert "training_compute of m is unknown" in st.reason


def test_missing_result_is_insufficient_never_a_pass():
    det = judge([])
    st = state(det, "bench")
    assert st.state == "insufficient" and "no result for m on b" in st.reason
    assert det.allowed_actions == []
    assert any("insufficient for bench" in n for n in det.notes)


def test_missing_evidence_that_cannot_matter_is_not_insufficient():
    p = policy(SIMPLE.replace('condition: training_compute >= 1e26',
                              'condition: training_compute >= 1e26 and score("nope") > 0'))
    det = evaluate_policy(p, Evidence(model=model(), results=[res(0.1, stderr=0.01)]), at=AT)
    st = state(det, "compute")
    assert st.state == "clear" and "does not change the state" in st.reason


def test_best_result_counts_and_direction():
    rs = [res(0.3, stderr=0.01, rid=1), res(0.7, stderr=0.01, rid=2)]
    st = state(judge(rs), "bench")
    assert st.state == "crossed" and st.evidence[0].result_id == 2
    assert st.evidence[0].source_sha256 == "ab" * 32
    lower = Evidence(model=model(), results=rs,
                     benchmarks={"b": Benchmark(id="b", higher_is_better=False)})
    det = evaluate_policy(policy(SIMPLE), lower, at=AT)
    assert state(det, "bench").evidence[0].result_id == 1


def test_flags_are_reported_with_the_score():
    det = judge([res(0.1, stderr=0.01)], flags={"b": "z = -3.1 for its compute"})
    assert "b is flagged: z = -3.1" in state(det, "bench").reason


# ---------------------------------------------------------------- level, safeguards, cadence


def test_level_required_and_missing_safeguards():
    det = judge([res(0.7, stderr=0.01)], attestations=["basic", "vault"])
    assert det.level == "high"
    assert det.required_safeguards == {"train": ["vault"],
                                       "deploy": ["basic", "vault", "filters", "extra"]}
    assert det.missing_safeguards == {"train": [], "deploy": ["filters", "extra"]}
    assert det.allowed_actions == ["train"]


def test_attestations_for_other_models_do_not_count():
    atts = [Attestation(model="other", safeguard="basic", by="x"),
            Attestation(model=None, safeguard="vault", by="x")]
    det = judge([res(0.1, stderr=0.01)], attestations=atts)
    assert det.level == "base"
    assert det.missing_safeguards["deploy"] == ["basic"]
    assert det.allowed_actions == ["train"]


def test_cadence_from_newest_evidence_and_effective_compute():
    r = res(0.1, stderr=0.01, created_at=dt.datetime(2025, 8, 31, tzinfo=dt.UTC))
    det = judge([r], m=model(compute_flop=1e24, multiplier=2.5), attestations=["basic"])
    assert det.next_due == dt.date(2026, 2, 28)
    assert det.next_due_compute_flop == pytest.approx(1e25)
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 1, 1), 0.5) == dt.date(2024, 1, 16)


def test_precautionary_policy_counts_likely():
    p = policy(SIMPLE.replace("level_states: [crossed]", "level_states: [crossed, likely]"))
    det = evaluate_policy(p, Evidence(model=model(), results=[res(0.61, stderr=0.01)]), at=AT)
    assert det.level == "high"


def test_pre_mitigation_filter():
    p = policy(SIMPLE.replace("default_level: base", "default_level: base\n"
                              "    pre_mitigation_required: true"))
    rs = [res(0.7, stderr=0.01, rid=1, variant="post-mitigation"),
          res(0.3, stderr=0.01, rid=2, variant="pre-mitigation")]
    det = evaluate_policy(p, Evidence(model=model(), results=rs), at=AT)
    assert state(det, "bench").evidence[0].result_id == 2
    only_post = evaluate_policy(p, Evidence(model=model(), results=rs[:1]), at=AT)
    assert "only post-mitigation results" in state(only_post, "bench").reason
    unknown = evaluate_policy(p, Evidence(model=model(), results=[res(0.3, stderr=0.01)]), at=AT)
    assert any("do not record their variant" in n for n in unknown.notes)


def test_unset_parameter_is_insufficient_and_says_how_to_set_it():
    p = policy(SIMPLE.replace('score("b") >= 0.6', 'score("b") >= bar').rstrip()
               + "\n    parameters:\n      bar: {description: yours}\n")
    det = evaluate_policy(p, Evidence(model=model(), results=[res(0.9, stderr=0.01)]), at=AT)
    st = state(det, "bench")
    assert st.state == "insufficient" and "--set bar=VALUE" in st.reason


def test_explicit_alert_condition_and_its_missing_evidence():
    body = SIMPLE.replace('condition: score("b") >= 0.6',
                          'condition: score("b") >= 0.6\n        alert: score("early") >= 0.2')
    p = policy(body)
    rs = [res(0.1, stderr=0.01), res(0.5, stderr=0.01, bench="early", rid=2)]
    det = evaluate_policy(p, Evidence(model=model(), results=rs), at=AT)
    assert state(det, "bench").state == "alert"
    det = evaluate_policy(p, Evidence(model=model(), results=rs[:1]), at=AT)
    st = state(det, "bench")
    assert st.state == "clear" and "early-warning evidence missing" in st.reason


def test_determination_round_trips_through_json():
    det = judge([res(0.7, stderr=0.01)], attestations=["basic"])
    again = Determination.model_validate(det.model_dump(mode="json"))
    assert again == Determination.model_validate(det.model_dump())
    assert again.thresholds[0].evidence[0].result_id == 1


def test_hot_path_objects_carry_every_field():
    """Determinations are built without validation for speed: they must still be complete."""
    from tripwire.model import ThresholdState
    det = judge([res(0.7, stderr=0.01)])
    assert set(det.__dict__) == set(Determination.model_fields)
    assert set(det.thresholds[0].__dict__) == set(ThresholdState.model_fields)
    det.notes = ["assignment still works"]
    assert "notes" in det.model_fields_set


@pytest.mark.parametrize("value,expected", [(0.65, "crossed"), (0.61, "likely"),
                                            (0.57, "alert"), (0.40, "clear")])
def test_negation_keeps_alert_margins_pointing_the_right_way(value, expected):
    """`not score < 0.6` must judge exactly like `score >= 0.6`, early warning included."""
    p = policy(SIMPLE.replace('condition: score("b") >= 0.6', 'condition: not score("b") < 0.6'))
    det = evaluate_policy(p, Evidence(model=model(), results=[res(value, stderr=0.01)]), at=AT)
    assert state(det, "bench").state == expected
