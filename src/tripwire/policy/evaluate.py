"""Judge a policy's thresholds against one model's evidence, with the evidence's uncertainty.

Each comparison `X op t` becomes P(X op t) from a distribution for X:

* a score with a standard error: Normal(value, stderr);
* a score in [0, 1] with a sample count n but no stderr: the Jeffreys posterior of a binomial
  proportion, Beta(k + 1/2, n - k + 1/2) with k = value x n (Brown, Cai & DasGupta 2001);
* a score with a confidence interval in `extra` (`ci_low`, `ci_high`, e.g. METR's bootstrap
  intervals): log-normal when both ends are positive, else normal, matched to the interval
  (level `ci_level`, default 0.95);
* a score with none of these: its point value, judged exactly, with a note saying so;
* a model quantity given by its source: exact. A training compute with a source confidence
  label (Epoch AI's Confident / Likely / Speculative / Unknown) is log-normal with the label's
  spread (`compute.compute_sigma_ln`); one tripwire *estimated* (6ND or hardware-time) is
  log-normal with sigma = ln 2 (a factor of 2 is one standard deviation); effective compute
  inherits it (the declared multiplier is taken as exact). Training cost is always an estimate
  and gets the same factor-of-2 sigma. Parameters and tokens are exact.

`score(name)` uses the best result recorded for the benchmark (highest, or lowest where lower is
better): frontier policies judge the best elicited capability. Conditions combine comparisons as
independent events (and = product, or = 1 - product of complements), which is right for distinct
results whose sampling errors are independent.

A threshold's state, from P = P(condition) and its confidence c:
  crossed  P >= c;   likely  P >= 0.5;   possible  P > 1 - r, for a threshold judged with a
  rule-out confidence r (it counts toward its level unless ruled out: P <= 1 - r);   alert
  P >= 0.5 once every comparison is moved by its alert margin (or the explicit `alert`
  condition holds with P >= 0.5);   clear  otherwise.
Missing evidence makes P an interval [lo, hi]; if the state at lo and at hi differ, the state is
**insufficient** (the missing evidence could change the answer), never a silent pass.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from tripwire import compute
from tripwire import ledger as ledger_mod
from tripwire.model import (
    Attestation,
    Benchmark,
    Determination,
    EvalResult,
    EvidenceRef,
    Model,
    ThresholdState,
    trusted,
    utcnow,
)
from tripwire.policy.expr import UNKNOWN, Compare, Probs, Quantity
from tripwire.policy.loader import CompiledThreshold, LoadedPolicy
from tripwire.policy.schema import ACTIONS

ESTIMATE_SIGMA_LN = compute.ESTIMATE_SIGMA_LN
"""Log-normal sigma for estimated compute and cost: a factor of 2 is one standard deviation."""
_SQRT2 = math.sqrt(2.0)
_Z = {0.8: 1.2815515655446004, 0.9: 1.6448536269514722, 0.95: 1.959963984540054,
      0.99: 2.5758293035489004}

STATE_ORDER = {"clear": 0, "alert": 1, "possible": 2, "likely": 3, "crossed": 4,
               "insufficient": 5}


@dataclass
class Evidence:
    """Everything known about one model that a policy can be judged on (no storage access)."""

    model: Model
    results: Sequence[EvalResult] = ()
    benchmarks: Mapping[str, Benchmark] = field(default_factory=dict)
    """Benchmark metadata by id (direction, sample count), where known."""
    attestations: Iterable[Attestation | str] = ()
    """Safeguards in place: Attestation records (for this model or all models) or plain names."""
    flags: Mapping[str, str] = field(default_factory=dict)
    """Anomaly flags: benchmark id -> reason (e.g. a score implausibly low for the compute)."""
    mapping: Mapping[str, str] = field(default_factory=dict)
    """Evidence name -> benchmark id, overriding the policy's defaults (`--map`)."""
    ledger: Sequence[ledger_mod.Entry] = ()
    """The model's compute ledger (parts of its training compute), where one is recorded."""
    lineage: ledger_mod.Lineage | None = None
    """What the model was built on (its parent and the parent's compute), for a model with a
    parent and a ledger of its own (`tripwire.accounts.lineage`)."""
    _index: tuple[dict[str, list[EvalResult]], set[str]] | None = field(
        default=None, init=False, repr=False, compare=False)
    _best: dict[tuple[str, bool], tuple[EvalResult, _Dist, EvidenceRef] | str] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _quantities: dict[tuple[str, str | None, bool | None],
                      tuple[_Dist, EvidenceRef, str | None] | None] = (
        field(default_factory=dict, init=False, repr=False, compare=False))

    def index(self) -> tuple[dict[str, list[EvalResult]], set[str]]:
        """Results by benchmark and the safeguards in place, built once per Evidence (so
        judging one model under several policies indexes its results once)."""
        if self._index is None:
            by_bench: dict[str, list[EvalResult]] = {}
            for r in self.results:
                by_bench.setdefault(r.benchmark, []).append(r)
            names: set[str] = set()
            for a in self.attestations:
                if isinstance(a, str):
                    names.add(a)
                elif a.model is None or a.model == self.model.name:
                    names.add(a.safeguard)
            self._index = (by_bench, names)
        return self._index

    def best(self, bench: str, pre_mitigation: bool
             ) -> tuple[EvalResult, _Dist, EvidenceRef] | str:
        """The best result on `bench` with its distribution and reference, or `"none"` /
        `"post-only"` (no usable result). Cached: judging several policies reuses it."""
        key = (bench, pre_mitigation)
        got = self._best.get(key)
        if got is not None:
            return got
        rs = self.index()[0].get(bench, [])
        out: tuple[EvalResult, _Dist, EvidenceRef] | str
        if pre_mitigation and rs:
            mv = self.model.variant
            rs = [r for r in rs if (r.variant or mv) != "post-mitigation"]
            if not rs:
                self._best[key] = "post-only"
                return "post-only"
        if not rs:
            out = "none"
        else:
            meta = self.benchmarks.get(bench)
            hib = meta.higher_is_better if meta is not None else True
            r = max(rs, key=lambda x: x.value) if hib else min(rs, key=lambda x: x.value)
            ref = trusted(EvidenceRef, kind="result", result_id=r.id, benchmark=r.benchmark,
                          value=r.value, stderr=r.stderr, source_sha256=r.source_sha256)
            out = (r, result_distribution(r, meta), ref)
        self._best[key] = out
        return out

    def quantity(self, name: str, regime: str | None = None, *,
                 original_systemic: bool = False
                 ) -> tuple[_Dist, EvidenceRef, str | None] | None:
        """A model quantity's distribution, reference and note (None when unknown); cached.
        `regime` says whose count `cumulative_compute` is (tripwire.ledger.REGIMES);
        `original_systemic` picks the one-third test's fallback when the original model's
        compute is unknown (10^25 rather than 10^23 FLOP)."""
        key = (name, regime if name in _REGIME_QUANTITIES else None,
               original_systemic if name == "modification_share" else None)
        if key in self._quantities:
            return self._quantities[key]
        if name in MODIFIER_QUANTITIES:
            out = self._modifier_quantity(name, regime, original_systemic)
            self._quantities[key] = out
            return out
        got = quantity_distribution(self.model, name, self.ledger, regime, self.lineage)
        out = None
        if got is not None:
            dist, value = got
            note = None
            if name == "cumulative_compute" and self.ledger:
                total = cumulative_total(self.model, self.ledger, regime, self.lineage)
                assert total is not None
                lin = self.lineage
                inherited = (f"; {lin.parent}'s compute counted as the initial weights "
                             "(guidelines, Annex A.1)"
                             if lin is not None and lin.parent_entries and not any(
                                 e.component in ledger_mod.BASE_COMPONENTS
                                 for e in self.ledger) else "")
                note = (f"cumulative_compute is the sum of {total.entries} compute-ledger "
                        f"entries counted under {regime or 'every regime'}"
                        + (f" (not counted: {', '.join(total.excluded)})"
                           if total.excluded else "") + inherited
                        + (f"; log-normal, sigma {total.sigma_ln:.3g}" if total.sigma_ln
                           else "; exact"))
            elif dist.kind == "lognormal":
                note = (f"{name} is an estimate: judged log-normal with a factor of 2 as one "
                        "standard deviation" if name == "cost_usd"
                        else f"{name} is {compute.spread_note(self.model)}")
            out = (dist, trusted(EvidenceRef, kind="model", quantity=name, value=value), note)
        self._quantities[key] = out
        return out

    def _modifier_quantity(self, name: str, regime: str | None, original_systemic: bool
                           ) -> tuple[_Dist, EvidenceRef, str | None] | None:
        """`downstream_modification`, `modification_share` or `original_compute` (see
        MODIFIER_QUANTITIES): 0 exactly for a model that is not a downstream modification."""
        lin = self.lineage
        own = [e for e in self.ledger if e.component in ledger_mod.MODIFICATION_COMPONENTS]
        is_mod = lin is not None and lin.downstream and bool(own)

        def out(dist: _Dist, value: float, note: str | None = None
                ) -> tuple[_Dist, EvidenceRef, str | None]:
            return dist, trusted(EvidenceRef, kind="model", quantity=name, value=value), note

        if not is_mod:
            note = (lin.why if lin is not None and not lin.downstream else None)
            return out(_Dist("exact", 0.0), 0.0, note)
        assert lin is not None
        base = ledger_mod.cumulative(lin.parent_entries, regime) if lin.parent_entries \
            else None
        if name == "downstream_modification":
            return out(_Dist("exact", 1.0), 1.0, lin.why)
        if name == "original_compute":
            if base is None or base.flop <= 0:
                return None
            dist = (_Dist("lognormal", math.log(base.flop), base.sigma_ln) if base.sigma_ln
                    else _Dist("exact", base.flop))
            return out(dist, base.flop, f"original_compute is {lin.parent}'s cumulative "
                       f"training compute ({base.flop:.3g} FLOP)")
        mod = ledger_mod.cumulative(own, regime)
        if base is not None and base.flop > 0:
            ratio, sigma = ledger_mod.share(mod, base)
            why = f"{lin.parent}'s training compute ({base.flop:.3g} FLOP)"
        else:
            fallback = ledger_mod.fallback_base(original_systemic)
            ratio, sigma = ledger_mod.share(mod, fallback)
            why = (f"{fallback:.0e} FLOP, since {lin.parent}'s compute is unknown "
                   "(guidelines point 61; set original_systemic_risk=1 when the original is a "
                   "GPAI model with systemic risk)")
        dist = (_Dist("lognormal", math.log(ratio), sigma) if sigma > 0 and ratio > 0
                else _Dist("exact", ratio))
        return out(dist, ratio, f"modification_share: {mod.flop:.3g} FLOP of modification "
                   f"against {why} = {ratio:.3g}")


