"""Backtests: fit on what was known at each cutoff (compute or date), predict what came after."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

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


def _log10(v: float) -> float | None:
    if v == math.inf:
        return math.inf
    return math.log10(v) if v > 0 else -math.inf


@dataclass(frozen=True)
class _Axis:
    """What sets a backtest in compute apart from one in time, besides the model it fits."""

    name: str
    """`Backtest.axis`."""
    tol: float
    """A model this far past a cutoff (log10 FLOP, years) still counts as known at it."""
    cutoff_column: str
    """Name of the cutoff in `Backtest.cutoffs`."""
    label_format: str
    """Format of a cutoff in the `skipped` messages."""
    transformed: bool
    """Errors measured in the trend's transformed space (log2 or logit), not in score units."""
    lead_units: str
    lead_scale: float
    """Lead units per axis unit."""
    value: Callable[[float], Any]
    """A place on the axis as reported: log10 FLOP, or a date."""
    position: Callable[[Any], float]
    """A reported value back to its place on the axis."""


_COMPUTE = _Axis("compute", 1e-12, "cutoff_log10_flop", "g", False, "decades of compute", 1.0,
                 float, float)
_DATE = _Axis("date", 1e-9, "cutoff", "", True, "days", DAYS_PER_YEAR, _date, _year)


class _Judged(NamedTuple):
    """A fit's forecasts for the models after its cutoff."""

    predictions: pd.DataFrame
    """predicted, lo80, hi80, lo95, hi95 per later model."""
    where: dict[str, list[Any]]
    """Columns placing each later model on the axis (and how far past the cutoff)."""
    errors: np.ndarray
    """actual - predicted, in score units or the transformed space (`_Axis.transformed`)."""
    extra: dict[str, Any]
    """More columns for the cutoff's row."""
    draws: np.ndarray | None = None
    """Predictive draws (n_draws, later models) in the values' units, for PIT and threshold
    probabilities."""


def _default_cutoffs(sorted_pos: np.ndarray, first: int, message: str) -> np.ndarray:
    """6 evenly spaced cutoffs, from the first place where `first + 1` models are known and
    span one unit (a decade of compute, a year) to the last one leaving 3 later models."""
    start = None
    for j in range(first, sorted_pos.size):
        if sorted_pos[j] - sorted_pos[0] >= 1.0:
            start = sorted_pos[j]
            break
    if start is None or sorted_pos.size < first + 4 or start >= sorted_pos[-4]:
        raise InsufficientEvidence(message)
    return np.linspace(start, sorted_pos[-4], 6)


