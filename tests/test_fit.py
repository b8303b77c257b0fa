"""Scaling-law fits: the published Chinchilla replication, recovery, interval coverage, bad input."""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tripwire.fit as fitmod
from tripwire.errors import InputError, InsufficientEvidence
from tripwire.fit import (
    ChinchillaLaw,
    ComputeLaw,
    ExtrapolationWarning,
    FitDidNotConverge,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CHINCHILLA_CSV = DATA / "epoch_chinchilla" / "chinchilla_fig4_N_D_C_loss.csv"

# Besiroglu et al. (2024), data_analysis.ipynb cell 25 (estimate, bootstrap standard error)
EPOCH = {"E": (1.8169, 0.0257), "A": (482.01, 124.52), "B": (2085.43, 1293.28),
         "alpha": (0.3478, 0.0154), "beta": (0.3658, 0.0206)}
# same notebook, cell 18: the single best-of-grid L-BFGS fit and its objective
EPOCH_BEST_OF_GRID = {"E": 1.817235504463726, "A": 477.84171252965143,
                      "B": 2143.8637880335505, "alpha": 0.34731265761033453,
                      "beta": 0.3671826173946711}
EPOCH_BEST_OBJECTIVE = 0.0010182740346154362

COARSE = {"a": [0.0, 10.0, 20.0], "b": [0.0, 10.0, 20.0], "e": [-1.0, 0.0, 1.0],
          "alpha": [0.0, 1.0, 2.0], "beta": [0.0, 1.0, 2.0]}
TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}  # Hoffmann et al.


def chinchilla_law(n: np.ndarray, d: np.ndarray, p: dict[str, float] = TRUE) -> np.ndarray:
    return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]