# ------------------------------------------------------------------------------ distributions

def _p_ge_normal(mu: float, sd: float, t: float) -> float:
    return 0.5 * math.erfc((t - mu) / (sd * _SQRT2))


def _z(level: float) -> float:
    if level in _Z:
        return _Z[level]
    from scipy.stats import norm
    return float(norm.ppf(0.5 + level / 2))


@dataclass(slots=True)
class _Dist:
    kind: str
    """exact | normal | lognormal | beta"""
    a: float
    b: float = 0.0
    note: str | None = None

    def p_ge(self, t: float, strict: bool) -> float:
        """P(X >= t) (or > t for `strict`, which only matters for exact values)."""
        k = self.kind
        if k == "exact":
            return 1.0 if (self.a > t if strict else self.a >= t) else 0.0
        if k == "normal":
            return _p_ge_normal(self.a, self.b, t)
        if k == "lognormal":
            if t <= 0:
                return 1.0
            return _p_ge_normal(self.a, self.b, math.log(t))
        # beta(a, b) on [0, 1]
        if t <= 0:
            return 1.0
        if t >= 1:
            return 0.0
        from scipy.special import betainc  # SciPy only when a beta distribution is judged

        return float(1.0 - betainc(self.a, self.b, t))

    def prob(self, op: str, t: float) -> float:
        if op in (">=", ">"):
            return self.p_ge(t, op == ">")
        return 1.0 - self.p_ge(t, op == "<=")


