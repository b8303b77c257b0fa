"""Policy tests: cases written beside a policy (given this evidence, expect this level and these
states), run by `tripwire policy test`, in the manner of `opa test`.

A test file `NAME.tests.yaml` sits next to `NAME.yaml`:

    policy: NAME.yaml            # optional; defaults to the sibling file
    cases:
      - name: a frontier-scale model with given compute
        model: {name: m, compute_flop: 2e26, compute_method: given}
        results: [{benchmark: vct, value: 0.4, stderr: 0.02}]
        attestations: [asl3-security]
        map: {cbrn_uplift: vct}       # evidence name -> benchmark
        set: {cbrn_bar: 0.3}          # parameter overrides
        flags: {vct: "implausibly low"}
        at: 2025-06-01
        expect:
          level: ASL-3
          states: {CBRN-3: crossed}
          allowed: [train]
          missing: {deploy: [asl3-deployment]}
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tripwire.errors import InputError, PolicyError, one_line
from tripwire.model import Attestation, EvalResult, Model, Variant
from tripwire.policy.evaluate import Evidence, evaluate_policy
from tripwire.policy.loader import (
    Issue,
    LoadedPolicy,
    _loc_text,
    _Positions,
    _walk,
    builtin_names,
    builtin_tests_text,
    check_text,
    read_policy_text,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResultSpec(_Strict):
    benchmark: str
    value: float
    stderr: float | None = None
    samples: int | None = None
    variant: Literal["pre-mitigation", "post-mitigation"] | None = None
    created_at: dt.datetime | dt.date | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Expect(_Strict):
    level: str | None = "__unset__"
    states: dict[str, Literal["crossed", "likely", "possible", "alert", "clear",
                              "insufficient"]] = \
        Field(default_factory=dict)
    allowed: list[Literal["train", "deploy"]] | None = None
    missing: dict[str, list[str]] | None = None
    required: dict[str, list[str]] | None = None
    next_due: dt.date | None = None
    next_due_compute_flop: float | None = None


class Case(_Strict):
    name: str
    model: dict[str, Any]
    results: list[ResultSpec] = Field(default_factory=list)
    attestations: list[str] = Field(default_factory=list)
    flags: dict[str, str] = Field(default_factory=dict)
    map: dict[str, str] = Field(default_factory=dict)
    set: dict[str, float] = Field(default_factory=dict)
    at: dt.datetime | dt.date | None = None
    expect: Expect


class CasesFile(_Strict):
    policy: str | None = None
    cases: list[Case] = Field(min_length=1)


@dataclass
class CaseOutcome:
    """One case's verdict and, when it failed, what differed."""

    name: str
    line: int
    passed: bool
    failures: list[str] = field(default_factory=list)


@dataclass
class PolicyTestRun:
    """All cases of one test file against one policy."""

    policy: str
    tests: str
    cases: list[CaseOutcome]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)


def _utc(v: dt.datetime | dt.date | None) -> dt.datetime | None:
    if v is None:
        return None
    if not isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day, tzinfo=dt.UTC)
    return v if v.tzinfo else v.replace(tzinfo=dt.UTC)


def tests_text(ref: str) -> str:
    """The cases of a built-in policy or of a policy file, ready to save beside a copy of it.

    A built-in's cases name their policy (`policy: asl.yaml`); that line is dropped, so saved as
    `NAME.tests.yaml` beside `NAME.yaml` they run against the sibling file (the copy)."""
    ttext, tlabel, _, _ = locate_tests(ref)
    if not tlabel.startswith("builtin:"):
        return ttext
    lines = ttext.splitlines(keepends=True)
    body = [ln for ln in lines if not ln.startswith("policy:")]
    while body and body[0].startswith("#"):
        body.pop(0)
    head = (f"# Cases from the built-in policy {ref}, for a copy of it saved beside this file\n"
            "# (NAME.yaml and NAME.tests.yaml); run: tripwire policy test NAME.yaml\n")
    return head + "".join(body)


