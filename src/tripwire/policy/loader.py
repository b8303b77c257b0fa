"""Read a policy file: YAML with line/column positions, pydantic validation, conditions compiled.

Every problem is reported as `file:line:col: what is wrong — what would fix it`, whether it is a
YAML syntax error, a schema violation, a dangling reference (a threshold naming an unknown
level, a level requiring an undeclared safeguard) or a fault inside a condition expression (the
column points into the expression). Unknown benchmarks are warnings at load; at assessment they
make a threshold "insufficient", never a silent pass.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tripwire.errors import InputError, PolicyError, one_line
from tripwire.policy.clause import ClauseError, parse_clause
from tripwire.policy.expr import INDICATORS, Condition, ExprError, Quantity, Score, parse
from tripwire.policy.schema import Policy, Threshold
from tripwire.policy.shipped import builtin_names as builtin_names
from tripwire.policy.shipped import shipped_text

Pos = tuple[int, int]
Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Issue:
    """One problem in a policy file, with its place and a fix."""

    source: str
    line: int
    col: int
    message: str
    fix: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.col}: {self.message} — {self.fix}"


@dataclass
class CompiledThreshold:
    """A threshold with its parsed condition(s) and effective settings."""

    spec: Threshold
    condition: Condition
    alert: Condition | None
    confidence: float
    pre_mitigation: bool
    rule_out: float | None = None
    """Rule-out confidence in force (the threshold's or the policy's), or None."""

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def level(self) -> str:
        return self.spec.level


@dataclass
class LoadedPolicy:
    """A validated policy ready to evaluate: the model, compiled thresholds, identity, warnings."""

    policy: Policy
    source: str
    sha256: str
    thresholds: list[CompiledThreshold]
    warnings: list[Issue] = field(default_factory=list)
    builtin: bool = False
    parameters: dict[str, float | None] = field(default_factory=dict)
    """Parameter values in force (defaults with `--set` overrides applied; None = unset)."""

    @cached_property
    def specs(self) -> dict[str, Threshold]:
        """Threshold id -> its specification."""
        return {t.id: t.spec for t in self.thresholds}

    @cached_property
    def notes(self) -> list[str]:
        """The policy's notes, whitespace trimmed (shown with every determination)."""
        return [n.strip() for n in self.policy.notes]

    @cached_property
    def counting_states(self) -> dict[str, frozenset[str]]:
        """Threshold id -> the states in which it counts toward its level: the policy's
        `level_states`, and also `likely` and `possible` for a threshold with a rule-out
        confidence (it counts unless ruled out)."""
        base = frozenset(self.policy.level_states)
        return {t.id: base | {"crossed", "likely", "possible"} if t.rule_out is not None
                else base for t in self.thresholds}

    @cached_property
    def any_pre_mitigation(self) -> bool:
        return any(t.pre_mitigation for t in self.thresholds)

    @cached_property
    def level_positions(self) -> dict[str, int]:
        """Level id -> its index from the lowest."""
        return {lv.id: i for i, lv in enumerate(self.policy.levels)}

    @cached_property
    def _required(self) -> dict[str | None, dict[str, list[str]]]:
        out: dict[str | None, dict[str, list[str]]] = {None: self.policy.required(None)}
        for lv in self.policy.levels:
            out[lv.id] = self.policy.required(lv.id)
        return out

    def required_at(self, level: str | None) -> dict[str, list[str]]:
        """Action -> safeguards a level requires (cached; do not mutate the lists)."""
        return self._required[level]

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def version(self) -> str:
        return self.policy.version

    def benchmark_for(self, name: str, mapping: Mapping[str, str] | None = None) -> str | None:
        """Benchmark id a `score("name")` refers to: user mapping, then the policy's default,
        then the name itself (None when the policy declares the evidence with no default)."""
        if mapping and name in mapping:
            return mapping[name]
        spec = self.policy.evidence.get(name)
        if spec is None:
            return name
        return spec.benchmark


