"""Apply a policy to the register's evidence: determinations, gates, plans and attestations.

`tripwire.policy` judges evidence it is handed; this module gathers that evidence from the
register (the model, its results with their source-file hashes, the benchmarks' metadata,
attestations from the record, anomaly flags from the forecasts) and writes what was decided to
the append-only record: the policy text once per version (kind `policy`), every determination
(kind `determination`) and every attestation (kind `attestation`), each append in one
transaction with the policy it used.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import logging
import math
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tripwire.errors import InputError, InsufficientEvidence
from tripwire.model import (
    Attestation,
    Benchmark,
    ComputeMethod,
    Determination,
    EvalResult,
    Model,
    ThresholdState,
    utcnow,
)
from tripwire.policy import ACTIONS, Evidence, EvidenceJudge, LoadedPolicy, evaluate_policy
from tripwire.policy.expr import UNKNOWN, Compare, Probs, Quantity, Score
from tripwire.policy.loader import builtin_names, load_policy
from tripwire.register import Register
from tripwire.register.record_store import append_entry, entries, lock_appends

log = logging.getLogger(__name__)

__all__ = [
    "Assessment",
    "BottomLine",
    "GateDecision",
    "Plan",
    "Unjudged",
    "assess",
    "attest",
    "attestations",
    "bottom_line",
    "determinations",
    "gate",
    "gather_evidence",
    "plan",
    "quantity_lines",
    "resolve_policy",
]


# ----------------------------------------------------------------------------------- inputs

def _close(name: str, choices: Iterable[str]) -> str:
    choices = sorted(set(choices))
    near = difflib.get_close_matches(name, choices, n=4, cutoff=0.5)
    if near:
        return "did you mean: " + ", ".join(near)
    return "known: " + (", ".join(choices[:12]) + (" ..." if len(choices) > 12 else "")
                        if choices else "none")


def resolve_policy(ref: str | Path | LoadedPolicy, *,
                   overrides: Mapping[str, float] | None = None) -> LoadedPolicy:
    """A built-in name, a policy file path, or an already loaded policy."""
    if isinstance(ref, LoadedPolicy):
        if overrides:
            return load_policy(ref.source if not ref.builtin else ref.name, overrides=overrides)
        return ref
    return load_policy(ref, overrides=overrides)


def _check_mapping(policy: LoadedPolicy, mapping: Mapping[str, str]) -> None:
    names = set(policy.policy.evidence)
    for t in policy.thresholds:
        for cond in (t.condition, t.alert):
            if cond is not None:
                names.update(n for n, _ in cond.benchmarks)
    for key in mapping:
        if key not in names:
            raise InputError(f"--map {key}=...: policy {policy.name} has no evidence named "
                             f"{key!r}", hint=_close(key, names))


def _referenced(policy: LoadedPolicy, mapping: Mapping[str, str]) -> dict[str, str | None]:
    """Evidence name -> benchmark id, for every score(...) and flagged(...) the policy uses."""
    out: dict[str, str | None] = {}
    for t in policy.thresholds:
        for cond in (t.condition, t.alert):
            if cond is None:
                continue
            for name, _ in cond.benchmarks:
                out[name] = policy.benchmark_for(name, mapping)
    return out


# -------------------------------------------------------------------------------- the record

def _record_policy(conn: Any, policy: LoadedPolicy) -> None:
    """Append the policy (name, version, sha256 and text) unless this version is recorded."""
    lock_appends(conn)  # concurrent assessments must not both find it missing and append it
    for e in entries(conn, kind="policy"):
        if e.payload.get("sha256") == policy.sha256:
            return
    text = None
    if policy.builtin:
        from tripwire.policy.loader import builtin_text
        text = builtin_text(policy.name)
    else:
        try:
            text = Path(policy.source).read_text("utf-8")
        except OSError:
            text = None
    if text is not None and hashlib.sha256(text.encode("utf-8")).hexdigest() != policy.sha256:
        text = None  # the file changed since it was loaded: record the identity only
    append_entry(conn, "policy", {"name": policy.name, "version": policy.version,
                                  "sha256": policy.sha256, "source": policy.source,
                                  "builtin": policy.builtin, "text": text})


_ATTESTED: weakref.WeakKeyDictionary[Register, tuple[int, list[Attestation]]] = (
    weakref.WeakKeyDictionary())


def attestations(reg: Register, model: str | None = None) -> list[Attestation]:
    """Attestations from the record: all, or those covering `model` (its own and every-model
    ones). Like `determinations`, each register object parses an entry once."""
    last, out = _ATTESTED.get(reg, (-1, []))
    with reg.read() as conn:
        rows = entries(conn, kind="attestation", after=last)
    if rows:
        out = out + [Attestation.model_validate(e.payload) for e in rows]
        _ATTESTED[reg] = (rows[-1].seq, out)
    return [a for a in out if model is None or a.model is None or a.model == model]


_PARSED: weakref.WeakKeyDictionary[Register, tuple[int, list[Determination]]] = (
    weakref.WeakKeyDictionary())


def determinations(reg: Register, model: str | None = None,
                   policy: str | None = None) -> list[Determination]:
    """Determinations from the record, oldest first, optionally for one model / policy.

    The record is append-only, so each register object parses an entry once: later calls
    read only the entries appended since (assessing many models stays linear)."""
    last, out = _PARSED.get(reg, (-1, []))
    with reg.read() as conn:
        rows = entries(conn, kind="determination", after=last)
    if rows:
        out = out + [Determination.model_validate(e.payload) for e in rows]
        _PARSED[reg] = (rows[-1].seq, out)
    return [d for d in out if (model is None or d.model == model)
            and (policy is None or d.policy == policy)]


# ---------------------------------------------------------------------------------- evidence

def _anomaly_flags(reg: Register, model: Model, benches: Iterable[str],
                   notes: list[str]) -> dict[str, str]:
    """Benchmarks on which `model` scores implausibly low for its effective compute: the
    check `forecast --anomalies` and the reports show (forecast.benchmark_anomalies)."""
    flags: dict[str, str] = {}
    models = {m.name: m for m in reg.models()}
    for bench in sorted(set(benches)):
        meta = _benchmark(reg, bench)
        results = reg.results(benchmark=bench)
        if meta is None or not model.effective_compute_flop \
                or not any(r.model == model.name for r in results):
            continue
        try:  # the numeric stack only when there is a fit to make
            from tripwire.forecast import benchmark_anomalies
        except ImportError:  # forecasting not installed in this build
            return flags
        try:
            frame = benchmark_anomalies(results, models, meta)
        except (InsufficientEvidence, InputError) as e:
            notes.append(f"no anomaly check on {bench}: {e}")
            continue
        row = frame[frame["model"] == model.name]
        if len(row) and bool(row["flagged"].iloc[0]):
            z = float(row["z"].iloc[0])
            exp = float(row["expected"].iloc[0])
            flags[bench] = (f"score {float(row['score'].iloc[0]):.4g} is implausibly low for "
                            f"its effective compute (expected {exp:.4g}, z = {z:.4g}): "
                            "possible sandbagging or a broken evaluation")
    return flags


def _benchmark(reg: Register, bid: str) -> Benchmark | None:
    try:
        return reg.get_benchmark(bid)
    except InputError:
        return None


def _evidence_benchmarks(reg: Register, policy: LoadedPolicy, mapping: Mapping[str, str]
                         ) -> tuple[list[str], dict[str, Benchmark]]:
    """The register's metadata of each benchmark the policy's evidence names, and at most two
    warnings: the evidence not mapped to a benchmark, and the benchmarks the register lacks."""
    known = {b.id for b in reg.benchmarks()}
    unmapped: list[str] = []
    absent: list[str] = []
    benches: dict[str, Benchmark] = {}
    for name, bench in _referenced(policy, mapping).items():
        if bench is None:
            unmapped.append(name)
        elif bench not in known:
            absent.append(bench + (f" (for {name})" if bench != name else ""))
        else:
            meta = _benchmark(reg, bench)
            if meta is not None:
                benches[bench] = meta
    warnings = []
    if unmapped:
        warnings.append(f"not mapped to a benchmark (--map NAME=BENCHMARK): {', '.join(unmapped)}")
    if absent:
        first = absent[0].split(" ", 1)[0]
        warnings.append(f"no results in the register for: {', '.join(absent)} "
                        f"({_close(first, known)})")
    return warnings, benches


def gather_evidence(reg: Register, model: str, policy: LoadedPolicy, *,
                    mapping: Mapping[str, str] | None = None,
                    anomalies: bool = True) -> tuple[Evidence, list[str]]:
    """The register's evidence about `model` for `policy`, with warnings (unknown benchmarks,
    unmapped evidence). An unknown model raises InputError listing close names."""
    mapping = dict(mapping or {})
    _check_mapping(policy, mapping)
    m = reg.get_model(model)
    results = reg.results(model=m.name)
    warnings, benches = _evidence_benchmarks(reg, policy, mapping)
    notes: list[str] = []
    flags = _anomaly_flags(reg, m, benches, notes) if anomalies else {}
    warnings.extend(notes)
    from tripwire.accounts import lineage

    recorded = reg.ledger(m.name).get(m.name, [])
    ev = Evidence(model=m, results=results, benchmarks=benches,
                  attestations=attestations(reg, m.name), flags=flags, mapping=mapping,
                  ledger=recorded, lineage=lineage(reg, m, recorded))
    return ev, warnings


# -------------------------------------------------------------------------------------- assess

@dataclass
class Unjudged:
    """A threshold that could not be judged: why, and what assuming it crossed would change."""

    threshold: str
    level: str
    why: list[str]
    """The missing evidence, as the policy engine names it."""
    raises_level: bool
    """Crossed, it would put the model at a level above the one reached."""
    would_require: dict[str, list[str]]
    """Action -> safeguards it would add to those missing now (not attested)."""

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "level": self.level, "why": self.why,
                "raises_level": self.raises_level, "would_require": self.would_require}


@dataclass
class BottomLine:
    """The one-line answer ending `assess`, `gate` and `plan`, with the exit code it implies
    and the thresholds it could not judge."""

    text: str
    exit_code: int
    """0 answered; 1 blocked whatever the missing evidence says (gate); 3 the missing or
    stale evidence could change the answer."""
    unjudged: list[Unjudged] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "exit_code": self.exit_code,
                "unjudged": [u.to_dict() for u in self.unjudged]}


@dataclass
class Assessment:
    """A determination with what the register adds: warnings, staleness, its record entry,
    and its bottom line."""

    determination: Determination
    warnings: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    """Why the evidence is out of date under the policy's cadence, or no longer what the record
    committed (empty when current)."""
    tampered: list[str] = field(default_factory=list)
    """Evidence rows the determination used that were changed, added or removed outside
    tripwire (also in `stale`): the answer rests on evidence the record does not vouch for."""
    entry: int | None = None
    """Sequence number of the determination in the record (None when not recorded)."""
    bottom: BottomLine | None = None
    policy: LoadedPolicy | None = field(default=None, repr=False)
    """The policy as judged (with `--set` values), for the gate's bottom line."""
    have: set[str] = field(default_factory=set, repr=False)
    """Safeguards attested for the model when it was judged."""

    def to_dict(self) -> dict[str, Any]:
        return {"determination": self.determination.model_dump(mode="json"),
                "warnings": self.warnings, "stale": self.stale, "tampered": self.tampered,
                "entry": self.entry,
                "bottom_line": self.bottom.to_dict() if self.bottom else None}