def locate_tests(ref: str) -> tuple[str, str, str, str]:
    """(tests text, tests label, policy text, policy label) for a built-in name, a policy file
    (tests beside it) or a tests file (policy beside it or named inside)."""
    p = Path(ref)
    if not p.exists() and "/" not in ref and not ref.endswith((".yaml", ".yml")):
        if ref not in builtin_names():
            read_policy_text(ref)  # raises the close-names error
        ptext, plabel, _ = read_policy_text(ref)
        return builtin_tests_text(ref), f"builtin:{ref}.tests.yaml", ptext, plabel
    if not p.exists():
        raise InputError(f"{ref!r} does not exist",
                         hint="give a policy file, its .tests.yaml, or a built-in name")
    if p.name.endswith((".tests.yaml", ".tests.yml")):
        tests_path = p
        stem = p.name.rsplit(".tests.", 1)[0]
        policy_path = p.with_name(stem + ".yaml")
    else:
        policy_path = p
        tests_path = p.with_name(p.stem + ".tests.yaml")
        if not tests_path.exists():
            raise InputError(
                f"no tests beside {ref}", source=str(ref),
                hint=f"write cases in {tests_path}, or start from the cases of the policy you "
                f"copied: tripwire policy show NAME --tests > {tests_path}")
    ttext = tests_path.read_text("utf-8")
    try:
        named = yaml.safe_load(ttext) or {}
    except yaml.YAMLError:
        named = {}
    if isinstance(named, dict) and isinstance(named.get("policy"), str):
        target = named["policy"]
        cand = tests_path.parent / target
        if cand.exists():
            policy_path = cand
        elif target in builtin_names():
            ptext, plabel, _ = read_policy_text(target)
            return ttext, str(tests_path), ptext, plabel
        else:
            raise InputError(f"the tests name policy {target!r}, which is neither a file beside "
                             "them nor a built-in", source=str(tests_path))
    if not policy_path.exists():
        raise InputError(f"no policy {policy_path} for these tests", source=str(tests_path),
                         hint="name it with `policy:` in the tests file")
    return ttext, str(tests_path), policy_path.read_text("utf-8"), str(policy_path)


def _compare(case: Case, det: Any) -> list[str]:
    exp = case.expect
    out: list[str] = []
    if exp.level != "__unset__" and det.level != exp.level:
        out.append(f"level: expected {exp.level}, got {det.level}")
    got = {t.id: t for t in det.thresholds}
    for tid, state in exp.states.items():
        if tid not in got:
            out.append(f"threshold {tid}: not in the policy ({', '.join(got)})")
        elif got[tid].state != state:
            out.append(f"threshold {tid}: expected {state}, got {got[tid].state} "
                       f"({got[tid].reason})")
    if exp.allowed is not None and sorted(det.allowed_actions) != sorted(exp.allowed):
        out.append(f"allowed: expected {sorted(exp.allowed)}, got {sorted(det.allowed_actions)}")
    for label, want, have in (("missing", exp.missing, det.missing_safeguards),
                              ("required", exp.required, det.required_safeguards)):
        if want is None:
            continue
        for action, names in want.items():
            if sorted(have.get(action, [])) != sorted(names):
                out.append(f"{label} {action}: expected {sorted(names)}, "
                           f"got {sorted(have.get(action, []))}")
    if exp.next_due is not None and det.next_due != exp.next_due:
        out.append(f"next_due: expected {exp.next_due}, got {det.next_due}")
    if exp.next_due_compute_flop is not None and (
            det.next_due_compute_flop is None
            or abs(det.next_due_compute_flop / exp.next_due_compute_flop - 1) > 1e-9):
        out.append(f"next_due_compute_flop: expected {exp.next_due_compute_flop:g}, "
                   f"got {det.next_due_compute_flop}")
    return out


