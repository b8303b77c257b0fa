"""`tripwire fit` through the CLI: from a CSV or the register, JSON and tables, plots, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from clirun import run
from helpers import write

import tripwire.fit as fitmod

CHINCHILLA_CSV = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
                  / "epoch_chinchilla" / "chinchilla_fig4_N_D_C_loss.csv")
TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def loss_csv(path: Path, size: int = 40, noise: float = 0.005, seed: int = 0) -> Path:
    """tripwire's own loss CSV: model, params, tokens, compute, loss (from a known law)."""
    rng = np.random.default_rng(seed)
    n = np.exp(rng.uniform(np.log(1e7), np.log(3e9), size))
    d = n * np.exp(rng.uniform(np.log(2), np.log(200), size))
    loss = (TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]) * np.exp(
        rng.normal(0, noise, size))
    lines = ["model,params,tokens,compute,loss"]
    lines += [f"run{i},{a:.6g},{b:.6g},{6 * a * b:.6g},{c:.6f}"
              for i, (a, b, c) in enumerate(zip(n, d, loss, strict=True))]
    return write(path, "\n".join(lines) + "\n")


def test_json_from_csv_has_parameters_predictions_and_allocation(tmp_path: Path) -> None:
    src = loss_csv(tmp_path / "loss.csv")
    r = run("fit", "--from", str(src), "--n-boot", "100", "--target-compute", "1e21",
            "--target-compute", "1e24", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["law"] == "chinchilla" and out["n_points"] == 40 and out["n_boot_converged"] == 100
    p = out["parameters"]
    assert set(p) >= set(TRUE) and abs(p["alpha"]["estimate"] - 0.34) < 0.05
    assert p["E"]["ci95_low"] < p["E"]["estimate"] < p["E"]["ci95_high"]
    assert [row["compute"] for row in out["predictions"]] == [1e21, 1e24]
    for row in out["predictions"]:
        assert row["basis"] == "compute-optimal"
        assert row["lo95"] < row["lo80"] < row["loss"] < row["hi80"] < row["hi95"]
        assert row["params"] * row["tokens"] * 6 == pytest.approx(row["compute"])
    assert [a["compute"] for a in out["allocation"]] == [1e21, 1e24]
    assert all(a["tokens_per_param_lo80"] < a["tokens_per_param"] for a in out["allocation"])
    # 1e24 is far beyond the fitted range: warned on stderr and listed in the JSON
    assert any("orders of magnitude" in w for w in out["warnings"])
    assert "warning:" in r.stderr and "Traceback" not in r.output


def test_params_and_tokens_and_a_table(tmp_path: Path) -> None:
    src = loss_csv(tmp_path / "loss.csv")
    r = run("fit", "--from", str(src), "--n-boot", "100", "--params", "1e9", "--tokens", "2e10")
    assert r.exit_code == 0, r.output
    assert "parameters" in r.stdout and "compute-optimal allocation" in r.stdout
    assert "given N and D" in r.stdout and "alpha" in r.stdout
    assert "chinchilla law L(N, D) = E + A/N^alpha + B/D^beta fitted to 40 runs" in r.stderr
    r = run("fit", "--from", str(src), "--n-boot", "50", "--params", "1e9",
            "--target-compute", "1.2e20", "--json")
    row = json.loads(r.stdout)["predictions"][0]
    assert row["tokens"] == pytest.approx(2e10) and row["basis"] == "given N, D = C/6N"


def test_compute_law_and_pure_power_law(tmp_path: Path) -> None:
    c = np.logspace(18, 21, 10)
    rows = "\n".join(f"m{i},1e9,{x / 6e9:.6g},{x:.6g},{1.8 + 30 * x ** -0.07:.6f}"
                     for i, x in enumerate(c))
    src = write(tmp_path / "c.csv", "model,params,tokens,compute,loss\n" + rows + "\n")
    r = run("fit", "--from", str(src), "--law", "compute", "--n-boot", "100",
            "--target-compute", "1e22", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out["parameters"]) == {"E", "A", "alpha"} and "allocation" not in out
    assert out["predictions"][0]["extrapolation_oom"] == pytest.approx(1.0)
    r = run("fit", "--from", str(src), "--law", "compute", "--no-irreducible", "--n-boot", "50",
            "--json")
    assert set(json.loads(r.stdout)["parameters"]) == {"A", "alpha"}


def test_holdout_reports_error_and_coverage(tmp_path: Path) -> None:
    src = loss_csv(tmp_path / "loss.csv", size=50)
    r = run("fit", "--from", str(src), "--n-boot", "60", "--holdout", "0.2", "--json")
    assert r.exit_code == 0, r.output
    h = json.loads(r.stdout)["holdout"]
    assert h["n_test"] == 10 and h["n_train"] == 40 and len(h["runs"]) == 10
    assert 0 <= h["coverage80"] <= h["coverage95"] <= 1 and h["mean_abs_rel_error"] < 0.05
    r = run("fit", "--from", str(src), "--n-boot", "10", "--holdout", "0.2")
    assert "held-out runs" in r.stdout and "coverage95" in r.stdout


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_plot_is_written(tmp_path: Path, suffix: str, magic: bytes) -> None:
    src = loss_csv(tmp_path / "loss.csv")
    fig = tmp_path / f"fit{suffix}"
    r = run("fit", "--from", str(src), "--n-boot", "20", "--target-compute", "1e24",
            "--plot", str(fig))
    assert r.exit_code == 0, r.output
    assert fig.read_bytes().startswith(magic) and "figure written" in r.stderr


def test_compute_law_plot(tmp_path: Path) -> None:
    c = np.logspace(18, 21, 8)
    rows = "\n".join(f"m{i},1e9,{x / 6e9:.6g},{x:.6g},{1.8 + 30 * x ** -0.07:.6f}"
                     for i, x in enumerate(c))
    src = write(tmp_path / "c.csv", "model,params,tokens,compute,loss\n" + rows + "\n")
    fig = tmp_path / "c.png"
    r = run("fit", "--from", str(src), "--law", "compute", "--n-boot", "20", "--plot", str(fig))
    assert r.exit_code == 0, r.output
    assert fig.stat().st_size > 10_000


def test_chinchilla_style_csv_reproduces_the_published_fit() -> None:
    if not CHINCHILLA_CSV.exists():
        pytest.skip(f"Chinchilla data not found at {CHINCHILLA_CSV}: see shared/data/SOURCES.md")
    r = run("fit", "--from", str(CHINCHILLA_CSV), "--n-boot", "100", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n_points"] == 245
    assert out["parameters"]["alpha"]["estimate"] == pytest.approx(0.3493, abs=2e-3)
    assert out["compute_range_flop"][1] == pytest.approx(1.2956e22, rel=1e-3)


def test_from_the_register(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    assert run("init", "--db", db).exit_code == 0
    src = loss_csv(tmp_path / "loss.csv")
    r = run("ingest", str(src), "--db", db)
    assert r.exit_code == 0, r.output
    r = run("fit", "--db", db, "--n-boot", "50", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n_points"] == 40 and abs(out["parameters"]["beta"]["estimate"] - 0.28) < 0.05
    empty = str(tmp_path / "empty.db")
    run("init", "--db", empty)
    r = run("fit", "--db", empty)
    assert r.exit_code == 3 and "no loss observations" in r.stderr


# -- bad input: one line, an exit code, no traceback ---------------------------------------


def test_bad_values_name_the_file_and_line(tmp_path: Path) -> None:
    src = loss_csv(tmp_path / "loss.csv", size=10)
    lines = src.read_text().splitlines()
    for bad in ("run2,-5e8,1e10,3e19,2.5", "run2,5e8,1e10,3e19,nan"):
        lines[3] = bad
        write(src, "\n".join(lines) + "\n")
        r = run("fit", "--from", str(src), "--n-boot", "10")
        assert r.exit_code == 2, r.output
        assert f"{src}:4:" in r.stderr and "Traceback" not in r.output and r.stdout == ""


def test_too_few_points_and_one_size_are_insufficient_evidence(tmp_path: Path) -> None:
    src = loss_csv(tmp_path / "few.csv", size=4)
    r = run("fit", "--from", str(src))
    assert r.exit_code == 3 and "4 usable points" in r.stderr and r.stdout == ""
    rows = "\n".join(f"m{i},1e9,{t:.6g},,{2 + 100 / t ** 0.3:.5f}"
                     for i, t in enumerate(np.logspace(9, 11, 8)))
    src = write(tmp_path / "one.csv", "model,params,tokens,compute,loss\n" + rows + "\n")
    r = run("fit", "--from", str(src))
    assert r.exit_code == 3 and "same model size" in r.stderr


def test_missing_columns_and_bad_options_are_usage_errors(tmp_path: Path) -> None:
    src = write(tmp_path / "bad.csv", "model,params,tokens\nx,1e9,2e10\n")
    r = run("fit", "--from", str(src))
    assert r.exit_code == 2 and "Traceback" not in r.output
    good = loss_csv(tmp_path / "loss.csv")
    r = run("fit", "--from", str(good), "--params", "1e9")
    assert r.exit_code == 2 and "--params or --tokens alone" in r.stderr
    r = run("fit", "--from", str(good), "--plot", str(tmp_path / "fit.txt"))
    assert r.exit_code == 2 and ".png, .svg" in r.stderr
    r = run("fit", "--from", str(good), "--target-compute", "-1")
    assert r.exit_code == 2


def test_a_fit_that_does_not_converge_prints_no_numbers(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fitmod, "_NEWTON_ITERS_FAR", 1)  # no start can reach an optimum
    monkeypatch.setattr(fitmod, "_LBFGS_ITERS", 1)
    src = loss_csv(tmp_path / "loss.csv")
    r = run("fit", "--from", str(src), "--json")
    assert r.exit_code == 3 and "did not converge" in r.stderr and r.stdout == ""


def test_long_bootstraps_show_a_progress_bar_on_a_terminal(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    import tripwire.cli.fit_cmd as fit_cmd

    screen = io.StringIO()
    monkeypatch.setattr(fit_cmd, "stderr", Console(file=screen, force_terminal=True, width=100))
    src = loss_csv(tmp_path / "loss.csv")
    r = run("fit", "--from", str(src), "--n-boot", "400", "--json")
    assert r.exit_code == 0, r.output
    assert "bootstrap" in screen.getvalue() and "400/400" in screen.getvalue()
    assert json.loads(r.stdout)["n_boot_converged"] == 400  # stdout stays clean JSON


def test_the_law_is_named_and_the_demos_numbers_are_fit_law_compute(tmp_path: Path) -> None:
    """The demo prints the compute law L(C) and says so; `fit` defaults to the Chinchilla law
    and says which it fitted; `fit --law compute` gives the demo's (the report's) numbers."""
    from tripwire.demo import run_demo
    from tripwire.report.data import scaling_section

    reg = run_demo(tmp_path / "demo", report=False).register
    s = scaling_section(reg, n_boot=20)
    reg.close()
    db = str(tmp_path / "demo" / "tripwire.db")
    demo_e = next(p.estimate for p in s.params if p.name == "E")
    r = run("fit", "--db", db, "--law", "compute", "--n-boot", "20", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["parameters"]["E"]["estimate"] == pytest.approx(demo_e, rel=1e-9)
    r = run("fit", "--db", db, "--n-boot", "20")
    assert "chinchilla law L(N, D) = E + A/N^alpha + B/D^beta fitted to 100 runs" in r.stderr
    assert "`--law compute` fits L(C), the law `tripwire demo` and the reports plot" in r.stderr
    r = run("fit", "--db", db, "--law", "compute", "--n-boot", "20")
    assert "compute law L(C) = E + A*C^-alpha fitted to" in r.stderr
