"""Backtests: fit on what was known at each cutoff (compute or date), predict what came after."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from tripwire.errors import InsufficientEvidence
from tripwire.forecast._common import _EPOCH, DAYS_PER_YEAR, _date, _floats, _year
from tripwire.forecast._curve import CapabilityCurve, frontier_mask
from tripwire.forecast._trend import TimeTrend


@dataclass
class Backtest:
    """How past forecasts fared: fit on what was known at each cutoff, predict what came after.

    `cutoffs` has one row per cutoff (training size, error, interval coverage, the crossing
    forecast then); `predictions` one row per (cutoff, later model); `summary` pools them:
    mean absolute error, coverage of the 80 % and 95 % prediction intervals, and the lead
    time — how long before the threshold was first reached (in decades of compute, or days)
    every later forecast's 80 % crossing interval already contained the actual crossing.
    """

    axis: str
    cutoffs: pd.DataFrame
    predictions: pd.DataFrame
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"axis": self.axis, "summary": self.summary,
                "cutoffs": self.cutoffs.to_dict(orient="records")}


def _lead(cut: np.ndarray, lo: np.ndarray, hi: np.ndarray, actual: float | None) -> float | None:
    """Time (or compute) between the earliest cutoff from which every forecast's 80 % crossing
    interval was bounded and contained the actual crossing, and the crossing itself.
    None when it was never foreseen that way."""
    if actual is None:
        return None
    before = cut < actual
    if not before.any():
        return None
    ok = (lo <= actual) & (actual <= hi) & np.isfinite(hi)
    idx = np.flatnonzero(before)
    start = None
    for i in idx[::-1]:
        if ok[i]:
            start = i
        else:
            break
    return None if start is None else float(actual - cut[start])


def _summarise(preds: pd.DataFrame, rows: list[dict[str, Any]], lead: float | None,
               actual: float | dt.date | None, skipped: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"n_cutoffs": len(rows), "n_predictions": int(len(preds)),
                           "skipped": skipped, "actual_crossing": actual, "lead": lead,
                           "cutoffs_before_crossing": None}
    if len(preds):
        err = preds["actual"] - preds["predicted"]
        out.update(mae=float(err.abs().mean()), rmse=float(np.sqrt((err**2).mean())),
                   bias=float(err.mean()), coverage80=float(preds["in80"].mean()),
                   coverage95=float(preds["in95"].mean()))
    return out


def backtest_compute(compute_flop: ArrayLike, scores: ArrayLike, *, floor: float,
                     ceiling: float | None = None, samples: ArrayLike | None = None,
                     cutoffs_log10_flop: Sequence[float] | None = None,
                     threshold: float | None = None, frontier: bool = False,
                     names: Sequence[str] | None = None, n_boot: int = 300,
                     seed: int = 0) -> Backtest:
    """Backtest the score-vs-compute forecast at several compute levels.

    At each cutoff, fit on models at or below that compute and predict every larger model's
    score (with `frontier`, every larger frontier model's). Default cutoffs: up to 6 evenly
    spaced levels from the first one with enough models and a decade of compute, to the last
    one leaving 3 larger models. Lead time is in decades.
    """
    c = _floats("compute_flop", compute_flop, allow_nan=True)
    y = _floats("scores", scores)
    ok = np.isfinite(c) & (c > 0)
    if not ok.any():
        raise InsufficientEvidence("no model has an effective compute figure")
    x = np.log10(np.where(ok, c, 1.0))
    nm = list(names) if names is not None else [str(i) for i in range(y.size)]
    sm = None if samples is None else np.asarray(samples, dtype=object).ravel()
    xs = np.sort(x[ok])
    if cutoffs_log10_flop is None:
        start = None
        for j in range(4, xs.size):
            if xs[j] - xs[0] >= 1.0:
                start = xs[j]
                break
        if start is None or xs.size < 8 or start >= xs[-4]:
            raise InsufficientEvidence("too few models spread over too little compute for a "
                                       "backtest")
        cut = np.unique(np.round(np.linspace(start, xs[-4], 6), 2))
    else:
        cut = np.asarray(cutoffs_log10_flop, dtype=float)
    actual = None
    if threshold is not None:
        hit = ok & (y >= threshold)
        actual = float(x[hit].min()) if hit.any() else None
    # a frontier forecast is judged on later frontier models only
    judged = ok.copy()
    if frontier:
        judged[np.flatnonzero(ok)[~frontier_mask(x[ok], y[ok])]] = False
    rows, preds, skipped = [], [], []
    seen: set[bytes] = set()
    for cu in cut:
        train = ok & (x <= cu + 1e-12)
        test = judged & (x > cu + 1e-12)
        if train.tobytes() in seen:
            continue  # same models known as at an earlier cutoff
        seen.add(train.tobytes())
        if not test.any():
            skipped.append(f"{cu:g}: no later model")
            continue
        try:
            curve = CapabilityCurve(floor=floor, ceiling=ceiling, frontier=frontier,
                                    n_boot=n_boot, seed=seed)
            curve.fit(10.0 ** x[train], y[train], None if sm is None else sm[train])
        except InsufficientEvidence as e:
            skipped.append(f"{cu:g}: {e.message}")
            continue
        pr = curve.predict(10.0 ** x[test])
        actual_y = y[test]
        in80 = (pr["lo80"].to_numpy() <= actual_y) & (actual_y <= pr["hi80"].to_numpy())
        in95 = (pr["lo95"].to_numpy() <= actual_y) & (actual_y <= pr["hi95"].to_numpy())
        cols = {k: pr[k].to_numpy(dtype=float) for k in ("predicted", "lo80", "hi80", "lo95",
                                                          "hi95")}
        for j, i in enumerate(np.flatnonzero(test)):
            preds.append({"cutoff": float(cu), "model": nm[i], "log10_flop": float(x[i]),
                          "decades_ahead": float(x[i] - cu), "actual": float(y[i]),
                          **{k: float(v[j]) for k, v in cols.items()},
                          "in80": bool(in80[j]), "in95": bool(in95[j])})
        err = actual_y - pr["predicted"].to_numpy()
        row: dict[str, Any] = {"cutoff_log10_flop": float(cu), "n_train": curve.n_models_,
                               "n_test": int(test.sum()), "mae": float(np.abs(err).mean()),
                               "coverage80": float(in80.mean()),
                               "coverage95": float(in95.mean())}
        if threshold is not None:
            try:
                cf = curve.crossing(threshold)
                q = cf.compute_quantiles
                row.update(crossing_p10=_log10(q["0.1"]), crossing_median=_log10(q["0.5"]),
                           crossing_p90=_log10(q["0.9"]))
            except InsufficientEvidence as e:
                row.update(crossing_p10=None, crossing_median=None, crossing_p90=None)
                skipped.append(f"{cu:g}: crossing: {e.message}")
        rows.append(row)
    cutoffs = pd.DataFrame(rows)
    predictions = pd.DataFrame(preds)
    lead = None
    if threshold is not None and actual is not None and len(cutoffs):
        lo = cutoffs["crossing_p10"].astype(float).fillna(np.inf).to_numpy()
        hi = cutoffs["crossing_p90"].astype(float).fillna(-np.inf).to_numpy()
        lead = _lead(cutoffs["cutoff_log10_flop"].to_numpy(), lo, hi, actual)
    summary = _summarise(predictions, rows, lead, actual, skipped)
    summary["lead_units"] = "decades of compute"
    if actual is not None and len(cutoffs):
        summary["cutoffs_before_crossing"] = int((cutoffs["cutoff_log10_flop"] < actual).sum())
    return Backtest("compute", cutoffs, predictions, summary)


def _log10(v: float) -> float | None:
    if v == math.inf:
        return math.inf
    return math.log10(v) if v > 0 else -math.inf


def backtest_time(dates: Sequence[dt.date | str | None], values: ArrayLike, *,
                  transform: Literal["log2", "logit"] = "log2", floor: float | None = None,
                  ceiling: float | None = None, cutoffs: Sequence[dt.date | str] | None = None,
                  threshold: float | None = None, frontier: bool = False,
                  since: dt.date | str | None = None, names: Sequence[str] | None = None,
                  n_boot: int = 300, seed: int = 0) -> Backtest:
    """Backtest a time trend: at each cutoff date fit the models released by then, predict the
    later ones (with `frontier`, the later frontier models). Default cutoffs: up to 6 dates
    evenly spaced from the first with 4 models over a year to the last leaving 3 later models.
    Lead time is in days."""
    v = _floats("values", values, allow_nan=True)
    t = np.array([_year(d) if d is not None else np.nan for d in dates])
    ok = np.isfinite(t) & np.isfinite(v)
    if since is not None:
        ok &= t >= _year(since)
    nm = list(names) if names is not None else [str(i) for i in range(v.size)]
    ts = np.sort(t[ok])
    if cutoffs is None:
        start = None
        for j in range(3, ts.size):
            if ts[j] - ts[0] >= 1.0:
                start = ts[j]
                break
        if start is None or ts.size < 7 or start >= ts[-4]:
            raise InsufficientEvidence("too few dated models for a backtest")
        cut = np.unique(np.linspace(start, ts[-4], 6))
    else:
        cut = np.array([_year(d) for d in cutoffs])
    actual = None
    if threshold is not None:
        hit = ok & (v >= threshold)
        actual = float(t[hit].min()) if hit.any() else None
    judged = ok.copy()
    if frontier:
        judged[np.flatnonzero(ok)[~frontier_mask(t[ok], v[ok])]] = False
    rows, preds, skipped = [], [], []
    seen: set[bytes] = set()
    for cu in cut:
        train = ok & (t <= cu + 1e-9)
        test = judged & (t > cu + 1e-9)
        if train.tobytes() in seen:
            continue  # same models known as at an earlier cutoff
        seen.add(train.tobytes())
        label = _date(float(cu))
        if not test.any():
            skipped.append(f"{label}: no later model")
            continue
        try:
            tr = TimeTrend(transform=transform, floor=floor, ceiling=ceiling, frontier=frontier,
                           n_boot=n_boot, seed=seed)
            tr.fit([_date(float(a)) for a in t[train]], v[train])
        except InsufficientEvidence as e:
            skipped.append(f"{label}: {e.message}")
            continue
        test_dates = [_EPOCH + dt.timedelta(days=round(float(a) * DAYS_PER_YEAR))
                      for a in t[test]]
        pr = tr.predict(test_dates)
        actual_v = v[test]
        in80 = (pr["lo80"].to_numpy() <= actual_v) & (actual_v <= pr["hi80"].to_numpy())
        in95 = (pr["lo95"].to_numpy() <= actual_v) & (actual_v <= pr["hi95"].to_numpy())
        z_pred = tr._to_space(np.maximum(pr["predicted"].to_numpy(), 1e-300))
        z_act = tr._to_space(np.maximum(actual_v, 1e-300))
        cols = {k: pr[k].to_numpy(dtype=float) for k in ("predicted", "lo80", "hi80", "lo95",
                                                          "hi95")}
        for j, i in enumerate(np.flatnonzero(test)):
            preds.append({"cutoff": label, "model": nm[i], "date": test_dates[j],
                          "days_ahead": float((t[i] - cu) * DAYS_PER_YEAR),
                          "actual": float(v[i]), "error_transformed": float(z_act[j] - z_pred[j]),
                          **{k: float(c[j]) for k, c in cols.items()},
                          "in80": bool(in80[j]), "in95": bool(in95[j])})
        row: dict[str, Any] = {"cutoff": label, "n_train": tr.n_models_,
                               "n_test": int(test.sum()),
                               "mae_transformed": float(np.abs(z_act - z_pred).mean()),
                               "coverage80": float(in80.mean()),
                               "coverage95": float(in95.mean()),
                               "doubling_days": tr.doubling_days_}
        if threshold is not None:
            try:
                dq = tr.crossing(threshold).date_quantiles
                row.update(crossing_p10=dq["0.1"], crossing_median=dq["0.5"],
                           crossing_p90=dq["0.9"])
            except InsufficientEvidence as e:
                row.update(crossing_p10=None, crossing_median=None, crossing_p90=None)
                skipped.append(f"{label}: crossing: {e.message}")
        rows.append(row)
    cutoffs_df = pd.DataFrame(rows)
    predictions = pd.DataFrame(preds)
    lead = None
    if threshold is not None and actual is not None and len(cutoffs_df):
        def yrs(col: str, missing: float) -> np.ndarray:
            return np.array([_year(d) if d is not None else missing for d in cutoffs_df[col]])
        lead_years = _lead(np.array([_year(d) for d in cutoffs_df["cutoff"]]),
                           yrs("crossing_p10", np.inf), yrs("crossing_p90", -np.inf), actual)
        lead = None if lead_years is None else lead_years * DAYS_PER_YEAR
    summary = _summarise(predictions, rows, lead, None if actual is None else _date(actual),
                         skipped)
    if actual is not None and len(cutoffs_df):
        summary["cutoffs_before_crossing"] = int(sum(_year(d) < actual
                                                     for d in cutoffs_df["cutoff"]))
    if len(predictions):
        summary["mae_transformed"] = float(predictions["error_transformed"].abs().mean())
        summary.pop("mae", None)
        summary.pop("rmse", None)
        summary.pop("bias", None)
    summary["lead_units"] = "days"
    return Backtest("date", cutoffs_df, predictions, summary)
