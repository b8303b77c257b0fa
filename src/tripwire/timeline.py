"""A provider's timeline: when its own series of models is expected to reach each level of a
policy above the highest it has reached, as a distribution of dates with the assumptions
stated, recorded like a determination (the estimates the GPAI Code of Practice asks for in its
Safety and Security chapter, Measure 1.1(2)(c): "estimates of timelines when Signatories
reasonably foresee that they will have a model that exceeds the highest systemic risk tier
already reached by any of their existing models", which "may consist of time ranges or
probability distributions" supported by "underlying assumptions and uncertainties").

The series is the register's models of one organisation (or family). Each level's thresholds
are dated through their conditions: a comparison on training (or effective) compute by the
series' compute trend, one on a benchmark score by the trend of the series' scores on it
(`TimeTrend(logit)` from the benchmark's chance level), each as the date of the first release
over the threshold (`TimeTrend.first_crossing`), combined as the condition combines them (`or`:
the first of independent dates, `and`: the last; a level: the first of its thresholds). What
cannot be dated (an attestation, a flag, a quantity with no trend, a benchmark the series has
too few scores on) is named, and the bottom line says, level by level, what was judged and what
was not.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tripwire.errors import InputError, InsufficientEvidence
from tripwire.model import ComputeMethod, Model, utcnow

TOP_COMPUTE = 1e32
"""Compute beyond which a level counts as not reachable by compute (FLOP)."""


@dataclass
class ThresholdTimeline:
    """When one threshold's condition is expected to hold for the series, or why not judged."""

    threshold: str
    condition: str
    judged: bool
    """Whether the whole condition could be dated (False: `reason` says what is missing)."""
    date_quantiles: dict[str, dt.date | None] = field(default_factory=dict)
    probability: float | None = None
    basis: list[str] = field(default_factory=list)
    """What each dated comparison rests on."""
    reason: str | None = None


@dataclass
class LevelTimeline:
    level: str
    compute_flop: float | None
    """Smallest training compute at which the level is reached by compute alone (None: not by
    compute)."""
    date_quantiles: dict[str, dt.date | None] = field(default_factory=dict)
    probability: float | None = None
    """P(reached by `at_date`)."""
    note: str | None = None
    status: str = "not judged"
    """`reached` (the series has), `forecast` (every threshold dated), `partly forecast` (the
    dates are an upper bound: other thresholds could not be dated) or `not judged`."""
    thresholds: list[ThresholdTimeline] = field(default_factory=list)


@dataclass
class Timeline:
    policy: str
    policy_version: str
    policy_sha256: str
    series: str
    models: list[str]
    current_level: str | None
    current_by: str | None
    levels: list[LevelTimeline]
    growth: dict[str, Any]
    at_date: dt.date | None
    assumptions: list[str]
    made_at: dt.datetime
    entry: int | None = None
    bottom_line: str = ""
    """Level by level: reached, dated (median and 80 % interval, on what), or not judged and
    why."""
    not_judged: list[str] = field(default_factory=list)
    """Everything the timeline could not judge."""

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        d = asdict(self)
        d["made_at"] = self.made_at.isoformat()
        return _jsonable(d)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _orgs(m: Model) -> set[str]:
    return {o.strip().lower() for o in (m.organization or "").split(",") if o.strip()}


def series_models(models: Sequence[Model], *, organization: str | None = None,
                  family: str | None = None) -> list[Model]:
    """The developer's own models: by organisation (one of a model's comma-separated
    organisations) or by family, case ignored."""
    if (organization is None) == (family is None):
        raise InputError("name the series: --organization ORG or --family FAMILY")
    if organization is not None:
        key = organization.strip().lower()
        return [m for m in models if key in _orgs(m)]
    fam = (family or "").strip().lower()
    return [m for m in models if (m.family or "").strip().lower() == fam]


def _level_index(policy: Any, level: str | None) -> int:
    ids = [lv.id for lv in policy.policy.levels]
    return ids.index(level) if level in ids else -1


