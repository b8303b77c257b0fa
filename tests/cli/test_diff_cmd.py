"""`tripwire diff` through the CLI: the table, JSON, exit codes for CI, items, plot, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import run
from difflogs import versions, write_lmeval
from helpers import write


@pytest.fixture
def db(tmp_path: Path) -> str:
    """v1 -> v2: a 3-point regression on `quiz` (paired), nothing on `calm`; v3 shares
    nothing with them."""
    path = str(tmp_path / "r.db")
    assert run("init", "--db", path).exit_code == 0
    qa, qb = versions(1000, 700, 40, 10, 0)
    ca, cb = versions(400, 250, 4, 5, 1)
    write(tmp_path / "models.csv", "name,release_date,family,parent\n"
          "org/v1,2025-01-01,v,\norg/v2,2025-03-01,v,\norg/v3,2025-04-01,,\n")
    files = [tmp_path / "models.csv",
             write_lmeval(tmp_path / "logs", "org/v1", {"quiz": qa, "calm": ca}),
             write_lmeval(tmp_path / "logs", "org/v2", {"quiz": qb, "calm": cb}),
             write_lmeval(tmp_path / "logs", "org/v3", {"elsewhere": ca})]
    r = run("ingest", *map(str, files), "--samples", "--db", path)
    assert r.exit_code == 0, r.output
    return path


def test_table_and_ci_exit_codes(db: str) -> None:
    r = run("diff", "org/v1", "org/v2", "--db", db)
    assert r.exit_code == 0, r.output
    assert "paired McNemar" in r.stdout and "regression" in r.stdout
    assert "1 regression survives FDR 0.05: quiz acc -0.03" in r.stdout
    r = run("diff", "org/v1", "org/v2", "--db", db, "--fail-on-regression")
    assert r.exit_code == 1 and "FAIL: regression on quiz acc" in r.stderr
    r = run("diff", "org/v1", "org/v2", "--db", db, "--fail-on-regression", "--watch", "calm")
    assert r.exit_code == 0 and "ok: no significant regression on calm" in r.stderr
    r = run("diff", "org/v1", "org/v2", "--db", db, "--fail-on-regression",
            "--min-effect", "0.05")
    assert r.exit_code == 0, r.output
    r = run("diff", "org/v1", "org/v3", "--db", db, "--fail-on-regression")
    assert r.exit_code == 3 and "share no benchmark" in r.stderr


def test_json_lineage_and_items(db: str) -> None:
    r = run("diff", "org/v2", "--db", db, "--json", "--items")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["model_a"], out["model_b"], out["baseline"]) == ("org/v1", "org/v2", "family")
    quiz = next(x for x in out["rows"] if x["benchmark"] == "quiz")
    assert quiz["change"]["method"] == "mcnemar-exact"
    assert len(quiz["moved"]["worse"]) == 40 and len(quiz["moved"]["better"]) == 10
    assert out["summary"]["regressions"] == ["quiz acc"]
    assert out["gate"] == {"exit_code": 0, "reason": "regression on quiz acc"}
    r = run("diff", "org/v2", "--db", db, "--items")
    assert "quiz acc: 40 items got worse: " in r.stdout


def test_plot(db: str, tmp_path: Path) -> None:
    png = tmp_path / "forest.png"
    r = run("diff", "org/v1", "org/v2", "--db", db, "--plot", str(png))
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = run("diff", "org/v1", "org/v2", "--db", db, "--plot", str(tmp_path / "f.gif"))
    assert r.exit_code == 2 and "use a .png, .svg or .pdf" in r.stderr


def test_bad_input_is_one_line(db: str) -> None:
    r = run("diff", "org/v9", "org/v2", "--db", db)
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0
    assert "no model named 'org/v9'" in r.stderr and "did you mean: org/v" in r.stderr
    r = run("diff", "org/v1", "org/v2", "--db", db, "--watch", "quizz")
    assert r.exit_code == 2 and "did you mean: quiz" in r.stderr
    r = run("diff", "org/v3", "--db", db)
    assert r.exit_code == 2 and "nothing to compare org/v3 with" in r.stderr
    r = run("diff", "org/v1", "org/v2", "--db", db, "--fdr", "2")
    assert r.exit_code == 2 and "--fdr must be between 0 and 1" in r.stderr


def test_clusters_file(db: str, tmp_path: Path) -> None:
    rows = "\n".join(f"quiz,{i},p{i // 5}" for i in range(1000))
    good = write(tmp_path / "clusters.csv", "benchmark,sample_id,cluster\n" + rows + "\n")
    r = run("diff", "org/v1", "org/v2", "--db", db, "--clusters", str(good), "--json")
    assert r.exit_code == 0, r.output
    quiz = next(x for x in json.loads(r.stdout)["rows"] if x["benchmark"] == "quiz")
    assert quiz["change"]["method"] == "paired-clustered" and quiz["change"]["clusters"] == 200
    bad = write(tmp_path / "bad.csv", "sample,group\n1,a\n")
    r = run("diff", "org/v1", "org/v2", "--db", db, "--clusters", str(bad))
    assert r.exit_code == 2
    assert f"{bad}:line 1: no sample_id or cluster column" in r.stderr


def test_policy_bars(db: str, tmp_path: Path) -> None:
    pol = write(tmp_path / "p.yaml", """\
name: quiz-bar
version: "1"
levels:
  - id: L1
thresholds:
  - id: quiz-high
    level: L1
    condition: score("quiz") >= 0.68
    confidence: 0.9
""")
    r = run("diff", "org/v1", "org/v2", "--db", db, "--policy", str(pol))
    assert r.exit_code == 0, r.output
    assert "policy quiz-bar 1" in r.stdout and "quiz-high" in r.stdout
    r = run("diff", "org/v1", "org/v2", "--db", db, "--policy", str(pol), "--json")
    (t,) = json.loads(r.stdout)["policy"]["thresholds"]
    (bar,) = t["bars"]
    assert bar["to_go_a"] < 0 < bar["to_go_b"]  # v1 is over the bar, v2 fell below it
    assert t["p_change"] < 0