# -------------------------------------------------------------------------------- bottom line

def _why(message: str) -> str:
    """A short cause for a missing-evidence sentence of the policy engine (for the one line)."""
    m = message
    if m.startswith("parameter "):
        return "a parameter without a value"
    if m.startswith('evidence "') and "not mapped" in m:
        return "no mapped evidence"
    if m.startswith("only post-mitigation"):
        return "only post-mitigation results"
    if m.startswith("no result for "):
        return "no result on " + m.rsplit(" on ", 1)[-1]
    if m.startswith(("no forecast", "no model with known compute")):
        return "no forecast"
    if m.endswith(" is unknown"):
        return m.split(" of ", 1)[0] + " unknown"
    return m if len(m) <= 60 else m[:57] + "..."


def _names(items: list[str], n: int = 6) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if items[n:] else "")


def bottom_line(det: Determination, policy: LoadedPolicy, *, have: Iterable[str],
                action: str | None = None, stale: Iterable[str] = (),
                tampered: Iterable[str] = (), blocked_by: Iterable[str] = (),
                planned: bool = False) -> BottomLine:
    """The answer in one line, what could not be judged, and the exit code.

    An insufficient threshold *could change the answer* when, assumed crossed, it would raise
    the level or add safeguards that are not attested (for `assess` and `plan`), or flip the
    action between allowed and blocked (for `gate`, `action` given). It is enough to assume
    one threshold at a time: a level's and thresholds' requirements only add up, so any set
    of them blocks whenever its highest-level member or one of its own requirements does.

    Exit code: 1 when the action is blocked whatever the missing evidence says (the missing
    safeguards are named, and so is what could not be judged); 3 when missing or stale
    evidence could change the answer, and always when rows the answer rests on were changed
    outside tripwire (`tampered`, also among `stale`): the record no longer vouches for them;
    else 0. `blocked_by` names what blocks the action whatever the evidence (e.g. overdue
    obligations under a policy that blocks on them).
    """
    have = set(have)
    pol = policy.policy
    pos = policy.level_positions
    counting = set(pol.level_states)
    reached = pos.get(det.level, -1) if det.level is not None else -1
    own = [policy.specs[t.id] for t in det.thresholds
           if t.state in counting and t.id in policy.specs and policy.specs[t.id].requires_any]
    now = {a: list(det.missing_safeguards.get(a, [])) for a in ACTIONS}

    def missing_if(t: ThresholdState) -> dict[str, list[str]]:
        i = max(reached, pos.get(t.level, -1))
        req = policy.required_at(pol.levels[i].id if i >= 0 else None)
        extra = pol.threshold_required(own + [policy.specs[t.id]])
        return {a: [x for x in dict.fromkeys(req[a] + extra[a]) if x not in have]
                for a in ACTIONS}

    unjudged: list[Unjudged] = []
    blocked_if: list[bool] = []
    for t in det.thresholds:
        if t.state != "insufficient" or t.id not in policy.specs:
            continue
        m = missing_if(t)
        adds = {a: [x for x in m[a] if x not in now[a]] for a in ACTIONS}
        why = t.reason.split(": ", 1)[1] if t.reason and ": " in t.reason else (t.reason or "")
        unjudged.append(Unjudged(t.id, t.level, [w for w in why.split("; ") if w],
                                 pos.get(t.level, -1) > reached,
                                 {a: v for a, v in adds.items() if v}))
        if action is not None:
            blocked_if.append(bool(m[action]))
    stale = list(stale)
    level = det.level or ("none (below every level)" if action is None else "none")

    # What could not be judged, grouped by cause, naming the levels it cannot rule out.
    unknown_part = ""
    if unjudged:
        by_cause: dict[str, list[str]] = {}
        for u in unjudged:
            by_cause.setdefault(_why(u.why[0]) if u.why else "evidence missing",
                                []).append(u.threshold)
        higher = sorted({u.level for u in unjudged if u.raises_level},
                        key=lambda lv: pos.get(lv, -1))
        n = len(unjudged)
        causes = "; ".join(f"{c}: {_names(ids)}" for c, ids in by_cause.items())
        head = f"cannot rule out {' or '.join(higher)}: " if higher else ""
        unknown_part = (f"{head}{n} threshold{'s' if n > 1 else ''} insufficient ({causes})")

    if action is None:
        could = any(u.raises_level or u.would_require for u in unjudged)
        code = 3 if could or stale else 0
        text = ("projected level " if planned else "level ") + level
        if unjudged:
            text += "; " + unknown_part
            if not could:
                text += ", which would change nothing: the safeguards they require are in place"
        else:
            text += "; every threshold judged"
    else:
        fixed = list(blocked_by)
        blocked = bool(now[action]) or bool(fixed)
        flips = not fixed and any(b != blocked for b in blocked_if)
        added = sorted({x for u in unjudged for x in u.would_require.get(action, [])})
        if blocked and not flips:
            code = 1
            needs = (f"{action} needs {', '.join(now[action])}" if now[action]
                     else f"{action} is blocked")
            text = f"BLOCKED: {needs} (level {level})" + "".join(f"; {b}" for b in fixed)
            if unjudged:
                text += ("; also " + unknown_part
                         + (f", which would add {', '.join(added)}" if added else ""))
            else:
                text += "; every threshold judged"
        elif flips:
            code = 3
            verdict = "blocked" if blocked else "allowed"
            text = (f"INSUFFICIENT EVIDENCE: {action} is {verdict} on the evidence judged "
                    f"(level {level}), but {unknown_part}"
                    + (f", which would require {', '.join(added)}" if added else ""))
        else:
            code = 3 if stale else 0
            text = (f"{'STALE EVIDENCE' if stale else 'ALLOWED'}: {action} "
                    f"(level {level}; every safeguard it requires is attested)")
            if unjudged:
                text += f"; {unknown_part}, whose safeguards are in place as well"
    tampered = list(tampered)
    if (stale and code != 1) or tampered:
        code = 3
    if stale:
        text += f"; evidence stale: {stale[0]}" + (f" (+{len(stale) - 1})" if stale[1:] else "")
    return BottomLine(text + f" [exit {code}]", code, unjudged)


