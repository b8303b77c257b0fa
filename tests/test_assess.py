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
    assert any("no results in the register for: nosuch (for skill)" in w for w in a.warnings)
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


def test_plan_forecasts_crossing_and_safeguards(reg: Register, house: Path, tmp_path: Path):
    # cleanbench is the user's own benchmark: a benchmarks table gives its chance level (without
    # it the floor is 0, the backtest sees the misfit and the forecast widens: P about 0.8)
    reg.ingest(ingest.read_file(write(tmp_path / "benchmarks.csv",
                                      "benchmark,chance\ncleanbench,0.25\n")))
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


# ------------------------------------------------------------------------------ bottom line

RULES = """\
name: rules
version: "1"
default_level: base
cumulative: {cumulative}
levels:
  - id: base
    requires: {{deploy: [docs]}}
  - id: high
    requires: {{train: [vault], deploy: [vault]}}
  - id: top
    requires: {{deploy: [lock]}}
safeguards: [{{id: docs}}, {{id: vault}}, {{id: lock}}, {{id: filters}}]
thresholds:
  - id: compute
    level: high
    condition: training_compute > 1e25
  - id: skill
    level: top
    condition: score("skillbench") >= 0.5
    requires: {{deploy: [filters]}}
  - id: minor
    level: base
    condition: score("otherbench") >= 0.5
"""


def _judged(have: list[str], compute: float | None = 1e26, cumulative: bool = True):
    from tripwire.assess import bottom_line
    from tripwire.model import Model
    from tripwire.policy import Evidence, check_text, evaluate_policy

    pol, issues = check_text(RULES.format(cumulative=str(cumulative).lower()), "rules.yaml")
    assert pol is not None, [str(i) for i in issues]
    m = Model(name="m", compute_flop=compute)
    det = evaluate_policy(pol, Evidence(model=m, attestations=have), at=NOW)

    def line(action: str | None = None, stale: tuple[str, ...] = ()):
        return bottom_line(det, pol, have=have, action=action, stale=stale)
    return det, line


def test_bottom_line_a_block_that_stands_names_what_could_not_be_judged_too():
    det, line = _judged([])
    assert det.level == "high"
    bl = line("deploy")
    assert bl.exit_code == 1
    assert bl.text == ("BLOCKED: deploy needs docs, vault (level high); also cannot rule out top: "
                       "2 thresholds insufficient (no result on skillbench: skill; no result on "
                       "otherbench: minor), which would add filters, lock [exit 1]")
    skill, minor = bl.unjudged
    assert skill.raises_level and skill.would_require == {"deploy": ["lock", "filters"]}
    assert not minor.raises_level and minor.would_require == {}
    assert line().exit_code == 3  # assess: the level could be higher


def test_bottom_line_missing_evidence_that_could_block_an_allowed_action_is_exit_3():
    _, line = _judged(["docs", "vault"])
    bl = line("deploy")
    assert bl.exit_code == 3 and bl.text.startswith(
        "INSUFFICIENT EVIDENCE: deploy is allowed on the evidence judged (level high), but "
        "cannot rule out top") and "which would require filters, lock" in bl.text
    assert line("train").exit_code == 0  # top adds nothing to train: allowed whatever it says
    assert "whose safeguards are in place as well" in line("train").text


def test_bottom_line_all_safeguards_in_place_gate_allows_but_assess_says_the_level_is_open():
    _, line = _judged(["docs", "vault", "lock", "filters"])
    assert line("deploy").exit_code == 0 and line("deploy").text.startswith("ALLOWED: deploy")
    bl = line()
    assert bl.exit_code == 3 and bl.text.startswith("level high; cannot rule out top")
    assert line("deploy", stale=("re-assessment was due 2025-01-01",)).exit_code == 3


def test_bottom_line_an_unjudged_threshold_that_changes_nothing_is_exit_0():
    from tripwire.assess import bottom_line
    from tripwire.model import Model
    from tripwire.policy import Evidence, check_text, evaluate_policy

    text = RULES.format(cumulative="true").replace(
        "    requires: {deploy: [filters]}\n", "")
    pol, _ = check_text(text.replace('score("skillbench") >= 0.5', "training_compute > 1e27"),
                        "r.yaml")
    assert pol is not None
    det = evaluate_policy(pol, Evidence(model=Model(name="m", compute_flop=1e28)), at=NOW)
    assert det.level == "top"
    bl = bottom_line(det, pol, have=[])
    assert bl.exit_code == 0 and bl.text == (
        "level top; 1 threshold insufficient (no result on otherbench: minor), which would change "
        "nothing: the safeguards they require are in place [exit 0]")


def test_bottom_line_when_levels_do_not_accumulate_missing_evidence_may_lift_a_block():
    # Not cumulative: at level high only the vault is required, not the base's docs. With the
    # vault attested and compute unknown, deploy is blocked on docs at base, but crossing
    # `compute` would lift that block: the missing evidence could change the answer.
    _, line = _judged(["vault"], compute=None, cumulative=False)
    bl = line("train")
    assert bl.exit_code == 0  # base requires nothing for train; high's vault is attested
    bl = line("deploy")
    assert bl.exit_code == 3 and bl.text.startswith(
        "INSUFFICIENT EVIDENCE: deploy is blocked on the evidence judged (level base)"), bl.text


def test_anomaly_z_is_one_number_in_assess_forecast_and_report(sqlite_register: Register,
                                                               tmp_path: Path):
    """The sandbagging z-score of a model is computed once (forecast.benchmark_anomalies) and
    printed the same by `assess`, `forecast --anomalies` and the report."""
    import json
    import re

    from typer.testing import CliRunner

    from tripwire.cli import app
    from tripwire.report.data import anomaly_rows

    models = ["name,compute"]
    evals = ["model,benchmark,value,samples"]
    for i in range(12):
        logc = 21 + 0.4 * i
        score = 0.25 + 0.7 / (1 + math.exp(-1.5 * (logc - 23.5)))
        if i == 9:
            score = 0.45  # far below the curve for its compute
        models.append(f"m{i},{10 ** logc:.4g}")
        evals.append(f"m{i},mmlu,{score:.4f},{2000 + 100 * i}")
        evals.append(f"m{i},mmlu,{score - 0.05:.4f},")  # a weaker run: the best one counts
    reg = sqlite_register
    reg.ingest(ingest.read_file(write(tmp_path / "models.csv", "\n".join(models) + "\n")))
    reg.ingest(ingest.read_file(write(tmp_path / "evals.csv", "\n".join(evals) + "\n")))
    pol = write(tmp_path / "p.yaml", POLICY.replace("benchmark: skillbench", "benchmark: mmlu"))
    reason = assess(reg, "m9", pol, record=False).determination.thresholds[0].reason or ""
    z_assess = re.search(r"z = (-?[\d.]+)", reason)
    assert z_assess, reason
    r = CliRunner().invoke(app, ["forecast", "mmlu", "--anomalies", "--json", "--n-boot", "20",
                                 "--db", reg.url])
    assert r.exit_code == 0, r.output
    row = next(x for x in json.loads(r.stdout)["anomalies"]["compute"] if x["model"] == "m9")
    bench = reg.get_benchmark("mmlu")
    (rep,) = [a for a in anomaly_rows(reg, bench, {m.name: m for m in reg.models()})
              if a.model == "m9"]
    assert row["flagged"] and rep.flagged
    assert f"{row['z']:.4g}" == f"{rep.z:.4g}" == z_assess.group(1)
