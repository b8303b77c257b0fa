"""The register commands through the CLI: exit codes, JSON output, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import run
from helpers import write


def test_init_ingest_models_evals(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    assert run("init", "--db", db).exit_code == 0
    models = write(
        tmp_path / "models.csv", "name,params,tokens,compute\nA,1e9,2e10,\nB,7e10,1.4e12,6e23\n"
    )
    r = run("ingest", str(models), "--db", db, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["summary"]["stored"] == 1 and out["summary"]["models"] == 2
    r = run("models", "--db", db, "--json")
    rows = {m["name"]: m for m in json.loads(r.stdout)}
    assert rows["A"]["compute_flop"] == 1.2e20 and rows["A"]["estimated"] is True
    assert rows["B"]["estimated"] is False
    write(tmp_path / "evals.csv", "model,benchmark,value,stderr\nB,mmlu,0.7,0.01\n")
    assert run("ingest", str(tmp_path / "evals.csv"), "--db", db).exit_code == 0
    r = run("evals", "--db", db, "--json", "--model", "B")
    assert json.loads(r.stdout)[0]["value"] == 0.7
    r = run("ingest", str(tmp_path / "evals.csv"), "--db", db)
    assert r.exit_code == 0 and "already in the register" in r.stderr


def test_bad_csv_is_one_line_exit_2_and_nothing_stored(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    run("init", "--db", db)
    bad = write(tmp_path / "models.csv", "name,Parameters\nok,1e9\nfoo,abc\n")
    r = run("ingest", str(bad), "--db", db)
    assert r.exit_code == 2
    assert "models.csv:3: column 'Parameters': 'abc' is not a number (write e.g. 7e9)" in r.stderr
    assert "Traceback" not in r.output
    assert json.loads(run("models", "--db", db, "--json").stdout) == []


def test_keep_going_ingests_the_good_files(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    run("init", "--db", db)
    d = tmp_path / "in"
    d.mkdir()
    write(d / "a_bad.csv", "name,params\nx,abc\n")
    write(d / "b_good.csv", "name,params\ny,1e9\n")
    r = run("ingest", str(d), "--db", db)
    assert r.exit_code == 2 and "not read" in r.stderr
    r = run("ingest", str(d), "--db", db, "--keep-going")
    assert r.exit_code == 2
    assert [m["name"] for m in json.loads(run("models", "--db", db, "--json").stdout)] == ["y"]


def test_missing_register_says_so(tmp_path: Path) -> None:
    r = run("models", "--db", str(tmp_path / "nope.db"))
    assert r.exit_code == 2 and "tripwire init" in r.stderr


def test_compute_command(tmp_path: Path) -> None:
    r = run("compute", "--params", "7e9", "--tokens", "2e12", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["compute_6nd_flop"] == 8.4e22
    r = run("compute", "--accelerator", "H100", "--count", "1000", "--hours", "100", "--json")
    out = json.loads(r.stdout)
    assert out["cost_usd"] > 0 and out["accelerator"] == "H100"
    r = run("compute", "--accelerator", "Z9", "--count", "1", "--hours", "1")
    assert r.exit_code == 2 and "unknown accelerator" in r.stderr
    assert run("compute", "--accelerators").exit_code == 0


def test_alias_add_and_list(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    run("init", "--db", db)
    run("ingest", str(write(tmp_path / "m.csv", "name,params\npythia-1.4b,1.4e9\n")), "--db", db)
    assert (
        run("alias", "add", "EleutherAI/pythia-1.4b-v0", "pythia-1.4b", "--db", db).exit_code == 0
    )
    r = run("alias", "list", "--db", db, "--json")
    assert json.loads(r.stdout) == [
        dict(kind="model", alias="EleutherAI/pythia-1.4b-v0", target="pythia-1.4b")
    ]
    r = run("alias", "add", "x", "pythia-14b", "--db", db)
    assert r.exit_code == 2 and "pythia-1.4b" in r.stderr


def test_demo_runs_on_bundled_data(tmp_path: Path) -> None:
    r = run("demo", "--dir", str(tmp_path / "demo"), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert len(out["models"]) >= 30
    over = [m["name"] for m in out["models"] if m["regulatory_lines"]]
    assert "GPT-4" in over and "Llama-2-7b" not in over
    assert (tmp_path / "demo" / "tripwire.db").exists()
