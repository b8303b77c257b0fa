"""A provider's timeline: when its own series of models is expected to reach the next level of
a policy, as a distribution of dates with the assumptions stated, recorded like a
determination (the estimates the GPAI Code of Practice asks for in Measure 1.1(2)(c)).

The series is the register's models of one organisation (or family) with a release date and a
training compute figure. Its compute is extrapolated by the log-linear trend of its running
maximum (`forecast.fit_compute_trend`); each higher level is reached at the smallest training
compute at which a model with that exact compute, and no other evidence, is judged at that level
(found by bisection on the policy itself, so any policy whose levels turn on compute works).
Levels that turn only on capability evidence are not reached by compute and are said to be.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tripwire.errors import InputError, InsufficientEvidence
from tripwire.model import ComputeMethod, Model, utcnow

TOP_COMPUTE = 1e32
"""Compute beyond which a level counts as not reachable by compute (FLOP)."""


@dataclass
class LevelTimeline:
    level: str
    compute_flop: float | None
    """Smallest training compute at which the level is reached (None: not by compute)."""
    date_quantiles: dict[str, dt.date | None] = field(default_factory=dict)
    probability: float | None = None
    """P(reached by `at_date`)."""
    note: str | None = None


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


def plan_timeline(reg: Any, policy: str | Path | Any, *, organization: str | None = None,
                  family: str | None = None, at_date: dt.date | None = None,
                  n_boot: int = 1000, seed: int = 0, record: bool = True,
                  at: dt.datetime | None = None) -> Timeline:
    """When the series is expected to reach each level above the highest it has reached."""
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
    trend = fit_compute_trend(series, frontier=True, n_boot=n_boot, seed=seed)
    largest = max(m.compute_flop for m in series if m.compute_flop)
    levels = []
    ids = [lv.id for lv in pol.policy.levels]
    for k in range(current + 1, len(ids)):
        c = compute_for_level(pol, k, low=largest, at=at)
        if c is None:
            levels.append(LevelTimeline(ids[k], None, note="not reached by training compute "
                                        "alone: its thresholds turn on capability evidence, "
                                        "which is not forecast by date"))
            continue
        if c <= largest:
            levels.append(LevelTimeline(ids[k], c, note="the series' largest model already has "
                                        "this compute; the level waits on other evidence"))
            continue
        cross = trend.crossing(c, at_date=at_date)
        levels.append(LevelTimeline(ids[k], c, date_quantiles=cross.date_quantiles,
                                    probability=cross.probability))
    g = growth(trend)
    assumptions = [
        f"the series is {label}: the running maximum of its training compute, "
        f"{trend.n_models_} releases from {trend.summary()['first_date']} to "
        f"{trend.summary()['last_date']}",
        f"that maximum keeps growing log-linearly in release date, at {g.per_year:.2f}x per "
        f"year (80 %: {g.interval80[0]:.2f}-{g.interval80[1]:.2f}); dates come from the "
        "bootstrap of that fit and its residual spread",
        "a level is reached at the smallest training compute at which the policy, given that "
        "exact compute and no other evidence, judges a model at that level",
        "capability thresholds are not forecast by date; levels that need them say so",
        "the intervals are those of a simple trend and are not calibrated by a backtest of "
        "this series",
    ]
    tl = Timeline(policy=pol.name, policy_version=pol.version, policy_sha256=pol.sha256,
                  series=label, models=[m.name for m in series],
                  current_level=ids[current] if current >= 0 else None, current_by=by,
                  levels=levels, growth=g.to_dict(), at_date=at_date, assumptions=assumptions,
                  made_at=at)
    if record:
        with reg.transaction() as conn:
            _record_policy(conn, pol)
            tl.entry = append_entry(conn, "timeline", tl.to_dict()).seq
    return tl