def _stale(reg: Register, det: Determination, model: Model, at: dt.datetime) -> list[str]:
    """Cadence checks: the newest evidence is older than the cadence allows, or the model's
    effective compute grew by the cadence factor since the same evidence was last assessed."""
    out = []
    if det.next_due is not None and at.date() > det.next_due:
        out.append(f"the newest evaluation evidence is past the cadence: re-assessment was due "
                   f"{det.next_due.isoformat()}")
    eff = model.effective_compute_flop
    used = {e.result_id for t in det.thresholds for e in t.evidence if e.result_id is not None}
    if eff is not None and used:
        for prior in determinations(reg, model=det.model, policy=det.policy):
            before = {e.result_id for t in prior.thresholds for e in t.evidence
                      if e.result_id is not None}
            due = prior.next_due_compute_flop
            if before == used and due is not None and eff >= due * (1 - 1e-12):
                out.append(f"effective compute {eff:.3g} FLOP reached the cadence mark "
                           f"{due:.3g} FLOP set when this evidence was assessed "
                           f"({prior.at.date().isoformat()}): run the evaluations again")
                break
    return out


def _evidence_rows(reg: Register, det: Determination, ev: Evidence) -> list[str]:
    """Name in `det` the register rows it rests on (their leaf hashes, as the record commits
    them); return those that differ from what the record committed."""
    from tripwire.register.evidence import evidence_state, used_rows

    ids = {e.result_id for t in det.thresholds for e in t.evidence if e.result_id is not None}
    with reg.read() as conn:
        wanted = used_rows(conn, ev.model.name, ids, ev.benchmarks,
                           [e.id for e in ev.ledger if e.id is not None])
        det.evidence_rows, changed = evidence_state(conn, wanted)
    return [str(c) for c in changed]


