"""Commands import what they need when they run, not at `import tripwire`.

Each case runs the real command in a fresh interpreter and compares the heavy libraries it
loaded with exactly what that command needs. A top-level import of numpy, SQLAlchemy, the
web stack or plotting in any module on the path of `--help`, `policy list` or `gate` fails
here; import it inside the function that uses it (docs/architecture.md). Timings are
measured by benchmarks/bench_start.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tripwire.cli import app

HEAVY = ("numpy", "scipy", "pandas", "sqlalchemy", "alembic", "matplotlib", "plotly",
         "fastapi", "starlette", "uvicorn", "jinja2", "pydantic", "yaml", "cryptography",
         "psycopg", "orjson", "inspect_ai")
"""Libraries that cost tens to hundreds of milliseconds to import."""

_RUN = """
import json, sys
from tripwire.cli import app
try:
    app(sys.argv[2:], prog_name="tripwire")
except SystemExit as e:
    code = e.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[1])))
sys.stderr.write("\\nIMPORTED " + json.dumps({"heavy": heavy, "exit": code}) + "\\n")
"""


def imported(*args: str, env: dict[str, str] | None = None) -> tuple[set[str], int]:
    """The heavy libraries `tripwire ARGS` imported in a fresh process, and its exit code."""
    proc = subprocess.run([sys.executable, "-c", _RUN, json.dumps(HEAVY), *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    line = proc.stderr.rpartition("\nIMPORTED ")[2]
    assert line.strip(), proc.stderr
    got = json.loads(line)
    return set(got["heavy"]), got["exit"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A register holding the bundled public models and evaluation results."""
    path = str(tmp_path_factory.mktemp("start") / "tripwire.db")
    examples = resources.files("tripwire") / "examples"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", path]).exit_code == 0
    for name in ("models.csv", "evals.csv"):
        r = runner.invoke(app, ["ingest", str(Path(str(examples / name))), "--db", path])
        assert r.exit_code == 0, r.output
    return path


def test_help_imports_no_heavy_library() -> None:
    assert imported("--help") == (set(), 0)
    # typer itself coerces a command's parameters with pydantic
    assert imported("gate", "--help") == ({"pydantic"}, 0)


def test_shell_completion_answers_without_heavy_libraries() -> None:
    env = {"_TRIPWIRE_COMPLETE": "complete_bash", "COMP_WORDS": "tripwire po",
           "COMP_CWORD": "1"}
    assert imported(env=env) == ({"pydantic"}, 0)  # typer's parameter coercion
    proc = subprocess.run([sys.executable, "-c", "import sys; sys.argv[0] = 'tripwire'\n"
                           "from tripwire.cli import main; main()"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert proc.stdout.split() == ["policy"], proc.stderr


def test_policy_list_reads_policies_only() -> None:
    """Policy files are YAML validated by pydantic; nothing numeric, no database."""
    assert imported("policy", "list") == ({"pydantic", "yaml"}, 0)


def test_gate_on_a_compute_line_needs_the_register_only(db: str) -> None:
    """A policy decided by training compute: the register (SQLAlchemy), the policy (YAML,
    pydantic) and the record's signatures; no migration tool, no numerics, no web, no plots."""
    got, code = imported("gate", "Llama-3.1-405B", "--action", "train",
                         "--policy", "eu-ai-act-gpai", "--db", db)
    assert code == 1  # over the systemic-risk line, safeguards not attested
    assert got == {"sqlalchemy", "pydantic", "yaml", "cryptography"}


def test_obligations_on_sqlite_read_the_record_without_sqlalchemy(db: str) -> None:
    """The clocks are one read of the record: on a SQLite register the standard library's
    driver reads it (no SQLAlchemy, no signatures), orjson decodes the bodies, and the
    built-in policies' clocks are plain data (no YAML); pydantic is typer's coercion."""
    got, code = imported("obligations", "--db", db, "--json")
    assert code == 0
    assert got == {"pydantic", "orjson"}
    got, code = imported("obligations", "--db", db, "--json", "--policy", "ca-sb53")
    assert (got, code) == ({"pydantic", "orjson", "yaml"}, 0)  # a policy named: parsed


def test_gate_on_scores_adds_the_numeric_stack_for_the_anomaly_check(db: str) -> None:
    """Mapped to a benchmark with enough models, the decision runs the implausibly-low-score
    check (a sigmoid fit): numpy, SciPy and pandas are needed then, and only then."""
    got, _ = imported("gate", "Llama-3.1-405B", "--action", "deploy", "--policy",
                      "anthropic-rsp", "--map", "cbrn3_uplift=mmlu", "--db", db)
    assert got == {"sqlalchemy", "pydantic", "yaml", "cryptography", "numpy", "scipy",
                   "pandas"}


def test_fit_needs_numpy_only(tmp_path: Path) -> None:
    """A scaling-law fit from a CSV is numpy work: no SciPy, pandas, plotting or database
    (SciPy, pandas and matplotlib cost about a second to import, more than the fit)."""
    rows = ["params_N,tokens_D,flops_C,loss"]
    for i, n in enumerate((1e8, 3e8, 1e9, 3e9, 1e10)):
        for k, ratio in enumerate((5, 20, 80)):
            d = n * ratio
            loss = (1.69 + 406.4 / n ** 0.34 + 410.7 / d ** 0.28) * (1 + 0.002 * ((i + k) % 3 - 1))
            rows.append(f"{n:g},{d:g},{6 * n * d:g},{loss:.6f}")
    src = tmp_path / "loss.csv"
    src.write_text("\n".join(rows) + "\n")
    for law in ("chinchilla", "compute"):
        got, code = imported("fit", "--from", str(src), "--law", law, "--n-boot", "50",
                             "--target-compute", "1e24", "--json")
        assert (got, code) == ({"numpy", "pydantic"}, 0)  # pydantic: typer's coercion