def result_distribution(r: EvalResult, bench: Benchmark | None = None) -> _Dist:
    """The sampling distribution of a result's true value (see the module docstring)."""
    v = float(r.value)
    if r.stderr is not None and r.stderr > 0:
        return _Dist("normal", v, float(r.stderr))
    extra = r.extra or {}
    lo, hi = extra.get("ci_low"), extra.get("ci_high")
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and hi > lo:
        z = _z(float(extra.get("ci_level", 0.95)))
        if lo > 0 and v > 0:
            return _Dist("lognormal", math.log(v), (math.log(hi) - math.log(lo)) / (2 * z))
        return _Dist("normal", v, (hi - lo) / (2 * z))
    n = r.samples if r.samples else (bench.samples if bench is not None else None)
    if n and n > 0 and 0.0 <= v <= 1.0:
        k = v * n
        return _Dist("beta", k + 0.5, n - k + 0.5)
    return _Dist("exact", v, note=f"result {r.id if r.id is not None else '?'} on {r.benchmark} "
                 "has no stderr, interval or sample count: judged as exact")


MODIFIER_QUANTITIES = ("downstream_modification", "modification_share", "original_compute")
"""Quantities of the guidelines' one-third test, judged from the model's lineage."""
_REGIME_QUANTITIES = ("cumulative_compute", "modification_share", "original_compute")