def compute_for_level(policy: Any, level_index: int, *, low: float,
                      at: dt.datetime) -> float | None:
    """Smallest training compute (to 1 %) at which an exact-compute model with no other
    evidence is judged at `level_index` or above; None if not even at TOP_COMPUTE."""
    from tripwire.policy.evaluate import Evidence, evaluate_policy

    def reached(c: float) -> bool:
        m = Model(name="projected", compute_flop=c, compute_method=ComputeMethod.GIVEN)
        det = evaluate_policy(policy, Evidence(model=m), at=at)
        return _level_index(policy, det.level) >= level_index

    lo, hi = math.log10(max(low, 1.0)), math.log10(TOP_COMPUTE)
    if not reached(10 ** hi):
        return None
    if reached(10 ** lo):
        return 10 ** lo
    while hi - lo > 0.004:
        mid = (lo + hi) / 2
        if reached(10 ** mid):
            hi = mid
        else:
            lo = mid
    return 10 ** hi


HORIZON_YEARS = 50.0
"""How far past the series' last release dates are looked for."""
_GRID = 1601


class _Dater:
    """Date CDFs on one grid for the comparisons of a policy's conditions, for one series."""

    def __init__(self, reg: Any, pol: Any, series: list[Model], *, n_boot: int,
                 seed: int) -> None:
        from tripwire.forecast._common import _year

        self.pol, self.series, self.n_boot, self.seed = pol, series, n_boot, seed
        dated = [m.release_date for m in series if m.release_date is not None]
        if not dated:
            raise InsufficientEvidence("no model of the series has a release date",
                                       hint="ingest models with release dates")
        self.after = max(dated)
        self.t0 = _year(self.after)
        self.grid = self.t0 + HORIZON_YEARS * np.linspace(0.0, 1.0, _GRID) ** 2
        names = {m.name for m in series}
        self.results = [r for r in reg.results() if r.model in names]
        self.benchmarks = {b.id: b for b in reg.benchmarks()}
        self._trends: dict[str, Any] = {}

    def dates(self) -> list[dt.date]:
        from tripwire.forecast._common import _date

        return [d for d in (_date(float(x)) for x in self.grid) if d is not None]

    def _trend(self, key: str, build: Any) -> Any:
        if key not in self._trends:
            try:
                self._trends[key] = build()
            except InsufficientEvidence as e:
                self._trends[key] = e.message
        return self._trends[key]

    def compare(self, node: Any) -> tuple[np.ndarray | None, str]:
        """(CDF on the grid, what it rests on) of a comparison, or (None, why not)."""
        from tripwire.policy.expr import Quantity, Score

        op, value = node.op, float(node.threshold.value)
        if math.isnan(value):
            return None, (f"{_text(node)}: the threshold is the policy parameter "
                          f"{node.threshold.param!r}, which has no value")
        if op not in (">", ">="):
            return None, (f"{_text(node)}: a quantity falling below a line is not forecast "
                          "by date")
        if isinstance(node.target, Quantity):
            return self._compute(node.target.name, value, _text(node))
        if isinstance(node.target, Score):
            return self._score(node.target.name, value, _text(node))
        return None, f"{_text(node)}: not forecast by date"

    def _first(self, trend: Any, value: float, label: str,
               already: tuple[str, float] | None) -> tuple[np.ndarray, str]:
        if already is not None:
            return np.ones(self.grid.size), f"{label}: already met by {already[0]}"
        f = trend.first_crossing_cdf(value, [_d(x) for x in self.grid], after=self.after)
        return np.maximum.accumulate(f), (
            f"{label}: first release over it, {trend.n_models_} models of the series released "
            f"at {trend.release_rate():.1f} per year around their trend")

    def _compute(self, name: str, value: float, label: str) -> tuple[np.ndarray | None, str]:
        from tripwire.forecast import fit_compute_trend

        series = {"training_compute": "training_compute", "cumulative_compute":
                  "training_compute", "effective_compute": "effective_compute"}.get(name)
        if series is None:
            return None, f"{label}: {name} is not forecast by date"
        if name == "cumulative_compute":
            label += (" (as training compute: the figures include fine-tuning, as Epoch AI's "
                      "do; a later modification's compute is not forecast)")
        trend = self._trend(series, lambda: fit_compute_trend(
            self.series, series=series, since=dt.date(1900, 1, 1), n_boot=self.n_boot,
            seed=self.seed))
        if isinstance(trend, str):
            return None, f"{label}: no {series} trend for the series ({trend})"
        vals = [(m.name, v) for m in self.series
                if (v := (m.compute_flop if series == "training_compute"
                          else m.effective_compute_flop)) is not None and v > value]
        return self._first(trend, value, label, max(vals, key=lambda x: x[1]) if vals else None)

    def _score(self, name: str, value: float, label: str) -> tuple[np.ndarray | None, str]:
        from tripwire.forecast import TimeTrend

        bench = self.pol.benchmark_for(name, None)
        if bench is None:
            return None, f"{label}: evidence {name!r} is mapped to no benchmark"
        meta = self.benchmarks.get(bench)
        if meta is not None and not meta.higher_is_better:
            return None, f"{label}: {bench} is lower-is-better, not forecast by date"
        best: dict[str, float] = {}
        for r in self.results:
            if r.benchmark == bench:
                best[r.model] = max(best.get(r.model, -math.inf), r.value)
        dated = {m.name: m.release_date for m in self.series if m.release_date is not None}
        pts = [(dated[n], v) for n, v in best.items() if n in dated]
        floor = (meta.chance if meta is not None and meta.chance is not None else 0.0)
        ceiling = meta.ceiling if meta is not None and meta.ceiling is not None else 1.0
        if not floor < value < ceiling:
            return None, f"{label}: threshold outside {bench}'s range ({floor:g}-{ceiling:g})"

        def build() -> Any:
            return TimeTrend(transform="logit", floor=floor, ceiling=ceiling,
                             n_boot=self.n_boot, seed=self.seed).fit(
                [p[0] for p in pts], np.array([p[1] for p in pts]))

        trend = self._trend(f"score:{bench}", build)
        if isinstance(trend, str):
            return None, (f"{label}: {len(pts)} model(s) of the series scored on {bench} "
                          f"({trend})")
        over = [(n, v) for n, v in best.items() if v >= value]
        return self._first(trend, value, label, max(over, key=lambda x: x[1]) if over else None)


