"""Benchmark: score-vs-compute sigmoid fits with 1,000-resample bootstraps, and the whole
`tripwire forecast` command.

fit: 60 simulated benchmarks x 200 models. tripwire's `CapabilityCurve.fit` (grid start,
batched Levenberg-Marquardt over all resamples at once) against a straightforward loop of
`scipy.optimize.curve_fit`, one call per resample, started from the same full fit, on the same
resamples. Prints both times, the ratio, and how far apart the fitted values are.

command: `tripwire forecast BENCHMARK --threshold T` with 1,000 resamples, as a user runs it
(a fresh process: start-up, register read, fit, its self-calibration, the crossing forecast and
the walk-forward backtest it prints), on a register of the public obsscaling models
(``../shared/data``: Ruan et al. 2024, 123 base models with training compute) for three
benchmarks. Runs are interleaved with the reference, `tripwire forecast --help` (start-up
alone), so load on a shared machine falls on both; the median wall and CPU time of the rounds
are printed against the budget of 2 s.

    .venv/bin/python benchmarks/bench_forecast.py [--only fit|command] [--benchmarks 60]
        [--models 200] [--boot 1000] [--rounds 5]
"""

from __future__ import annotations

import os

# one BLAS thread for both contenders, so CPU time compares like with like on a shared machine
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import OptimizeWarning, curve_fit  # noqa: E402
from scipy.special import expit  # noqa: E402

from tripwire.forecast import CapabilityCurve, _bootstrap_weights  # noqa: E402


class Clock:
    """Wall time and this process's CPU time (the fairer figure on a shared machine)."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Clock:
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c


def simulate(n_bench: int, n_models: int, seed: int) -> list[dict]:
    """Benchmarks like the public ones: chance 0 / 0.25 / 0.5, ceiling 1, latent scatter."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_bench):
        floor = float(rng.choice([0.0, 0.25, 0.5]))
        x = rng.uniform(20.0, 25.5, n_models)
        k = rng.uniform(0.8, 3.0)
        x0 = rng.uniform(21.5, 24.5)
        tau = rng.uniform(0.2, 0.8)
        m = 1000
        p = floor + (1.0 - floor) * expit(k * (x - x0) + rng.normal(0.0, tau, n_models))
        y = rng.binomial(m, p) / m
        out.append({"floor": floor, "compute": 10.0**x, "x": x, "y": y})
    return out


def reference(b: dict, weights: np.ndarray, p0: np.ndarray, clock: Clock) -> np.ndarray:
    """One curve_fit per resample (fixed ceiling 1), started at the full-fit parameters."""
    floor, x, y = b["floor"], b["x"], b["y"]

    def f(xx: np.ndarray, x0: float, k: float) -> np.ndarray:
        return floor + (1.0 - floor) * expit(k * (xx - x0))

    clock.__enter__()
    full, _ = curve_fit(f, x, y, p0=p0)
    params = np.full((weights.shape[0], 2), np.nan)
    idx_all = np.arange(x.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        for r, w in enumerate(weights):
            idx = np.repeat(idx_all, w.astype(int))
            try:
                params[r], _ = curve_fit(f, x[idx], y[idx], p0=full)
            except RuntimeError:
                pass
    clock.__exit__()
    return params


BUDGET = 2.0
"""Seconds a one-benchmark forecast with 1,000 resamples may take, whole command."""
OBSSCALING = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "obsscaling"
              / "base_llm_benchmark_eval.csv")
_COLUMNS = {"MMLU": "mmlu", "GSM8K": "gsm8k", "Winograd": "winogrande"}
_THRESHOLDS = {"mmlu": 0.7, "gsm8k": 0.6, "winogrande": 0.8}


def _tripwire(*args: str) -> list[str]:
    """The command line as a fresh process of this interpreter (PYTHONPATH chooses the
    tripwire measured, so an older tree can be timed with the same environment)."""
    return [sys.executable, "-c", "import sys; from tripwire.cli import main; "
            "sys.argv[0] = 'tripwire'; sys.exit(main())", *args]


def _register(folder: Path) -> str:
    """A register of the obsscaling base models that have training compute."""
    import pandas as pd

    base = pd.read_csv(OBSSCALING)
    base = base[base["FLOPs (1E21)"].notna()]
    names = "obs:" + base["Model"]
    src = "Ruan et al. 2024 (arXiv 2405.10938) base_llm_benchmark_eval.csv"
    pd.DataFrame({"name": names, "compute": base["FLOPs (1E21)"] * 1e21,
                  "source": src}).to_csv(folder / "models.csv", index=False)
    rows = [{"model": n, "benchmark": b, "metric": "acc", "value": v, "source": src}
            for col, b in _COLUMNS.items()
            for n, v in zip(names, base[col], strict=True) if np.isfinite(v)]
    pd.DataFrame(rows).to_csv(folder / "evals.csv", index=False)
    db = str(folder / "tripwire.db")
    subprocess.run(_tripwire("init", "--db", db), check=True, capture_output=True)
    subprocess.run(_tripwire("ingest", str(folder / "models.csv"), str(folder / "evals.csv"),
                             "--db", db), check=True, capture_output=True)
    return db