def cumulative_total(model: Model, ledger: Sequence[ledger_mod.Entry] = (),
                     regime: str | None = None, lineage: ledger_mod.Lineage | None = None
                     ) -> ledger_mod.Total | None:
    """The cumulative training compute `regime` counts for `model`, from its compute ledger
    (with no pre-training entry, its parent's compute stands in as the initial weights, else
    the register's figure as pre-training); None without a ledger (the register's single
    figure is then the whole)."""
    if not ledger:
        return None
    entries = ledger_mod.with_base(ledger, model.name, model.compute_flop,
                                   compute.compute_sigma_ln(model), model.source, lineage)
    return ledger_mod.cumulative(entries, regime)


def cumulative_compute(model: Model, ledger: Sequence[ledger_mod.Entry] = (),
                       regime: str | None = None, lineage: ledger_mod.Lineage | None = None
                       ) -> float | None:
    """The compute a compute-threshold law counts for `model`: pre-training plus fine-tuning
    and other modifications, as `regime` counts them, from the model's compute ledger. Without
    a ledger it is the register's training compute, which for published estimates (Epoch AI)
    already includes fine-tuning (Epoch's documentation: training compute is the total)."""
    total = cumulative_total(model, ledger, regime, lineage)
    return total.flop if total is not None else model.compute_flop


def quantity_distribution(model: Model, name: str, ledger: Sequence[ledger_mod.Entry] = (),
                          regime: str | None = None,
                          lineage: ledger_mod.Lineage | None = None
                          ) -> tuple[_Dist, float] | None:
    """(distribution, point value) of a model quantity, or None when unknown."""
    if name == "cumulative_compute" and ledger:
        total = cumulative_total(model, ledger, regime, lineage)
        assert total is not None
        if total.flop <= 0:
            return None
        if total.sigma_ln > 0:
            return _Dist("lognormal", math.log(total.flop), total.sigma_ln), total.flop
        return _Dist("exact", total.flop), total.flop
    if name in ("training_compute", "effective_compute", "cumulative_compute"):
        c = (model.compute_flop if name == "training_compute"
             else cumulative_compute(model) if name == "cumulative_compute"
             else model.effective_compute_flop)
        if c is None or c <= 0:
            return None
        sigma = compute.compute_sigma_ln(model)
        if sigma > 0:
            return _Dist("lognormal", math.log(c), sigma), c
        return _Dist("exact", c), c
    if name == "cost_usd":
        if model.cost_usd is None or model.cost_usd <= 0:
            return None
        return _Dist("lognormal", math.log(model.cost_usd), ESTIMATE_SIGMA_LN), model.cost_usd
    v = model.params if name == "params" else model.tokens
    if v is None:
        return None
    return _Dist("exact", float(v)), float(v)