def _text(node: Any) -> str:
    from tripwire.policy.expr import Quantity

    t = node.target
    name = t.name if isinstance(t, Quantity) else f'score("{t.name}")'
    return f"{name} {node.op} {node.threshold.value:g}"


def _d(year: float) -> dt.date:
    from tripwire.forecast._common import _date

    return _date(year) or dt.date.max


def _date_cdf(node: Any, dater: _Dater) -> tuple[np.ndarray | None, bool, list[str],
                                                 list[str]]:
    """(CDF, complete, bases, gaps) of a condition: `or` of independent dates is the first
    (1 - prod(1 - F)), `and` the last (prod F); a part that cannot be dated makes an `or` an
    upper bound on the date (incomplete) and an `and` undatable."""
    from tripwire.policy.expr import AllOf, AnyOf, Compare

    if isinstance(node, Compare):
        f, why = dater.compare(node)
        return (f, True, [why], []) if f is not None else (None, False, [], [why])
    if isinstance(node, AnyOf | AllOf):
        parts = [_date_cdf(a, dater) for a in node.args]
        bases = [b for p in parts for b in p[2]]
        gaps = [g for p in parts for g in p[3]]
        known = [p[0] for p in parts if p[0] is not None]
        if isinstance(node, AnyOf):
            if not known:
                return None, False, bases, gaps
            f = 1.0 - np.prod([1.0 - k for k in known], axis=0)
            return f, all(p[1] for p in parts), bases, gaps
        if len(known) < len(parts):
            return None, False, bases, gaps
        return np.prod(known, axis=0), all(p[1] for p in parts), bases, gaps
    from tripwire.policy.expr import Attested, Const, Flagged, ParamTest

    if isinstance(node, Const | ParamTest):
        if isinstance(node, Const):
            value = node.value
        else:
            v, t = node.param.value, node.threshold.value
            if math.isnan(v) or math.isnan(t):
                name = node.param.param if math.isnan(v) else node.threshold.param
                return None, False, [], [f"the parameter {name!r} has no value: a fact the "
                                         "developer states, not forecast by date"]
            value = {">=": v >= t, ">": v > t, "<=": v <= t}.get(node.op, v < t)
        return (np.full(dater.grid.size, 1.0 if value else 0.0), True,
                [f"a stated fact, {'true' if value else 'false'}"], [])
    if isinstance(node, Attested):
        return None, False, [], [f"attested({node.safeguard!r}) is a safeguard, not forecast "
                                 "by date"]
    if isinstance(node, Flagged):
        return None, False, [], ["a flag is not forecast by date"]
    what = {"Not": "a negation", "AtLeast": "an at-least-k-of condition"}.get(
        type(node).__name__, type(node).__name__)
    return None, False, [], [f"{what} is not forecast by date"]