def _timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the child's) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[3:])} failed: {done.stderr.decode()[-400:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def command(rounds: int, boot: int) -> None:
    if not OBSSCALING.exists():
        print(f"command: skipped, {OBSSCALING} is missing")
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = _register(Path(tmp))
        cmds = {"tripwire forecast --help (reference)": _tripwire("forecast", "--help")}
        for b, thr in _THRESHOLDS.items():
            cmds[f"tripwire forecast {b} --threshold {thr:g}"] = _tripwire(
                "forecast", b, "--threshold", f"{thr:g}", "--n-boot", str(boot), "--db", db)
        for argv in cmds.values():  # warm the file cache once
            _timed(argv)
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
        for _ in range(rounds):
            for label, argv in cmds.items():
                times[label].append(_timed(argv))
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"whole command, {boot} resamples, median of {rounds} interleaved rounds "
          f"({os.cpu_count()} cores; load average {' '.join(load)})")
    ref = statistics.median(w for w, _ in next(iter(times.values())))
    width = max(map(len, times))
    print(f"{'':<{width}}  wall s  CPU s  wall/reference")
    for label, ts in times.items():
        wall = statistics.median(w for w, _ in ts)
        cpu = statistics.median(c for _, c in ts)
        verdict = "" if "reference" in label else (
            f"  budget {BUDGET:g} s: {'ok' if cpu <= BUDGET else 'OVER'} (CPU)")
        print(f"{label:<{width}}  {wall:6.2f}  {cpu:5.2f}  {wall / ref:5.1f}x{verdict}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=("fit", "command"), default=None)
    ap.add_argument("--benchmarks", type=int, default=60)
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    if a.only != "fit":
        command(a.rounds, a.boot)
    if a.only != "command":
        fits(a)


def fits(a: argparse.Namespace) -> None:
    data = simulate(a.benchmarks, a.models, a.seed)

    # tripwire, least squares with the metadata ceiling (the reference's model)
    ours_clock = Clock()
    with ours_clock:
        curves = [CapabilityCurve(floor=b["floor"], ceiling=1.0, n_boot=a.boot, seed=i)
                  .fit(b["compute"], b["y"]) for i, b in enumerate(data)]

    # reference loop on the same resamples
    ref_clock = Clock()
    diffs, bounds, failed, total = [], [], 0, 0
    for i, (b, cv) in enumerate(zip(data, curves, strict=True)):
        W = _bootstrap_weights(a.models, a.boot, i)
        p0 = np.array([cv.params_["midpoint_log10_flop"], cv.params_["slope_per_decade"]])
        ref = reference(b, W, p0, ref_clock)
        ok = np.all(np.isfinite(ref), axis=1)
        failed += int((~ok).sum())
        total += ref.shape[0]
        ours = cv.boot_
        x = b["x"]
        f_ours = b["floor"] + (1 - b["floor"]) * expit(ours[:, :1] + ours[:, 1:2]
                                                       * (x[None, :] - cv.xbar_))
        f_ref = b["floor"] + (1 - b["floor"]) * expit(ref[:, 1:2] * (x[None, :] - ref[:, :1]))
        diffs.append(np.max(np.abs(f_ours - f_ref), axis=1)[ok])
        top = int(np.argmax(x))  # 95 % percentile interval of the score of the largest model
        bounds.append(np.abs(np.quantile(f_ours[ok, top], [0.025, 0.975])
                             - np.quantile(f_ref[ok, top], [0.025, 0.975])).max())
    d = np.concatenate(diffs)

    # the binomial-likelihood fit with a fitted ceiling: the harder default case, ours only
    mle_clock = Clock()
    with mle_clock:
        for i, b in enumerate(data):
            CapabilityCurve(floor=b["floor"], ceiling=None, n_boot=a.boot, seed=i).fit(
                b["compute"], b["y"], np.full(a.models, 1000))

    conv = np.mean([cv.boot_converged_.mean() for cv in curves])
    print(f"{a.benchmarks} benchmarks x {a.models} models x {a.boot} bootstrap resamples")
    print("                                                     wall s    CPU s")
    print(f"tripwire CapabilityCurve.fit (least squares, c = 1): {ours_clock.wall:7.2f} "
          f"{ours_clock.cpu:8.2f}   (converged {conv:.1%})")
    print(f"scipy curve_fit loop, same resamples:                {ref_clock.wall:7.2f} "
          f"{ref_clock.cpu:8.2f}   ({failed} of {total} fits failed)")
    print(f"speed-up: {ref_clock.wall / ours_clock.wall:.1f}x wall, "
          f"{ref_clock.cpu / ours_clock.cpu:.1f}x CPU")
    print(f"fitted-score difference per resample (max over models): median {np.median(d):.2e},"
          f" 99.9th pct {np.quantile(d, 0.999):.2e}, max {d.max():.2e}; "
          f"share < 1e-4: {np.mean(d < 1e-4):.4f}")
    print(f"95 % bootstrap interval of the largest model's score, largest difference in a "
          f"bound: {max(bounds):.1e}")
    print(f"tripwire binomial MLE, fitted ceiling (3 params): {mle_clock.wall:7.2f} "
          f"{mle_clock.cpu:8.2f}")


if __name__ == "__main__":
    main()
