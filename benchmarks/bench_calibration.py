"""Benchmark: do tripwire's forecast intervals cover what they claim beyond the data?

Measures, on the public data in ``<repo>/../shared/data``, the floors of the calibration work:

1. Chinchilla (Epoch's 240 runs, and all 245): fit the loss law below a compute cut, predict
   the largest 10 % and 20 % of runs; empirical coverage of the 80 % and 95 % prediction
   intervals and the mean interval score (Gneiting & Raftery 2007).
2. Capability forecasts pooled over every benchmark with >= 20 models with compute in
   obsscaling, the Open LLM Leaderboard (compute joined from obsscaling), Gadre et al. 2024 and
   Pythia: Owen (2024)'s protocol, fit on every model below a compute cutoff and predict those
   up to one (and two) decades above it, cutoffs every half decade; coverage, mean absolute
   error in percentage points (beside Owen's ~6 pp on aggregate BIG-Bench Hard and ~18 pp on
   individual tasks), and the benchmarks whose 80 % coverage is below 0.5.
3. METR time horizons (v1.0 and v1.1), walk-forward by date: at each frontier release, fit the
   frontier released before it and predict its horizon; coverage of the 80 % interval.

Everything is computed by the library as shipped (whatever calibration it applies by default),
so one script gives the before and after columns.

    .venv/bin/python benchmarks/bench_calibration.py [--n-boot 200]
        [--only chinchilla,capability,metr] [--out predictions.csv]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _public_data as pub  # noqa: E402

from tripwire import forecast as fc  # noqa: E402
from tripwire.calibration import interval_score  # noqa: E402
from tripwire.errors import InsufficientEvidence  # noqa: E402
from tripwire.fit import ChinchillaLaw, ExtrapolationWarning  # noqa: E402


def chinchilla(n_boot: int) -> list[dict]:
    rows = []
    for epoch in (True, False):
        df = pub.chinchilla(epoch)
        for frac in (0.1, 0.2):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExtrapolationWarning)
                res = ChinchillaLaw(n_boot=n_boot).holdout(
                    df.params_N, df.tokens_D, df.loss, df.flops_C, fraction=frac)
            t = res.table
            is80 = interval_score(t.lo80, t.hi80, t.observed, 0.8).mean()
            is95 = interval_score(t.lo95, t.hi95, t.observed, 0.95).mean()
            rows.append({"data": "Epoch 240" if epoch else "all 245", "held_out": f"top {frac:.0%}",
                         "n_test": res.n_test, "coverage80": res.coverage80,
                         "coverage95": res.coverage95, "interval_score80": is80,
                         "interval_score95": is95, "mae": res.mean_abs_error,
                         "seconds": time.perf_counter() - t0})
    return rows


def _cutoffs(x: np.ndarray, step: float = 0.5, min_models: int = 8) -> np.ndarray:
    xs = np.sort(x)
    if xs.size <= min_models:
        return np.empty(0)
    start = max(xs[min_models - 1], xs[0] + 1.0)
    return np.arange(start, xs[-1] - 0.05, step)


def capability(n_boot: int) -> tuple[pd.DataFrame, list[str]]:
    preds = []
    skipped = []
    for s in pub.capability_series():
        x = np.log10(s["compute"])
        cut = _cutoffs(x)
        if cut.size == 0:
            skipped.append(f"{s['name']}: too few models")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bt = fc.backtest_compute(s["compute"], s["scores"], floor=s["chance"],
                                         cutoffs_log10_flop=list(cut), n_boot=n_boot)
        except InsufficientEvidence as e:
            skipped.append(f"{s['name']}: {e.message}")
            continue
        p = bt.predictions
        if not len(p):
            first = "; ".join(bt.summary["skipped"][:1])
            skipped.append(f"{s['name']}: no cutoff could be fitted ({first})")
            continue
        p = p[p["decades_ahead"] <= 2.0].copy()
        p["benchmark"] = s["name"]
        preds.append(p)
    return pd.concat(preds, ignore_index=True), skipped


def _summ(p: pd.DataFrame) -> dict:
    err = (p["actual"] - p["predicted"]).abs()
    return {"n": len(p), "benchmarks": p["benchmark"].nunique(),
            "coverage80": p["in80"].mean(), "coverage95": p["in95"].mean(),
            "mae_pp": 100 * err.mean(),
            "interval_score80": interval_score(p.lo80, p.hi80, p.actual, 0.8).mean(),
            "interval_score95": interval_score(p.lo95, p.hi95, p.actual, 0.95).mean()}


def metr(n_boot: int) -> list[dict]:
    rows = []
    for version in ("1.0", "1.1"):
        d = pub.metr(version).sort_values("release_date").reset_index(drop=True)
        dates = [dt.date.fromisoformat(v) for v in d["release_date"]]
        t = np.array([(x - dt.date(1970, 1, 1)).days for x in dates], dtype=float)
        y = d["p50_minutes"].to_numpy(dtype=float)
        front = fc.frontier_mask(t, y)
        hits = []
        for i in np.flatnonzero(front):
            before = t < t[i]
            if before.sum() < 4 or (t[before].max() - t[before].min()) < 365:
                continue
            try:
                tr = fc.TimeTrend(transform="log2", frontier=True, n_boot=n_boot).fit(
                    [x for x, b in zip(dates, before, strict=True) if b], y[before])
            except InsufficientEvidence:
                continue
            pr = tr.predict([dates[i]]).iloc[0]
            hits.append({"in80": pr.lo80 <= y[i] <= pr.hi80, "in95": pr.lo95 <= y[i] <= pr.hi95,
                         "log2_err": abs(math.log2(y[i]) - math.log2(pr.predicted))})
        h = pd.DataFrame(hits)
        rows.append({"metr": f"v{version}", "n": len(h), "coverage80": h.in80.mean(),
                     "coverage95": h.in95.mean(), "mae_log2": h.log2_err.mean()})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--only", default="chinchilla,capability,metr")
    ap.add_argument("--out", type=Path, default=None, help="write the capability predictions (CSV)")
    a = ap.parse_args()
    if not pub.available():
        sys.exit(f"public data not found at {pub.DATA}")
    parts = set(a.only.split(","))
    pd.set_option("display.width", 200)
    if "chinchilla" in parts:
        print("== Chinchilla: fit below the compute cut, predict the largest runs "
              "(floor: cov80 in [0.70, 0.90], cov95 >= 0.90)")
        print(pd.DataFrame(chinchilla(1000)).to_string(index=False, float_format="%.3f"))
    if "capability" in parts:
        t0 = time.perf_counter()
        p, skipped = capability(a.n_boot)
        if a.out:
            p.to_csv(a.out, index=False)
        print(f"\n== Capability, Owen (2024) protocol, {time.perf_counter() - t0:.0f} s "
              "(floor at 1 decade: cov80 in [0.70, 0.90], cov95 >= 0.90)")
        one = p[p.decades_ahead <= 1.0]
        two = p[(p.decades_ahead > 1.0) & (p.decades_ahead <= 2.0)]
        print(pd.DataFrame([{"ahead": "<= 1 decade", **_summ(one)},
                            {"ahead": "1-2 decades", **_summ(two)}]).to_string(
            index=False, float_format="%.3f"))
        bbh = one[one.benchmark == "obsscaling-v2/leaderboard_bbh"]
        if len(bbh):
            print(f"aggregate BBH (Open LLM Leaderboard v2), 1 decade: MAE "
                  f"{100 * (bbh.actual - bbh.predicted).abs().mean():.1f} pp over {len(bbh)} "
                  "predictions (Owen 2024: ~6 pp)")
        per = one.groupby("benchmark").agg(n=("in80", "size"), cov80=("in80", "mean"),
                                           cov95=("in95", "mean"))
        low = per[per.cov80 < 0.5]
        per_mae = (one.actual - one.predicted).abs().groupby(one.benchmark).mean()
        print(f"per-benchmark mean absolute error (pp), median over benchmarks: "
              f"{100 * per_mae.median():.1f} (Owen 2024: ~18 pp on individual tasks)")
        print(f"benchmarks with 80 % coverage < 0.5 at 1 decade: {len(low)} of {len(per)}")
        if len(low):
            print(low.to_string(float_format="%.2f"))
        if skipped:
            print(f"{len(skipped)} series not backtested: " + "; ".join(skipped[:8])
                  + (" ..." if len(skipped) > 8 else ""))
    if "metr" in parts:
        print("\n== METR time horizons, walk-forward by date: next frontier model "
              "(floor: cov80 in [0.70, 0.90])")
        print(pd.DataFrame(metr(1000)).to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    main()