def _walk_forward(axis: _Axis, pos: np.ndarray, values: np.ndarray, ok: np.ndarray,
                  cut: np.ndarray, *, names: Sequence[str] | None, frontier: bool,
                  threshold: float | None, fit: Callable[[np.ndarray], Any],
                  judge: Callable[[Any, float, np.ndarray], _Judged],
                  crossing: Callable[[Any, float], Sequence[Any]],
                  events: Sequence[float] = ()) -> Backtest:
    """The walk-forward loop shared by both backtests.

    At each cutoff, `fit(train mask)` the models known then (`ok` and at most the cutoff),
    `judge(fit, cutoff, test mask)` its forecasts for every later model (with `frontier`, every
    later frontier model) and, with a threshold, take the 10/50/90 % quantiles of
    `crossing(fit, threshold)` in reported units. A cutoff that knows the same models as an
    earlier one is passed over; one with no later model, or whose fit fails, is noted in
    `skipped`.

    With predictive draws, each prediction also gets its PIT (the predictive CDF at the
    actual value, for reliability diagrams) and, for each level in `events`,
    P(value >= level) with the outcome.
    """
    nm = list(names) if names is not None else [str(i) for i in range(values.size)]
    actual = None
    if threshold is not None:
        hit = ok & (values >= threshold)
        actual = float(pos[hit].min()) if hit.any() else None
    # a frontier forecast is judged on later frontier models only
    judged = ok.copy()
    if frontier:
        judged[np.flatnonzero(ok)[~frontier_mask(pos[ok], values[ok])]] = False
    rows: list[dict[str, Any]] = []
    preds: list[dict[str, Any]] = []
    skipped: list[str] = []
    seen: set[bytes] = set()
    for cu in cut:
        train = ok & (pos <= cu + axis.tol)
        test = judged & (pos > cu + axis.tol)
        if train.tobytes() in seen:
            continue  # same models known as at an earlier cutoff
        seen.add(train.tobytes())
        key = axis.value(float(cu))
        label = format(key, axis.label_format)
        if not test.any():
            skipped.append(f"{label}: no later model")
            continue
        try:
            model = fit(train)
        except InsufficientEvidence as e:
            skipped.append(f"{label}: {e.message}")
            continue
        got = judge(model, cu, test)
        pr, actual_v = got.predictions, values[test]
        in80 = (pr["lo80"].to_numpy() <= actual_v) & (actual_v <= pr["hi80"].to_numpy())
        in95 = (pr["lo95"].to_numpy() <= actual_v) & (actual_v <= pr["hi95"].to_numpy())
        cols = {k: pr[k].to_numpy(dtype=float) for k in ("predicted", "lo80", "hi80", "lo95",
                                                          "hi95")}
        pit = None
        if got.draws is not None:
            dr = got.draws
            pit = (np.mean(dr < actual_v[None, :], axis=0)
                   + 0.5 * np.mean(dr == actual_v[None, :], axis=0))
            probs = {f"p_ge_{ev:g}": np.mean(dr >= ev, axis=0) for ev in events}
        for j, i in enumerate(np.flatnonzero(test)):
            rec = {"cutoff": key, "model": nm[i], **{k: c[j] for k, c in got.where.items()},
                   "actual": float(values[i])}
            if axis.transformed:
                rec["error_transformed"] = float(got.errors[j])
            if pit is not None:
                rec["pit"] = float(pit[j])
                for k, pv in probs.items():
                    rec[k] = float(pv[j])
            preds.append({**rec, **{k: float(c[j]) for k, c in cols.items()},
                          "in80": bool(in80[j]), "in95": bool(in95[j])})
        row: dict[str, Any] = {axis.cutoff_column: key, "n_train": model.n_models_,
                               "n_test": int(test.sum()),
                               ("mae_transformed" if axis.transformed else "mae"):
                                   float(np.abs(got.errors).mean()),
                               "coverage80": float(in80.mean()),
                               "coverage95": float(in95.mean()), **got.extra}
        if threshold is not None:
            try:
                p10, p50, p90 = crossing(model, threshold)
                row.update(crossing_p10=p10, crossing_median=p50, crossing_p90=p90)
            except InsufficientEvidence as e:
                row.update(crossing_p10=None, crossing_median=None, crossing_p90=None)
                skipped.append(f"{label}: crossing: {e.message}")
        rows.append(row)
    cutoffs = pd.DataFrame(rows)
    predictions = pd.DataFrame(preds)
    lead: float | None = None
    before: int | None = None
    if actual is not None and rows:
        def at(col: str, missing: float) -> np.ndarray:
            return np.array([missing if r[col] is None else axis.position(r[col]) for r in rows])
        at_cutoff = np.array([axis.position(r[axis.cutoff_column]) for r in rows])
        lead = _lead(at_cutoff, at("crossing_p10", np.inf), at("crossing_p90", -np.inf), actual)
        lead = None if lead is None else lead * axis.lead_scale
        before = int((at_cutoff < actual).sum())
    summary = _summarise(predictions, rows, lead, None if actual is None else axis.value(actual),
                         skipped)
    summary["cutoffs_before_crossing"] = before
    if axis.transformed and len(predictions):
        summary["mae_transformed"] = float(predictions["error_transformed"].abs().mean())
        for k in ("mae", "rmse", "bias"):
            summary.pop(k, None)
    summary["lead_units"] = axis.lead_units
    return Backtest(axis.name, cutoffs, predictions, summary)