def simulate(rng: np.random.Generator, size: int, noise: float = 0.0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs from 1e7 to 3e9 parameters at 2 to 200 tokens per parameter; log-normal scatter."""
    n = np.exp(rng.uniform(np.log(1e7), np.log(3e9), size))
    d = n * np.exp(rng.uniform(np.log(2), np.log(200), size))
    loss = chinchilla_law(n, d) * np.exp(rng.normal(0.0, noise, size))
    return n, d, loss


@pytest.fixture(scope="module")
def chinchilla_runs() -> pd.DataFrame:
    if not CHINCHILLA_CSV.exists():
        pytest.skip(f"Chinchilla data not found at {CHINCHILLA_CSV}: see shared/data/SOURCES.md")
    return pd.read_csv(CHINCHILLA_CSV)


@pytest.fixture(scope="module")
def without_outliers(chinchilla_runs: pd.DataFrame) -> pd.DataFrame:
    """Epoch's sample: the five highest-loss runs (all at ~1e19 FLOP, few tokens) left out."""
    df = chinchilla_runs
    return df[df.loss < np.sort(df.loss.to_numpy())[-5]]


@pytest.fixture(scope="module")
def epoch_fit(without_outliers: pd.DataFrame) -> tuple[ChinchillaLaw, float]:
    df = without_outliers
    t0 = time.perf_counter()
    law = ChinchillaLaw(n_boot=1000, seed=0).fit(df.params_N, df.tokens_D, df.loss, df.flops_C)
    return law, time.perf_counter() - t0


# -- the literature ------------------------------------------------------------------------


def test_reproduces_epoch_replication_within_its_standard_errors(epoch_fit) -> None:
    law, _ = epoch_fit
    assert len(law.params_) == 5
    for name, (value, se) in EPOCH.items():
        assert abs(law.params_[name] - value) <= se, (name, law.params_[name], value, se)


def test_matches_epoch_best_of_grid_fit_and_reaches_its_objective(epoch_fit) -> None:
    law, _ = epoch_fit
    for name, value in EPOCH_BEST_OF_GRID.items():
        assert law.params_[name] == pytest.approx(value, rel=1e-3), name
    assert law.objective_ <= EPOCH_BEST_OBJECTIVE * (1 + 1e-9)


def test_bootstrap_standard_errors_agree_with_epoch(epoch_fit) -> None:
    law, seconds = epoch_fit
    summary = law.summary()
    for name, (_, se) in EPOCH.items():
        assert 0.67 < summary.loc[name, "std_err"] / se < 1.5, name
    assert law.n_boot_ok_ == 1000
    assert seconds < 30  # fit + 1,000 resamples: seconds, even on a busy 2-core machine


@pytest.mark.parametrize("outliers", [False, True], ids=["epoch-sample", "all-245-runs"])
def test_newton_and_plain_lbfgs_give_the_same_fit_and_intervals(
        chinchilla_runs: pd.DataFrame, outliers: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Newton optimiser changes how fast the fits converge, not where: on Epoch's runs the
    optimum, every bootstrap interval endpoint (within 0.1 bootstrap standard errors; between
    seeds they move by up to 0.5) and the calibrated model-error scale and drift (within 5 %) are
    those of L-BFGS alone, run to convergence on the same resamples."""
    df = chinchilla_runs
    if not outliers:
        df = df[df.loss < np.sort(df.loss.to_numpy())[-5]]
    cols = (df.params_N, df.tokens_D, df.loss, df.flops_C)
    law = ChinchillaLaw(n_boot=1000, seed=0).fit(*cols)
    monkeypatch.setattr(fitmod, "_NEWTON_ITERS", 0)  # every row goes to L-BFGS (500 iterations)
    monkeypatch.setattr(fitmod, "_NEWTON_ITERS_FAR", 0)
    ref = ChinchillaLaw(n_boot=1000, seed=0).fit(*cols)
    assert law.objective_ <= ref.objective_ * (1 + 1e-9)
    assert law.objective_ == pytest.approx(ref.objective_, rel=1e-6)
    assert law.n_boot_ok_ >= ref.n_boot_ok_
    a, b = law.summary(), ref.summary()
    ends = ["ci80_low", "ci80_high", "ci95_low", "ci95_high", "std_err"]
    moved = (a[ends] - b[ends]).abs().div(b["std_err"], axis=0)
    assert float(moved.to_numpy().max()) < 0.1, moved
    assert law.model_error_.scale == pytest.approx(ref.model_error_.scale, rel=0.05)
    assert law.model_error_.drift == pytest.approx(ref.model_error_.drift, rel=0.05)


def test_compute_optimal_allocation_is_about_20_tokens_per_parameter(epoch_fit) -> None:
    law, _ = epoch_fit
    with pytest.warns(ExtrapolationWarning):
        alloc = law.allocate([1e21, 1e22, 5.76e23])
    assert np.all((alloc.tokens_per_param["estimate"][:2] > 15)
                  & (alloc.tokens_per_param["estimate"][:2] < 25))
    # at Chinchilla's own budget the intervals hold 20 tokens/parameter and its 70B parameters
    assert alloc.tokens_per_param["lo80"][2] < 20 < alloc.tokens_per_param["hi80"][2]
    assert alloc.params["lo95"][2] < 70e9 < alloc.params["hi95"][2]
    np.testing.assert_allclose(6 * alloc.params["estimate"] * alloc.tokens["estimate"],
                               alloc.compute, rtol=1e-10)
    lo, hi = law.compute_range_
    assert alloc.extrapolation_oom[2] == pytest.approx(math.log10(5.76e23 / hi))
    assert alloc.warnings_ and "orders of magnitude" in alloc.warnings_[0]


def test_with_all_points_the_fit_moves_as_epoch_reports(chinchilla_runs: pd.DataFrame) -> None:
    """Keeping the five outliers pushes B and beta up; Epoch's notebook (cell 33) records that
    fit as (log A, log B, log E, alpha, beta) = (6.138, 9.436, 0.634, 0.3454, 0.4519)."""
    df = chinchilla_runs
    law = ChinchillaLaw(n_boot=0).fit(df.params_N, df.tokens_D, df.loss)
    ref = dict(zip(["A", "B", "E", "alpha", "beta"], [math.exp(6.13834459), math.exp(9.43584213),
                                                       math.exp(0.63412782), 0.3453568, 0.45189211],
                   strict=True))
    for name, value in ref.items():
        assert abs(law.params_[name] - value) <= EPOCH[name][1], name
    assert law.B_ > 1e4 and law.beta_ > 0.43


# -- recovery of known parameters --------------------------------------------------------


def test_recovers_known_chinchilla_parameters_from_exact_data() -> None:
    n, d, loss = simulate(np.random.default_rng(1), 40)
    law = ChinchillaLaw(n_boot=0).fit(n, d, loss)
    for name, value in TRUE.items():
        assert law.params_[name] == pytest.approx(value, rel=1e-4), name


def test_recovers_known_parameters_from_noisy_data_within_intervals() -> None:
    n, d, loss = simulate(np.random.default_rng(2), 120, noise=0.005)
    law = ChinchillaLaw(n_boot=300, seed=1, grid=COARSE).fit(n, d, loss)
    s = law.summary()
    assert abs(law.alpha_ - TRUE["alpha"]) < 0.03 and abs(law.beta_ - TRUE["beta"]) < 0.03
    assert abs(law.E_ - TRUE["E"]) < 0.05
    for name, value in TRUE.items():
        assert s.loc[name, "ci95_low"] <= value <= s.loc[name, "ci95_high"], name
    assert list(s.columns) == ["estimate", "std_err", "ci80_low", "ci80_high", "ci95_low",
                               "ci95_high"]


@pytest.mark.parametrize("irreducible", [True, False])
def test_compute_law_recovers_known_parameters(irreducible: bool) -> None:
    c = np.logspace(17, 22, 12)
    e = 1.8 if irreducible else 0.0
    loss = e + 35.0 * c ** -0.08
    law = ComputeLaw(irreducible=irreducible, n_boot=0).fit(c, loss)
    assert law.A_ == pytest.approx(35.0, rel=1e-3)
    assert law.alpha_ == pytest.approx(0.08, rel=1e-3)
    if irreducible:
        assert law.E_ == pytest.approx(1.8, rel=1e-3)
    else:
        assert "E" not in law.params_


# -- intervals -----------------------------------------------------------------------------


def test_prediction_intervals_cover_new_runs_near_nominal_rate() -> None:
    """Over repeated simulated studies, new runs fall in the 80 %/95 % intervals at ~those rates;
    parameter intervals cover the truth at about their rate too."""
    in80, in95, par80 = [], [], []
    for seed in range(16):
        rng = np.random.default_rng(100 + seed)
        n, d, loss = simulate(rng, 50, noise=0.01)
        law = ChinchillaLaw(n_boot=100, seed=seed, grid=COARSE).fit(n, d, loss)
        n2, d2, loss2 = simulate(rng, 25, noise=0.01)
        p = law.predict(n2, d2)
        in80 += list((p.lo80 <= loss2) & (loss2 <= p.hi80))
        in95 += list((p.lo95 <= loss2) & (loss2 <= p.hi95))
        s = law.summary()
        par80 += [s.loc[k, "ci80_low"] <= v <= s.loc[k, "ci80_high"] for k, v in TRUE.items()]
    assert 0.70 <= np.mean(in80) <= 0.90
    assert 0.89 <= np.mean(in95) <= 0.99
    assert 0.6 <= np.mean(par80) <= 0.98


def test_prediction_bands_are_ordered_and_seeded(epoch_fit) -> None:
    law, _ = epoch_fit
    p = law.predict([1e9, 5e9], [2e10, 1e11])
    assert np.all(p.lo95 < p.lo80) and np.all(p.lo80 < p.loss) and np.all(p.loss < p.hi80)
    assert np.all(p.hi80 < p.hi95)
    # the band of the law alone is narrower than the prediction band for a new run
    assert np.all(p.fit_hi95 - p.fit_lo95 < p.hi95 - p.lo95)
    frame = p.to_frame()
    assert list(frame.columns[:3]) == ["params", "tokens", "compute"] and len(frame) == 2


def test_same_seed_same_intervals_other_seed_other_intervals() -> None:
    n, d, loss = simulate(np.random.default_rng(3), 30, noise=0.01)
    a = ChinchillaLaw(n_boot=50, seed=7, grid=COARSE).fit(n, d, loss).summary()
    b = ChinchillaLaw(n_boot=50, seed=7, grid=COARSE).fit(n, d, loss).summary()
    c = ChinchillaLaw(n_boot=50, seed=8, grid=COARSE).fit(n, d, loss).summary()
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["ci95_high"], c["ci95_high"])


def test_progress_callback_reports_the_bootstrap() -> None:
    n, d, loss = simulate(np.random.default_rng(4), 30, noise=0.01)
    calls: list[tuple[int, int]] = []
    ChinchillaLaw(n_boot=450, grid=COARSE).fit(n, d, loss, progress=lambda a, b: calls.append((a, b)))
    assert calls[0] == (0, 450) and calls[-1] == (450, 450)
    assert [a for a, _ in calls] == sorted(a for a, _ in calls) and len(calls) >= 3


# -- extrapolation, allocation, holdout ---------------------------------------------------


def test_extrapolation_warns_beyond_one_and_a_half_orders_of_magnitude() -> None:
    c = np.logspace(18, 20, 10)
    law = ComputeLaw(n_boot=50).fit(c, 1.7 + 40 * c ** -0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        inside = law.predict([1e19, 3e21])  # 3e21 is 1.48 orders above 1e20: no warning
    assert inside.warnings_ == []
    with pytest.warns(ExtrapolationWarning, match="1 prediction extrapolates"):
        far = law.predict([1e19, 1e22])
    assert far.extrapolation_oom[1] == pytest.approx(2.0) and len(far.warnings_) == 1
    with pytest.warns(ExtrapolationWarning):
        law.predict([1e16])  # below the range counts too


def test_allocation_needs_positive_exponents_and_a_bootstrap_for_intervals() -> None:
    n, d, loss = simulate(np.random.default_rng(5), 30)
    law = ChinchillaLaw(n_boot=0, grid=COARSE).fit(n, d, loss)
    alloc = law.allocate([1e20])
    assert np.isnan(alloc.params["lo80"]).all() and "no bootstrap" in alloc.warnings_[-1]
    # N_opt from Hoffmann et al. eq. 4 at the true parameters
    g = (TRUE["alpha"] * TRUE["A"] / (TRUE["beta"] * TRUE["B"])) ** (1 / (TRUE["alpha"] + TRUE["beta"]))
    n_opt = g * (1e20 / 6) ** (TRUE["beta"] / (TRUE["alpha"] + TRUE["beta"]))
    assert alloc.params["estimate"][0] == pytest.approx(n_opt, rel=1e-3)


def test_holdout_fits_below_the_cut_and_scores_the_largest_runs() -> None:
    n, d, loss = simulate(np.random.default_rng(6), 60, noise=0.01)
    law = ChinchillaLaw(n_boot=200, grid=COARSE)
    h = law.holdout(n, d, loss, fraction=0.2)
    c = 6 * n * d
    assert h.n_test == 12 and h.n_train == 48
    assert h.compute_cut == pytest.approx(np.sort(c)[-12])
    assert set(h.table["compute"]) == set(c[c >= h.compute_cut])
    assert h.mean_abs_rel_error < 0.05 and 0 <= h.coverage80 <= h.coverage95 <= 1
    assert (h.table["observed"] > 0).all() and "predicted" in h.table
    assert not hasattr(law, "params_")  # the estimator itself stays unfitted



@pytest.mark.parametrize("fraction", [0.1, 0.2])
def test_held_out_largest_runs_are_covered_as_claimed(chinchilla_runs: pd.DataFrame,
                                                      fraction: float) -> None:
    """All 245 runs, fitted below the compute cut: the law over-predicts the loss of the
    larger runs (the walk-forward residuals drift downwards with distance), and the
    intervals, with the drift and scale fitted on the walk-forward refits, cover the largest
    runs about as claimed."""
    df = chinchilla_runs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        h = ChinchillaLaw(n_boot=400).holdout(df.params_N, df.tokens_D, df.loss, df.flops_C,
                                               fraction=fraction)
        law = ChinchillaLaw(n_boot=400).fit(*(df[df.flops_C < h.compute_cut][k]
                                              for k in ("params_N", "tokens_D", "loss")))
    assert law.model_error_.drift < 0 and law.model_error_.source == "backtest"
    assert 0.7 <= h.coverage80 <= 0.9 + 1e-9 and h.coverage95 >= 0.9

# -- bad input -----------------------------------------------------------------------------


def test_fewer_points_than_parameters_is_insufficient_evidence() -> None:
    n, d, loss = simulate(np.random.default_rng(7), 5)
    with pytest.raises(InsufficientEvidence, match=r"5 usable points.*5 parameters.*at least 6"):
        ChinchillaLaw().fit(n, d, loss)
    with pytest.raises(InsufficientEvidence, match="3 usable points"):
        ComputeLaw().fit([1e18, 1e19, 1e20], [3.0, 2.8, 2.7])


def test_nan_and_non_positive_values_name_the_points_and_count_the_usable() -> None:
    n, d, loss = simulate(np.random.default_rng(8), 10)
    loss[2] = np.nan
    n[6] = -1.0
    with pytest.raises(InputError) as e:
        ChinchillaLaw().fit(n, d, loss)
    msg = str(e.value)
    assert "point 3 has loss = nan" in msg and "point 7 has params = -1" in msg
    assert "8 of 10 points are usable" in msg
    with pytest.raises(InputError, match="point 2 has compute = 0"):
        ComputeLaw().fit([1e18, 0, 1e20, 1e21], [3, 2.9, 2.8, 2.7])


def test_one_size_only_or_fixed_ratio_cannot_identify_the_law() -> None:
    rng = np.random.default_rng(9)
    d = np.logspace(9, 11, 12)
    with pytest.raises(InsufficientEvidence, match="same model size"):
        ChinchillaLaw().fit(np.full(12, 1e8), d, chinchilla_law(np.full(12, 1e8), d))
    n = np.logspace(7, 9, 12)
    with pytest.raises(InsufficientEvidence, match="same tokens per parameter"):
        ChinchillaLaw().fit(n, 20 * n, chinchilla_law(n, 20 * n))
    with pytest.raises(InsufficientEvidence, match="same training compute"):
        ComputeLaw().fit(np.full(6, 1e20), rng.uniform(2, 3, 6))


def test_mismatched_lengths_and_unfitted_use_are_input_errors() -> None:
    with pytest.raises(InputError, match="differ in length"):
        ChinchillaLaw().fit([1e8, 1e9], [1e9], [3.0, 2.0])
    with pytest.raises(InputError, match="not fitted"):
        ChinchillaLaw().predict([1e9], [1e10])
    with pytest.raises(InputError, match="between 0 and 1"):
        ComputeLaw().holdout(np.logspace(18, 21, 8), np.linspace(3, 2, 8), fraction=1.5)


def test_non_convergence_is_an_error_not_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    # one Newton and one L-BFGS iteration: no start can reach an optimum
    monkeypatch.setattr(fitmod, "_NEWTON_ITERS_FAR", 1)
    monkeypatch.setattr(fitmod, "_LBFGS_ITERS", 1)
    n, d, loss = simulate(np.random.default_rng(10), 30, noise=0.01)
    law = ChinchillaLaw(n_boot=0, grid=COARSE)
    with pytest.raises(FitDidNotConverge, match="did not converge.*iteration limit"):
        law.fit(n, d, loss)
    assert not hasattr(law, "params_")
    assert issubclass(FitDidNotConverge, InsufficientEvidence)  # exit code 3 in the CLI
