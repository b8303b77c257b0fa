"""Degenerate data in fits and forecasts: one model, two models, all scores equal, all at
chance, NaN results, compute spanning less than a decade. Each ends in exit 3 with the reason
(NaN is refused earlier, at ingest, with the row and column: exit 2), never an exception, and
no forecast is printed without its warning.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tripwire import forecast as fc
from tripwire import ingest
from tripwire.cli import app
from tripwire.errors import InputError
from tripwire.fit import ChinchillaLaw, ComputeLaw
from tripwire.register import open_register

DECADES = [1e20, 1e21, 1e22, 1e23, 1e24, 1e25]


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(app, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    return r


def _register(tmp_path: Path, compute: list[float], scores: list[float]) -> str:
    db = str(tmp_path / "r.db")
    reg = open_register(db, create=True)
    (tmp_path / "m.csv").write_text("name,release_date,compute\n" + "".join(
        f"m{i},{2019 + i}-03-01,{c}\n" for i, c in enumerate(compute)))
    (tmp_path / "e.csv").write_text("model,benchmark,metric,value,samples\n" + "".join(
        f"m{i},mmlu,acc,{s},1000\n" for i, s in enumerate(scores)))
    for f in ("m.csv", "e.csv"):
        reg.ingest(ingest.read_file(tmp_path / f))
    reg.close()
    return db


FORECASTS = {
    "one model": ([1e22], [0.5], "1 models with compute"),
    "two models": ([1e22, 1e24], [0.4, 0.6], "2 models with compute"),
    "all scores equal": (DECADES, [0.5] * 6, "do not rise"),
    "all at chance": (DECADES, [0.25] * 6, "at chance"),
    "under a decade": ([1e22, 1.5e22, 2e22, 3e22, 4e22, 5e22], [0.3, 0.35, 0.4, 0.5, 0.55, 0.6],
                       "spans 0.70 decades"),
}


@pytest.mark.parametrize("case", sorted(FORECASTS))
def test_forecast_degenerate_exits_3_with_the_reason(tmp_path: Path, case: str) -> None:
    compute, scores, reason = FORECASTS[case]
    db = _register(tmp_path, compute, scores)
    for extra in ([], ["--anomalies"]):
        r = _invoke("forecast", "mmlu", "--threshold", "0.6", "--n-boot", "20", "--db", db,
                    *extra)
        assert r.exit_code == 3, (case, r.output)
        assert r.stderr.startswith("error: ") and reason in r.stderr, r.stderr
        assert r.stdout == ""  # no forecast printed


@pytest.mark.parametrize("case", ["one model", "two models", "all scores equal"])
def test_time_trend_degenerate_exits_3(tmp_path: Path, case: str) -> None:
    compute, scores, _ = FORECASTS[case]
    db = _register(tmp_path, compute, scores)
    r = _invoke("forecast", "mmlu", "--by", "date", "--threshold", "0.6", "--n-boot", "20",
                "--db", db)
    assert r.exit_code == 3 and r.stderr.startswith("error: ") and r.stdout == ""


def test_far_extrapolation_is_printed_with_its_warning(tmp_path: Path) -> None:
    db = _register(tmp_path, DECADES, [0.26, 0.3, 0.4, 0.55, 0.7, 0.8])
    r = _invoke("forecast", "mmlu", "--threshold", "0.9", "--at", "1e31", "--n-boot", "20",
                "--db", db, "--json")
    assert r.exit_code == 0
    assert "warning: planned compute is 6.0 decades beyond the largest model" in r.stderr


def test_nan_results_never_reach_a_forecast(tmp_path: Path) -> None:
    """Refused at ingest naming the row and column (exit 2), and by the numeric core."""
    (tmp_path / "e.csv").write_text("model,benchmark,metric,value\nm0,mmlu,acc,nan\n")
    db = str(tmp_path / "r.db")
    open_register(db, create=True).close()
    r = _invoke("ingest", str(tmp_path / "e.csv"), "--db", db)
    assert r.exit_code == 2 and "e.csv:2: column 'value'" in r.stderr
    with pytest.raises(InputError):
        fc.CapabilityCurve(floor=0.25, n_boot=10).fit(
            np.array(DECADES), np.array([0.3, math.nan, 0.4, 0.5, 0.6, 0.7]), None)


def _loss_csv(path: Path, rows: list[tuple[float, float, float | str]]) -> str:
    path.write_text("model,params,tokens,loss\n" + "".join(
        f"r{i},{n},{d},{loss}\n" for i, (n, d, loss) in enumerate(rows)))
    return str(path)


GRID = [(n, d) for n in (1e7, 3e7, 1e8, 3e8, 1e9) for d in (1e9, 3e9, 1e10)]
NARROW = [(1e8, 1e9), (1.2e8, 1e9), (1.4e8, 1.1e9), (1.5e8, 1.2e9), (1.7e8, 1.3e9),
          (1.9e8, 1.4e9)]
FITS = {
    "one run": ([(1e8, 1e9, 3.0)], "1 usable point"),
    "two runs": ([(1e8, 1e9, 3.0), (1e9, 1e10, 2.5)], "2 usable points"),
    "all losses equal": ([(n, d, 3.0) for n, d in GRID], "losses are the same"),
    "under a decade": ([(n, d, 3.0 - 0.01 * i) for i, (n, d) in enumerate(NARROW)],
                       "spans 0.42 decades"),
}


@pytest.mark.parametrize("law", ["chinchilla", "compute"])
@pytest.mark.parametrize("case", sorted(FITS))
def test_fit_degenerate_exits_3_with_the_reason(tmp_path: Path, case: str, law: str) -> None:
    rows, reason = FITS[case]
    path = _loss_csv(tmp_path / "loss.csv", rows)
    r = _invoke("fit", "--from", path, "--law", law, "--n-boot", "20", "--target-compute",
                "1e24")
    assert r.exit_code == 3, (case, law, r.output)
    assert r.stderr.startswith("error: ") and reason in r.stderr and r.stdout == ""


def test_fit_nan_loss_is_refused_with_its_place(tmp_path: Path) -> None:
    path = _loss_csv(tmp_path / "loss.csv", [(n, d, "nan") for n, d in GRID])
    r = _invoke("fit", "--from", path, "--n-boot", "20")
    assert r.exit_code == 2 and "loss.csv:2: column 'loss'" in r.stderr


def test_fit_loss_rising_with_compute_is_printed_with_its_warning(tmp_path: Path) -> None:
    rows = [(n, d, 2.0 + 0.1 * math.log10(n * d)) for n, d in GRID]
    path = _loss_csv(tmp_path / "loss.csv", rows)
    r = _invoke("fit", "--from", path, "--law", "compute", "--n-boot", "20")
    assert r.exit_code in (0, 3)
    if r.exit_code == 0:
        assert "does not fall with scale" in r.stderr


@pytest.mark.parametrize("law", [ComputeLaw, ChinchillaLaw])
def test_fit_library_refuses_degenerate_points(law: type) -> None:
    """The same refusals from the numeric core (InsufficientEvidence or InputError)."""
    n, d = np.array([g[0] for g in GRID]), np.array([g[1] for g in GRID])
    from tripwire.errors import TripwireError
    with pytest.raises(TripwireError):
        if law is ComputeLaw:
            law(n_boot=5).fit(6 * n * d, np.full(n.size, 3.0))
        else:
            law(n_boot=5).fit(n, d, np.full(n.size, 3.0))
    with pytest.raises(InputError):
        if law is ComputeLaw:
            law(n_boot=5).fit(6 * n * d, np.full(n.size, math.nan))
        else:
            law(n_boot=5).fit(n, d, np.full(n.size, math.nan))


def test_prediction_far_beyond_the_data_carries_a_warning(tmp_path: Path) -> None:
    """Was printed without one (the crossing's own warnings were not shown either)."""
    db = _register(tmp_path, DECADES, [0.26, 0.3, 0.4, 0.55, 0.7, 0.8])
    r = _invoke("forecast", "mmlu", "--at", "1e31", "--n-boot", "20", "--db", db)
    assert r.exit_code == 0 and "warning: planned compute is 6.0 decades beyond" in r.stderr