def assess(reg: Register, model: str, policy: str | Path | LoadedPolicy, *,
           mapping: Mapping[str, str] | None = None,
           overrides: Mapping[str, float] | None = None,
           at: dt.datetime | None = None, record: bool = True,
           anomalies: bool = True) -> Assessment:
    """Judge `model` under `policy` on the register's evidence and record the determination.

    The policy (once per version) and the determination are appended to the record in one
    transaction, so every decision can later be traced to the exact policy text and evidence.
    """
    pol = resolve_policy(policy, overrides=overrides)
    at = at or utcnow()
    ev, warnings = gather_evidence(reg, model, pol, mapping=mapping, anomalies=anomalies)
    warnings = [str(w) for w in pol.warnings] + warnings
    det = evaluate_policy(pol, ev, at=at)
    stale = _stale(reg, det, ev.model, at)
    tampered = _evidence_rows(reg, det, ev)
    stale += [f"evidence no longer what the record committed: {t}" for t in tampered]
    if stale:
        det.notes.extend(f"stale: {s}" for s in stale)
    seq = None
    if record:
        with reg.transaction() as conn:
            _record_policy(conn, pol)
            seq = append_entry(conn, "determination", det.model_dump(mode="json")).seq
    have = ev.index()[1]
    return Assessment(det, warnings, stale, tampered, seq,
                      bottom_line(det, pol, have=have, stale=stale, tampered=tampered), pol,
                      set(have))


