"""Assessments over a real register: evidence gathering, the record, gate codes, plan, attest."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from pathlib import Path

import pytest
from helpers import write

from tripwire import ingest
from tripwire.assess import assess, attest, attestations, determinations, gate, plan
from tripwire.errors import InputError, InsufficientEvidence
from tripwire.register import Register
from tripwire.register.record_store import entries

NOW = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)

POLICY = """\
name: house
version: "1"
default_level: base
confidence: 0.9
alert_margin: 0.05
cadence: {compute_factor: 4, months: 6}
levels:
  - id: base
    requires: {train: [security], deploy: [security]}
  - id: high
    requires: {train: [vault], deploy: [vault, filters]}
safeguards: [{id: security}, {id: vault}, {id: filters}]
evidence:
  skill: {benchmark: skillbench, description: a capability eval}
thresholds:
  - id: skill-high
    level: high
    condition: score("skill") >= 0.7
"""


def _family_csvs(folder: Path) -> tuple[Path, Path]:
    """Ten models on a sigmoid in log compute, one of them sandbagging, plus three more."""
    models = ["name,params,tokens,compute,cost_usd,multiplier"]
    evals = ["model,benchmark,value,samples,date"]
    for i in range(10):
        logc = 21 + 0.5 * i
        score = 0.25 + 0.7 / (1 + math.exp(-1.6 * (logc - 24)))
        name = f"fam{i}"
        models.append(f"{name},,,{10 ** logc:.4g},,1")
        evals.append(f"{name},cleanbench,{score:.4f},1000,2025-06-01")
        if name == "fam8":
            score = 0.26  # implausibly low for its compute
        evals.append(f"{name},skillbench,{score:.4f},1000,2025-06-01")
    models += ["big,,,3e26,4e8,1", "estimated,7e10,2e13,,,1", "small,1e9,2e10,1.2e20,1e5,2"]
    evals += ["big,skillbench,0.80,1000,2025-06-01", "small,skillbench,0.30,1000,2024-01-01"]
    return (write(folder / "models.csv", "\n".join(models) + "\n"),
            write(folder / "evals.csv", "\n".join(evals) + "\n"))


@pytest.fixture
def reg(sqlite_register: Register, tmp_path: Path) -> Register:
    m, e = _family_csvs(tmp_path)
    for f in (m, e):
        sqlite_register.ingest(ingest.read_file(f))
    return sqlite_register


@pytest.fixture
def house(tmp_path: Path) -> Path:
    return write(tmp_path / "house.yaml", POLICY)


def test_assess_records_policy_once_and_the_determination(reg: Register, house: Path):
    a = assess(reg, "big", house, at=NOW, anomalies=False)
    d = a.determination
    assert d.level == "high" and d.thresholds[0].state == "crossed"
    ref = d.thresholds[0].evidence[0]
    assert ref.benchmark == "skillbench" and ref.source_sha256 and ref.result_id
    assert d.missing_safeguards == {"train": ["security", "vault"],
                                    "deploy": ["security", "vault", "filters"]}
    assert d.next_due == dt.date(2025, 12, 1)
    assert d.next_due_compute_flop == pytest.approx(1.2e27)
    assess(reg, "big", house, at=NOW, anomalies=False)
    with reg.read() as conn:
        kinds = [e.kind for e in entries(conn)]
        pol = entries(conn, kind="policy")
    assert kinds.count("policy") == 1 and kinds.count("determination") == 2
    assert pol[0].payload["sha256"] == d.policy_sha256
    assert hashlib.sha256(pol[0].payload["text"].encode()).hexdigest() == d.policy_sha256
    back = determinations(reg, model="big", policy="house")
    assert len(back) == 2 and back[0].model_dump() == d.model_dump()


def test_builtin_regulation_on_register_models(reg: Register):
    d = assess(reg, "estimated", "eu-ai-act-gpai", at=NOW, record=False).determination
    t = next(t for t in d.thresholds if t.id == "systemic-risk-presumption")
    # 6ND = 8.4e24 estimated: P(C > 1e25) with a factor-2 sigma is about 0.40 -> alert
    assert t.state == "alert" and 0.3 < t.probability < 0.5
    assert "estimated (6ND)" in t.reason
    assert d.level == "GPAI"  # 8.4e24 is far above the 1e23 GPAI criterion


def test_unknown_names_list_close_ones(reg: Register, house: Path):
    with pytest.raises(InputError, match="did you mean: big"):
        assess(reg, "bgi", house, record=False)
    with pytest.raises(InputError, match="did you mean: skill"):
        assess(reg, "big", house, mapping={"skil": "x"}, record=False)
    with pytest.raises(InputError, match="anthropic-rsp"):
        assess(reg, "big", "anthropic_rsp", record=False)


def test_unmapped_or_unknown_benchmark_warns_and_is_insufficient(reg: Register, house: Path):
    a = assess(reg, "big", house, mapping={"skill": "nosuch"}, record=False)
    assert any('benchmark "nosuch" (for "skill") is not in the register' in w
               for w in a.warnings)
    assert a.determination.thresholds[0].state == "insufficient"


def test_gate_exit_codes(reg: Register, house: Path, tmp_path: Path):
    g = gate(reg, "big", "deploy", house, at=NOW)
    assert g.exit_code == 1 and not g.allowed
    assert "security, vault, filters" in g.reasons[0]
    report = write(tmp_path / "audit.pdf", "audit report")
    for s in ("security", "vault", "filters"):
        attest(reg, "*", s, evidence=str(report), by="ciso", at=NOW)
    assert gate(reg, "big", "deploy", house, at=NOW).exit_code == 0
    # no result on the benchmark: insufficient, and the level's safeguards would be needed
    attest(reg, "*", "security", evidence="https://example.org/a", by="x")
    g = gate(reg, "estimated", "train", house, at=NOW)
    assert g.exit_code == 0  # org-wide safeguards cover every level the evidence could reach
    with pytest.raises(InputError, match="train or deploy"):
        gate(reg, "big", "release", house)


def test_gate_insufficient_when_safeguards_are_not_already_in_place(reg: Register, house: Path):
    attest(reg, "estimated", "security", evidence="https://example.org/s", by="x", at=NOW)
    g = gate(reg, "estimated", "train", house, at=NOW)
    assert g.exit_code == 3 and "skill-high: insufficient evidence" in g.reasons[0]


def test_gate_stale_by_months(reg: Register, house: Path):
    attest(reg, "small", "security", evidence="https://example.org/s", by="x", at=NOW)
    g = gate(reg, "small", "train", house, at=NOW)  # its only result is from 2024-01-01
    assert g.exit_code == 3 and "due 2024-07-01" in g.reasons[0]


def test_gate_stale_by_compute_growth(reg: Register, house: Path, tmp_path: Path):
    attest(reg, "*", "security", evidence="https://example.org/s", by="x", at=NOW)
    assert gate(reg, "fam3", "train", house, at=NOW).exit_code == 0
    bigger = write(tmp_path / "grown.csv", "name,compute\nfam3,1e25\n")  # was ~3.2e22
    reg.ingest(ingest.read_file(bigger), update=True)
    g = gate(reg, "fam3", "train", house, at=NOW)
    assert g.exit_code == 3 and "reached the cadence mark" in g.reasons[0]


def test_anomaly_flag_is_reported(reg: Register, house: Path):
    d = assess(reg, "fam8", house, at=NOW, record=False).determination
    assert "skillbench is flagged" in d.thresholds[0].reason


def test_attest_evidence_and_scope(reg: Register, tmp_path: Path):
    f = write(tmp_path / "pen-test.txt", "findings")
    a, warnings = attest(reg, "big", "asl3-security", evidence=str(f), by="sec team")
    assert a.evidence_sha256 == hashlib.sha256(b"findings").hexdigest() and not warnings
    _, warnings = attest(reg, "big", "homegrown", evidence="https://x.org", by="me")
    assert warnings and "no built-in policy declares" in warnings[0]
    with pytest.raises(InputError, match="did you mean: asl3-security"):
        attest(reg, "big", "asl3-securty", evidence="https://x.org", by="me", policy="asl")
    with pytest.raises(InputError, match="neither an http"):
        attest(reg, "big", "asl3-security", evidence="nothing-here.pdf", by="me")
    with pytest.raises(InputError, match="no model named"):
        attest(reg, "nope", "asl3-security", evidence="https://x.org", by="me")
    attest(reg, "small", "asl3-security", evidence="https://x.org", by="me", all_models=True)
    names = [(x.model, x.safeguard) for x in attestations(reg, "big")]
    assert ("big", "asl3-security") in names and (None, "asl3-security") in names
    assert all(x.model in (None, "small") for x in attestations(reg, "small"))


def test_plan_forecasts_crossing_and_safeguards(reg: Register, house: Path):
    clean = {"skill": "cleanbench"}
    low = plan(reg, house, from_model="fam2", scale=2, mapping=clean, n_boot=100, at=NOW)
    high = plan(reg, house, from_model="fam7", scale=30, mapping=clean, n_boot=100, at=NOW)
    p_low = low.determination.thresholds[0].probability
    p_high = high.determination.thresholds[0].probability
    assert p_low < 0.1 < 0.9 < p_high
    assert high.determination.level == "high"
    assert high.safeguards_first["deploy"] == ["security", "vault", "filters"]
    assert high.forecasts and high.forecasts[0]["benchmark"] == "cleanbench"
    assert high.planned.compute_flop == pytest.approx(10 ** 24.5 * 30, rel=1e-3)
    by_compute = plan(reg, "ca-sb53", compute=2e26, at=NOW)
    assert by_compute.determination.level == "frontier-model"
    with pytest.raises(InputError, match="say what is planned"):
        plan(reg, house, from_model="big")
    with pytest.raises(InputError, match="positive"):
        plan(reg, house, from_model="big", scale=-1)


def test_plan_without_enough_data_is_insufficient_not_a_number(reg: Register, house: Path,
                                                                tmp_path: Path):
    write(tmp_path / "m.csv", "name\nnocompute\n")
    reg.ingest(ingest.read_file(tmp_path / "m.csv"))
    with pytest.raises(InsufficientEvidence, match="no training compute"):
        plan(reg, house, from_model="nocompute", scale=4)
    p = plan(reg, house, compute=1e24, mapping={"skill": "nosuch"}, n_boot=50, at=NOW)
    assert p.determination.thresholds[0].state == "insufficient"
    assert any("nosuch" in w for w in p.warnings)
