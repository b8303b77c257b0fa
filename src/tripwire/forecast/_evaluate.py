"""Scores of a backtest's predictions: error by extrapolation distance, interval coverage,
interval score (Gneiting & Raftery 2007) and reliability diagrams, per series and pooled."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tripwire.calibration import interval_score, probability_reliability, reliability

MIN_CUTOFFS = 3
"""Fewest cutoffs whose fits predicted later models for a backtest to judge intervals."""
MIN_HELD_OUT = 5
"""Fewest held-out predictions for a backtest to judge intervals."""
FAILED_BELOW = 0.5
"""Intervals whose 80 % coverage in the backtest is below this failed it."""

PROTOCOLS = ("owen", "ruan", "walk-forward")
"""Backtest protocols: Owen (2024), fit on every model below a compute cutoff and predict up
to two decades above it, cutoffs every half decade; Ruan et al. (2024), one fixed training
compute cutoff, fit on the models at or below it and predict every larger model; walk-forward,
fit on what was known at each cutoff (compute or date) and predict everything after it."""
RUAN_CUTOFF_FLOP = 8.4e22
"""The default cutoff of Ruan, Maddison & Hashimoto (2024): the training compute of
Llama-2 7B. Their code (``utils/data.py``, ``split_data``, method ``cutoff_by_FLOPs (1E21)``,
threshold 84 in their README and for BIG-Bench Hard) fits the models with training FLOPs at
or below it and predicts the rest; some benchmarks use a later model's compute (GPQA 1.68e23,
MATH 2.52e23), hence ``--cutoff``."""


def protocol_cutoffs(x: np.ndarray, protocol: str, *, cutoff: float | None = None,
                     min_models: int = 8, step: float = 0.5) -> np.ndarray:
    """Cutoffs (log10 FLOP) for a compute backtest under `protocol`.

    owen: every `step` decades from where `min_models` models over a decade are known to the
    last model; ruan: `cutoff`, by default log10 of :data:`RUAN_CUTOFF_FLOP`.
    """
    xs = np.sort(x[np.isfinite(x)])
    if protocol == "ruan":
        return np.array([math.log10(RUAN_CUTOFF_FLOP) if cutoff is None else cutoff])
    if xs.size <= min_models:
        return np.empty(0)
    start = max(xs[min_models - 1], xs[0] + 1.0)
    return np.arange(start, xs[-1] - 1e-9, step)


def score(pred: pd.DataFrame, *, distance: str, bins: Sequence[float]) -> dict[str, Any]:
    """Scores of backtest predictions (one row each: actual, predicted, lo/hi 80/95, in80,
    in95, optional pit and p_ge_<level> columns, and the `distance` column)."""
    if not len(pred):
        return {"n_predictions": 0}
    err = (pred["actual"] - pred["predicted"]).abs()
    out: dict[str, Any] = {
        "n_predictions": int(len(pred)),
        "mae": float(err.mean()),
        "coverage80": float(pred["in80"].mean()),
        "coverage95": float(pred["in95"].mean()),
        "interval_score80": float(np.mean(interval_score(pred["lo80"], pred["hi80"],
                                                         pred["actual"], 0.8))),
        "interval_score95": float(np.mean(interval_score(pred["lo95"], pred["hi95"],
                                                         pred["actual"], 0.95))),
    }
    d = pred[distance].to_numpy(dtype=float)
    by = []
    edges = list(bins)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (d > lo) & (d <= hi)
        if m.any():
            by.append({"from": lo, "to": hi, "n": int(m.sum()), "mae": float(err[m].mean()),
                       "coverage80": float(pred["in80"][m].mean()),
                       "coverage95": float(pred["in95"][m].mean())})
    out["by_distance"] = by
    if "pit" in pred:
        out["reliability"] = reliability(pred["pit"].to_numpy(dtype=float))
    pcols = [c for c in pred.columns if c.startswith("p_ge_")]
    if pcols:
        probs, outcomes = [], []
        for c in pcols:
            level = float(c[5:])
            probs.append(pred[c].to_numpy(dtype=float))
            outcomes.append((pred["actual"].to_numpy(dtype=float) >= level).astype(float))
        out["probability_reliability"] = probability_reliability(np.concatenate(probs),
                                                                 np.concatenate(outcomes))
    return out


def verdict(summary: dict[str, Any] | None, *, error: str | None = None,
            model_error: dict[str, Any] | None = None) -> tuple[str, str]:
    """How far a forecast's intervals can be trusted, from its walk-forward backtest:
    ("calibrated" | "failed" | "not calibrated", one line a reader sees beside the forecast).

    "not calibrated" when the backtest could not be run (`error`) or judged too little (fewer
    than MIN_CUTOFFS cutoffs or MIN_HELD_OUT later models); "failed" when its 80 % intervals
    covered under half of the later models, or the model-error term's own walk-forward fits
    (`model_error`, `tripwire.calibration.ModelError.to_dict`) did.
    """
    s = summary or {}
    n_cut, n_pred = int(s.get("n_cutoffs") or 0), int(s.get("n_predictions") or 0)
    if error is not None or n_cut < MIN_CUTOFFS or n_pred < MIN_HELD_OUT:
        why = error or (f"{n_cut} usable cutoff{'s' if n_cut != 1 else ''} and {n_pred} "
                        f"later model{'s' if n_pred != 1 else ''} predicted; a backtest needs "
                        f"at least {MIN_CUTOFFS} cutoffs and {MIN_HELD_OUT} later models")
        detail = "" if "for a backtest" in why else f" ({why})"
        return ("not calibrated", f"not calibrated: too few models for a backtest{detail}; "
                                  "the intervals are not checked out of sample")
    cov80, cov95 = float(s["coverage80"]), float(s["coverage95"])
    own = ((model_error or {}).get("calibrated_coverage") or {}).get("80")
    where = f"{n_pred} later models over {n_cut} walk-forward cutoffs"
    if cov80 < FAILED_BELOW:
        return ("failed", f"intervals failed their backtest: the 80 % intervals covered "
                          f"{cov80:.0%} of {where}; do not read them as calibrated")
    if own is not None and own < FAILED_BELOW:
        return ("failed", f"intervals failed their backtest: the model-error term's own "
                          f"walk-forward fits put {own:.0%} inside their 80 % intervals; do "
                          "not read them as calibrated")
    return ("calibrated", f"backtested out of sample: the 80 % intervals covered {cov80:.0%} "
                          f"and the 95 % intervals {cov95:.0%} of {where}")