def _quantiles(dater: _Dater, f: np.ndarray) -> dict[str, dt.date | None]:
    from tripwire.forecast import QUANTILES
    from tripwire.forecast._common import _q_key

    out: dict[str, dt.date | None] = {}
    for q in QUANTILES:
        out[_q_key(q)] = (_d(float(np.interp(q, f, dater.grid))) if f[0] < q <= f[-1]
                          else None)
    return out


def _at(dater: _Dater, f: np.ndarray, at_date: dt.date | None) -> float | None:
    from tripwire.forecast._common import _year

    if at_date is None:
        return None
    return float(np.interp(_year(at_date), dater.grid, f, left=0.0))


def plan_timeline(reg: Any, policy: str | Path | Any, *, organization: str | None = None,
                  family: str | None = None, at_date: dt.date | None = None,
                  n_boot: int = 1000, seed: int = 0, record: bool = True,
                  at: dt.datetime | None = None) -> Timeline:
    """When the series is expected to reach each level above the highest it has reached, with
    a bottom line of what was and was not judged."""
    from tripwire.assess import _record_policy, gather_evidence, resolve_policy
    from tripwire.forecast import fit_compute_trend, growth
    from tripwire.policy.evaluate import evaluate_policy
    from tripwire.register.record_store import append_entry

    pol = resolve_policy(policy)
    at = at or utcnow()
    series = series_models(reg.models(), organization=organization, family=family)
    label = f"organization {organization}" if organization else f"family {family}"
    if not series:
        raise InsufficientEvidence(f"no registered model belongs to {label}",
                                   hint="check the name with `tripwire models`")
    current, by = -1, None
    for m in series:
        ev, _ = gather_evidence(reg, m.name, pol, anomalies=False)
        k = _level_index(pol, evaluate_policy(pol, ev, at=at).level)
        if k > current:
            current, by = k, m.name
    dater = _Dater(reg, pol, series, n_boot=n_boot, seed=seed)
    g = None
    try:
        g = growth(fit_compute_trend(series, frontier=True, n_boot=n_boot, seed=seed))
    except InsufficientEvidence:
        pass
    largest = max((m.compute_flop for m in series if m.compute_flop), default=1.0)
    ids = [lv.id for lv in pol.policy.levels]
    levels: list[LevelTimeline] = []
    for k, lid in enumerate(ids):
        if k <= current:
            levels.append(LevelTimeline(lid, None, status="reached",
                                        note=f"reached by {by}" if k == current
                                        else "below the level reached"))
            continue
        lt = LevelTimeline(lid, compute_for_level(pol, k, low=largest, at=at))
        cdfs, complete = [], True
        for t in (t for t in pol.thresholds if t.spec.level == lid):
            f, whole, bases, gaps = _date_cdf(t.condition.root, dater)
            tt = ThresholdTimeline(t.id, t.condition.text, judged=f is not None and whole,
                                   basis=bases, reason="; ".join(gaps) or None)
            if f is not None:
                cdfs.append(f)
                tt.date_quantiles, tt.probability = _quantiles(dater, f), _at(dater, f, at_date)
            complete &= tt.judged
            lt.thresholds.append(tt)
        if not lt.thresholds:
            lt.note = "no threshold of the policy triggers this level"
        elif cdfs:
            f = 1.0 - np.prod([1.0 - c for c in cdfs], axis=0)
            lt.date_quantiles, lt.probability = _quantiles(dater, f), _at(dater, f, at_date)
            lt.status = "forecast" if complete else "partly forecast"
            if not complete:
                lt.note = ("the dates are a latest bound: thresholds that could not be dated "
                           "may be reached sooner")
        else:
            lt.note = "none of its thresholds could be dated"
        levels.append(lt)
    not_judged = [f"{lt.level} / {tt.threshold}: {tt.reason}" for lt in levels
                  for tt in lt.thresholds if tt.reason]
    assumptions = [
        f"the series is {label}: {len(series)} registered models, the last released "
        f"{dater.after}; none of them is over a threshold not yet met (nothing later is known)",
        "each dated comparison is the release date of the series' first model over its "
        "threshold: models released at the series' own rate, each landing around the trend of "
        "its models (log2 of compute, or the logit of a benchmark score from its chance level, "
        "against release date) with the trend's scatter and its growing error past the data",
        "conditions combine as independent dates: `or` the first, `and` the last; a level is "
        "reached at the first of its thresholds",
        "a threshold is taken as met when the series' figure passes its value; the policy "
        "itself judges it at its confidence, later when evidence is uncertain",
        "the compute forecasts' calibration is measured on Epoch AI's notable-models export "
        "for the industry as a whole (`tripwire report --industry`), not for this series; the "
        "capability ones are not backtested here",
        "the Code of Practice (Measure 4.1) defines systemic risk tiers by capabilities: a "
        "level that turns only on compute answers Measure 1.1(2)(c) only where the policy "
        "ties a tier to compute",
    ]
    if g is not None:
        assumptions.insert(1, f"the series' frontier compute grows {g.per_year:.2f}x per year "
                              f"(80 %: {g.interval80[0]:.2f}-{g.interval80[1]:.2f})")
    tl = Timeline(policy=pol.name, policy_version=pol.version, policy_sha256=pol.sha256,
                  series=label, models=[m.name for m in series],
                  current_level=ids[current] if current >= 0 else None, current_by=by,
                  levels=levels, growth=g.to_dict() if g is not None else {}, at_date=at_date,
                  assumptions=assumptions, made_at=at, not_judged=not_judged)
    tl.bottom_line = bottom_line(tl)
    if record:
        with reg.transaction() as conn:
            _record_policy(conn, pol)
            tl.entry = append_entry(conn, "timeline", tl.to_dict()).seq
    return tl