def backtest_compute(compute_flop: ArrayLike, scores: ArrayLike, *, floor: float,
                     ceiling: float | None = None, samples: ArrayLike | None = None,
                     cutoffs_log10_flop: Sequence[float] | None = None,
                     threshold: float | None = None, frontier: bool = False,
                     names: Sequence[str] | None = None, n_boot: int = 300,
                     seed: int = 0, events: Sequence[float] = (),
                     calibrate: bool = True) -> Backtest:
    """Backtest the score-vs-compute forecast at several compute levels.

    At each cutoff, fit on models at or below that compute and predict every larger model's
    score (with `frontier`, every larger frontier model's). Default cutoffs: up to 6 evenly
    spaced levels from the first one with enough models and a decade of compute, to the last
    one leaving 3 larger models. Lead time is in decades. Each cutoff's fit calibrates its
    own model-error term on the models it knows (`calibrate`), so the backtest judges the
    intervals as a forecast then would have shown them. `events`: score levels whose
    exceedance probabilities are recorded (p_ge_<level>) beside each prediction.
    """
    c = _floats("compute_flop", compute_flop, allow_nan=True)
    y = _floats("scores", scores)
    ok = np.isfinite(c) & (c > 0)
    if not ok.any():
        raise InsufficientEvidence("no model has an effective compute figure")
    x = np.log10(np.where(ok, c, 1.0))
    sm = None if samples is None else np.asarray(samples, dtype=object).ravel()
    if cutoffs_log10_flop is None:
        cut = np.unique(np.round(_default_cutoffs(
            np.sort(x[ok]), 4, "too few models spread over too little compute for a backtest"),
            2))
    else:
        cut = np.asarray(cutoffs_log10_flop, dtype=float)

    def fit(train: np.ndarray) -> CapabilityCurve:
        curve = CapabilityCurve(floor=floor, ceiling=ceiling, frontier=frontier,
                                n_boot=n_boot, seed=seed, calibrate=calibrate)
        return curve.fit(10.0 ** x[train], y[train], None if sm is None else sm[train])

    def judge(curve: CapabilityCurve, cu: float, test: np.ndarray) -> _Judged:
        pr = curve.predict(10.0 ** x[test])
        where = {"log10_flop": [float(a) for a in x[test]],
                 "decades_ahead": [float(a - cu) for a in x[test]],
                 "decades_past_data": [float(a) for a in curve._past(x[test])]}
        return _Judged(pr, where, y[test] - pr["predicted"].to_numpy(), {},
                       curve.draws(10.0 ** x[test]))

    def crossing(curve: CapabilityCurve, threshold: float) -> list[float | None]:
        q = curve.crossing(threshold).compute_quantiles
        return [_log10(q[k]) for k in ("0.1", "0.5", "0.9")]

    return _walk_forward(_COMPUTE, x, y, ok, cut, names=names, frontier=frontier,
                         threshold=threshold, fit=fit, judge=judge, crossing=crossing,
                         events=events)


def backtest_time(dates: Sequence[dt.date | str | None], values: ArrayLike, *,
                  transform: Literal["log2", "logit"] = "log2", floor: float | None = None,
                  ceiling: float | None = None, cutoffs: Sequence[dt.date | str] | None = None,
                  threshold: float | None = None, frontier: bool = False,
                  since: dt.date | str | None = None, names: Sequence[str] | None = None,
                  n_boot: int = 300, seed: int = 0, events: Sequence[float] = (),
                  calibrate: bool = True) -> Backtest:
    """Backtest a time trend: at each cutoff date fit the models released by then, predict the
    later ones (with `frontier`, the later frontier models). Default cutoffs: up to 6 dates
    evenly spaced from the first with 4 models over a year to the last leaving 3 later models.
    Lead time is in days."""
    v = _floats("values", values, allow_nan=True)
    t = np.array([_year(d) if d is not None else np.nan for d in dates])
    ok = np.isfinite(t) & np.isfinite(v)
    if since is not None:
        ok &= t >= _year(since)
    if cutoffs is None:
        cut = np.unique(_default_cutoffs(np.sort(t[ok]), 3, "too few dated models for a backtest"))
    else:
        cut = np.array([_year(d) for d in cutoffs])

    def fit(train: np.ndarray) -> TimeTrend:
        tr = TimeTrend(transform=transform, floor=floor, ceiling=ceiling, frontier=frontier,
                       n_boot=n_boot, seed=seed, calibrate=calibrate)
        return tr.fit([_date(float(a)) for a in t[train]], v[train])

    def judge(tr: TimeTrend, cu: float, test: np.ndarray) -> _Judged:
        when = [_EPOCH + dt.timedelta(days=round(float(a) * DAYS_PER_YEAR)) for a in t[test]]
        pr = tr.predict(when)
        z_pred = tr._to_space(np.maximum(pr["predicted"].to_numpy(), 1e-300))
        z_act = tr._to_space(np.maximum(v[test], 1e-300))
        where: dict[str, list[Any]] = {
            "date": when, "days_ahead": [float((a - cu) * DAYS_PER_YEAR) for a in t[test]],
            "years_past_data": [float(a) for a in tr._past(t[test])]}
        return _Judged(pr, where, z_act - z_pred, {"doubling_days": tr.doubling_days_},
                       tr.draws(t[test]))

    def crossing(tr: TimeTrend, threshold: float) -> list[dt.date | None]:
        dq = tr.crossing(threshold).date_quantiles
        return [dq["0.1"], dq["0.5"], dq["0.9"]]

    return _walk_forward(_DATE, t, v, ok, cut, names=names, frontier=frontier,
                         threshold=threshold, fit=fit, judge=judge, crossing=crossing,
                         events=events)
