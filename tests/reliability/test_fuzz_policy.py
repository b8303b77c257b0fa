"""Fuzzed policies: the built-in policy files mutated as text and as YAML trees, and condition
expressions generated from their grammar and then damaged.

Property: a policy file either loads (and then judges a model without an exception, every
state one of the five and every probability in [0, 1]) or is refused with one line naming the
file and a line:column inside it. A condition either parses or raises ExprError with an
offset inside its text; spliced into a policy, its fault is reported at a place in the file.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import strategies as st
from reliability.fuzzing import FAST, HOSTILE, LONG, Pairs, Raw, Tally, mutate_json, run
from typer.testing import CliRunner

from tripwire.cli import app
from tripwire.errors import TripwireError
from tripwire.model import Attestation, EvalResult, Model
from tripwire.policy import STATES, Evidence, ExprError, check_text, evaluate_policy, parse
from tripwire.policy.loader import builtin_names, builtin_text, load_policy

AT = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
PARAMS = {"bar": 0.5, "unset": None}

# ------------------------------------------------------------------------ condition grammar

NUMBERS = ["0.6", "1e25", "100_000_000", "60%", "1e400", "-1", ".5", "0", "1e-400", "2",
           "3.0", "1e+26", "bar", "unset"]
BAD_NUMBERS = ["1__0", "1e", "0x10", "1_", "1.2.3", "1e400%", "nan", "inf", "１", "5e-"]
NAMES = ['"gpqa"', '"mmlu"', "'cyber'", '"<script>"', '"a\\"b"', '"x"', "'\u202e'", '"a\nb"']
ATOMS = ["training_compute", "effective_compute", "cost_usd", "params", "tokens"]
NOISE = ["==", "!=", "&&", "||", "!", "=", ",", "(", ")", '"', "'", "%", "e", "_", "\u202e",
         "\x00", "\U0001f600", "score", "not", "and", "or", "at_least(", "any(", "-", ">=",
         " ", "\n", "1e400", "(" * 60]


def _number(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(NUMBERS + BAD_NUMBERS if draw(st.integers(0, 9)) == 0
                                else NUMBERS))


@st.composite
def comparison(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        left = f"score({draw(st.sampled_from(NAMES))})"
    else:
        left = draw(st.sampled_from(ATOMS))
    op = draw(st.sampled_from([">=", ">", "<=", "<"]))
    n = _number(draw)
    return f"{n} {op} {left}" if draw(st.integers(0, 4)) == 0 else f"{left} {op} {n}"


LEAVES = st.one_of(comparison(), st.sampled_from([
    "true", "false", 'attested("asl3-security")', "flagged()", 'flagged("mmlu")']))


def _join(word: str) -> Any:
    return lambda xs: f"{word}(" + ", ".join(xs) + ")"


CONDITION = st.recursive(LEAVES, lambda inner: st.one_of(
    st.builds(lambda a, b: f"{a} and {b}", inner, inner),
    st.builds(lambda a, b: f"{a} or {b}", inner, inner),
    st.builds(lambda a: f"not {a}", inner),
    st.builds(lambda a: f"({a})", inner),
    st.builds(_join("any"), st.lists(inner, min_size=1, max_size=3)),
    st.builds(_join("all"), st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda k, xs: f"at_least({k}, " + ", ".join(xs) + ")",
              st.sampled_from(["1", "2", "1", "2", "1", "0", "1e400", "bar", "unset", "-1"]),
              st.lists(inner, min_size=2, max_size=3)),
), max_leaves=8)


@st.composite
def damaged(draw: st.DrawFn) -> str:
    """A grammatical condition, then (two times in three) a span deleted, noise inserted, a
    span repeated, the text cut short, or a hostile string put in."""
    text = draw(CONDITION)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "repeat", "cut", "hostile"]))
        if kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 5)):]
        elif kind == "insert":
            text = text[:i] + draw(st.sampled_from(NOISE)) + text[i:]
        elif kind == "repeat":
            text = text[:i] + text[i:i + 12] + text[i:]
        elif kind == "cut":
            text = text[:i]
        else:
            text = text[:i] + draw(st.sampled_from(HOSTILE))[:200] + text[i:]
    return text


# --------------------------------------------------------------------------- policy texts

POLICY = """schema_version: 1
name: fuzz
title: A fuzzed condition
version: "1"
kind: framework
parameters:
  bar: {{description: a bar, value: 0.5}}
  unset: {{description: a bar with no value}}
levels:
  - id: L1
    name: Level 1
    requires: {{train: [asl3-security], deploy: [asl3-security]}}
safeguards:
  - id: asl3-security
    description: Security.