# -------------------------------------------------------------------------------------- judge

_M = TypeVar("_M", bound=BaseModel)


def _complete(cls: type[_M], values: dict[str, Any]) -> _M:
    """A model from values for *every* field, built here (so valid by construction): the
    evaluation hot path makes ~10^5 of these per second, where validation would dominate."""
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def _probs(dist: _Dist, node: Compare) -> Probs:
    op, t = node.op, node.threshold.value
    p = dist.prob(op, t)
    pu = dist.prob(op, node.up) if node.up != t else p
    pd = dist.prob(op, node.down) if node.need_down and node.down != t else p
    return (p, p, pu, pu, pd, pd)


class EvidenceJudge:
    """Answers a condition's questions from one model's Evidence, recording what it used."""

    def __init__(self, policy: LoadedPolicy, ev: Evidence) -> None:
        self.policy = policy
        self.ev = ev
        self.by_bench, self.safeguards = ev.index()
        self.pre_mitigation = False
        self.refs: list[EvidenceRef] = []
        self.missing: list[str] = []
        self.notes: list[str] = []
        self.used_results: dict[int, EvalResult] = {}
        pol = policy.policy
        self.regime = ledger_mod.regime_of(pol.encodes, pol.name)

    def start(self, pre_mitigation: bool) -> None:
        self.pre_mitigation = pre_mitigation
        self.refs, self.missing, self.notes = [], [], []

    # -- the Judge protocol

    def attested(self, safeguard: str) -> bool:
        ok = safeguard in self.safeguards
        self.refs.append(trusted(EvidenceRef, kind="attestation", quantity=safeguard,
                                 value="attested" if ok else "not attested"))
        return ok

    def flagged(self, benchmark: str | None) -> bool:
        if benchmark is None:
            hits = sorted(self.ev.flags)
        else:
            bench = self.policy.benchmark_for(benchmark, self.ev.mapping) or benchmark
            hits = [bench] if bench in self.ev.flags else []
        for h in hits:
            self.refs.append(trusted(EvidenceRef, kind="anomaly", benchmark=h,
                                     value=self.ev.flags[h]))
        return bool(hits)

    def unset(self, parameter: str) -> Probs:
        self.missing.append(f"parameter {parameter} has no value (set it: "
                            f"--set {parameter}=VALUE)")
        return UNKNOWN

    def compare(self, node: Compare) -> Probs:
        target = node.target
        if math.isnan(node.threshold.value):
            name = node.threshold.param
            self.missing.append(f"parameter {name} has no value (the source states no number; "
                                f"set one: --set {name}=VALUE)")
            return UNKNOWN
        if isinstance(target, Quantity):
            q = self.ev.quantity(target.name, self.regime, original_systemic=(
                (self.policy.parameters.get("original_systemic_risk") or 0) >= 1))
            if q is None:
                self.missing.append(f"{target.name} of {self.ev.model.name} is unknown")
                return UNKNOWN
            dist, ref, note = q
            if note:
                self.notes.append(note)
            self.refs.append(ref)
        else:
            return self.compare_score(node)
        return _probs(dist, node)

    def compare_score(self, node: Compare) -> Probs:
        """P(score op threshold) from the best recorded result (overridden by forecasts)."""
        best = self.best(node.target.name)
        if isinstance(best, str):
            self.missing.append(best)
            return UNKNOWN
        r, dist, ref = best
        self.refs.append(ref)
        if dist.note:
            self.notes.append(dist.note)
        if self.ev.flags and r.benchmark in self.ev.flags:
            self.notes.append(f"{r.benchmark} is flagged: {self.ev.flags[r.benchmark]}")
        return _probs(dist, node)

    def best(self, name: str) -> tuple[EvalResult, _Dist, EvidenceRef] | str:
        """The best usable result for evidence `name`, or a sentence saying why there is none."""
        bench = self.policy.benchmark_for(name, self.ev.mapping)
        if bench is None:
            return (f'evidence "{name}" is not mapped to a benchmark '
                    f"(map it: --map {name}=BENCHMARK)")
        got = self.ev.best(bench, self.pre_mitigation)
        if isinstance(got, str):
            label = bench if bench == name else f"{bench} (for {name})"
            if got == "post-only":
                return (f"only post-mitigation results on {label}; the policy requires "
                        "pre-mitigation (helpful-only) evaluations")
            return f"no result for {self.ev.model.name} on {label}"
        self.used_results[id(got[0])] = got[0]
        return got


