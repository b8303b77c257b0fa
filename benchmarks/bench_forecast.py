"""Benchmark: score-vs-compute sigmoid fits with 1,000-resample bootstraps.

60 simulated benchmarks x 200 models. tripwire's `CapabilityCurve.fit` (grid start, batched
Levenberg-Marquardt over all resamples at once) against a straightforward loop of
`scipy.optimize.curve_fit`, one call per resample, started from the same full fit, on the same
resamples. Prints both times, the ratio, and how far apart the fitted values are.

    .venv/bin/python benchmarks/bench_forecast.py [--benchmarks 60] [--models 200] [--boot 1000]
"""

from __future__ import annotations

import os

# one BLAS thread for both contenders, so CPU time compares like with like on a shared machine
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--benchmarks", type=int, default=60)
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
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