# ---------------------------------------------------------------------------------------- gate

@dataclass
class GateDecision:
    """Whether an action may proceed, the exit code a CI pipeline uses, and why."""

    action: str
    allowed: bool
    exit_code: int
    """0 allowed, 1 blocked whatever the missing evidence says, 3 insufficient or stale
    evidence could change the answer (see `bottom_line`)."""
    reasons: list[str]
    missing: list[str]
    assessment: Assessment
    bottom: BottomLine | None = None

    def to_dict(self) -> dict[str, Any]:
        d = self.assessment.determination
        return {"model": d.model, "policy": d.policy, "action": self.action,
                "allowed": self.allowed, "exit_code": self.exit_code, "reasons": self.reasons,
                "missing_safeguards": self.missing, "level": d.level,
                "entry": self.assessment.entry,
                "bottom_line": self.bottom.to_dict() if self.bottom else None,
                "determination": d.model_dump(mode="json")}


def gate(reg: Register, model: str, action: str, policy: str | Path | LoadedPolicy, *,
         mapping: Mapping[str, str] | None = None,
         overrides: Mapping[str, float] | None = None,
         at: dt.datetime | None = None, record: bool = True) -> GateDecision:
    """Assess now and decide whether `action` (train or deploy) may proceed.

    Blocked (1) when the level reached requires safeguards not attested and no missing
    evidence could lift that; insufficient (3) when a threshold that cannot be judged would,
    if crossed, require safeguards not attested, or when the evidence is stale; otherwise
    allowed (0). `bottom_line` holds the rule.
    """
    from tripwire import obligations as obl

    if action not in ACTIONS:
        raise InputError(f"unknown action {action!r}", hint="use train or deploy")
    at = at or obl.now()
    pol = resolve_policy(policy, overrides=overrides)
    a = assess(reg, model, pol, mapping=mapping, overrides=overrides, at=at, record=record)
    d = a.determination
    overdue = obl.overdue_for(reg, d.model, pol, at)
    blocking = [f"{pol.name} blocks on overdue obligations"] if (
        overdue and pol.policy.overdue == "block") else []
    assert a.policy is not None
    bl = bottom_line(d, a.policy, have=a.have, action=action, stale=a.stale,
                     tampered=a.tampered, blocked_by=blocking)
    missing = list(d.missing_safeguards.get(action, []))
    insufficient = [t for t in d.thresholds if t.state == "insufficient"]
    unknown = [f"{t.id}: insufficient evidence ({t.reason})" for t in insufficient]
    reasons: list[str] = []
    stale = a.stale[: len(a.stale) - len(a.tampered)]  # the cadence's; tampered rows follow
    if a.tampered:  # blocked or allowed, the record no longer vouches for the answer's rows
        reasons.append("stale evidence: rows this decision rests on were changed outside "
                       "tripwire (run `tripwire verify`)")
        reasons.extend(a.tampered)
    if missing:  # blocked: what blocks first
        reasons.append(f"level {d.level} requires safeguards not attested for {action}: "
                       + ", ".join(missing))
        reasons += unknown + stale
    elif blocking:
        reasons += blocking + unknown + stale
    elif action not in d.allowed_actions:  # the missing evidence could block it
        reasons += unknown + stale
    else:
        reasons += stale
        reasons.append(f"level {d.level or 'none'}: every safeguard required for {action} is "
                       "attested")
        if insufficient:
            reasons.append("insufficient evidence for " + ", ".join(t.id for t in insufficient)
                           + ", but the safeguards those thresholds would require are in place")
    for o in overdue:
        reasons.append(f"overdue: {o.safeguard} was due {o.due.date().isoformat()} "
                       f"({-o.days_left:.0f} days ago; within {o.within} of {o.event}, record "
                       f"entry {o.event_seq}; {o.source}): attest it when met")
    return GateDecision(action, bl.exit_code == 0, bl.exit_code, reasons, missing, a, bl)