# -------------------------------------------------------------------------------- judgement

def _state(p: float, pu: float, confidence: float, alert: float,
           rule_out: float | None = None) -> str:
    if p >= confidence:
        return "crossed"
    if p >= 0.5:
        return "likely"
    if rule_out is not None and p > 1.0 - rule_out:
        return "possible"
    if pu >= 0.5 or alert >= 0.5:
        return "alert"
    return "clear"


def judge_threshold(t: CompiledThreshold, judge: EvidenceJudge,
                    counting: Iterable[str] = ("crossed",)) -> ThresholdState:
    """One threshold's state, probability, evidence and reason; `counting` are the states that
    count toward a level (an undetermined state that could reach them is insufficient)."""
    counting = set(counting)
    if t.rule_out is not None:
        counting |= {"crossed", "likely", "possible"}
    judge.start(t.pre_mitigation)
    lo, hi, ulo, uhi, _, _ = t.condition.ev(judge)
    k = len(judge.missing)
    alo = ahi = 0.0
    if t.alert is not None:
        alo, ahi, _, _, _, _ = t.alert.ev(judge)
    s_lo = _state(lo, ulo, t.confidence, alo, t.rule_out)
    s_hi = _state(hi, uhi, t.confidence, ahi, t.rule_out)
    missing = list(dict.fromkeys(judge.missing[:k]))
    early = list(dict.fromkeys(judge.missing[k:]))
    if s_lo == s_hi:
        state = s_lo
        prob = lo if lo == hi else (lo if state in ("crossed", "likely", "possible") else hi)
        reason = f"P = {prob:.3g} (crossed at {t.confidence:g}" + (
            f"; ruled out at P <= {1 - t.rule_out:.3g})" if t.rule_out is not None else ")")
        if state == "possible":
            reason += "; not ruled out, so it counts"
        if missing:
            reason += "; missing evidence does not change the state: " + "; ".join(missing)
        if early and state == "clear":
            reason += "; early-warning evidence missing: " + "; ".join(early)
    elif s_hi in ("crossed", "likely") or s_hi in counting:
        # The missing evidence could make the threshold count: say so, never pass silently.
        state, prob = "insufficient", None
        reason = f"P between {lo:.3g} and {hi:.3g}: " + "; ".join(missing or early)
    else:
        # Only the early warning is undetermined; the threshold itself is decided.
        state, prob = s_lo, lo
        reason = (f"P = {lo:.3g} (crossed at {t.confidence:g}); early-warning evidence "
                  "missing: " + "; ".join(early or missing))
    notes = list(dict.fromkeys(judge.notes))
    if notes:
        reason += "; " + "; ".join(notes)
    return _complete(ThresholdState, {
        "id": t.id, "level": t.level, "state": state, "probability": prob, "reason": reason,
        "evidence": list(judge.refs)})


def add_months(d: dt.date, months: float) -> dt.date:
    """`d` plus a number of months: whole months by the calendar (day clamped), the fraction
    as 30.44-day months."""
    whole = int(months)
    y, m = divmod(d.month - 1 + whole, 12)
    year, month = d.year + y, m + 1
    import calendar
    day = min(d.day, calendar.monthrange(year, month)[1])
    out = dt.date(year, month, day)
    frac = months - whole
    if frac:
        out += dt.timedelta(days=round(frac * 30.436875))
    return out