def bottom_line(tl: Timeline) -> str:
    """Level by level, in a few words: reached, dated (median, 80 % interval), or not judged."""
    parts = []
    for lt in tl.levels:
        q = lt.date_quantiles
        if lt.status == "reached":
            parts.append(f"{lt.level}: {lt.note}")
            continue
        if lt.status in ("forecast", "partly forecast"):
            when = (f"median {q.get('0.5') or 'beyond ' + str(HORIZON_YEARS) + ' years'}, 80 % "
                    f"{q.get('0.1') or '?'} to {q.get('0.9') or 'later'}")
            parts.append(f"{lt.level}: {when}" + (" (at the latest: some thresholds not "
                                                  "dated)" if lt.status != "forecast" else ""))
        else:
            why = "; ".join(tt.reason for tt in lt.thresholds if tt.reason) or lt.note or ""
            parts.append(f"{lt.level}: could not judge ({why})")
    head = (f"{tl.series} under {tl.policy}: highest level reached "
            f"{tl.current_level or 'none'}" + (f" (by {tl.current_by})" if tl.current_level
                                                 else ""))
    if all(lt.status == "reached" for lt in tl.levels):
        parts.append("no level lies above it, so there is nothing to date (a timeline to "
                     "exceed the highest level reached needs a policy with a level above it)")
    return head + ". " + "; ".join(parts) + "."