# ---------------------------------------------------------------------------------------- plan

@dataclass
class Plan:
    """What a planned model is expected to cross, and what to have in place before training."""

    planned: Model
    determination: Determination
    safeguards_first: dict[str, list[str]]
    """Action -> safeguards the projected level requires that are not attested organisation-
    wide yet (have them before training / deploying the planned model)."""
    forecasts: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    bottom: BottomLine | None = None
    entry: int | None = None
    """Record entry of the planned run (with a start date), else None."""

    def to_dict(self) -> dict[str, Any]:
        return {"planned": self.planned.model_dump(mode="json"),
                "determination": self.determination.model_dump(mode="json"),
                "safeguards_first": self.safeguards_first, "forecasts": self.forecasts,
                "warnings": self.warnings, "entry": self.entry,
                "bottom_line": self.bottom.to_dict() if self.bottom else None}


class _ForecastJudge(EvidenceJudge):
    """Judges score comparisons for a model not yet trained, from the register's scaling
    (forecast.crossing_probability over every model's best result and effective compute)."""

    def __init__(self, policy: LoadedPolicy, ev: Evidence, reg: Register, *, n_boot: int,
                 seed: int) -> None:
        super().__init__(policy, ev)
        self.reg, self.n_boot, self.seed = reg, n_boot, seed
        self.forecasts: list[dict[str, Any]] = []
        self._data: dict[str, tuple[list[float], list[float], list[int | None]] | str] = {}
        self._cache: dict[tuple[str, float], float | str] = {}
        self._models = {m.name: m for m in reg.models()}

    def data(self, bench: str) -> tuple[list[float], list[float], list[int | None]] | str:
        if bench in self._data:
            return self._data[bench]
        best: dict[str, EvalResult] = {}
        for r in self.reg.results(benchmark=bench):
            if r.model not in best or r.value > best[r.model].value:
                best[r.model] = r
        xs, ys, ns = [], [], []
        for name, r in best.items():
            m = self._models.get(name)
            if m is not None and m.effective_compute_flop:
                xs.append(m.effective_compute_flop)
                ys.append(r.value)
                ns.append(r.samples)
        out: tuple[list[float], list[float], list[int | None]] | str
        out = (xs, ys, ns) if xs else f"no model with known compute has a result on {bench}"
        self._data[bench] = out
        return out

    def crossing(self, bench: str, threshold: float) -> float | str:
        key = (bench, threshold)
        if key in self._cache:
            return self._cache[key]
        from tripwire.forecast import crossing_probability
        got = self.data(bench)
        out: float | str
        if isinstance(got, str):
            out = got
        else:
            xs, ys, ns = got
            meta = self.ev.benchmarks.get(bench)
            floor = meta.chance if meta is not None and meta.chance is not None else 0.0
            ceiling = meta.ceiling if meta is not None else None
            samples = [n for n in ns if n is not None]
            eff = self.ev.model.effective_compute_flop
            assert eff is not None  # a planned model always has compute
            try:
                fc = crossing_probability(xs, ys, threshold=threshold, at_compute_flop=eff,
                                          floor=floor, ceiling=ceiling,
                                          samples=samples if len(samples) == len(xs) else None,
                                          n_boot=self.n_boot, seed=self.seed)
            except InsufficientEvidence as e:
                out = f"no forecast for {bench} at {threshold:g}: {e}"
            else:
                if fc.probability is None or not math.isfinite(fc.probability):
                    out = f"no forecast for {bench} at {threshold:g}: " + "; ".join(fc.warnings)
                else:
                    out = float(fc.probability)
                    self.forecasts.append({"benchmark": bench, **fc.to_dict()})
        self._cache[key] = out
        return out

    def compare_score(self, node: Compare) -> Probs:
        assert isinstance(node.target, Score)
        name = node.target.name
        bench = self.policy.benchmark_for(name, self.ev.mapping)
        if bench is None:
            self.missing.append(f'evidence "{name}" is not mapped to a benchmark '
                                f"(map it: --map {name}=BENCHMARK)")
            return UNKNOWN
        vals = []
        for t in (node.threshold.value, node.up, node.down):
            p = self.crossing(bench, t)
            if isinstance(p, str):
                self.missing.append(p)
                return UNKNOWN
            vals.append(p if node.op in (">=", ">") else 1.0 - p)
        p, pu, pd = vals
        return (p, p, pu, pu, pd, pd)