# ------------------------------------------------------------------------------ YAML positions

class _Positions:
    """Map from a data path (keys and indexes) to the (line, col) of its YAML node (1-based)."""

    def __init__(self) -> None:
        self.value: dict[Path_, Pos] = {}
        self.key: dict[Path_, Pos] = {}
        self.nodes: dict[Path_, yaml.Node] = {}

    def at(self, path: Iterable[Any], *, key: bool = False) -> Pos:
        p = tuple(path)
        while p:
            if key and p in self.key:
                return self.key[p]
            if p in self.value:
                return self.value[p]
            p = p[:-1]
        return self.value.get((), (1, 1))


def _mark(node: yaml.Node) -> Pos:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(node: yaml.Node, path: Path_, pos: _Positions, dupes: list[tuple[Path_, Pos]]) -> None:
    pos.value[path] = _mark(node)
    pos.nodes[path] = node
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
            if key in seen:
                dupes.append((path + (key,), _mark(k)))
            seen.add(key)
            pos.key[path + (key,)] = _mark(k)
            _walk(v, path + (key,), pos, dupes)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, path + (i,), pos, dupes)


def _offset_pos(text: str, node: yaml.Node, offset: int) -> Pos:
    """(line, col) in the file of character `offset` of a scalar's value (an expression)."""
    line0, col0 = node.start_mark.line, node.start_mark.column
    style = getattr(node, "style", None)
    lines = text.splitlines()
    if style in ("|", ">"):
        # Block scalar: content starts on the next line, at the block's indentation.
        rest = lines[line0 + 1:]
        indent = None
        remaining = offset
        for i, raw in enumerate(rest):
            if not raw.strip():
                remaining -= 1
                continue
            if indent is None:
                indent = len(raw) - len(raw.lstrip())
            content = raw[indent:]
            if remaining <= len(content):
                return line0 + 2 + i, indent + remaining + 1
            remaining -= len(content) + 1
        return line0 + 2, (indent or 0) + 1
    start = col0 + (1 if style in ("'", '"') else 0)
    remaining = offset
    for i, raw in enumerate(lines[line0:]):
        if i == 0:
            content, base = raw[start:], start
        else:
            stripped = raw.lstrip()
            content, base = stripped, len(raw) - len(stripped)
        if remaining <= len(content):
            return line0 + 1 + i, base + remaining + 1
        remaining -= len(content) + 1
    return line0 + 1, col0 + 1


# ----------------------------------------------------------------------------------- checking

