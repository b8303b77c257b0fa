"""Policy commands through the CLI: output, exit codes (0/1/2/3), no tracebacks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from clirun import run
from helpers import write

POLICY = """\
name: house
version: "1"
levels:
  - id: base
    requires: {deploy: [security]}
  - id: high
    requires: {train: [vault], deploy: [security, vault]}
safeguards: [{id: security}, {id: vault}]
thresholds:
  - id: big-compute
    level: high
    condition: training_compute > 1e25
"""


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "r.db")
    assert run("init", "--db", path).exit_code == 0
    models = write(tmp_path / "models.csv",
                   "name,compute\nbig,3e25\nsmall,1e22\nunknown,\n")
    assert run("ingest", str(models), "--db", path).exit_code == 0
    return path


@pytest.fixture
def house(tmp_path: Path) -> str:
    return str(write(tmp_path / "house.yaml", POLICY))


def test_policy_list_show_schema():
    r = run("policy", "list", "--json")
    assert r.exit_code == 0
    names = {p["name"] for p in json.loads(r.stdout)}
    assert {"asl", "anthropic-rsp", "eu-ai-act-gpai", "ca-sb1047"} <= names
    r = run("policy", "show", "ca-sb53")
    assert r.exit_code == 0 and yaml.safe_load(r.stdout)["name"] == "ca-sb53"
    r = run("policy", "show", "ca-sb53", "--json")
    assert len(json.loads(r.stdout)["sha256"]) == 64
    r = run("policy", "schema")
    assert json.loads(r.stdout)["title"] == "Policy"
    r = run("policy", "show", "ca-sb35")
    assert r.exit_code == 2 and "ca-sb53" in r.stderr


SOURCED = POLICY.replace(
    "safeguards: [{id: security}, {id: vault}]",
    "sources: [{id: ours, title: Our policy, version: '1', date: 2025-01-01}]\n"
    "safeguards: [{id: security, source: ours Section 2}, {id: vault, source: ours Section 3}]")


def test_policy_check(house: str, tmp_path: Path):
    # a safeguard a level requires must say where it comes from
    r = run("policy", "check", house)
    assert r.exit_code == 1
    assert re.search(r"house\.yaml:8:\d+: safeguard security is required by a level or "
                     r"threshold but names no source", r.stderr)
    sourced = write(tmp_path / "sourced.yaml", SOURCED)
    r = run("policy", "check", str(sourced))
    assert r.exit_code == 0 and r.stdout.startswith("ok: house 1"), r.output
    bad = write(tmp_path / "bad.yaml", POLICY.replace("> 1e25", "> 1e25 &&"))
    r = run("policy", "check", str(bad))
    assert r.exit_code == 1
    assert re.search(r"bad\.yaml:12:\d+: condition: '&&' is not an operator here — write 'and'",
                     r.stderr)
    r = run("policy", "check", str(bad), "--json")
    issue = next(i for i in json.loads(r.stdout)["issues"] if "condition" in i["message"])
    assert issue["line"] == 12 and issue["severity"] == "error"
    r = run("policy", "check", str(tmp_path / "absent.yaml"))
    assert r.exit_code == 2 and "does not exist" in r.stderr


def test_policy_test(tmp_path: Path, house: str):
    r = run("policy", "test", "eu-ai-act-gpai")
    assert r.exit_code == 0 and "failed" in r.stderr
    write(tmp_path / "house.tests.yaml",
          "cases:\n  - name: wrong\n    model: {name: m, compute_flop: 1e26}\n"
          "    expect: {level: base}\n")
    r = run("policy", "test", house, "--json")
    out = json.loads(r.stdout)
    assert r.exit_code == 1 and not out["passed"]
    assert "expected base, got high" in out["cases"][0]["failures"]


def test_copied_builtin_gets_its_tests_beside_it(tmp_path: Path, monkeypatch):
    """docs/policies.md: `policy show asl > my-policy.yaml`, then `policy test my-policy.yaml`
    says how to start the tests; `policy show asl --tests` writes cases that run on the copy."""
    monkeypatch.chdir(tmp_path)
    Path("my-policy.yaml").write_text(run("policy", "show", "asl").stdout, encoding="utf-8")
    r = run("policy", "test", "my-policy.yaml")
    assert r.exit_code == 2 and "policy show NAME --tests > my-policy.tests.yaml" in r.stderr
    r = run("policy", "show", "asl", "--tests")
    assert r.exit_code == 0 and "\npolicy:" not in r.stdout
    Path("my-policy.tests.yaml").write_text(r.stdout, encoding="utf-8")
    r = run("policy", "test", "my-policy.yaml", "--json")
    out = json.loads(r.stdout)
    assert r.exit_code == 0 and out["passed"] and out["policy"].endswith("my-policy.yaml")
    assert len(out["cases"]) == len(yaml.safe_load(r_tests := run(
        "policy", "show", "asl", "--tests").stdout)["cases"]) > 0, r_tests
    r = run("policy", "show", "my-policy.yaml", "--tests")  # a file's own tests, unchanged
    assert r.exit_code == 0 and r.stdout == Path("my-policy.tests.yaml").read_text("utf-8")


def test_assess_json_and_errors(db: str, house: str):
    r = run("assess", "big", "--policy", house, "--db", db, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["determination"]["level"] == "high" and out["entry"] is not None
    r = run("assess", "big", "--policy", house, "--db", db)
    assert r.exit_code == 0 and "level: high" in r.stdout and "recorded as entry" in r.stderr
    r = run("assess", "bgi", "--policy", house, "--db", db)
    assert r.exit_code == 2 and "did you mean: big" in r.stderr
    r = run("assess", "big", "--policy", "asl", "--map", "nonsense", "--db", db)
    assert r.exit_code == 2 and "is not NAME=VALUE" in r.stderr
    r = run("assess", "big", "--policy", "asl", "--set", "cbrn_nonstate_bar=high", "--db", db)
    assert r.exit_code == 2 and "is not a number" in r.stderr


def test_gate_codes(db: str, house: str, tmp_path: Path):
    r = run("gate", "big", "--action", "deploy", "--policy", house, "--db", db)
    assert r.exit_code == 1 and "BLOCKED" in r.stdout and "security, vault" in r.stdout
    r = run("gate", "small", "--action", "train", "--policy", house, "--db", db)
    assert r.exit_code == 0 and "ALLOWED" in r.stdout
    r = run("gate", "unknown", "--action", "train", "--policy", house, "--db", db, "--json")
    assert r.exit_code == 3 and json.loads(r.stdout)["exit_code"] == 3
    r = run("gate", "big", "--action", "ship", "--policy", house, "--db", db)
    assert r.exit_code == 2
    proof = write(tmp_path / "vault.txt", "vault audit")
    for s in ("security", "vault"):
        r = run("attest", "*", s, "--evidence", str(proof), "--by", "ciso", "--db", db, "--json")
        assert r.exit_code == 0 and json.loads(r.stdout)["evidence_sha256"]
    r = run("gate", "big", "--action", "deploy", "--policy", house, "--db", db)
    assert r.exit_code == 0


def test_attest_errors(db: str):
    r = run("attest", "big", "vault", "--evidence", "missing.pdf", "--by", "x", "--db", db)
    assert r.exit_code == 2 and "neither an http(s) URL nor a file" in r.stderr
    r = run("attest", "big", "asl3-securty", "--evidence", "https://x.org", "--by", "x",
            "--policy", "asl", "--db", db)
    assert r.exit_code == 2 and "asl3-security" in r.stderr
    r = run("attest", "big", "homegrown", "--evidence", "https://x.org", "--by", "x", "--db", db)
    assert r.exit_code == 0 and "warning: no built-in policy declares" in r.stderr


def test_plan(db: str):
    r = run("plan", "--from", "small", "--scale", "10000", "--policy", "eu-ai-act-gpai",
            "--db", db, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["determination"]["level"] == "GPAI-systemic-risk"
    assert "commission-notification" in out["safeguards_first"]["train"]
    r = run("plan", "--compute", "2e26", "--policy", "ca-sb53", "--db", db)
    # The developer's revenue is a parameter without a value: it could make it a large one.
    assert r.exit_code == 3 and "projected level: frontier-model" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith(
        "projected level frontier-model; cannot rule out large-frontier-developer: 1 threshold "
        "insufficient")
    r = run("plan", "--policy", "ca-sb53", "--db", db)
    assert r.exit_code == 2 and "say what is planned" in r.stderr


def test_gate_eu_gpai_floors(tmp_path: Path):
    """A 5e22-FLOP model is not a GPAI model (exit 0); a 2.9e23 one is blocked naming only the
    Art. 53 safeguards; unknown compute is insufficient evidence (exit 3)."""
    path = str(tmp_path / "r.db")
    assert run("init", "--db", path).exit_code == 0
    models = write(tmp_path / "models.csv",
                   "name,compute,method\nsmall,5e22,given\nmid,2.9e23,given\nunknown,,\n")
    assert run("ingest", str(models), "--db", path).exit_code == 0
    gate = ("gate", "--action", "deploy", "--policy", "eu-ai-act-gpai", "--db", path, "--json")
    r = run(gate[0], "small", *gate[1:])
    assert r.exit_code == 0, r.output
    r = run(gate[0], "mid", *gate[1:])
    out = json.loads(r.stdout)
    assert r.exit_code == 1 and out["level"] == "GPAI"
    assert out["missing_safeguards"] == ["technical-documentation", "downstream-information",
                                         "copyright-policy", "training-content-summary"]
    r = run(gate[0], "unknown", *gate[1:])
    assert r.exit_code == 3, r.output


def test_answers_end_with_what_could_not_be_judged(db: str, tmp_path: Path):
    """plan, assess and gate end with one line naming what could not be judged, after the
    warnings, and exit 3 when it could change the answer (1 when a block stands anyway)."""
    big = write(tmp_path / "more.csv", "name,compute\nLlama-3.1-405B,3.8e25\n")
    assert run("ingest", str(big), "--db", db).exit_code == 0
    r = run("plan", "--from", "Llama-3.1-405B", "--scale", "10", "--policy", "anthropic-rsp",
            "--db", db, "--n-boot", "0")
    assert r.exit_code == 3, r.output
    last = r.output.rstrip().splitlines()[-1]
    m = re.fullmatch(r"projected level ASL-2; cannot rule out ASL-3 or ASL-4: (\d+) thresholds "
                     r"insufficient \(a parameter without a value: CBRN-3, CBRN-4, AI-R&D-4, "
                     r"AI-R&D-5.*\) \[exit 3\]", last)
    assert m and int(m.group(1)) >= 4, last
    out = r.output
    assert out.index("projected level: ASL-2") < out.index("warning:")  # warnings after
    assert "parameters and tokens" not in out  # the policy uses neither
    assert out.count("warning:") <= 2  # grouped: unmapped evidence, absent benchmarks
    r = run("assess", "Llama-3.1-405B", "--policy", "anthropic-rsp", "--db", db, "--json")
    assert r.exit_code == 3
    out = json.loads(r.stdout)
    bl = out["bottom_line"]
    assert bl["exit_code"] == 3 and [u["threshold"] for u in bl["unjudged"]] == [
        t["id"] for t in out["determination"]["thresholds"] if t["state"] == "insufficient"]
    cbrn3 = next(u for u in bl["unjudged"] if u["threshold"] == "CBRN-3")
    assert cbrn3["raises_level"] and "asl3-deployment-standard" in cbrn3["would_require"]["deploy"]
    assert cbrn3["why"][0].startswith("parameter cbrn3_bar has no value")
    # Blocked on the baseline's safeguards and of unknown compute (as a GPAI model missing its
    # Art. 53 documents would be): the block stands (exit 1) and the line says both.
    rules = write(tmp_path / "gpai.yaml", POLICY.replace("levels:", "default_level: base\nlevels:"))
    r = run("gate", "unknown", "--action", "deploy", "--policy", str(rules), "--db", db)
    last = r.stdout.rstrip().splitlines()[-1]
    assert r.exit_code == 1, r.output
    assert last == ("BLOCKED: deploy needs security (level base); also cannot rule out high: 1 "
                    "threshold insufficient (training_compute unknown: big-compute), which would "
                    "add vault [exit 1]")
    r = run("gate", "unknown", "--action", "deploy", "--policy", str(rules), "--db", db, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["bottom_line"]["unjudged"][0][
        "would_require"] == {"train": ["vault"], "deploy": ["vault"]}
    r = run("assess", "unknown", "--policy", str(rules), "--db", db)
    assert r.exit_code == 3 and "cannot rule out high" in r.stdout.splitlines()[-1]
    r = run("assess", "big", "--policy", str(rules), "--db", db)
    assert r.exit_code == 0 and r.stdout.rstrip().endswith(
        "level high; every threshold judged [exit 0]")
