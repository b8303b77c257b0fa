"""A provider's timeline (`plan --by date`): the next level of a policy for a developer's own
series, on Epoch AI's notable-models export, recorded like a determination."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tripwire.cli import app
from tripwire.policy import load_policy
from tripwire.register import open_register
from tripwire.register import record_store as store
from tripwire.timeline import compute_for_level, plan_timeline

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> str:
    from tripwire import ingest

    path = str(tmp_path_factory.mktemp("tl") / "t.db")
    reg = open_register(path, create=True)
    reg.ingest(ingest.read_file(shared_data / "epoch_ai" / "notable_ai_models_2025-02-24.csv"))
    reg.close()
    return path


def test_compute_for_a_level_is_found_on_the_policy_itself() -> None:
    pol = load_policy("ca-sb53")
    ids = [lv.id for lv in pol.policy.levels]
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    c = compute_for_level(pol, ids.index("frontier-model"), low=1e20, at=at)
    assert c is not None and 1e26 <= c <= 1.01e26  # "more than 10^26" FLOP, to 1 %


def test_next_level_dates_recorded_with_assumptions(db: str) -> None:
    reg = open_register(db)
    tl = plan_timeline(reg, "ca-sb53", organization="OpenAI",
                       at_date=dt.date(2027, 1, 1), n_boot=200)
    assert tl.current_level is None and "GPT-4o" in tl.models
    nxt = next(lv for lv in tl.levels if lv.level == "frontier-model")
    q = nxt.date_quantiles
    assert q["0.1"] is not None and q["0.1"] < q["0.5"] < q["0.9"]
    assert nxt.probability is not None and 0 < nxt.probability <= 1
    assert any("log-linearly" in a for a in tl.assumptions)
    with reg.read() as conn:
        entries = store.entries(conn, kind="timeline")
    assert entries[-1].seq == tl.entry and entries[-1].payload["series"] == "organization OpenAI"
    reg.close()


def test_cli_json_and_exit_codes(db: str) -> None:
    r = runner.invoke(app, ["plan", "--policy", "eu-ai-act-gpai", "--by", "date",
                            "--organization", "Meta AI", "--json", "--n-boot", "100",
                            "--db", db], catch_exceptions=False)
    out = json.loads(r.stdout)
    assert out["current_level"] == "GPAI-systemic-risk" and out["entry"] is not None
    r = runner.invoke(app, ["plan", "--policy", "ca-sb53", "--by", "date", "--db", db])
    assert r.exit_code == 2
    r = runner.invoke(app, ["plan", "--policy", "ca-sb53", "--by", "date", "--organization",
                            "Nobody", "--db", db])
    assert r.exit_code == 3
