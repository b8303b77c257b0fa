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
    assert nxt.status == "forecast" and q["0.05"] > dt.date(2024, 12, 5)  # after the last release
    assert any("first model over its threshold" in a for a in tl.assumptions)
    # The bottom line names every level: dated, or not judged and why.
    assert "frontier-model: median" in tl.bottom_line
    assert "large-frontier-developer: could not judge" in tl.bottom_line
    assert "annual_gross_revenue_usd" in tl.bottom_line and tl.not_judged
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


CAPABILITY_POLICY = """\
name: lab-ladder
version: "1"
default_level: base
levels:
  - id: base
  - id: skilled
  - id: guarded
  - id: top
safeguards: [{id: vault}]
evidence:
  skill: {benchmark: skillbench, description: a capability eval}
thresholds:
  - id: skill-high
    level: skilled
    condition: score("skill") >= 0.8
  - id: skill-or-compute
    level: guarded
    condition: score("skill") >= 0.9 and training_compute > 1e24
  - id: vaulted
    level: top
    condition: attested("vault") or score("other") >= 0.5
"""


def test_capability_levels_are_dated_from_the_series_scores(tmp_path: Path) -> None:
    """A lab's own models scoring higher on a benchmark year by year: the capability level is
    dated by the trend of its scores, a level needing both capability and compute by the later
    of the two, and one resting on an attestation or a benchmark never run is not judged."""
    from helpers import write

    from tripwire import ingest

    rows = ["name,organization,release_date,compute_flop"]
    evals = ["model,benchmark,value"]
    for i in range(10):
        d = dt.date(2021, 1, 1) + dt.timedelta(days=120 * i)
        rows.append(f"lab-{i},Lab,{d},{1e21 * 2.0 ** i:.3g}")
        evals.append(f"lab-{i},skillbench,{0.3 + 0.045 * i + 0.01 * (i % 2):.3f}")
    reg = open_register(str(tmp_path / "t.db"), create=True)
    reg.ingest(ingest.read_file(write(tmp_path / "models.csv", "\n".join(rows) + "\n")))
    reg.ingest(ingest.read_file(write(tmp_path / "evals.csv", "\n".join(evals) + "\n")))
    pol = write(tmp_path / "p.yaml", CAPABILITY_POLICY)
    tl = plan_timeline(reg, pol, organization="Lab", n_boot=200, at_date=dt.date(2026, 1, 1))
    by = {lt.level: lt for lt in tl.levels}
    assert by["base"].status == "reached"
    skilled = by["skilled"]
    assert skilled.status == "forecast" and skilled.compute_flop is None
    assert skilled.date_quantiles["0.1"] > dt.date(2023, 12, 17)
    assert "skillbench" in skilled.thresholds[0].basis[0] or "skill" in skilled.thresholds[0].basis[0]
    guarded = by["guarded"]
    assert guarded.status == "forecast"
    assert guarded.date_quantiles["0.5"] >= skilled.date_quantiles["0.5"]
    top = by["top"]
    assert top.status == "not judged"
    assert "attested('vault')" in (top.thresholds[0].reason or "")
    assert "top: could not judge" in tl.bottom_line and "skilled: median" in tl.bottom_line
    with reg.read() as conn:
        payload = store.entries(conn, kind="timeline")[-1].payload
    assert payload["bottom_line"] == tl.bottom_line and payload["not_judged"]
    reg.close()
