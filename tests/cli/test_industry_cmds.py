"""The industry view through the CLI: Epoch exports of different dates, `models --diff`,
P(C > line) per model with expected counts, and the training-compute trend with its as-of
backtests on Epoch's notable-models export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import run
from epoch_exports import LARGE_SCALE_HEADER, LARGE_SCALE_ROWS, table
from helpers import write


@pytest.fixture(scope="module")
def epoch_db(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[str, Path]:
    """A register of an older Large-scale export (mid 2024, a few real rows) and then Epoch's
    Notable AI Models export of 2025-02-24."""
    tmp = tmp_path_factory.mktemp("epoch")
    db = str(tmp / "t.db")
    old = write(tmp / "large_scale_ai_models.csv", table(LARGE_SCALE_HEADER, LARGE_SCALE_ROWS))
    assert run("init", "--db", db).exit_code == 0
    assert run("ingest", "--db", db, str(old)).exit_code == 0
    r = run("ingest", "--db", db,
            str(shared_data / "epoch_ai" / "notable_ai_models_2025-02-24.csv"))
    assert r.exit_code == 0, r.output  # a revised figure in a later export is no conflict
    return db, old


def test_two_exports_keep_both_versions_and_diff_shows_the_change(
        epoch_db: tuple[str, Path]) -> None:
    db, _ = epoch_db
    r = run("models", "--db", db, "--json", "--diff", "large_scale_ai_models.csv",
            "notable_ai_models_2025-02-24.csv")
    d = json.loads(r.stdout)
    # Epoch moved GLM-4 (0520)'s publication date between the two exports.
    assert {"model": "GLM-4 (0520)", "field": "release_date", "old": "2024-06-18",
            "new": "2024-05-20"} in d["changed"]
    assert "GLM-4V-9B" in d["only_old"] and "Grok-3" in d["only_new"]
    models = {m["name"]: m for m in json.loads(run("models", "--db", db, "--json").stdout)}
    assert models["GLM-4 (0520)"]["release_date"] == "2024-05-20"  # the newer export's
    assert "GLM-4V-9B" in models  # still registered from the older export


def test_every_model_with_compute_has_p_over_each_line(epoch_db: tuple[str, Path]) -> None:
    db, _ = epoch_db
    r = run("models", "--db", db, "--json")
    models = json.loads(r.stdout)
    with_c = [m for m in models if m["compute_flop"]]
    assert len(with_c) > 450
    assert all(set(m["p_over"]) == {"1e+25", "1e+26"} for m in with_c)
    assert all(m["p_over"] is None for m in models if not m["compute_flop"])
    grok = next(m for m in models if m["name"] == "Grok-3")
    assert grok["compute_confidence"] == "Confident" and grok["p_over"]["1e+26"] > 0.9
    # Expected counts beside the point-estimate counts, unknown compute not counted.
    assert "over 1e+25 FLOP: 17 by point estimate; expected" in r.stderr
    assert "of unknown compute not counted" in r.stderr


def test_compute_growth_and_as_of_backtests(epoch_db: tuple[str, Path]) -> None:
    db, _ = epoch_db
    r = run("forecast", "training_compute", "--by", "date", "--frontier", "--threshold",
            "1e25", "--as-of", "2022-12-31", "--at", "2023-03-15", "--n-boot", "300",
            "--db", db, "--json")
    out = json.loads(r.stdout)
    assert out["fit"]["last_date"] <= "2022-12-31"
    q = out["crossing"]["date_quantiles"]
    # GPT-4, the first model over 1e25 (2023-03-15), inside the 80 % interval forecast then.
    assert q["0.1"] <= "2023-03-15" <= q["0.9"]
    assert 0.1 <= out["crossing"]["probability"] <= 0.9
    g = out["growth"]
    assert g["interval95"][0] < g["per_year"] < g["interval95"][1]
    assert 3.0 < g["per_year"] < 8.0  # Epoch: 4-5x per year
    r = run("forecast", "training_compute", "--by", "date", "--threshold", "1e25",
            "--n-boot", "100", "--db", db)
    assert r.exit_code == 0
    assert "already been crossed: first by GPT-4" in r.stderr


def test_as_of_before_every_model_exits_3(epoch_db: tuple[str, Path]) -> None:
    db, _ = epoch_db
    r = run("forecast", "training_compute", "--by", "date", "--as-of", "1900-01-01", "--db", db)
    assert r.exit_code == 3 and "before every model's release date" in r.output
    r = run("forecast", "training_compute", "--db", db)
    assert r.exit_code == 2 and "--by date" in r.output


def test_report_rows_carry_p_over_each_line() -> None:
    from tripwire.model import Model
    from tripwire.report.data import model_row

    row = model_row(Model(name="Grok-3", compute_flop=4.64e26, compute_method="given",
                          compute_confidence="Confident"))
    assert row.compute_confidence == "Confident"
    assert row.p_over is not None and row.p_over["1e+26"] > 0.9
    assert model_row(Model(name="unknown")).p_over is None


def test_report_industry_writes_the_file(epoch_db: tuple[str, Path], tmp_path: Path) -> None:
    db, _ = epoch_db
    out = tmp_path / "industry.md"
    r = run("report", "--industry", "--format", "md", "-o", str(out), "--n-boot", "20",
            "--db", db)
    assert r.exit_code == 0, r.output
    assert "## Models over each compute line" in out.read_text()
    assert run("report", "--industry", "--all", "--db", db).exit_code == 2


def test_crossing_forecasts_are_calibrated_on_the_export(epoch_db: tuple[str, Path]) -> None:
    """Every half-decade line first crossed since 2013, forecast as of the end of each of the
    three years before: the actual date's percentile is near uniform and the intervals hold
    it (an unconditioned trend-line crossing ran early: mean percentile 0.80, 80 % held 75 %).
    """
    import datetime as dt

    from tripwire import forecast as fc
    from tripwire.register import open_register

    models = open_register(epoch_db[0]).models()
    c = fc.crossing_calibration(models, n_boot=100)
    assert c["n"] >= 35
    assert 0.4 <= c["mean_percentile"] <= 0.65
    assert c["inside80"] >= 0.8 and c["inside95"] >= 0.9
    gpt4 = fc.crossing_backtest(models, 1e25, dt.date(2022, 12, 31), n_boot=200)
    assert gpt4.actual_model == "GPT-4" and gpt4.inside80
    assert gpt4.forecast.date_quantiles["0.05"] > dt.date(2022, 12, 31)


@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_later_dated_export_wins_in_either_ingest_order(tmp_path: Path, shared_data: Path,
                                                         order: str) -> None:
    db = str(tmp_path / "t.db")
    old = write(tmp_path / "large_scale_ai_models.csv",
                table(LARGE_SCALE_HEADER, LARGE_SCALE_ROWS))
    new = shared_data / "epoch_ai" / "notable_ai_models_2025-02-24.csv"
    assert run("init", "--db", db).exit_code == 0
    said = {}
    for p in ([old, new] if order == "older first" else [new, old]):
        r = run("ingest", "--db", db, str(p))
        assert r.exit_code == 0, r.output
        said[p] = r.stderr
    # The large-scale file carries no date: its latest publication date bounds it.
    assert "export dated 2024-06-25 (latest publication date" in said[old]
    assert "export dated 2025-02-24 (the date in the file name)" in said[new]
    models = {m["name"]: m for m in json.loads(run("models", "--db", db, "--json").stdout)}
    assert models["GLM-4 (0520)"]["release_date"] == "2024-05-20"  # the 2025-02-24 export's
    assert "GLM-4V-9B" in models  # only in the older export: still registered
    if order == "newer first":
        assert "keep the figures of a later-dated export (2025-02-24)" in said[old]
    # The diff runs from the earlier-dated export to the later-dated, however named.
    for a, b in [("large_scale_ai_models.csv", new.name), (new.name, "large_scale_ai_models.csv")]:
        d = json.loads(run("models", "--db", db, "--json", "--diff", a, b).stdout)
        assert d["old_export_date"] == "2024-06-25" and d["new_export_date"] == "2025-02-24"
        assert {"model": "GLM-4 (0520)", "field": "release_date", "old": "2024-06-18",
                "new": "2024-05-20"} in d["changed"]


def test_as_of_export_states_the_date(tmp_path: Path, shared_data: Path) -> None:
    """The user's date for an export that carries none: stated later than the other export,
    its figures become the current ones though it was ingested after."""
    db = str(tmp_path / "t.db")
    old = write(tmp_path / "large_scale_ai_models.csv",
                table(LARGE_SCALE_HEADER, LARGE_SCALE_ROWS))
    assert run("init", "--db", db).exit_code == 0
    assert run("ingest", "--db", db,
               str(shared_data / "epoch_ai" / "notable_ai_models_2025-02-24.csv")).exit_code == 0
    r = run("ingest", "--db", db, "--as-of-export", "2025-06-01", str(old))
    assert r.exit_code == 0 and "export dated 2025-06-01 (stated" in r.stderr
    models = {m["name"]: m for m in json.loads(run("models", "--db", db, "--json").stdout)}
    assert models["GLM-4 (0520)"]["release_date"] == "2024-06-18"
    r = run("ingest", "--db", db, "--as-of-export", "June 2025", str(old))
    assert r.exit_code == 2 and "--as-of-export 'June 2025' is not a date" in r.output
