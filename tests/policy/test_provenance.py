"""Provenance: clause references, their checks in `policy check`, deadlines, the generated
tables in docs/policies.md, rule-out semantics and parameter facts."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tripwire.cli import app
from tripwire.model import EvalResult, Model
from tripwire.policy import builtin_names, builtin_text, check_text
from tripwire.policy.clause import ClauseError, parse_clause
from tripwire.policy.evaluate import Evidence, evaluate_policy
from tripwire.policy.provenance import DOCS_END, DOCS_START, docs_section, provenance_rows
from tripwire.policy.schema import parse_duration

DOC = Path(__file__).resolve().parents[2] / "docs" / "policies.md"
AT = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)

BASE = """\
name: p
version: "1"
sources:
  - {id: act, title: An Act, version: "1", date: 2025-01-01}
levels:
  - id: L1
    source: act Art. 3(1)
    requires: {deploy: [report]}
safeguards:
  - id: report
    source: act Art. 5(2)(a), Annex IV
    deadlines:
      - {within: 72 hours, after: the incident is discovered, source: act Art. 5(3)}
thresholds:
  - id: big
    level: L1
    source: act Art. 3(2)
    condition: training_compute > 1e25
"""


@pytest.mark.parametrize("text,source,places,verified", [
    ("eu-ai-act Art. 51(2)", "eu-ai-act", ("Art. 51(2)",), True),
    ("eu-ai-act Art. 53(1)(a), Annex XI", "eu-ai-act", ("Art. 53(1)(a)", "Annex XI"), True),
    ("ca-bpc §22757.13(c)(2)", "ca-bpc", ("§22757.13(c)(2)",), True),
    ('rsp-2.2 "Capability Thresholds"', "rsp-2.2", ('"Capability Thresholds"',), True),
    ("pf-v2 p. 8, Table 1 (unverified)", "pf-v2", ("p. 8", "Table 1"), False),
    ("gbl Section 1420(6)", "gbl", ("Section 1420(6)",), True),
])
def test_clause_forms(text, source, places, verified):
    c = parse_clause(text)
    assert (c.source, c.places, c.verified) == (source, places, verified)
    assert str(c) == text


@pytest.mark.parametrize("text,offset", [
    ("Article 53", 8),             # no known place after the id
    ("act", 3),                    # no place at all
    ("act Art. 5; Annex IV", 10),  # wrong separator
    ("act chapter 5", 4),
    ("", 0),
])
def test_malformed_clauses_point_at_the_fault(text, offset):
    with pytest.raises(ClauseError) as e:
        parse_clause(text)
    assert e.value.offset == offset


def test_durations():
    assert parse_duration("72 hours") == 72
    assert parse_duration("15 days") == 360
    assert parse_duration("2 weeks") == 336
    assert parse_duration("1 day") == 24
    for bad in ("soon", "0 days", "-3 days", "72", "3 fortnights"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def _issues(text: str):
    loaded, issues = check_text(text, "p.yaml", provenance=True)
    return loaded, [i for i in issues if i.severity == "error"], issues


def test_a_well_sourced_policy_passes():
    loaded, errors, _ = _issues(BASE)
    assert loaded is not None and not errors
    assert loaded.policy.safeguards[0].deadlines[0].hours == 72


def test_unknown_clause_format_is_an_error_with_line_and_column():
    text = BASE.replace("source: act Art. 5(2)(a), Annex IV", "source: act chapter 5")
    loaded, errors, _ = _issues(text)
    assert loaded is None
    (e,) = errors
    line = text.splitlines().index("    source: act chapter 5") + 1
    assert (e.source, e.line, e.col) == ("p.yaml", line, len("    source: act ") + 1)
    assert "is not a known kind of place" in e.message and "Art. 51(2)" in e.fix


def test_undeclared_source_is_an_error():
    text = BASE.replace("source: act Art. 3(2)", "source: acts Art. 3(2)")
    _, errors, _ = _issues(text)
    assert len(errors) == 1 and "not declared" in errors[0].message
    assert "did you mean act" in errors[0].fix


def test_gated_safeguard_without_source_is_an_error_with_its_place():
    text = BASE.replace("    source: act Art. 5(2)(a), Annex IV\n", "")
    loaded, errors, _ = _issues(text)
    assert loaded is None
    (e,) = errors
    assert "safeguard report is required" in e.message
    assert (e.line, e.col) == (text.splitlines().index("  - id: report") + 1, 9)
    # without the provenance check (assessment), the same file still loads
    assert check_text(text, "p.yaml")[0] is not None


def test_ungated_parts_without_source_are_warnings():
    text = BASE.replace("    source: act Art. 3(1)\n", "")
    loaded, errors, issues = _issues(text)
    assert loaded is not None and not errors
    assert any("level L1 names no source" in i.message and i.severity == "warning"
               for i in issues)


def test_bad_deadline_is_an_error_at_its_place():
    text = BASE.replace("within: 72 hours", "within: promptly")
    loaded, issues = check_text(text, "p.yaml")
    assert loaded is None
    assert "not a duration" in issues[0].message
    assert issues[0].line == text.splitlines().index(
        "      - {within: promptly, after: the incident is discovered, source: act Art. 5(3)}") + 1


def test_encodes_must_name_a_source():
    loaded, issues = check_text(BASE.replace('version: "1"\n', 'version: "1"\nencodes: ac\n', 1),
                                "p.yaml")
    assert loaded is None and "encodes 'ac' is not a source id" in issues[0].message


@pytest.mark.parametrize("name", builtin_names())
def test_builtins_pass_policy_check_with_every_part_sourced(name):
    loaded, issues = check_text(builtin_text(name), f"builtin:{name}", provenance=True)
    assert loaded is not None, [str(i) for i in issues]
    if loaded.policy.kind == "template":  # a template's parts are the user's to source
        assert not [i for i in issues if i.severity == "error"]
        return
    assert not issues, [str(i) for i in issues]
    rows = provenance_rows(loaded.policy)
    assert all(r["status"] in ("verified", "unverified") or r["kind"] == "number"
               for r in rows), [r for r in rows if r["status"] not in ("verified", "unverified")]
    assert loaded.policy.encodes is not None


def test_docs_provenance_tables_are_current():
    if not DOC.exists():
        pytest.skip(f"{DOC} not found")
    text = DOC.read_text("utf-8")
    assert DOCS_START in text and DOCS_END in text
    current = text.split(DOCS_START, 1)[1].split(DOCS_END, 1)[0]
    assert DOCS_START + current + DOCS_END == docs_section(), \
        "docs/policies.md is stale: run .venv/bin/python scripts/policy_provenance.py"


def test_show_provenance_and_list_columns():
    runner = CliRunner()
    r = runner.invoke(app, ["policy", "show", "eu-ai-act-gpai", "--provenance", "--json"])
    assert r.exit_code == 0, r.output
    parts = json.loads(r.stdout)["parts"]
    kinds = {p["kind"] for p in parts}
    assert {"level", "threshold", "safeguard", "deadline"} <= kinds
    sr = next(p for p in parts if p["id"] == "systemic-risk-presumption")
    assert sr["place"].startswith("Art. 51(2)") and "(= 1e+25)" in sr["what"]
    r = runner.invoke(app, ["policy", "list", "--json"])
    rows = {x["name"]: x for x in json.loads(r.stdout)}
    assert rows["ny-raise"]["encodes"] and rows["ny-raise"]["date"]


def test_policy_check_cli_reports_bad_clause(tmp_path: Path):
    f = tmp_path / "p.yaml"
    f.write_text(BASE.replace("source: act Art. 3(2)", "source: act Article 3"), "utf-8")
    r = CliRunner().invoke(app, ["policy", "check", str(f)])
    assert r.exit_code == 1
    assert f"{f}:" in r.output and "is not a known kind of place" in r.output


# ------------------------------------------------------------------ rule-out and parameters

RULE_OUT = textwrap.dedent("""\
    name: r
    version: "1"
    default_level: low
    rule_out_confidence: 0.9
    levels: [{id: low}, {id: high, requires: {deploy: [vault]}}]
    safeguards: [{id: vault}]
    parameters:
      bar: {value: 0.5}
    thresholds:
      - {id: t, level: high, condition: score("b") >= bar}
    """)


def _judge(text: str, value: float, stderr: float, **set_):
    loaded, issues = check_text(text, "r.yaml", overrides=set_ or None)
    assert loaded is not None, [str(i) for i in issues]
    r = EvalResult(id=1, model="m", benchmark="b", value=value, stderr=stderr,
                   source_sha256="ab" * 32)
    return evaluate_policy(loaded, Evidence(model=Model(name="m"), results=[r]), at=AT)


@pytest.mark.parametrize("value,state,level", [
    (0.5 - 0.524 * 0.1, "possible", "high"),   # P about 0.30: not ruled out, counts
    (0.5 - 1.2816 * 0.1 + 0.001, "possible", "high"),  # just above 1 - c = 0.1
    (0.5 - 1.2816 * 0.1 - 0.001, "clear", "low"),      # just below: ruled out
    (0.5 - 2.054 * 0.1, "clear", "low"),       # P about 0.02
    (0.5 + 0.1, "likely", "high"),
])
def test_rule_out_counts_a_threshold_unless_ruled_out(value, state, level):
    d = _judge(RULE_OUT, value, 0.1)
    assert (d.thresholds[0].state, d.level) == (state, level)
    assert ("deploy" in d.allowed_actions) is (level == "low")


def test_rule_out_precisely_at_the_boundary_is_ruled_out():
    # P(condition) == 1 - c exactly: ruled out (P <= 1 - c)
    from scipy.stats import norm
    value = 0.5 + norm.ppf(0.1) * 0.1
    d = _judge(RULE_OUT, value, 0.1)
    p = d.thresholds[0].probability
    assert abs(p - 0.1) < 1e-9
    assert d.thresholds[0].state == ("clear" if p <= 0.1 else "possible")


def test_parameter_facts_in_conditions():
    text = textwrap.dedent("""\
        name: f
        version: "1"
        levels: [{id: in-scope, requires: {deploy: [docs]}}]
        safeguards: [{id: docs}]
        parameters:
          declared: {value: 0}
          outside: {}
        thresholds:
          - {id: scope, level: in-scope, condition: training_compute > 1e23 or declared >= 1}
          - {id: rep, level: in-scope, condition: 1 <= outside}
        """)
    small = Model(name="m", compute_flop=5e22, compute_method="given")
    loaded, _ = check_text(text, "f.yaml")
    d = evaluate_policy(loaded, Evidence(model=small), at=AT)
    assert d.thresholds[0].state == "clear" and d.thresholds[1].state == "insufficient"
    assert "parameter outside has no value" in d.thresholds[1].reason
    loaded, _ = check_text(text, "f.yaml", overrides={"declared": 1, "outside": 0})
    d = evaluate_policy(loaded, Evidence(model=small), at=AT)
    assert [t.state for t in d.thresholds] == ["crossed", "clear"]
    assert d.level == "in-scope"
