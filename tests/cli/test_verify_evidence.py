"""`tripwire verify` sees the evidence being changed: the demo's register, assessed, then edited
with raw SQL as a newcomer did (a model's compute, a result's value); verify names both rows and
exits 1, `--fast` skips the comparison, and gate refuses to answer on the changed evidence."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from clirun import run

from tripwire.demo import run_demo
from tripwire.register import open_register
from tripwire.report.data import (
    determination_view,
    determinations,
    load_policies,
    record_section,
)


@pytest.fixture
def demo_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo's ingest in a fresh register, with one determination recorded."""
    monkeypatch.delenv("TRIPWIRE_DB", raising=False)
    monkeypatch.setenv("TRIPWIRE_KEY", str(tmp_path / "tripwire.key"))
    run_demo(tmp_path / "demo", report=False).register.close()
    db = str(tmp_path / "demo" / "tripwire.db")
    r = run("assess", "Llama-3.1-405B", "--policy", "eu-ai-act-gpai", "--db", db)
    assert r.exit_code in (0, 1, 3), r.output
    return db


def test_raw_sql_edits_of_the_evidence_fail_verify_naming_each_row(demo_db: str) -> None:
    r = run("verify", "--db", demo_db)
    assert r.exit_code == 0, r.output
    assert "evidence row(s) match the record" in r.output
    with sqlite3.connect(demo_db) as conn:
        conn.execute("update models set compute_flop=1e20 where name='Llama-3.1-405B'")
        conn.execute("update eval_results set value=0.1 where id=1")
    r = run("verify", "--db", demo_db)
    assert r.exit_code == 1, r.output
    out = r.output
    assert "models" in out and "(Llama-3.1-405B)" in out and "compute_flop: 3.8e+25 -> 1e+20" in out
    assert "eval_results 1 changed outside tripwire (value:" in out and "-> 0.1" in out
    r = run("verify", "--db", demo_db, "--json")
    assert r.exit_code == 1
    report = json.loads(r.stdout)
    changes = {(c["table"], c["key"]): c for c in report["evidence_changes"]}
    assert len(changes) == 2
    (model,) = [c for (tbl, _), c in changes.items() if tbl == "models"]
    assert model["label"] == "Llama-3.1-405B" and model["fields"] == [
        {"column": "compute_flop", "committed": 3.8e25, "current": 1e20}]
    assert changes[("eval_results", 1)]["fields"][0]["column"] == "value"
    r = run("verify", "--db", demo_db, "--fast")
    assert r.exit_code == 0 and "not compared (--fast)" in r.output


def test_gate_on_changed_evidence_is_stale_not_an_answer(demo_db: str) -> None:
    """Before the edit the gate blocks (Art. 53 safeguards missing); after it, the model looks
    under the line, and gate says the evidence is stale (exit 3) instead of answering."""
    r = run("gate", "Llama-3.1-405B", "--action", "deploy", "--policy", "eu-ai-act-gpai",
            "--db", demo_db)
    assert r.exit_code == 1, r.output
    with sqlite3.connect(demo_db) as conn:
        conn.execute("update models set compute_flop=1e20 where name='Llama-3.1-405B'")
    r = run("gate", "Llama-3.1-405B", "--action", "deploy", "--policy", "eu-ai-act-gpai",
            "--db", demo_db, "--json")
    assert r.exit_code == 3, r.output
    got = json.loads(r.stdout)
    assert any("stale evidence" in x for x in got["reasons"])
    assert any("compute_flop: 3.8e+25 -> 1e+20" in x for x in got["reasons"])
    r = run("assess", "Llama-3.1-405B", "--policy", "eu-ai-act-gpai", "--db", demo_db)
    assert "evidence no longer what the record committed" in r.output


def test_the_report_names_the_changed_rows_and_marks_the_recorded_determination_stale(
        demo_db: str) -> None:
    with sqlite3.connect(demo_db) as conn:
        conn.execute("update models set compute_flop=1e20 where name='Llama-3.1-405B'")
    reg = open_register(demo_db)
    r = record_section(reg)
    assert not r.ok and len(r.evidence_changes) == 1
    assert "compute_flop: 3.8e+25 -> 1e+20" in r.evidence_changes[0]
    (pol,) = load_policies(["eu-ai-act-gpai"])
    ((det, _warned, entry),) = determinations(reg, ["Llama-3.1-405B"], [pol])
    view = determination_view(det, recorded=entry)
    assert view.recorded is not None and view.recorded.same_evidence is False
    assert any("evidence no longer what the record committed" in n for n in view.notes)
    reg.close()
