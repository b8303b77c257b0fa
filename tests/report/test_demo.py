"""The demo runs the whole loop: register, ingest, fit, forecast, assess, gate, record, verify,
and writes the HTML report."""

from __future__ import annotations

import os
from pathlib import Path

from tripwire.demo import DEMO_GATES, run_demo
from tripwire.register import record_store as store


def test_demo_runs_the_whole_loop(tmp_path: Path):
    run = run_demo(tmp_path / "demo", policies=["eu-ai-act-gpai", "ca-sb53"], n_boot=20)
    reg = run.register
    n_models = len(reg.models())
    assert [o.status for o in run.ingested] == ["stored"] * 3
    assert len(run.assessments) == 2 * n_models
    levels = {a.determination.model: a.determination.level for a in run.assessments
              if a.determination.policy == "ca-sb53"}
    assert levels["Grok-3"] == "frontier-model" and levels["gpt2-xl"] is None
    (blocked, allowed) = run.gates
    assert (blocked.action, blocked.exit_code) == ("deploy", 1)
    assert (allowed.action, allowed.exit_code) == ("train", 0)
    assert len(DEMO_GATES) == 2
    # record: two policies, every assessment and both gates, all verified and checkpointed
    with reg.read() as conn:
        kinds = [e.kind for e in store.entries(conn)]
    assert kinds.count("determination") == 2 * n_models + 2 and kinds.count("policy") == 2
    assert run.verify.ok and run.checkpoint.tree_size == len(kinds) == run.verify.entries
    assert oct(os.stat(run.key).st_mode & 0o777) == "0o600"
    # the report: fit, forecasts with the illustrative thresholds, the record's head
    d = run.report
    assert d.scaling.available and d.record.ok and d.record.last_head["tree_size"] == len(kinds)
    mmlu = next(c for c in d.capabilities if c.benchmark == "mmlu")
    assert any(t.label == "asked for" and t.crossing_quantiles for t in mmlu.thresholds)
    recorded = [x for x in d.determinations if x.recorded is not None]
    assert len(recorded) == len(d.determinations) and all(x.recorded.same_level
                                                          for x in recorded)
    html = run.report_path.read_text(encoding="utf-8")
    assert run.report_path == (tmp_path / "demo" / "report.html").resolve()
    assert "tripwire demo" in html and "The record verifies" in html