def evaluate_policy(policy: LoadedPolicy, evidence: Evidence, *,
                    at: dt.datetime | None = None,
                    judge: EvidenceJudge | None = None) -> Determination:
    """Judge every threshold of `policy` on `evidence`: the level reached, the required and
    missing safeguards, the allowed actions and when the cadence requires the next assessment.

    Pure: reads nothing and stores nothing. `assess` gathers the evidence and records the result.
    """
    at = at or utcnow()
    pol = policy.policy
    judge = judge or EvidenceJudge(policy, evidence)
    counting = set(pol.level_states)
    states = [judge_threshold(t, judge, counting) for t in policy.thresholds]
    counts = policy.counting_states

    reached = -1
    worst_unknown = -1
    for st in states:
        i = policy.level_positions.get(st.level, -1)
        if st.state in counts[st.id]:
            reached = max(reached, i)
        elif st.state == "insufficient":
            worst_unknown = max(worst_unknown, i)
    default = policy.level_positions.get(pol.default_level, -1) if pol.default_level else -1
    reached = max(reached, default)
    level = pol.levels[reached].id if reached >= 0 else None

    by_id = policy.specs
    own = [by_id[st.id] for st in states
           if st.state in counts[st.id] and by_id[st.id].requires_any]
    required = policy.required_at(level)
    required = (_merge(required, pol.threshold_required(own)) if own
                else {a: list(v) for a, v in required.items()})
    have = judge.safeguards
    missing = {a: [s for s in required[a] if s not in have] for a in ACTIONS}
    # An insufficient threshold could still demand its level's and its own safeguards: the
    # action is only allowed when those are in place too.
    unknown = [by_id[st.id] for st in states if st.state == "insufficient"]
    precaution = None
    if unknown:
        precaution = _merge(policy.required_at(pol.levels[max(worst_unknown, reached)].id),
                            pol.threshold_required(unknown))
    allowed = []
    for a in ACTIONS:
        if missing[a]:
            continue
        if precaution is not None and any(s not in have for s in precaution[a]):
            continue
        allowed.append(a)

    notes = list(policy.notes)
    if precaution is not None:
        waiting = sorted({s for a in ACTIONS for s in precaution[a] if s not in have})
        if waiting:
            notes.append("evidence is insufficient for " + ", ".join(t.id for t in unknown)
                         + ": actions needing " + ", ".join(waiting)
                         + " wait for that evidence or for those attestations")
    unrecorded = [r for r in judge.used_results.values() if r.variant is None]
    if policy.any_pre_mitigation and unrecorded and evidence.model.variant is None:
        notes.append("pre-mitigation evaluations are required; some results used do not record "
                     "their variant and were taken as pre-mitigation")

    next_due = None
    next_compute = None
    cad = pol.cadence
    if cad is not None:
        if cad.months is not None:
            times = [r.created_at for r in judge.used_results.values()
                     if r.created_at is not None]
            base = max(times) if times else at
            next_due = add_months(base.date(), cad.months)
        if cad.compute_factor is not None:
            eff = evidence.model.effective_compute_flop
            if eff is not None:
                next_compute = eff * cad.compute_factor
    return _complete(Determination, {
        "version": 1, "model": evidence.model.name, "policy": pol.name,
        "policy_version": pol.version, "policy_sha256": policy.sha256, "at": at,
        "level": level, "thresholds": states, "required_safeguards": required,
        "missing_safeguards": missing, "allowed_actions": allowed, "next_due": next_due,
        "next_due_compute_flop": next_compute, "forecasts": [], "notes": notes,
        "mapping": dict(evidence.mapping), "parameters": dict(policy.parameters),
        "evidence_rows": {}})


def _merge(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: a.get(k, []) + [s for s in b.get(k, []) if s not in a.get(k, [])]
            for k in ACTIONS}


def summarize(det: Determination) -> dict[str, Any]:
    """Counts of threshold states in a determination (for tables and benchmarks)."""
    out: dict[str, Any] = {s: 0 for s in STATE_ORDER}
    for t in det.thresholds:
        out[t.state] += 1
    return out
