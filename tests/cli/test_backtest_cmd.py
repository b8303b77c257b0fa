"""`tripwire backtest` on a register of the bundled public figures: scores per benchmark and
pooled, reliability, figures, and exit 3 when too little is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import run
from helpers import write

from tripwire.demo import example_path
from tripwire.register import open_register


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("bt") / "tripwire.db")
    reg = open_register(path, create=True)
    try:
        for f in (example_path("models.csv"), example_path("evals.csv")):
            reg.ingest_path(f)
    finally:
        reg.close()
    return path


def test_owen_protocol_scores_and_reliability(db: str, tmp_path: Path) -> None:
    fig = tmp_path / "rel.png"
    r = run("backtest", "mmlu", "hellaswag", "--n-boot", "60", "--json", "--plot", str(fig),
            "--db", db)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["protocol"] == "owen" and out["distance_units"] == "decades of compute"
    pooled = out["pooled"]
    assert pooled["n_predictions"] >= 20
    assert 0 <= pooled["coverage80"] <= pooled["coverage95"] <= 1
    assert pooled["interval_score95"] > 0 and pooled["by_distance"]
    assert [r["nominal"] for r in pooled["reliability"]] == pytest.approx(
        [0.1 * i for i in range(1, 10)])
    assert pooled["probability_reliability"]
    assert {b["benchmark"] for b in out["benchmarks"]} == {"mmlu", "hellaswag"}
    assert fig.stat().st_size > 1000


def test_too_few_models_exits_3_with_the_reason(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    models = write(tmp_path / "m.csv", "name,compute\n" + "".join(
        f"m{i},{10 ** (20 + i / 2)}\n" for i in range(6)))
    evals = write(tmp_path / "e.csv", "model,benchmark,value\n" + "".join(
        f"m{i},mmlu,{0.3 + 0.08 * i}\n" for i in range(6)))
    reg = open_register(db, create=True)
    try:
        reg.ingest_path(models)
        reg.ingest_path(evals)
    finally:
        reg.close()
    r = run("backtest", "mmlu", "--n-boot", "40", "--db", db)
    assert r.exit_code == 3
    assert "could be backtested" in r.output or "cutoff" in r.output


def test_unknown_protocol_is_a_usage_error(db: str) -> None:
    r = run("backtest", "mmlu", "--protocol", "nope", "--db", db)
    assert r.exit_code == 2 and "protocol" in r.output


def test_forecast_with_chance_says_how_far_it_extrapolates(db: str) -> None:
    r = run("forecast", "truthfulqa", "--chance", "0.2", "--at", "1e26", "--n-boot", "100",
            "--json", "--db", db)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["fit"]["floor"] == 0.2
    assert out["model_error"]["source"] in ("backtest", "prior")
    ex = out["extrapolation"]
    assert ex["distance"] > 0 and ex["model_error_sd"] > 0 and "beyond the data" in ex["text"]
    no = run("forecast", "truthfulqa", "--n-boot", "50", "--db", db)
    assert no.exit_code == 3 and "--chance" in no.output


def test_ruan_protocol_fits_at_or_below_llama_2_7b_compute(db: str) -> None:
    """Ruan et al. (2024) split at a fixed training compute, 8.4e22 FLOP (Llama-2 7B) unless
    --cutoff says otherwise: the models at or below it are fitted, the larger ones predicted."""
    import numpy as np

    from tripwire.forecast._evaluate import RUAN_CUTOFF_FLOP, protocol_cutoffs

    x = np.log10([1e21, 8.4e22, 1e23, 1e24])
    assert protocol_cutoffs(x, "ruan") == pytest.approx([np.log10(RUAN_CUTOFF_FLOP)])
    assert protocol_cutoffs(x, "ruan", cutoff=23.5) == pytest.approx([23.5])
    r = run("backtest", "mmlu", "--protocol", "ruan", "--n-boot", "40", "--json", "--db", db)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["protocol"] == "ruan" and out["benchmarks"][0]["n_cutoffs"] == 1
    assert out["pooled"]["n_predictions"] >= 5