_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or check its spelling",
    "literal_error": "use one of the allowed values",
    "string_type": "write a string",
    "float_parsing": "write a number",
    "float_type": "write a number",
    "bool_parsing": "write true or false",
    "list_type": "write a list",
    "dict_type": "write a mapping of key: value",
    "model_type": "write a mapping of key: value",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than": "use a smaller value",
    "too_short": "add at least one entry",
    "date_from_datetime_parsing": "write a date as YYYY-MM-DD",
    "date_parsing": "write a date as YYYY-MM-DD",
    "date_type": "write a date as YYYY-MM-DD",
}


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _close(name: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    near = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if near:
        return "did you mean " + ", ".join(near) + "?"
    return "known: " + (", ".join(choices) if choices else "none")


class _Checker:
    def __init__(self, text: str, source: str, known_benchmarks: set[str] | None,
                 overrides: Mapping[str, float] | None, provenance: bool = False) -> None:
        self.text, self.source = text, source
        self.provenance = provenance
        self.known_benchmarks = known_benchmarks
        self.overrides = dict(overrides or {})
        self.issues: list[Issue] = []
        self.pos = _Positions()

    def add(self, where: Pos, message: str, fix: str, severity: str = "error") -> None:
        self.issues.append(Issue(self.source, where[0], where[1], one_line(message),
                                 one_line(fix), severity))

    def run(self) -> LoadedPolicy | None:
        data = self.parse_yaml()
        if data is None:
            return None
        try:
            policy = Policy.model_validate(data)
        except ValidationError as e:
            for err in e.errors():
                loc = tuple(err["loc"])
                key = err["type"] == "extra_forbidden"
                where = self.pos.at(loc, key=key)
                fix = _FIXES.get(err["type"], "correct the value")
                msg = err["msg"]
                if msg.startswith("Value error, "):
                    msg = msg[len("Value error, "):]
                self.add(where, f"{_loc_text(loc)}: {msg}", fix)
            return None
        return self.cross_check(policy)

    def parse_yaml(self) -> dict[str, Any] | None:
        parsed = self._parse_fast()
        if parsed is not None:
            node, data = parsed
        else:
            slow = self._parse_slow()
            if slow is None:
                return None
            node, data = slow
        dupes: list[tuple[Path_, Pos]] = []
        _walk(node, (), self.pos, dupes)
        for path, where in dupes:
            self.add(where, f"key {_loc_text(path)} appears twice", "keep one of them")
        if not isinstance(data, dict):
            self.add((1, 1), "the policy must be a mapping of key: value",
                     "start with `name:`, `version:`, `levels:`")
            return None
        return data if not dupes else None

    def _parse_fast(self) -> tuple[yaml.Node, Any] | None:
        """Node and data through libyaml when PyYAML has it (same nodes, marks and values,
        several times faster); None on any problem, so that the pure-Python parser, whose
        errors carry the exact place, reports it."""
        fast = getattr(yaml, "CSafeLoader", None)
        if fast is None:
            return None
        try:
            loader = fast(self.text)
        except yaml.YAMLError:
            return None
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            return node, loader.construct_document(node)
        except yaml.YAMLError:
            return None
        finally:
            loader.dispose()

    def _parse_slow(self) -> tuple[yaml.Node, Any] | None:
        try:
            loader = yaml.SafeLoader(self.text)
        except yaml.reader.ReaderError as e:  # a control character, checked before parsing
            before = self.text[: e.position]
            where = (before.count("\n") + 1, e.position - before.rfind("\n"))
            char = chr(e.character) if isinstance(e.character, int) else str(e.character)
            self.add(where, f"YAML: the character {char!r} is not allowed in YAML",
                     "remove it, or write it as an escape inside double quotes")
            return None
        try:
            node = loader.get_single_node()
            if node is None:
                self.add((1, 1), "the policy file is empty",
                         "start from `tripwire policy show asl` or docs/policies.md")
                return None
            data = loader.construct_document(node)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            problem = (e.problem or e.context or "invalid YAML").strip()
            self.add(where, f"YAML: {problem}",
                     "check indentation, colons and quotes around this place")
            return None
        except yaml.YAMLError as e:
            self.add((1, 1), f"YAML: {e}", "fix the YAML syntax")
            return None
        finally:
            loader.dispose()
        return node, data

    def cross_check(self, policy: Policy) -> LoadedPolicy | None:
        pos = self.pos
        levels = [lv.id for lv in policy.levels]
        safeguards = [s.id for s in policy.safeguards]
        for kind, ids, section in (("level", levels, "levels"),
                                   ("safeguard", safeguards, "safeguards"),
                                   ("threshold", [t.id for t in policy.thresholds], "thresholds")):
            seen: set[str] = set()
            for i, x in enumerate(ids):
                if x in seen:
                    self.add(pos.at((section, i, "id")), f"{kind} id {x!r} is used twice",
                             f"give each {kind} its own id")
                seen.add(x)
        source_ids = [s.id for s in policy.sources if s.id is not None]
        seen_src: set[str] = set()
        for i, src in enumerate(policy.sources):
            if src.id is not None and src.id in seen_src:
                self.add(pos.at(("sources", i, "id")), f"source id {src.id!r} is used twice",
                         "give each source its own id")
            seen_src.add(src.id or "")
        if policy.encodes is not None and policy.encodes not in source_ids:
            self.add(pos.at(("encodes",)), f"encodes {policy.encodes!r} is not a source id",
                     "give the source an id: (" + _close(policy.encodes, source_ids) + ")")
        if self.provenance:
            self.check_provenance(policy, source_ids)
        if policy.default_level is not None and policy.default_level not in levels:
            self.add(pos.at(("default_level",)), f"default_level {policy.default_level!r} is "
                     "not a level", _close(policy.default_level, levels))
        for i, lv in enumerate(policy.levels):
            for action in ("train", "deploy"):
                for j, s in enumerate(getattr(lv.requires, action)):
                    if s not in safeguards:
                        self.add(pos.at(("levels", i, "requires", action, j)),
                                 f"level {lv.id} requires safeguard {s!r}, which is not declared",
                                 "declare it under safeguards: (" + _close(s, safeguards) + ")")
        for i, t in enumerate(policy.thresholds):
            for action in ("train", "deploy"):
                for j, s in enumerate(getattr(t.requires, action)):
                    if s not in safeguards:
                        self.add(pos.at(("thresholds", i, "requires", action, j)),
                                 f"threshold {t.id} requires safeguard {s!r}, which is not "
                                 "declared",
                                 "declare it under safeguards: (" + _close(s, safeguards) + ")")
        unknown_params = sorted(set(self.overrides) - set(policy.parameters))
        for name in unknown_params:
            self.add((1, 1), f"--set {name}: the policy has no parameter {name!r}",
                     _close(name, policy.parameters))
        values = policy.parameter_values(self.overrides)
        compiled: list[CompiledThreshold] = []
        for i, t in enumerate(policy.thresholds):
            if t.level not in levels:
                self.add(pos.at(("thresholds", i, "level")),
                         f"threshold {t.id} triggers level {t.level!r}, which is not a level",
                         _close(t.level, levels))
            cond = self.compile(("thresholds", i, "condition"), t.condition, values)
            alert = (self.compile(("thresholds", i, "alert"), t.alert, values)
                     if t.alert is not None else None)
            if cond is None or (t.alert is not None and alert is None):
                continue
            self.bind_margins(policy, t, cond)
            if alert is not None:
                for c in alert.comparisons:
                    c.set_margin()
            for cnd, field_name in ((cond, "condition"), (alert, "alert")):
                if cnd is None:
                    continue
                self.check_names(policy, cnd, ("thresholds", i, field_name), safeguards)
            compiled.append(CompiledThreshold(
                spec=t, condition=cond, alert=alert,
                confidence=t.confidence if t.confidence is not None else policy.confidence,
                pre_mitigation=(t.pre_mitigation if t.pre_mitigation is not None
                                else policy.pre_mitigation_required),
                rule_out=(t.rule_out_confidence if t.rule_out_confidence is not None
                          else policy.rule_out_confidence)))
        if any(i.severity == "error" for i in self.issues):
            return None
        sha = hashlib.sha256(self.text.encode("utf-8")).hexdigest()
        return LoadedPolicy(policy=policy, source=self.source, sha256=sha, thresholds=compiled,
                            warnings=[i for i in self.issues if i.severity == "warning"],
                            parameters=values)

    def check_provenance(self, policy: Policy, source_ids: list[str]) -> None:
        """Every clause reference well formed and naming a declared source; every safeguard a
        level or threshold requires carries one (errors; warnings in a template); other parts
        without one (warnings)."""
        gated = {s for lv in policy.levels for a in ("train", "deploy")
                 for s in getattr(lv.requires, a)}
        gated |= {s for t in policy.thresholds for a in ("train", "deploy")
                  for s in getattr(t.requires, a)}
        refs: list[tuple[Path_, str | None, str]] = []
        for i, lv in enumerate(policy.levels):
            refs.append((("levels", i), lv.source, f"level {lv.id}"))
        for i, t in enumerate(policy.thresholds):
            refs.append((("thresholds", i), t.source, f"threshold {t.id}"))
        for i, sg in enumerate(policy.safeguards):
            refs.append((("safeguards", i), sg.source, f"safeguard {sg.id}"))
            for j, d in enumerate(sg.deadlines):
                refs.append((("safeguards", i, "deadlines", j), d.source,
                             f"deadline of {sg.id} ({d.within})"))
        for name, prm in policy.parameters.items():
            if prm.source is not None:
                refs.append((("parameters", name), prm.source, f"parameter {name}"))
        if policy.cadence is not None:
            refs.append((("cadence",), policy.cadence.source, "the cadence"))
        for path, ref, what in refs:
            if ref is None:
                if what.startswith("safeguard ") and what[len("safeguard "):] in gated:
                    # A template's safeguards are the user's to define: a warning there.
                    self.add(self.pos.at(path + ("id",), key=False),
                             f"{what} is required by a level or threshold but names no source",
                             "add source: SOURCE-ID PLACE, e.g. source: eu-ai-act Art. 53(1)(a)",
                             "warning" if policy.kind == "template" else "error")
                elif not what.startswith("safeguard "):
                    self.add(self.pos.at(path), f"{what} names no source",
                             "add source: SOURCE-ID PLACE (see docs/policies.md, Provenance)",
                             "warning")
                continue
            try:
                clause = parse_clause(ref)
            except ClauseError as e:
                self.add(self.expr_pos(path + ("source",), e.offset), e.message, e.fix)
                continue
            if clause.source not in source_ids:
                self.add(self.expr_pos(path + ("source",), 0),
                         f"clause {ref!r} names source {clause.source!r}, which is not declared",
                         "declare it under sources: with id: (" + _close(clause.source,
                                                                         source_ids) + ")")

    def compile(self, path: Path_, text: str, values: Mapping[str, float | None]
                ) -> Condition | None:
        try:
            return parse(text, values)
        except ExprError as e:
            node = self.pos.nodes.get(path)
            where = _offset_pos(self.text, node, e.offset) if node is not None \
                else self.pos.at(path)
            self.add(where, f"condition: {e.message}", e.fix)
            return None

    def expr_pos(self, path: Path_, offset: int) -> Pos:
        node = self.pos.nodes.get(path)
        return _offset_pos(self.text, node, offset) if node is not None else self.pos.at(path)

    def bind_margins(self, policy: Policy, t: Threshold, cond: Condition) -> None:
        margin = t.alert_margin if t.alert_margin is not None else policy.alert_margin
        factor = t.alert_factor if t.alert_factor is not None else policy.alert_factor
        for c in cond.comparisons:
            log_scale = isinstance(c.target, Score) and (
                policy.evidence.get(c.target.name) is not None
                and policy.evidence[c.target.name].scale == "log")
            if isinstance(c.target, Quantity) and c.target.name in INDICATORS:
                c.set_margin()  # a 0/1 fact: nothing is "near" it
            elif isinstance(c.target, Score) and not log_scale:
                c.set_margin(additive=margin)
            else:
                c.set_margin(factor=factor)

    def check_names(self, policy: Policy, cond: Condition, path: Path_,
                    safeguards: list[str]) -> None:
        for name, off in cond.benchmarks:
            spec = policy.evidence.get(name)
            if self.known_benchmarks is not None:
                bench = spec.benchmark if spec is not None else name
                if bench is None:
                    self.add(self.expr_pos(path, off), f'evidence "{name}" is not mapped to a '
                             "benchmark: thresholds using it will be insufficient",
                             f"map it with --map {name}=BENCHMARK", "warning")
                elif bench not in self.known_benchmarks:
                    self.add(self.expr_pos(path, off), f'benchmark "{bench}" is not in the '
                             "register: thresholds using it will be insufficient",
                             f"ingest results for it or map it: --map {name}=BENCHMARK "
                             f"({_close(bench, self.known_benchmarks)})", "warning")
            elif spec is None:
                self.add(self.expr_pos(path, off), f'score("{name}") names a benchmark the '
                         "policy does not declare under evidence:",
                         f"declare {name} under evidence: with a description "
                         f"({_close(name, policy.evidence)})", "warning")
        for name, off in cond.safeguards:
            if name not in safeguards:
                self.add(self.expr_pos(path, off), f'attested("{name}") names an undeclared '
                         "safeguard", "declare it under safeguards: ("
                         + _close(name, safeguards) + ")", "warning")


def check_text(text: str, source: str = "<policy>", *,
               known_benchmarks: Iterable[str] | None = None,
               overrides: Mapping[str, float] | None = None,
               provenance: bool = False,
               ) -> tuple[LoadedPolicy | None, list[Issue]]:
    """Validate policy text; return the loaded policy (None if any error) and every issue.

    `provenance` (as `tripwire policy check` does) also checks every clause reference: a
    malformed one, one naming an undeclared source, or a required safeguard without one is an
    error; a level, threshold, deadline or cadence without one is a warning."""
    known = set(known_benchmarks) if known_benchmarks is not None else None
    checker = _Checker(text, source, known, overrides, provenance)
    loaded = checker.run()
    issues = sorted(checker.issues, key=lambda i: (i.severity != "error", i.line, i.col))
    return loaded, issues


# ---------------------------------------------------------------------------------- built-ins

def builtin_text(name: str) -> str:
    """The YAML text of a built-in policy (InputError listing close names if unknown)."""
    names = builtin_names()
    if name not in names:
        raise InputError(f"no built-in policy named {name!r}",
                         hint=_close(name, names) + "; or give a policy file path")
    return shipped_text(name)


def builtin_tests_text(name: str) -> str:
    return shipped_text(name, ".tests.yaml")


def read_policy_text(ref: str | Path) -> tuple[str, str, bool]:
    """(text, source label, is_builtin) for a built-in name or a file path."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") or p.exists() or "/" in str(ref):
        if not p.exists():
            raise InputError(f"policy file {str(ref)!r} does not exist",
                             hint="give a path to a .yaml file or a built-in name: "
                             + ", ".join(builtin_names()))
        try:
            return p.read_text("utf-8"), str(ref), False
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read policy file: {e}", source=str(ref)) from e
    return builtin_text(str(ref)), f"builtin:{ref}", True


def load_policy(ref: str | Path, *, overrides: Mapping[str, float] | None = None,
                known_benchmarks: Iterable[str] | None = None) -> LoadedPolicy:
    """Load a built-in policy by name or a policy file by path; PolicyError if it is invalid.

    `overrides` sets parameter values (`--set name=value`); `known_benchmarks` (the register's)
    turns unknown benchmark references into warnings on the result.
    """
    text, source, builtin = read_policy_text(ref)
    loaded, issues = check_text(text, source, known_benchmarks=known_benchmarks,
                                overrides=overrides)
    if loaded is None:
        errors = [i for i in issues if i.severity == "error"]
        first = errors[0]
        more = f" (and {len(errors) - 1} more; run `tripwire policy check {ref}`)" \
            if len(errors) > 1 else ""
        err = PolicyError(f"{first.message} — {first.fix}{more}", source=first.source,
                          where=f"{first.line}:{first.col}")
        err.issues = errors  # type: ignore[attr-defined]
        raise err
    loaded.builtin = builtin
    return loaded


def compile_policy(policy: Policy, *, overrides: Mapping[str, float] | None = None
                   ) -> LoadedPolicy:
    """Compile an in-memory Policy (library use): same checks as a file, positions omitted."""
    text = yaml.safe_dump(policy.model_dump(mode="json", exclude_defaults=True),
                          sort_keys=False, allow_unicode=True)
    loaded, issues = check_text(text, f"<{policy.name}>", overrides=overrides)
    if loaded is None:
        first = next(i for i in issues if i.severity == "error")
        raise PolicyError(f"{first.message} — {first.fix}", source=first.source)
    return loaded
