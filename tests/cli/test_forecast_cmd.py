"""`tripwire forecast` through the CLI on registers of real public data: JSON and tables, the
backtest record, anomalies, figures, time trends, and exit codes for thin evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from clirun import run
from helpers import write

from tripwire.demo import example_path
from tripwire.register import open_register

METR = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "metr"
        / "time_horizons_v1.1_2026-03-03.csv")


def example_register(db: str, *extra: Path) -> str:
    """A register of the bundled example tables (58 models, six benchmarks; real public
    figures), plus any extra files."""
    reg = open_register(db, create=True)
    try:
        for f in (example_path("models.csv"), example_path("evals.csv"), *extra):
            reg.ingest_path(f)
    finally:
        reg.close()
    return db


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return example_register(str(tmp_path_factory.mktemp("demo") / "tripwire.db"))


def test_json_forecast_with_threshold_and_planned_compute(demo_db: str) -> None:
    r = run("forecast", "mmlu", "--threshold", "0.8", "--at", "1e25", "--n-boot", "300",
            "--json", "--db", demo_db)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["benchmark"] == "mmlu" and out["by"] == "compute" and out["metric"] == "acc"
    fit = out["fit"]
    assert fit["method"] == "binomial-mle" and fit["n_models"] == 35 and fit["floor"] == 0.25
    assert 23.0 < fit["midpoint_log10_flop"] < 24.5
    c = out["crossing"]
    assert 0.0 < c["probability"] < 1.0 and c["at_compute_flop"] == 1e25
    qs = [c["compute_quantiles"][q] for q in ("0.05", "0.1", "0.5", "0.9", "0.95")]
    assert qs == sorted(qs) and 1e23 < c["compute_quantiles"]["0.5"] < 1e26
    assert c["interval80"][0] < c["predicted"] < c["interval80"][1]
    bt = out["backtest"]
    assert bt["n_cutoffs"] >= 3 and 0 <= bt["coverage80"] <= 1 and "cutoffs" not in bt
    # Mistral-7B has no compute, two results have no sample count: said, not hidden
    assert any("without compute" in w for w in out["warnings"])


def test_table_output_prints_the_backtest_record_beside_the_forecast(demo_db: str) -> None:
    r = run("forecast", "mmlu", "--threshold", "0.7", "--n-boot", "200", "--backtest",
            "--db", demo_db)
    assert r.exit_code == 0, r.output
    assert "effective compute at which a model reaches 0.7" in r.stdout
    assert "backtest: one row per cutoff" in r.stdout
    assert "backtest:" in r.stderr and "intervals covered" in r.stderr
    assert "threshold first reached at" in r.stderr


def test_anomalies_and_mitigation_gaps(demo_db: str, tmp_path: Path) -> None:
    r = run("forecast", "mmlu", "--anomalies", "--n-boot", "100", "--json", "--db", demo_db)
    assert r.exit_code == 0, r.output
    a = json.loads(r.stdout)["anomalies"]
    assert {row["model"] for row in a["compute"]} >= {"bloom", "Llama-2-70b"}
    worst = min(a["compute"], key=lambda row: row["z"])
    assert worst["model"] == "bloom" and worst["z"] < -2  # BLOOM-176B scores 0.31 on MMLU
    assert len(a["other_benchmarks"]) > 20 and a["mitigation_gaps"] == []

    evals = write(tmp_path / "mitigation.csv",
                  "model,benchmark,metric,value,samples,variant\n"
                  "Llama-2-70b,mmlu,acc,0.70,14042,pre-mitigation\n"
                  "Llama-2-70b,mmlu,acc,0.52,14042,post-mitigation\n")
    db = example_register(str(tmp_path / "m.db"), evals)
    r = run("forecast", "mmlu", "--anomalies", "--n-boot", "100", "--json", "--db", db)
    assert r.exit_code == 0, r.output
    gaps = json.loads(r.stdout)["anomalies"]["mitigation_gaps"]
    assert gaps == [pytest.approx({"model": "Llama-2-70b", "benchmark": "mmlu", "pre": 0.70,
                                   "post": 0.52, "gap": 0.18, "se": gaps[0]["se"],
                                   "z": gaps[0]["z"]})]
    assert gaps[0]["z"] > 20


def test_plot_is_written(demo_db: str, tmp_path: Path) -> None:
    fig = tmp_path / "mmlu.png"
    r = run("forecast", "mmlu", "--threshold", "0.8", "--at", "3e25", "--frontier",
            "--n-boot", "100", "--plot", str(fig), "--db", demo_db)
    assert r.exit_code == 0, r.output
    assert fig.stat().st_size > 10_000 and fig.read_bytes()[:4] == b"\x89PNG"


def test_horizon_trend_by_date_from_metr(tmp_path: Path) -> None:
    if not METR.exists():
        pytest.skip(f"real public data not found at {METR.resolve()}: see shared/data/SOURCES.md")
    d = pd.read_csv(METR)
    models = write(tmp_path / "models.csv", "name,release_date\n" + "".join(
        f"{m},{r}\n" for m, r in zip(d.model, d.release_date, strict=True)))
    evals = write(tmp_path / "evals.csv", "model,benchmark,metric,value\n" + "".join(
        f"{m},metr_horizon,p50_minutes,{v}\n" for m, v in zip(d.model, d.p50_minutes,
                                                            strict=True)))
    db = str(tmp_path / "metr.db")
    assert run("init", "--db", db).exit_code == 0
    for f in (models, evals):
        r = run("ingest", str(f), "--db", db)
        assert r.exit_code == 0, r.output
    fig = tmp_path / "metr.svg"
    r = run("forecast", "metr_horizon", "--by", "date", "--frontier", "--since", "2023-01-01",
            "--threshold", "480", "--at", "2027-01-01", "--n-boot", "500", "--plot", str(fig),
            "--json", "--db", db)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["fit"]["transform"] == "log2" and out["fit"]["n_models"] == 14
    assert out["fit"]["doubling_days"] == pytest.approx(128.744, abs=0.5)  # METR: 128.7
    assert 0.8 < out["crossing"]["probability"] < 1.0
    assert "2025" <= out["crossing"]["date_quantiles"]["0.5"] <= "2027"
    assert out["backtest"]["n_predictions"] > 0 and fig.read_text().startswith("<?xml")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["truthfulqa"], 3, "no chance level"),
    (["mmlu", "--threshold", "0.2"], 3, "not above the chance level"),
    (["mmlu", "--threshold", "1.0"], 3, "not below the ceiling"),
    (["mmlu", "--at", "soon"], 2, "not a compute figure"),
    (["mmlu", "--by", "date", "--at", "1e25"], 2, "not a date"),
    (["nosuchbench"], 2, "no benchmark"),
    (["mmlu", "--plot", "figure.gif"], 2, "cannot write"),
])
def test_bad_input_and_thin_evidence_exit_codes(demo_db: str, args: list[str], code: int,
                                                message: str) -> None:
    r = run("forecast", *args, "--n-boot", "50", "--db", demo_db)
    assert r.exit_code == code, r.output
    assert message in r.stderr and "Traceback" not in r.output


def test_too_few_models_is_insufficient_evidence(tmp_path: Path) -> None:
    models = write(tmp_path / "models.csv", "name,release_date,compute\n"
                   "a,2022-01-01,1e21\nb,2022-06-01,1e22\nc,2023-01-01,1e23\n")
    evals = write(tmp_path / "evals.csv", "model,benchmark,metric,value,samples\n"
                  "a,mmlu,acc,0.26,14042\nb,mmlu,acc,0.35,14042\nc,mmlu,acc,0.6,14042\n")
    db = str(tmp_path / "few.db")
    assert run("init", "--db", db).exit_code == 0
    for f in (models, evals):
        assert run("ingest", str(f), "--db", db).exit_code == 0
    r = run("forecast", "mmlu", "--threshold", "0.7", "--db", db)
    assert r.exit_code == 3 and "3 models with compute" in r.stderr
    r = run("forecast", "mmlu", "--by", "date", "--db", db)
    assert r.exit_code == 3 and "3 models with a release date" in r.stderr


def test_a_forecast_whose_backtest_cannot_run_says_it_is_not_calibrated(tmp_path: Path
                                                                        ) -> None:
    from report.sample_register import FEW, FEW_SCORES

    evals = write(tmp_path / "few.csv", "model,benchmark,metric,value,samples\n" + "".join(
        f"{m},{FEW},acc,{v},12032\n" for m, v in FEW_SCORES.items()))
    db = example_register(str(tmp_path / "tripwire.db"), evals)
    r = run("forecast", FEW, "--threshold", "0.5", "--n-boot", "100", "--json", "--db", db)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["calibration"]["status"] == "not calibrated"
    assert out["calibration"]["text"].startswith("not calibrated: too few models for a "
                                                 "backtest")
    assert out["calibration"]["text"] in out["warnings"]
    r = run("forecast", FEW, "--n-boot", "100", "--db", db)
    assert r.exit_code == 0 and "not calibrated: too few models for a backtest" in r.stderr
    r = run("forecast", "mmlu", "--n-boot", "100", "--json", "--db", db)
    got = json.loads(r.stdout)["calibration"]
    assert got["status"] in ("calibrated", "failed") and "walk-forward cutoffs" in got["text"]