def run_case(policy_text: str, policy_label: str, case: Case,
             cache: dict[tuple[tuple[str, float], ...], LoadedPolicy]) -> list[str]:
    """Evaluate one case; return its failures (empty when it passes)."""
    key = tuple(sorted(case.set.items()))
    if key not in cache:
        loaded, issues = check_text(policy_text, policy_label, overrides=case.set)
        if loaded is None:
            return [str(i) for i in issues if i.severity == "error"]
        cache[key] = loaded
    loaded = cache[key]
    try:
        model = Model.model_validate(case.model)
    except ValidationError as e:
        return [one_line(f"model: {err['msg']} at {_loc_text(tuple(err['loc']))}")
                for err in e.errors()]
    results = [EvalResult(id=i + 1, model=model.name, benchmark=r.benchmark, value=r.value,
                          stderr=r.stderr, samples=r.samples,
                          variant=Variant(r.variant) if r.variant else None,
                          created_at=_utc(r.created_at), extra=r.extra,
                          source_sha256=None)
               for i, r in enumerate(case.results)]
    at = _utc(case.at) or dt.datetime.now(dt.UTC)
    atts = [Attestation(model=model.name, safeguard=s, by="policy-test", at=at)
            for s in case.attestations]
    ev = Evidence(model=model, results=results, attestations=atts, flags=case.flags,
                  mapping=case.map)
    det = evaluate_policy(loaded, ev, at=at)
    failures = _compare(case, det)
    unknown = [s for s in case.expect.states if s not in {t.id for t in loaded.thresholds}]
    if unknown and not failures:
        failures.append("unknown thresholds in expect.states: " + ", ".join(unknown))
    return failures


def run_tests(ref: str) -> PolicyTestRun:
    """Run the test cases of a policy (a built-in name, a policy file or its tests file).

    A malformed tests file raises PolicyError at `file:line:col`; a failing case is reported
    in the PolicyTestRun, not raised.
    """
    ttext, tlabel, ptext, plabel = locate_tests(ref)
    pos = _Positions()
    try:
        loader = yaml.SafeLoader(ttext)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        raise PolicyError(f"YAML: {e.problem} — check indentation, colons and quotes",
                          source=tlabel,
                          where=f"{mark.line + 1}:{mark.column + 1}" if mark else None) from None
    if node is None:
        raise PolicyError("the tests file is empty — add `cases:`", source=tlabel, where="1:1")
    _walk(node, (), pos, [])
    try:
        tf = CasesFile.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        line, col = pos.at(loc, key=err["type"] == "extra_forbidden")
        raise PolicyError(one_line(f"{_loc_text(loc)}: {err['msg']}") + " — see the tests "
                          "format in docs/policies.md", source=tlabel,
                          where=f"{line}:{col}") from None
    policy_issues: list[Issue]
    _, policy_issues = check_text(ptext, plabel)
    errors = [i for i in policy_issues if i.severity == "error"]
    if errors:
        raise PolicyError(f"{errors[0].message} — {errors[0].fix}", source=errors[0].source,
                          where=f"{errors[0].line}:{errors[0].col}")
    cache: dict[tuple[tuple[str, float], ...], LoadedPolicy] = {}
    outcomes = []
    for i, case in enumerate(tf.cases):
        line = pos.at(("cases", i))[0]
        failures = run_case(ptext, plabel, case, cache)
        outcomes.append(CaseOutcome(case.name, line, not failures, failures))
    return PolicyTestRun(policy=plabel, tests=tlabel, cases=outcomes)


def run_all_builtin_tests() -> dict[str, PolicyTestRun]:
    """Every built-in policy's tests (the test suite asserts they all pass)."""
    return {name: run_tests(name) for name in builtin_names()}


__all__ = ["CaseOutcome", "PolicyTestRun", "locate_tests", "run_all_builtin_tests", "run_case",
           "run_tests"]