thresholds:
  - id: t1
    level: L1
    description: The fuzzed condition.
    condition: {condition}
"""


def _plain(v: Any) -> Any:
    """A mutated tree as plain YAML data: raw tokens as the values JSON gives them (1e400 is
    infinity), repeated keys as the last one."""
    if isinstance(v, Raw):
        try:
            return json.loads(v.text)
        except ValueError:
            return v.text
    if isinstance(v, Pairs):
        return {k: _plain(x) for k, x in v.items}
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


@st.composite
def policy_text(draw: st.DrawFn) -> bytes:
    """A built-in policy changed as a YAML tree (keys dropped, renamed, wrong types, hostile
    values, a condition replaced by a damaged one) and/or as text (a line dropped or repeated,
    indentation shifted, a tab, a cut at any byte, a flipped byte, a BOM, CRLF)."""
    name = draw(st.sampled_from(builtin_names()))
    text = builtin_text(name)
    kind = draw(st.sampled_from(["tree", "tree", "condition", "condition", "text", "none",
                                 "none"]))
    if kind in ("tree", "condition"):
        doc = json.loads(json.dumps(yaml.safe_load(text), default=str))
        if kind == "tree":
            doc = _plain(draw(mutate_json(doc, ("levels", "thresholds", "safeguards",
                                                "parameters", "evidence", "confidence",
                                                "alert_margin", "cadence"))))
        elif isinstance(doc.get("thresholds"), list) and doc["thresholds"]:
            i = draw(st.integers(0, len(doc["thresholds"]) - 1))
            doc["thresholds"][i]["condition"] = draw(damaged())
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=draw(st.booleans()))
    lines = text.split("\n")
    for _ in range(draw(st.integers(0 if kind != "text" else 1, 2))):
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["drop", "repeat", "indent", "dedent", "tab", "colon",
                                     "hostile"]))
        if edit == "drop":
            del lines[i]
        elif edit == "repeat":
            lines.insert(i, lines[i])
        elif edit == "indent":
            lines[i] = "  " + lines[i]
        elif edit == "dedent":
            lines[i] = lines[i][2:]
        elif edit == "tab":
            lines[i] = "\t" + lines[i].lstrip(" ")
        elif edit == "colon":
            lines[i] = lines[i].replace(":", "", 1)
        else:
            lines[i] += " " + draw(st.sampled_from(HOSTILE))[:300].replace("\n", " ")
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    faults = draw(st.sampled_from(["none", "none", "none", "cut", "flip", "bom", "crlf"]))
    if faults == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif faults == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    elif faults == "bom":
        data = b"\xef\xbb\xbf" + data
    elif faults == "crlf":
        data = data.replace(b"\n", b"\r\n")
    return data


# ------------------------------------------------------------------------------ judging

def _judge(loaded: Any, scores: list[float]) -> None:
    """Judge two models under a loaded policy: every state valid, probabilities in [0, 1]."""
    benches = set()
    for t in loaded.thresholds:
        for cond in (t.condition, t.alert):
            if cond is not None:
                for name, _ in cond.benchmarks:
                    benches.add(loaded.benchmark_for(name) or name)
    safeguards = [s.id for s in loaded.policy.safeguards]
    for compute, att in ((3e26, safeguards[: len(safeguards) // 2]), (1e20, [])):
        m = Model(name="m", compute_flop=compute, params=7e10, tokens=1.4e12, cost_usd=1e8)
        results = [EvalResult(model="m", benchmark=b, metric="acc", value=scores[i % len(scores)],
                              stderr=0.02, samples=500, id=i + 1)
                   for i, b in enumerate(sorted(benches))]
        ev = Evidence(model=m, results=results,
                      attestations=[Attestation(model=None, safeguard=s, by="t", at=AT)
                                    for s in att])
        det = evaluate_policy(loaded, ev, at=AT)
        for ts in det.thresholds:
            assert ts.state in STATES, ts
            assert ts.probability is None or 0.0 <= ts.probability <= 1.0, ts


def _place_in(text: str, line: int, col: int) -> None:
    lines = text.split("\n")
    assert 1 <= line <= len(lines) + 1, (line, len(lines))
    assert col >= 1, col


def check_policy(tmp_path: Path, data: bytes, scores: list[float], tally: Tally,
                 cli: bool) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(data)
    try:
        loaded = load_policy(path)
    except TripwireError as e:
        msg = str(e)
        assert "\n" not in msg and "Traceback" not in msg, msg
        assert msg.startswith(str(path) + ":"), msg
        if e.where:
            line, col = (int(x) for x in e.where.split(":"))
            _place_in(data.decode("utf-8", "replace").lstrip("\ufeff"), line, col)
        tally.rejected += 1
        tally.places += bool(e.where)
    else:
        tally.accepted += 1
        _judge(loaded, scores)
    if cli:
        r = CliRunner().invoke(app, ["policy", "check", str(path)])
        assert r.exit_code in (0, 1, 2), (r.exit_code, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
        assert "Traceback" not in r.output


def check_condition(text: str, scores: list[float], tally: Tally) -> None:
    """The condition alone, then inside a policy (the fault placed in the file)."""
    try:
        parse(text, PARAMS)
    except ExprError as e:
        assert 0 <= e.offset <= len(text), (e.offset, len(text))
        tally.rejected += 1
        tally.places += 1
        parsed = False
    else:
        tally.accepted += 1
        parsed = True
    policy = POLICY.format(condition=json.dumps(text))
    loaded, issues = check_text(policy, "fuzz.yaml")
    for i in issues:
        _place_in(policy, i.line, i.col)
        assert "\n" not in i.message
    if parsed:
        assert loaded is not None, [str(i) for i in issues if i.severity == "error"]
        _judge(loaded, scores)
    else:
        assert loaded is None


SCORES = st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.6, 0.9, 1.0, 1e-9, 0.999999]),
                  min_size=1, max_size=3)


def _conditions(examples: int, report: bool) -> None:
    tally = Tally("condition expressions")
    run(st.tuples(damaged(), SCORES), examples, lambda x: check_condition(x[0], x[1], tally))
    assert tally.total >= examples * 0.9
    if report:
        print("\n" + tally.line("0 tracebacks; spliced into a policy, every fault placed "
                                "at a line and column of the file",
                                place="with the offset of the fault"))


def _policies(tmp_path: Path, examples: int, report: bool) -> None:
    tally = Tally("policy YAML")
    counter = iter(range(10**9))
    run(st.tuples(policy_text(), SCORES), examples,
        lambda x: check_policy(tmp_path, x[0], x[1], tally, cli=next(counter) % 10 == 0))
    assert tally.total >= examples * 0.9
    if report:
        print("\n" + tally.line("0 tracebacks; every loaded policy judged two models"))


def test_conditions_fuzz_fast() -> None:
    _conditions(FAST, report=False)


def test_policies_fuzz_fast(tmp_path: Path) -> None:
    _policies(tmp_path, FAST, report=False)


@pytest.mark.reliability
def test_conditions_fuzz_long() -> None:
    _conditions(LONG, report=True)


@pytest.mark.reliability
def test_policies_fuzz_long(tmp_path: Path) -> None:
    _policies(tmp_path, LONG, report=True)


@pytest.mark.parametrize("text", [
    "at_least(1e400, true, true)",   # was OverflowError: int(inf)
    "at_least(unset, true, true)",   # was ValueError: int(nan), a parameter with no value
    "(" * 60 + "true" + ")" * 60,    # was RecursionError
    "not " * 300 + "true",           # was RecursionError
])
def test_condition_regressions(text: str) -> None:
    with pytest.raises(ExprError) as info:
        parse(text, PARAMS)
    assert 0 <= info.value.offset <= len(text)
    loaded, issues = check_text(POLICY.format(condition=json.dumps(text)), "p.yaml")
    assert loaded is None and issues[0].line == POLICY.count("\n") and issues[0].col > 4


def test_deep_but_allowed_condition_still_judges() -> None:
    text = "(" * 40 + "training_compute > 1e25" + ")" * 40
    loaded, _ = check_text(POLICY.format(condition=json.dumps(text)), "p.yaml")
    assert loaded is not None
    _judge(loaded, [0.5])
    assert math.isfinite(loaded.thresholds[0].condition.comparisons[0].threshold.value)


def test_policy_file_with_a_control_character(tmp_path: Path) -> None:
    """Was a yaml ReaderError traceback: PyYAML checks characters before parsing, outside the
    loader's error handling."""
    path = tmp_path / "p.yaml"
    path.write_bytes(b"name: a\nver\x00sion: 1\n")
    with pytest.raises(TripwireError) as info:
        load_policy(path)
    assert info.value.where == "2:4" and "\\x00" in info.value.message
    assert "\n" not in str(info.value)


def test_a_name_with_a_line_break_stays_on_one_line() -> None:
    """Was a two-line warning: the name inside attested("...") printed as it is."""
    loaded, issues = check_text(POLICY.format(condition=json.dumps('attested("a\nb")')), "p.yaml")
    assert loaded is not None and issues
    assert all("\n" not in str(i) for i in issues)
