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
    utcnow,
)
from tripwire.policy import ACTIONS, Evidence, EvidenceJudge, LoadedPolicy, evaluate_policy
from tripwire.policy.expr import UNKNOWN, Compare, Probs, Score
from tripwire.policy.loader import builtin_names, load_policy
from tripwire.register import Register
from tripwire.register.record_store import append_entry, entries, lock_appends

log = logging.getLogger(__name__)

__all__ = [
    "Assessment",
    "GateDecision",
    "Plan",
    "assess",
    "attest",
    "attestations",
    "determinations",
    "gate",
    "gather_evidence",
    "plan",
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


def attestations(reg: Register, model: str | None = None) -> list[Attestation]:
    """Attestations from the record: all, or those covering `model` (its own and every-model
    ones)."""
    with reg.read() as conn:
        rows = entries(conn, kind="attestation")
    out = [Attestation.model_validate(e.payload) for e in rows]
    if model is not None:
        out = [a for a in out if a.model is None or a.model == model]
    return out


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
    """Benchmarks on which `model` scores implausibly low for its effective compute
    (leave-one-out sigmoid fit over the register's models; forecast.compute_anomalies)."""
    flags: dict[str, str] = {}
    models = {m.name: m for m in reg.models()}
    for bench in sorted(set(benches)):
        best: dict[str, EvalResult] = {}
        for r in reg.results(benchmark=bench):
            if r.model not in best or r.value > best[r.model].value:
                best[r.model] = r
        if model.name not in best:
            continue
        compute = {n: c for n in best if n in models
                   and (c := models[n].effective_compute_flop) is not None and c > 0}
        names = list(compute)
        if len(names) < 6 or model.name not in compute:
            continue
        meta = _benchmark(reg, bench)
        try:  # the numeric stack only when there is a fit to make
            from tripwire.forecast import compute_anomalies
        except ImportError:  # forecasting not installed in this build
            return flags
        try:
            frame = compute_anomalies(
                names, [compute[n] for n in names],
                [best[n].value for n in names],
                floor=meta.chance if meta and meta.chance is not None else 0.0,
                ceiling=meta.ceiling if meta else None)
        except (InsufficientEvidence, InputError) as e:
            notes.append(f"no anomaly check on {bench}: {e}")
            continue
        row = frame[frame["model"] == model.name]
        if len(row) and bool(row["flagged"].iloc[0]):
            z = float(row["z"].iloc[0])
            exp = float(row["expected"].iloc[0])
            flags[bench] = (f"score {float(row['score'].iloc[0]):.3g} is implausibly low for "
                            f"its effective compute (expected {exp:.3g}, z = {z:.2f}): "
                            "possible sandbagging or a broken evaluation")
    return flags


def _benchmark(reg: Register, bid: str) -> Benchmark | None:
    try:
        return reg.get_benchmark(bid)
    except InputError:
        return None


def gather_evidence(reg: Register, model: str, policy: LoadedPolicy, *,
                    mapping: Mapping[str, str] | None = None,
                    anomalies: bool = True) -> tuple[Evidence, list[str]]:
    """The register's evidence about `model` for `policy`, with warnings (unknown benchmarks,
    unmapped evidence). An unknown model raises InputError listing close names."""
    mapping = dict(mapping or {})
    _check_mapping(policy, mapping)
    m = reg.get_model(model)
    results = reg.results(model=m.name)
    known = {b.id for b in reg.benchmarks()}
    warnings: list[str] = []
    benches: dict[str, Benchmark] = {}
    for name, bench in _referenced(policy, mapping).items():
        if bench is None:
            warnings.append(f'evidence "{name}" is not mapped to a benchmark: thresholds using '
                            f"it are insufficient (map it: --map {name}=BENCHMARK)")
        elif bench not in known:
            label = f'benchmark "{bench}"' + (f' (for "{name}")' if bench != name else "")
            warnings.append(f"{label} is not in the register: thresholds using it are "
                            f"insufficient ({_close(bench, known)}; map another: "
                            f"--map {name}=BENCHMARK)")
        else:
            meta = _benchmark(reg, bench)
            if meta is not None:
                benches[bench] = meta
    notes: list[str] = []
    flags = _anomaly_flags(reg, m, benches, notes) if anomalies else {}
    warnings.extend(notes)
    ev = Evidence(model=m, results=results, benchmarks=benches,
                  attestations=attestations(reg, m.name), flags=flags, mapping=mapping)
    return ev, warnings


# -------------------------------------------------------------------------------------- assess

@dataclass
class Assessment:
    """A determination with what the register adds: warnings, staleness, its record entry."""

    determination: Determination
    warnings: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    """Why the evidence is out of date under the policy's cadence (empty when current)."""
    entry: int | None = None
    """Sequence number of the determination in the record (None when not recorded)."""

    def to_dict(self) -> dict[str, Any]:
        return {"determination": self.determination.model_dump(mode="json"),
                "warnings": self.warnings, "stale": self.stale, "entry": self.entry}


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
    if stale:
        det.notes.extend(f"stale: {s}" for s in stale)
    seq = None
    if record:
        with reg.transaction() as conn:
            _record_policy(conn, pol)
            seq = append_entry(conn, "determination", det.model_dump(mode="json")).seq
    return Assessment(det, warnings, stale, seq)


# ---------------------------------------------------------------------------------------- gate

@dataclass
class GateDecision:
    """Whether an action may proceed, the exit code a CI pipeline uses, and why."""

    action: str
    allowed: bool
    exit_code: int
    """0 allowed, 1 blocked (missing safeguards), 3 insufficient or stale evidence."""
    reasons: list[str]
    missing: list[str]
    assessment: Assessment

    def to_dict(self) -> dict[str, Any]:
        d = self.assessment.determination
        return {"model": d.model, "policy": d.policy, "action": self.action,
                "allowed": self.allowed, "exit_code": self.exit_code, "reasons": self.reasons,
                "missing_safeguards": self.missing, "level": d.level,
                "entry": self.assessment.entry,
                "determination": d.model_dump(mode="json")}


def gate(reg: Register, model: str, action: str, policy: str | Path | LoadedPolicy, *,
         mapping: Mapping[str, str] | None = None,
         overrides: Mapping[str, float] | None = None,
         at: dt.datetime | None = None, record: bool = True) -> GateDecision:
    """Assess now and decide whether `action` (train or deploy) may proceed.

    Blocked (1) when the level reached requires safeguards not attested; insufficient (3) when
    a threshold cannot be judged and its safeguards are not already in place, or when the
    evidence is stale under the cadence; otherwise allowed (0).
    """
    if action not in ACTIONS:
        raise InputError(f"unknown action {action!r}", hint="use train or deploy")
    a = assess(reg, model, policy, mapping=mapping, overrides=overrides, at=at, record=record)
    d = a.determination
    missing = list(d.missing_safeguards.get(action, []))
    insufficient = [t for t in d.thresholds if t.state == "insufficient"]
    reasons: list[str] = []
    if missing:
        code = 1
        reasons.append(f"level {d.level} requires safeguards not attested for {action}: "
                       + ", ".join(missing))
        if insufficient:
            reasons.append("insufficient evidence as well for " + ", ".join(
                t.id for t in insufficient) + " (see `tripwire assess`)")
    elif action not in d.allowed_actions:
        code = 3
        for t in insufficient:
            reasons.append(f"{t.id}: insufficient evidence ({t.reason})")
    elif a.stale:
        code = 3
        reasons.extend(a.stale)
    else:
        code = 0
        reasons.append(f"level {d.level or 'none'}: every safeguard required for {action} is "
                       "attested")
        if insufficient:
            reasons.append("insufficient evidence for " + ", ".join(t.id for t in insufficient)
                           + ", but the safeguards those thresholds would require are in place")
    return GateDecision(action, code == 0, code, reasons, missing, a)


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

    def to_dict(self) -> dict[str, Any]:
        return {"planned": self.planned.model_dump(mode="json"),
                "determination": self.determination.model_dump(mode="json"),
                "safeguards_first": self.safeguards_first, "forecasts": self.forecasts,
                "warnings": self.warnings}


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
         n_boot: int = 1000, seed: int = 0, at: dt.datetime | None = None) -> Plan:
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
    planned = Model(name=label, compute_flop=compute, compute_method=ComputeMethod.GIVEN,
                    multiplier=multiplier, cost_usd=cost,
                    family=base.family if base else None, parent=base.name if base else None)
    if base is not None:
        warnings.append("parameters and tokens of the planned model are not known: thresholds "
                        "on params or tokens are insufficient")
    known = {b.id for b in reg.benchmarks()}
    benches = {}
    for name, bench in _referenced(pol, mapping).items():
        if bench is None:
            warnings.append(f'evidence "{name}" is not mapped to a benchmark (--map '
                            f"{name}=BENCHMARK)")
        elif bench in known:
            meta = _benchmark(reg, bench)
            if meta is not None:
                benches[bench] = meta
        else:
            warnings.append(f'benchmark "{bench}" is not in the register: no forecast')
    org_wide = [a for a in attestations(reg) if a.model is None]
    ev = Evidence(model=planned, results=[], benchmarks=benches, attestations=org_wide,
                  mapping=mapping)
    judge = _ForecastJudge(pol, ev, reg, n_boot=n_boot, seed=seed)
    det = evaluate_policy(pol, ev, at=at or utcnow(), judge=judge)
    det.forecasts = judge.forecasts
    det.notes.append("a plan, not a determination: score thresholds are forecasts from the "
                     "register's scaling, not measurements of the planned model")
    return Plan(planned, det, {a: list(v) for a, v in det.missing_safeguards.items()},
                judge.forecasts, warnings)


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
    att = Attestation(model=None if all_models else model, safeguard=safeguard, by=by.strip(),
                      evidence=ref, evidence_sha256=sha, at=at or utcnow(), note=note)
    with reg.transaction() as conn:
        append_entry(conn, "attestation", att.model_dump(mode="json"))
    return att, warnings
