"""Capability forecasts: parameter recovery, interval coverage, the stable crossing function,
METR's doubling time, observational scaling and a backtest on real data, anomaly flags, and
refusals on degenerate input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import curve_fit, minimize
from scipy.special import expit

from tripwire.errors import InsufficientEvidence
from tripwire.forecast import (
    QUANTILES,
    CapabilityCurve,
    CapabilityFactors,
    CrossingForecast,
    FactorRegression,
    TimeTrend,
    _bootstrap_weights,
    backtest_compute,
    backtest_time,
    compute_anomalies,
    crossing_probability,
    factor_anomalies,
    frontier_mask,
    mitigation_gaps,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def shared(*parts: str) -> Path:
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real public data not found at {p.resolve()}: see shared/data/SOURCES.md")
    return p


def simulate(n: int, seed: int, *, x0: float = 23.0, k: float = 1.5, floor: float = 0.25,
             ceiling: float = 0.9, tau: float = 0.4, samples: int = 1000,
             lo: float = 20.0, hi: float = 25.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Models with log10 compute uniform in [lo, hi]; latent ability k (x - x0) + N(0, tau);
    a binomial score on `samples` items."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, n)
    p = floor + (ceiling - floor) * expit(k * (x - x0) + rng.normal(0.0, tau, n))
    m = np.full(n, samples)
    return 10.0**x, rng.binomial(m, p) / m, m


# ---------------------------------------------------------------- score against compute


def test_recovers_simulated_parameters_binomial_mle() -> None:
    c, y, m = simulate(200, 1)
    curve = CapabilityCurve(floor=0.25, ceiling=None, n_boot=300).fit(c, y, m)
    s = curve.summary()
    assert s["method"] == "binomial-mle" and s["ceiling_fitted"]
    assert s["midpoint_log10_flop"] == pytest.approx(23.0, abs=0.1)
    assert s["slope_per_decade"] == pytest.approx(1.5, abs=0.15)
    assert s["ceiling"] == pytest.approx(0.9, abs=0.02)
    assert s["scatter"] == pytest.approx(0.4, abs=0.1)
    lo, hi = s["midpoint_log10_flop_95"]
    assert lo < 23.0 < hi
    assert curve.boot_converged_.all()


def test_least_squares_without_sample_counts_and_fixed_ceiling() -> None:
    c, y, _ = simulate(150, 2, ceiling=1.0)
    curve = CapabilityCurve(floor=0.25, ceiling=1.0, n_boot=200).fit(c, y)
    p = curve.params_
    assert curve.method_ == "least-squares" and p["ceiling"] == 1.0
    assert p["midpoint_log10_flop"] == pytest.approx(23.0, abs=0.12)
    assert p["slope_per_decade"] == pytest.approx(1.5, abs=0.2)


def test_binomial_mle_is_the_likelihood_optimum() -> None:
    """The batched Fisher-scoring fit lands where a general optimiser of the binomial
    log-likelihood does."""
    c, y, m = simulate(80, 3)
    curve = CapabilityCurve(floor=0.25, ceiling=0.9, n_boot=0).fit(c, y, m)
    x = np.log10(c)

    def nll(t: np.ndarray) -> float:
        f = np.clip(0.25 + 0.65 * expit(t[1] * (x - t[0])), 1e-12, 1 - 1e-12)
        return -float(np.sum(m * (y * np.log(f) + (1 - y) * np.log(1 - f))))

    ref = minimize(nll, [22.5, 1.0], method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 5000}).x
    p = curve.params_
    assert p["midpoint_log10_flop"] == pytest.approx(ref[0], abs=1e-4)
    assert p["slope_per_decade"] == pytest.approx(ref[1], abs=1e-4)


def test_bootstrap_fits_equal_curve_fit_on_the_same_resamples() -> None:
    """The vectorised bootstrap reaches the same least-squares optima as curve_fit."""
    c, y, _ = simulate(100, 4, ceiling=1.0)
    curve = CapabilityCurve(floor=0.25, ceiling=1.0, n_boot=40, seed=7).fit(c, y)
    x = np.log10(c)
    W = _bootstrap_weights(x.size, 40, 7)

    def f(xx: np.ndarray, x0: float, k: float) -> np.ndarray:
        return 0.25 + 0.75 * expit(k * (xx - x0))

    p0 = [curve.params_["midpoint_log10_flop"], curve.params_["slope_per_decade"]]
    for b in range(40):
        idx = np.repeat(np.arange(x.size), W[b].astype(int))
        ref, _ = curve_fit(f, x[idx], y[idx], p0=p0)
        ours = curve.boot_[b]
        ours_f = 0.25 + 0.75 * expit(ours[0] + ours[1] * (x - curve.xbar_))
        assert np.max(np.abs(ours_f - f(x, *ref))) < 1e-4


@pytest.mark.parametrize(("samples", "ceiling"), [(True, 0.9), (False, None)])
def test_prediction_intervals_cover_near_nominal(samples: bool, ceiling: float | None) -> None:
    """Over repeated simulated data sets, a new model's score falls in the 80 % / 95 %
    prediction intervals about 80 % / 95 % of the time (inside the data and one decade out)."""
    hits80, hits95 = [], []
    for seed in range(60):
        c, y, m = simulate(40, 100 + seed, hi=24.0)
        curve = CapabilityCurve(floor=0.25, ceiling=ceiling, n_boot=150,
                                seed=seed).fit(c, y, m if samples else None)
        cn, yn, _ = simulate(4, 10_000 + seed, lo=22.0, hi=25.0)
        pr = curve.predict(cn)
        hits80 += list((pr.lo80 <= yn) & (yn <= pr.hi80))
        hits95 += list((pr.lo95 <= yn) & (yn <= pr.hi95))
    assert 0.72 <= np.mean(hits80) <= 0.88
    assert 0.90 <= np.mean(hits95) <= 0.99


def test_frontier_keeps_best_model_to_date() -> None:
    x = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 5.0])
    y = np.array([0.3, 0.5, 0.4, 0.45, 0.6, 0.6])
    assert frontier_mask(x, y).tolist() == [True, True, False, False, True, False]
    c, yy, _ = simulate(120, 5, tau=0.8)
    curve = CapabilityCurve(floor=0.25, frontier=True, n_boot=50).fit(c, yy)
    assert curve.n_models_ == int(frontier_mask(np.log10(c), yy).sum()) < 120
    assert curve.data_[0].size == 120


# ---------------------------------------------------------------- threshold crossing


def test_crossing_probability_stable_signature_and_fields() -> None:
    sig = inspect.signature(crossing_probability)
    assert list(sig.parameters) == ["compute_flop", "scores", "threshold", "at_compute_flop",
                                    "floor", "ceiling", "samples", "n_boot", "seed"]
    assert [p.kind for p in sig.parameters.values()][2:] == [inspect.Parameter.KEYWORD_ONLY] * 7
    assert sig.parameters["ceiling"].default is None and sig.parameters["n_boot"].default == 1000
    fields = {f.name for f in dataclasses.fields(CrossingForecast)}
    assert fields >= {"probability", "compute_quantiles", "predicted", "interval80",
                      "interval95", "n_models", "warnings"}


def test_crossing_probability_matches_the_truth_and_its_own_quantiles() -> None:
    c, y, m = simulate(150, 6)
    fc = crossing_probability(c, y, threshold=0.7, at_compute_flop=1e24, floor=0.25,
                              ceiling=0.9, samples=m, n_boot=300, seed=1)
    # truth: latent 1.5 * (24 - 23) + N(0, 0.4) above logit((0.7 - .25) / .65)
    t = math.log(0.45 / 0.65 / (1 - 0.45 / 0.65))
    truth = 0.5 * math.erfc(-(1.5 - t) / 0.4 / math.sqrt(2))
    assert fc.probability == pytest.approx(truth, abs=0.04)
    assert list(fc.compute_quantiles) == [f"{q:g}" for q in QUANTILES]
    qs = list(fc.compute_quantiles.values())
    assert qs == sorted(qs) and all(math.isfinite(q) for q in qs)
    # the probability at the median crossing compute is one half
    again = crossing_probability(c, y, threshold=0.7, at_compute_flop=fc.compute_quantiles["0.5"],
                                 floor=0.25, ceiling=0.9, samples=m, n_boot=300, seed=1)
    assert again.probability == pytest.approx(0.5, abs=0.01)
    assert fc.interval95[0] < fc.interval80[0] < fc.predicted < fc.interval80[1] < fc.interval95[1]
    assert fc.n_models == 150 and fc.to_dict()["interval80"] == list(fc.interval80)


def test_crossing_above_a_fitted_ceiling_is_never_reached() -> None:
    c, y, m = simulate(150, 7, ceiling=0.8)
    fc = crossing_probability(c, y, threshold=0.95, at_compute_flop=1e27, floor=0.25,
                              samples=m, n_boot=200)
    assert fc.probability < 0.05
    assert fc.compute_quantiles["0.5"] == math.inf
    assert any("ceiling" in w for w in fc.warnings)


# ---------------------------------------------------------------- degenerate input


@pytest.mark.parametrize(("case", "message"), [
    ("few", "at least 5"),
    ("chance", "at chance"),
    ("no_compute", "no model has an effective compute"),
    ("narrow", "decades"),
    ("above_ceiling", "not below the ceiling"),
    ("below_floor", "not above the floor"),
    ("flat", "do not rise"),
])
def test_degenerate_input_is_insufficient_evidence(case: str, message: str) -> None:
    c, y, m = simulate(60, 8)
    kw: dict = dict(threshold=0.7, at_compute_flop=1e25, floor=0.25, ceiling=0.9, n_boot=50)
    if case == "few":
        c, y, m = c[:4], y[:4], m[:4]
    elif case == "chance":
        y = np.full_like(y, 0.25) + np.random.default_rng(0).normal(0, 0.002, y.size)
    elif case == "no_compute":
        c = np.full_like(c, np.nan)
    elif case == "narrow":
        c = 10.0 ** np.random.default_rng(1).uniform(23.0, 23.8, c.size)
    elif case == "above_ceiling":
        kw["threshold"] = 0.95
    elif case == "below_floor":
        kw["threshold"] = 0.2
    elif case == "flat":
        y = 0.6 - 0.1 * (np.log10(c) - 20) / 5 + np.random.default_rng(2).normal(0, .01, c.size)
    with pytest.raises(InsufficientEvidence, match=message):
        crossing_probability(c, y, samples=m, **kw)


def test_threshold_outside_a_fitted_ceilings_bound() -> None:
    c, y, m = simulate(60, 9)
    curve = CapabilityCurve(floor=0.25, n_boot=20).fit(c, y, m)
    with pytest.raises(InsufficientEvidence, match="outside"):
        curve.crossing(1.2)


# ---------------------------------------------------------------- time trends (METR)


def test_metr_doubling_time_matches_published_figures() -> None:
    """METR (Kwa et al. 2025): frontier 50 % horizons double every ~7 months (212 days) over
    2019 to early 2025; the v1.1 re-fit of 2026-03-03 gives 128.7 days (95 % CI 105.3-157.3)
    from 2023 on."""
    v10 = pd.read_csv(shared("metr", "time_horizons_v1.0.csv"))
    trend = TimeTrend(transform="log2", frontier=True, until="2025-03-01", n_boot=2000).fit(
        list(v10.release_date), v10.p50_minutes)
    assert trend.n_models_ == int(v10[v10.release_date <= "2025-03-01"].is_sota.sum()) == 11
    assert trend.doubling_days_ == pytest.approx(212, abs=1.5)
    assert trend.doubling_days_ / (365.2425 / 12) == pytest.approx(7.0, abs=0.1)
    lo, hi = trend.doubling_interval(0.95)
    assert lo < 212 < hi

    v11 = pd.read_csv(shared("metr", "time_horizons_v1.1_2026-03-03.csv"))
    t11 = TimeTrend(transform="log2", frontier=True, since="2023-01-01", n_boot=2000).fit(
        list(v11.release_date), v11.p50_minutes)
    assert t11.doubling_days_ == pytest.approx(128.744, abs=0.5)
    lo, hi = t11.doubling_interval(0.95)
    assert 105.26 <= t11.doubling_days_ <= 157.336
    assert abs(lo - 105.26) < 12 and abs(hi - 157.336) < 12  # bootstrap over models vs tasks
    # a work day (480 minutes): its crossing-date distribution is ordered and near the data
    dc = t11.crossing(480.0, at_date="2027-01-01")
    dates = [d for d in dc.date_quantiles.values() if d is not None]
    assert dates == sorted(dates) and dt.date(2025, 6, 1) < dc.date_quantiles["0.5"] < dt.date(
        2027, 6, 1)
    assert 0.8 < dc.probability < 1.0


def test_time_backtest_on_metr_frontier() -> None:
    v10 = pd.read_csv(shared("metr", "time_horizons_v1.0.csv"))
    sota = v10[v10.is_sota]
    bt = backtest_time(list(sota.release_date), sota.p50_minutes, threshold=60.0,
                       names=list(sota.model), n_boot=200)
    s = bt.summary
    assert s["n_cutoffs"] == 5 and s["n_predictions"] == 45
    assert s["actual_crossing"] == dt.date(2025, 4, 16)  # o3, the first at an hour or more
    assert s["coverage80"] == pytest.approx(0.822, abs=0.05)
    assert s["coverage95"] == pytest.approx(0.978, abs=0.03)
    # with the model-error term the early cutoffs' 80 % crossing intervals are wider (open
    # ended at the first ones), so the crossing was foreseen later than without it (764 days)
    assert s["lead"] == pytest.approx(414, abs=1)


def test_logit_trend_doubles_the_odds() -> None:
    rng = np.random.default_rng(3)
    days = np.sort(rng.uniform(0, 4 * 365, 30))
    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=float(d)) for d in days]
    logit = -2.0 + math.log(2) * days / 300 + rng.normal(0, 0.1, days.size)
    score = 0.25 + 0.75 * expit(logit)
    trend = TimeTrend(transform="logit", floor=0.25, ceiling=1.0, n_boot=300).fit(dates, score)
    assert trend.doubling_days_ == pytest.approx(300, rel=0.05)


# ---------------------------------------------------------------- observational scaling


def test_capability_factors_and_backtest_on_obsscaling() -> None:
    """Ruan et al. 2024 data: one capability factor explains most of six benchmarks and tracks
    log compute; MMLU against compute, backtested at five compute cutoffs (numbers computed
    once with seed 0 and 200 resamples)."""
    d = pd.read_csv(shared("obsscaling", "base_llm_benchmark_eval.csv")).set_index("Model")
    bench = ["MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "XWinograd"]
    fac = CapabilityFactors(n_factors=3).fit(d[bench])
    assert fac.explained_variance_ratio_[0] == pytest.approx(0.772, abs=0.01)
    logc = np.log10(d["FLOPs (1E21)"] * 1e21)
    ok = logc.notna()
    assert np.corrcoef(fac.factors_.PC1[ok], logc[ok])[0, 1] > 0.8
    reg = FactorRegression(floor=0.0, n_boot=200).fit(fac.factors_, d["GSM8K"])
    pr = reg.predict(fac.factors_)
    assert (pr.predicted - d["GSM8K"]).abs().mean() < 0.08
    # closed models without compute: their factors from the same benchmarks
    inst = pd.read_csv(shared("obsscaling", "instruct_llm_benchmark_eval.csv")).set_index("Model")
    f_inst = fac.transform(inst.rename(columns={"Winogrande": "Winograd"}))
    assert f_inst.loc["gpt-4-0613", "PC1"] > fac.factors_.PC1.quantile(0.95)

    bt = backtest_compute(d["FLOPs (1E21)"] * 1e21, d["MMLU"], floor=0.25, ceiling=1.0,
                          cutoffs_log10_flop=[22.0, 22.5, 23.0, 23.5, 24.0], threshold=0.7,
                          names=list(d.index), n_boot=200, seed=0)
    s = bt.summary
    assert s["n_cutoffs"] == 5 and s["n_predictions"] == 242
    assert s["actual_crossing"] == pytest.approx(23.289, abs=1e-3)
    assert s["mae"] == pytest.approx(0.227, abs=0.02)
    assert s["coverage80"] == pytest.approx(0.818, abs=0.04)
    assert s["coverage95"] == pytest.approx(0.950, abs=0.03)
    # the model-error term leaves the early cutoffs' 80 % crossing intervals open ended, so
    # no run of bounded intervals containing the crossing led up to it (was 0.789 decades)
    assert s["lead"] is None
    assert bt.cutoffs.n_train.tolist() == [31, 54, 79, 97, 112]


# ---------------------------------------------------------------- anomalies


def test_sandbagged_score_is_flagged_against_compute_and_other_benchmarks() -> None:
    rng = np.random.default_rng(11)
    n = 60
    x = rng.uniform(20, 25, n)
    ability = 1.5 * (x - 23) + rng.normal(0, 0.3, n)
    names = [f"m{i}" for i in range(n)]
    scores = pd.DataFrame({
        b: 0.25 + 0.7 * expit(ability + off + rng.normal(0, 0.15, n))
        for b, off in (("a", 0.0), ("b", 0.5), ("c", -0.5), ("target", 0.2))}, index=names)
    top = int(np.argmax(x))
    scores.loc[names[top], "target"] = 0.3  # the strongest model scores near chance
    by_compute = compute_anomalies(names, 10.0**x, scores["target"], floor=0.25, ceiling=0.95)
    assert by_compute.iloc[0]["model"] == names[top] and by_compute.iloc[0]["flagged"]
    assert by_compute.flagged.sum() <= 2
    by_factors = factor_anomalies(scores, "target", floor=0.25, ceiling=0.95, n_factors=1)
    assert by_factors.iloc[0]["model"] == names[top] and by_factors.iloc[0]["z"] < -4


def test_mitigation_gaps_side_by_side() -> None:
    rows = pd.DataFrame([
        {"model": "m", "benchmark": "bio", "variant": "pre-mitigation", "value": 0.62,
         "samples": 500},
        {"model": "m", "benchmark": "bio", "variant": "post-mitigation", "value": 0.31,
         "samples": 500},
        {"model": "m", "benchmark": "mmlu", "variant": "pre-mitigation", "value": 0.7,
         "samples": 14042},
        {"model": "n", "benchmark": "bio", "variant": "post-mitigation", "value": 0.3,
         "samples": 500}])
    g = mitigation_gaps(rows)
    assert len(g) == 1
    r = g.iloc[0]
    assert (r.model, r.benchmark, r.pre, r.post) == ("m", "bio", 0.62, 0.31)
    assert r.gap == pytest.approx(0.31) and r.z > 8


@pytest.mark.parametrize("widening", [0.0, 0.6, 3.0])
def test_crossing_quantiles_read_sparsely_equal_the_full_grid(widening: float) -> None:
    """The crossing quantiles evaluate the CDF on a tenth of the grid (and the cells that
    matter); they must equal the 2,001-point grid's, also where a widening model error makes
    the CDF rise, peak and dip (its running maximum then decides)."""
    from tripwire.forecast._common import QUANTILES, _mixture_cdf, _mixture_quantiles

    rng = np.random.default_rng(3)
    a = rng.normal(-30.0, 0.5, 400)
    k = rng.uniform(1.0, 1.6, 400)
    t = np.where(rng.uniform(size=400) < 0.05, np.inf, rng.normal(0.5, 0.2, 400))
    tau = rng.uniform(0.3, 1.0, 400)

    def extra(x: np.ndarray) -> np.ndarray:
        return widening * np.maximum(x - 22.0, 0.0) ** 1.5

    lo, hi = 8.0, 52.0
    qs = (*QUANTILES, 0.3, 0.515, 0.7, 0.8, 0.99)
    grid = np.linspace(lo, hi, 2001)
    f = np.maximum.accumulate(_mixture_cdf(grid, a, k, t, tau, 60.0, extra))
    want = []
    for q in qs:
        if q <= f[0]:
            want.append(-np.inf)
        elif q > f[-1]:
            want.append(np.inf)
        else:
            j = int(np.searchsorted(f, q))
            w = 0.0 if f[j] <= f[j - 1] else (q - f[j - 1]) / (f[j] - f[j - 1])
            want.append(grid[j - 1] + w * (grid[j] - grid[j - 1]))
    got = _mixture_quantiles(qs, a, k, t, tau, lo, hi, 60.0, extra)
    assert list(got.values()) == pytest.approx(want, abs=1e-12)
    if widening > 1:
        raw = _mixture_cdf(grid, a, k, t, tau, 60.0, extra)
        assert raw.max() > 0.515 > raw[-1]  # the case it guards: the CDF peaks and dips


def test_backtest_verdict_on_a_forecasts_intervals() -> None:
    from tripwire.forecast._evaluate import verdict

    ok = {"n_cutoffs": 4, "n_predictions": 30, "coverage80": 0.5, "coverage95": 0.8}
    assert verdict(ok)[0] == "calibrated"
    assert verdict({**ok, "coverage80": 0.49}) == (
        "failed", "intervals failed their backtest: the 80 % intervals covered 49% of 30 later "
                  "models over 4 walk-forward cutoffs; do not read them as calibrated")
    own = {"calibrated_coverage": {"80": 0.4, "95": 0.7}}
    assert verdict(ok, model_error=own)[0] == "failed"
    for short in ({**ok, "n_cutoffs": 2}, {**ok, "n_predictions": 4}, None):
        status, text = verdict(short)
        assert status == "not calibrated"
        assert text.startswith("not calibrated: too few models for a backtest")
    status, text = verdict(None, error="no model has an effective compute figure")
    assert text == ("not calibrated: too few models for a backtest (no model has an "
                    "effective compute figure); the intervals are not checked out of sample")


@pytest.mark.parametrize("f", [lambda t: t**2 - 2.0, lambda t: np.expm1(t) - 3.0,
                               lambda t: np.tanh(4.0 * (t - 0.3)), lambda t: t**9 - 1e-6])
def test_scatter_root_finder_agrees_with_brent(f) -> None:  # noqa: ANN001
    """The latent scatter's root finder (regula falsi, Illinois) lands where Brent's method
    does, to the tolerance both are asked for."""
    from scipy.optimize import brentq

    from tripwire.forecast._sigmoid import _root

    lo, hi = 0.0, 4.0
    want = brentq(f, lo, hi, xtol=1e-12, rtol=1e-12)
    got = _root(f, lo, hi, float(f(lo)), float(f(hi)))
    assert abs(got - want) <= 2e-6 * (1 + abs(want))


def test_first_crossing_is_after_what_is_known_and_simulates_right() -> None:
    """The first model over a line, with models released at a known rate around a known
    trend: no probability before `after`, and the simulated first crossings' dates fall
    uniformly in the forecast (its percentiles), which the trend line's own crossing misses."""
    rng = np.random.default_rng(3)
    start = dt.date(2015, 1, 1)
    years = np.sort(rng.uniform(0, 8, 240))  # 30 releases a year
    z = 20 + 1.5 * years + rng.normal(0, 1.0, years.size)  # log2 compute
    dates = [start + dt.timedelta(days=float(y) * 365.25) for y in years]
    trend = TimeTrend(n_boot=200, calibrate=False).fit(dates, np.exp2(z))
    after = dates[-1]
    line = float(np.exp2(z.max() + 0.5))
    fc = trend.first_crossing(line, after=after)
    assert fc.first_after == after and fc.rate_per_year == pytest.approx(30, rel=0.05)
    assert fc.date_quantiles["0.05"] > after
    assert trend.first_crossing_cdf(line, [after - dt.timedelta(days=30)], after=after)[0] == 0
    # Simulate the future from the true process: percentiles of the actual first crossing.
    pits = []
    t_after = 8.0
    for _ in range(200):
        t, hit = t_after, None
        while hit is None:
            t += rng.exponential(1 / 30)
            if 20 + 1.5 * t + rng.normal(0, 1.0) > math.log2(line):
                hit = t
        pits.append(trend.first_crossing_cdf(
            line, [start + dt.timedelta(days=hit * 365.25)], after=after)[0])
    p = np.array(pits)
    assert 0.7 <= np.mean((p >= 0.1) & (p <= 0.9)) <= 0.9
    assert 0.4 <= p.mean() <= 0.6