def plan(reg: Register, policy: str | Path | LoadedPolicy, *, from_model: str | None = None,
         scale: float | None = None, compute: float | None = None,
         mapping: Mapping[str, str] | None = None,
         overrides: Mapping[str, float] | None = None,
         n_boot: int = 1000, seed: int = 0, at: dt.datetime | None = None,
         start: dt.date | None = None, name: str | None = None) -> Plan:
    """Before training: the probability that a planned model crosses each threshold, and the
    safeguards to put in place first.

    The planned model has `compute` FLOP of training compute, or `from_model`'s compute times
    `scale` (its multiplier and cost scale with it). Score thresholds are forecast from every
    registered model's best result against effective compute; model-quantity thresholds use the
    planned figures (exact: they are the plan).
    """
    pol = resolve_policy(policy, overrides=overrides)
    mapping = dict(mapping or {})
    _check_mapping(pol, mapping)
    if compute is None and (from_model is None or scale is None):
        raise InputError("say what is planned: --from MODEL --scale N, or --compute FLOP")
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        raise InputError(f"--scale must be a positive finite number, not {scale:g}")
    if compute is not None and not (math.isfinite(compute) and compute > 0):
        raise InputError(f"--compute must be a positive finite FLOP figure, not {compute:g}")
    base = reg.get_model(from_model) if from_model is not None else None
    warnings: list[str] = []
    if compute is None:
        assert base is not None and scale is not None
        if base.compute_flop is None:
            raise InsufficientEvidence(f"{base.name} has no training compute to scale",
                                       hint="give --compute FLOP instead")
        compute = base.compute_flop * scale
        if not math.isfinite(compute):
            raise InputError(f"--scale {scale:g} takes {base.name}'s compute beyond any number")
    multiplier = base.multiplier if base is not None else 1.0
    cost = None
    if base is not None and base.cost_usd is not None and base.compute_flop:
        cost = base.cost_usd * compute / base.compute_flop
    label = (f"{base.name} x{scale:g}" if base is not None and scale is not None
             else f"planned {compute:.3g} FLOP")
    planned = Model(name=name or label, compute_flop=compute, compute_method=ComputeMethod.GIVEN,
                    multiplier=multiplier, cost_usd=cost,
                    family=base.family if base else None, parent=base.name if base else None)
    unknown = sorted(_quantities(pol) & {"params", "tokens"})
    if unknown:
        warnings.append(f"{' and '.join(unknown)} of the planned model are not known: "
                        f"thresholds on {' or '.join(unknown)} are insufficient")
    more, benches = _evidence_benchmarks(reg, pol, mapping)
    warnings += more
    org_wide = [a for a in attestations(reg) if a.model is None]
    ev = Evidence(model=planned, results=[], benchmarks=benches, attestations=org_wide,
                  mapping=mapping)
    judge = _ForecastJudge(pol, ev, reg, n_boot=n_boot, seed=seed)
    from tripwire.obligations import now

    det = evaluate_policy(pol, ev, at=at or now(), judge=judge)
    det.forecasts = judge.forecasts
    det.notes.append("a plan, not a determination: score thresholds are forecasts from the "
                     "register's scaling, not measurements of the planned model")
    bl = bottom_line(det, pol, have={a.safeguard for a in org_wide}, planned=True)
    out = Plan(planned, det, {a: list(v) for a, v in det.missing_safeguards.items()},
               judge.forecasts, warnings, bl)
    if start is not None:
        # The intention, recorded: a threshold crossed at the policy's confidence here means
        # the requirement "will be met", and clocks such as Art. 52(1) start at this entry.
        with reg.transaction() as conn:
            _record_policy(conn, pol)
            out.entry = append_entry(conn, "plan", {
                "model": planned.name, "at": det.at.isoformat(), "start": start.isoformat(),
                "compute_flop": compute, "determination": det.model_dump(mode="json")}).seq
    return out


def _quantities(policy: LoadedPolicy) -> set[str]:
    """Model quantities (params, tokens, training_compute, ...) the policy's conditions use."""
    return set(quantity_lines(policy))


def quantity_lines(policy: LoadedPolicy) -> dict[str, list[float]]:
    """Model quantity -> the numbers the policy's conditions compare it with (so a figure is
    shown with the digits that tell which side of its line it is on)."""
    out: dict[str, list[float]] = {}
    for t in policy.thresholds:
        for cond in (t.condition, t.alert):
            for c in cond.comparisons if cond is not None else ():
                if isinstance(c.target, Quantity):
                    v = c.threshold.value
                    out.setdefault(c.target.name, [])
                    if math.isfinite(v):
                        out[c.target.name].append(v)
    return out


# -------------------------------------------------------------------------------------- attest

def _known_safeguards(policy: LoadedPolicy | None) -> dict[str, list[str]]:
    """Safeguard id -> policies declaring it (the given policy, else every built-in)."""
    out: dict[str, list[str]] = {}
    pols = [policy] if policy is not None else [load_policy(n) for n in builtin_names()]
    for p in pols:
        for s in p.policy.safeguards:
            out.setdefault(s.id, []).append(p.name)
    return out


def attest(reg: Register, model: str, safeguard: str, *, evidence: str, by: str,
           all_models: bool = False, note: str | None = None,
           policy: str | Path | LoadedPolicy | None = None,
           at: dt.datetime | None = None) -> tuple[Attestation, list[str]]:
    """Record that `safeguard` is in place for `model` (or for every model), by whom, with
    evidence: an http(s) URL, or a file whose sha256 is stored. Appended to the record.

    Returns the attestation and warnings (e.g. a safeguard no policy declares). With `policy`,
    an undeclared safeguard is an error listing the close names.
    """
    if not by.strip():
        raise InputError("--by must name who attests")
    safeguard = safeguard.strip()
    if not safeguard:
        raise InputError("the safeguard name is empty")
    all_models = all_models or model == "*"
    if not all_models:
        model = reg.get_model(model).name
    warnings: list[str] = []
    pol = resolve_policy(policy) if policy is not None else None
    known = _known_safeguards(pol)
    if safeguard not in known:
        if pol is not None:
            raise InputError(f"policy {pol.name} declares no safeguard {safeguard!r}",
                             hint=_close(safeguard, known))
        warnings.append(f"no built-in policy declares safeguard {safeguard!r} "
                        f"({_close(safeguard, known)}); it counts only under policies that "
                        "require it by this name")
    sha = None
    if evidence.startswith(("http://", "https://")):
        ref = evidence
    else:
        path = Path(evidence)
        if not path.is_file():
            raise InputError(f"evidence {evidence!r} is neither an http(s) URL nor a file",
                             hint="give a link to the audit or report, or a path to it")
        try:
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as e:
            raise InputError(f"cannot read evidence file: {e}", source=evidence) from None
        ref = str(path)
    from tripwire.obligations import now

    att = Attestation(model=None if all_models else model, safeguard=safeguard, by=by.strip(),
                      evidence=ref, evidence_sha256=sha, at=at or now(), note=note)
    with reg.transaction() as conn:
        append_entry(conn, "attestation", att.model_dump(mode="json"))
    return att, warnings
