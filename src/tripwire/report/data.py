"""Everything a report shows, gathered from the library into one plain structure.

The HTML, Markdown and JSON reports and the web dashboard render a `ReportData`; none of them
computes or decides anything. The register supplies models, results and the record; `fit` the
scaling law; `forecast` the capability curves, crossing distributions, time trends, backtests and
anomaly flags; `assess` the determinations under each chosen policy. A part that cannot be
computed (too few models, no loss points) is kept with the reason, so a reader sees why it is
missing rather than an empty space.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import math
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from tripwire import __version__, compute
from tripwire.errors import InputError, InsufficientEvidence, TripwireError
from tripwire.model import Benchmark, Determination, EvalResult, Model, utcnow
from tripwire.policy import ACTIONS
from tripwire.register import Register
from tripwire.report.changes import ChangesSection, changes_section

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

REPORT_VERSION = 1
"""Version of the report's JSON form; bump when a field changes meaning."""

DEFAULT_BOOT = 200
"""Bootstrap resamples for the report's fits: enough for stable 80 % / 95 % bands."""


class _Row(BaseModel):
    pass


class Notice(_Row):
    """Something a section could not show, and why."""

    section: str
    message: str


class ModelRow(_Row):
    """One model with its compute, the regulatory lines it passes and its levels."""

    name: str
    organization: str | None = None
    family: str | None = None
    release_date: dt.date | None = None
    params: float | None = None
    tokens: float | None = None
    compute_flop: float | None = None
    compute_estimated: bool | None = None
    """True when C is an estimate (6ND or hardware time), not a figure the source gave."""
    multiplier: float = 1.0
    effective_compute_flop: float | None = None
    cost_usd: float | None = None
    parent: str | None = None
    variant: str | None = None
    source: str | None = None
    regulatory_lines: list[str] = Field(default_factory=list)
    compute_confidence: str | None = None
    """The source's confidence label for C (Epoch AI's vocabulary), when it gave one."""
    p_over: dict[str, float] | None = None
    """Regulatory line (`1e+25`) -> P(C > line) under the figure's spread; None: C unknown."""
    results: int = 0
    levels: dict[str, str | None] = Field(default_factory=dict)
    """Policy name -> level reached (None: below every level)."""


class ResultRow(_Row):
    id: int | None = None
    model: str
    benchmark: str
    metric: str
    value: float | None
    stderr: float | None = None
    samples: int | None = None
    source_file: str | None = None
    source_sha256: str | None = None
    created_at: dt.datetime | None = None


class EvidenceRow(_Row):
    kind: str
    benchmark: str | None = None
    quantity: str | None = None
    value: float | str | None = None
    stderr: float | None = None
    source_sha256: str | None = None
    source_file: str | None = None


class ThresholdRow(_Row):
    id: str
    level: str
    state: str
    probability: float | None = None
    reason: str | None = None
    evidence: list[EvidenceRow] = Field(default_factory=list)


class RecordedRef(_Row):
    """A determination in the record: where, when, and whether it still says the same."""

    seq: int
    hash: str
    at: str
    level: str | None = None
    same_policy: bool = True
    """Recorded under the same policy text (sha256) as the current judgement."""
    same_level: bool = True
    """The recorded level is the current one."""
    same_evidence: bool | None = None
    """Every register row the recorded determination rested on still reads as it did then
    (None: recorded before determinations named their rows). False: stale."""


class DeterminationView(_Row):
    """One determination as shown: the decision and the evidence behind it."""

    model: str
    policy: str
    policy_title: str | None = None
    policy_version: str
    policy_sha256: str
    at: dt.datetime
    level: str | None
    thresholds: list[ThresholdRow] = Field(default_factory=list)
    required_safeguards: dict[str, list[str]] = Field(default_factory=dict)
    missing_safeguards: dict[str, list[str]] = Field(default_factory=dict)
    allowed_actions: list[str] = Field(default_factory=list)
    blocked_actions: list[str] = Field(default_factory=list)
    next_due: dt.date | None = None
    next_due_compute_flop: float | None = None
    notes: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    """What the evidence lacked (unmapped or unknown benchmarks)."""
    recorded: RecordedRef | None = None
    """The latest determination of this model under this policy in the record."""


class Point(_Row):
    """A labelled data point (the label is a model or run name)."""

    label: str
    x: float | str
    y: float
    highlight: bool = False


class Band(_Row):
    """A fitted curve with 80 % and 95 % bands, sampled at `x`."""

    x: list[float | str]
    y: list[float | None]
    lo80: list[float | None]
    hi80: list[float | None]
    lo95: list[float | None]
    hi95: list[float | None]


class ParamRow(_Row):
    name: str
    estimate: float | None
    lo95: float | None = None
    hi95: float | None = None


class ScalingSection(_Row):
    """The loss scaling law fitted to the register's loss points, with its extrapolation."""

    available: bool = False
    reason: str | None = None
    law: str = "L(C) = E + A * C^-alpha"
    n_points: int = 0
    n_boot: int = 0
    params: list[ParamRow] = Field(default_factory=list)
    points: list[Point] = Field(default_factory=list)
    curve: Band | None = None
    fitted_range: tuple[float, float] | None = None
    extrapolation_limit_oom: float | None = None
    """Predictions further out than this (orders of magnitude) are flagged as extrapolations."""
    chinchilla: list[ParamRow] = Field(default_factory=list)
    """L(N, D) = E + A/N^alpha + B/D^beta, fitted to the same points (when it converges)."""
    allocation: list[dict[str, float | None]] = Field(default_factory=list)
    """Compute-optimal params and tokens at a few budgets (Chinchilla law)."""
    warnings: list[str] = Field(default_factory=list)


class ThresholdLine(_Row):
    """A score threshold drawn on a capability forecast, with its crossing distribution."""

    value: float
    label: str
    """Where it comes from: `policy / threshold id`, or `asked for` (a --threshold)."""
    crossing_quantiles: dict[str, float | None] = Field(default_factory=dict)
    """Quantile -> effective compute (FLOP) at which a model reaches it (None: not reached)."""
    cdf: list[float | None] = Field(default_factory=list)
    """P(a model at each x of the forecast's curve reaches the threshold)."""
    planned: list[dict[str, Any]] = Field(default_factory=list)
    """For each model in focus: P(reached) at 4x its effective compute."""
    warnings: list[str] = Field(default_factory=list)
    available: bool = True
    reason: str | None = None


class ForecastCalibration(_Row):
    """How far a forecast's intervals can be trusted: its walk-forward backtest (each cutoff's
    fit calibrated on the models known then, as the forecast is), scored for coverage.

    `status` is "calibrated", "failed" (80 % coverage below one half) or "not calibrated"
    (no backtest could be run or judged: too few models); `text` says so in one line.
    """

    status: str
    text: str
    n_cutoffs: int = 0
    n_predictions: int = 0
    mae: float | None = None
    coverage80: float | None = None
    coverage95: float | None = None
    interval_score80: float | None = None
    interval_score95: float | None = None
    reliability: list[dict[str, float | None]] = Field(default_factory=list)
    """Nominal vs empirical coverage of the central intervals at 10 %, 20 %, ..., 90 %."""
    probability_reliability: list[dict[str, float | None]] = Field(default_factory=list)
    """Predicted P(score >= level) against the observed frequency, in bins of P
    (bin_low, bin_high, mean_predicted, observed, n)."""
    levels: list[float] = Field(default_factory=list)
    """The score levels whose probabilities were judged: the thresholds and score quartiles."""
    model_error: dict[str, Any] = Field(default_factory=dict)
    """The forecast's model-error term (`tripwire.calibration.ModelError`)."""


class CapabilitySection(_Row):
    """A benchmark's score against effective compute: the sigmoid forecast and thresholds."""

    benchmark: str
    name: str | None = None
    metric: str | None = None
    available: bool = False
    reason: str | None = None
    floor: float | None = None
    ceiling: float | None = None
    n_models: int = 0
    points: list[Point] = Field(default_factory=list)
    curve: Band | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    thresholds: list[ThresholdLine] = Field(default_factory=list)
    calibration: ForecastCalibration | None = None
    """The backtest's verdict on the intervals, with its reliability diagrams."""
    warnings: list[str] = Field(default_factory=list)


class TrendSection(_Row):
    """A benchmark's score against release date (a logit trend with its doubling time)."""

    benchmark: str
    available: bool = False
    reason: str | None = None
    transform: str = "logit"
    points: list[Point] = Field(default_factory=list)
    curve: Band | None = None
    doubling_days: float | None = None
    doubling_95: tuple[float | None, float | None] | None = None
    n_models: int = 0
    warnings: list[str] = Field(default_factory=list)


class BacktestRow(_Row):
    """How the compute forecast for one benchmark fared when fitted on smaller models only."""

    benchmark: str
    available: bool = False
    reason: str | None = None
    threshold: float | None = None
    n_cutoffs: int | None = None
    n_predictions: int | None = None
    mae: float | None = None
    coverage80: float | None = None
    coverage95: float | None = None
    lead: float | None = None
    lead_units: str | None = None
    skipped: list[str] = Field(default_factory=list)


class AnomalyRow(_Row):
    """A score implausibly low for the model's compute (possible sandbagging)."""

    model: str
    benchmark: str
    score: float | None
    expected: float | None
    gap: float | None
    z: float | None
    p_low: float | None
    flagged: bool


class EntryRow(_Row):
    seq: int
    at: str
    kind: str
    hash: str
    summary: str


class RecordSection(_Row):
    """The record: whether it verifies, the last signed tree head, the latest entries."""

    available: bool = False
    reason: str | None = None
    ok: bool | None = None
    entries: int = 0
    root_hash: str | None = None
    failure: str | None = None
    checkpoints: int = 0
    evidence_checked: int = 0
    evidence_rows: int | None = None
    """Evidence rows found as the record committed them (None: not compared)."""
    evidence_changes: list[str] = Field(default_factory=list)
    """Evidence rows changed, added or removed outside tripwire, each named."""
    last_head: dict[str, Any] | None = None
    kinds: dict[str, int] = Field(default_factory=dict)
    recent: list[EntryRow] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class AttestationRow(_Row):
    model: str | None
    safeguard: str
    by: str | None = None
    evidence: str | None = None
    evidence_sha256: str | None = None
    at: str | None = None
    note: str | None = None
    record_seq: int | None = None


class ObligationRow(_Row):
    """One clocked duty on the calendar (tripwire.obligations)."""

    due: str
    days_left: float
    status: str
    model: str
    policy: str
    safeguard: str
    within: str
    event: str
    source: str | None = None
    evidence: str | None = None
    """The evidence of the attestation that met it."""
    met_by: str | None = None
    """The attestation that met it: record entry and date."""


class PolicyRow(_Row):
    name: str
    title: str | None = None
    version: str
    kind: str | None = None
    sha256: str | None = None
    levels: list[str] = Field(default_factory=list)
    thresholds: int = 0
    builtin: bool = False


class ReportData(BaseModel):
    """Everything one report shows. Its JSON form is the `json` report format."""

    version: int = REPORT_VERSION
    title: str
    generated_at: dt.datetime
    tripwire_version: str = __version__
    register_at: str
    """Where the register is (password hidden)."""
    scope: Literal["model", "all"]
    focus: list[str] = Field(default_factory=list)
    """Models the report is about (every model for `--all`)."""
    counts: dict[str, int] = Field(default_factory=dict)
    models: list[ModelRow] = Field(default_factory=list)
    results: list[ResultRow] = Field(default_factory=list)
    policies: list[PolicyRow] = Field(default_factory=list)
    determinations: list[DeterminationView] = Field(default_factory=list)
    scaling: ScalingSection = Field(default_factory=ScalingSection)
    capabilities: list[CapabilitySection] = Field(default_factory=list)
    trends: list[TrendSection] = Field(default_factory=list)
    backtests: list[BacktestRow] = Field(default_factory=list)
    anomalies: list[AnomalyRow] = Field(default_factory=list)
    record: RecordSection = Field(default_factory=RecordSection)
    attestations: list[AttestationRow] = Field(default_factory=list)
    obligations: list[ObligationRow] = Field(default_factory=list)
    """The calendar: clocked obligations, overdue first (met ones included)."""
    changes: list[ChangesSection] = Field(default_factory=list)
    """What changed: each model against its parent or previous release (`tripwire diff`)."""
    regulatory_lines: list[tuple[float, str]] = Field(
        default_factory=lambda: list(compute.REGULATORY_LINES))
    notices: list[Notice] = Field(default_factory=list)

    def determination(self, model: str, policy: str) -> DeterminationView | None:
        return next((d for d in self.determinations
                     if d.model == model and d.policy == policy), None)

    def determinations_for(self, model: str) -> list[DeterminationView]:
        return [d for d in self.determinations if d.model == model]

    def model(self, name: str) -> ModelRow | None:
        return next((m for m in self.models if m.name == name), None)

    def changes_for(self, model: str) -> ChangesSection | None:
        return next((c for c in self.changes if c.model == model), None)


# ------------------------------------------------------------------------------ helpers


def _num(v: Any) -> float | None:
    """A finite float, or None (NaN and infinities are not JSON and mean 'unknown' here)."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _nums(vs: Iterable[Any]) -> list[float | None]:
    return [_num(v) for v in vs]


def _catch(section: str, notices: list[Notice], fn: Callable[[], Any]) -> tuple[Any, str | None]:
    """Run one part of the report; a TripwireError becomes a notice with its sentence."""
    try:
        return fn(), None
    except (InsufficientEvidence, InputError) as e:
        notices.append(Notice(section=section, message=str(e)))
        return None, str(e)


def _warned(fn: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Call `fn`, returning its value and the warnings it raised, as sentences."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fn()
    return value, [str(w.message) for w in caught]


def model_row(m: Model, n_results: int = 0) -> ModelRow:
    """A register model as a report row."""
    return ModelRow(
        name=m.name, organization=m.organization, family=m.family, release_date=m.release_date,
        params=m.params, tokens=m.tokens, compute_flop=m.compute_flop,
        compute_estimated=m.compute_estimated if m.compute_flop is not None else None,
        multiplier=m.multiplier, effective_compute_flop=m.effective_compute_flop,
        cost_usd=m.cost_usd, parent=m.parent, variant=m.variant, source=m.source,
        regulatory_lines=[label for _, label in compute.lines_passed(m.compute_flop)],
        compute_confidence=m.compute_confidence,
        p_over={f"{line:.0e}": p for line, _ in compute.REGULATORY_LINES
                if (p := compute.p_above(m, line)) is not None} or None,
        results=n_results)


def result_row(r: EvalResult) -> ResultRow:
    return ResultRow(id=r.id, model=r.model, benchmark=r.benchmark, metric=r.metric,
                     value=_num(r.value), stderr=_num(r.stderr), samples=r.samples,
                     source_file=r.source_file, source_sha256=r.source_sha256,
                     created_at=r.created_at)


def _same_rows(recorded: Any, now: Mapping[str, Mapping[str, str]]) -> bool | None:
    """Whether the rows a recorded determination named still hash as they did (None when it
    named none)."""
    if not isinstance(recorded, dict) or not recorded:
        return None
    return all(now.get(table, {}).get(key) == digest
               for table, rows in recorded.items() if isinstance(rows, dict)
               for key, digest in rows.items())


def determination_view(det: Determination, *, title: str | None = None,
                       files: Mapping[str, str] | None = None,
                       recorded: Any = None) -> DeterminationView:
    """A determination as shown, its evidence hashes joined to the files they name, with the
    latest recorded determination of the same model and policy (a record `Entry`), if any."""
    files = files or {}
    thresholds = [
        ThresholdRow(
            id=t.id, level=t.level, state=t.state, probability=_num(t.probability),
            reason=t.reason,
            evidence=[EvidenceRow(kind=e.kind, benchmark=e.benchmark, quantity=e.quantity,
                                  value=_num(e.value) if not isinstance(e.value, str)
                                  else e.value,
                                  stderr=_num(e.stderr), source_sha256=e.source_sha256,
                                  source_file=files.get(e.source_sha256 or ""))
                      for e in t.evidence])
        for t in det.thresholds]
    missing = {a: list(s) for a, s in det.missing_safeguards.items()}
    named = set(det.required_safeguards) | set(missing) | set(det.allowed_actions)
    actions = [a for a in ACTIONS if a in named] + sorted(named - set(ACTIONS))
    view = DeterminationView(
        model=det.model, policy=det.policy, policy_title=title,
        policy_version=det.policy_version, policy_sha256=det.policy_sha256, at=det.at,
        level=det.level, thresholds=thresholds,
        required_safeguards={a: list(s) for a, s in det.required_safeguards.items()},
        missing_safeguards=missing,
        allowed_actions=[a for a in actions if a in det.allowed_actions],
        blocked_actions=[a for a in actions if a not in det.allowed_actions],
        next_due=det.next_due, next_due_compute_flop=_num(det.next_due_compute_flop),
        notes=list(det.notes))
    if recorded is not None:
        p = recorded.payload
        view.recorded = RecordedRef(seq=recorded.seq, hash=recorded.entry_hash,
                                    at=recorded.at.isoformat(), level=p.get("level"),
                                    same_policy=p.get("policy_sha256") == det.policy_sha256,
                                    same_level=p.get("level") == det.level,
                                    same_evidence=_same_rows(p.get("evidence_rows"),
                                                             det.evidence_rows))
    return view


def _best_results(results: Sequence[EvalResult], bench: Benchmark | None
                  ) -> dict[str, EvalResult]:
    """Each model's best result on a benchmark in its most common metric (highest, or lowest
    where lower is better): the best elicited capability, as the policies judge it."""
    higher = bench.higher_is_better if bench is not None else True
    metrics: dict[str, int] = {}
    for r in results:
        metrics[r.metric] = metrics.get(r.metric, 0) + 1
    metric = max(sorted(metrics), key=lambda k: metrics[k]) if metrics else None
    best: dict[str, EvalResult] = {}
    for r in results:
        if r.metric != metric:
            continue
        if r.value is None or not math.isfinite(r.value):
            continue
        old = best.get(r.model)
        if old is None or (r.value > old.value if higher else r.value < old.value):
            best[r.model] = r
    return best


def score_thresholds(policies: Sequence[Any], benchmark: str) -> list[tuple[float, str]]:
    """Score values the policies' conditions compare `benchmark` against (policy / threshold)."""
    out: list[tuple[float, str]] = []
    for pol in policies:
        for t in pol.thresholds:
            for cond in (t.condition, t.alert):
                if cond is None:
                    continue
                for c in cond.comparisons:
                    name = getattr(c.target, "name", None)
                    if type(c.target).__name__ != "Score" or c.op not in (">", ">="):
                        continue
                    value = getattr(c.threshold, "value", None)
                    if value is None or not math.isfinite(float(value)):
                        continue
                    if pol.benchmark_for(name) == benchmark:
                        kind = "alert" if cond is t.alert else "threshold"
                        out.append((float(value), f"{pol.name} {t.id} ({kind})"))
    return out


# ------------------------------------------------------------------------------ sections


def scaling_section(reg: Register, *, n_boot: int = DEFAULT_BOOT, seed: int = 0,
                    notices: list[Notice] | None = None) -> ScalingSection:
    """Fit L(C) = E + A C^-alpha (and the Chinchilla L(N, D)) to the register's loss points."""
    import numpy as np

    from tripwire.fit import ChinchillaLaw, ComputeLaw

    notices = notices if notices is not None else []
    out = ScalingSection()
    obs = reg.loss_observations()
    if not obs:
        out.reason = "the register holds no loss points (ingest a loss CSV to fit a law)"
        notices.append(Notice(section="scaling law", message=out.reason))
        return out
    n = np.array([o.params for o in obs], dtype=float)
    d = np.array([o.tokens for o in obs], dtype=float)
    c = np.array([o.compute_flop if o.compute_flop else compute.compute_6nd(o.params, o.tokens)
                  for o in obs], dtype=float)
    loss = np.array([o.loss for o in obs], dtype=float)
    out.n_points, out.n_boot = len(obs), n_boot
    out.points = [Point(label=o.model or f"run {i + 1}", x=float(ci), y=float(li))
                  for i, (o, ci, li) in enumerate(zip(obs, c, loss, strict=True))]

    def fit_compute() -> Any:
        return ComputeLaw(n_boot=n_boot, seed=seed).fit(c, loss)

    law, reason = _catch("scaling law", notices, fit_compute)
    if law is None:
        out.reason = reason
        return out
    lo, hi = law.compute_range_
    grid = np.logspace(math.log10(lo) - 0.3, math.log10(hi) + 3.0, 80)
    pred, warned = _warned(lambda: law.predict(grid))
    out.available = True
    out.fitted_range = (lo, hi)
    out.extrapolation_limit_oom = float(law.extrapolation_limit)
    out.curve = Band(x=[float(v) for v in grid], y=_nums(pred.loss), lo80=_nums(pred.lo80),
                     hi80=_nums(pred.hi80), lo95=_nums(pred.lo95), hi95=_nums(pred.hi95))
    summ = law.summary()
    out.params = [ParamRow(name=str(k), estimate=_num(r["estimate"]), lo95=_num(r["ci95_low"]),
                           hi95=_num(r["ci95_high"])) for k, r in summ.iterrows()]
    out.warnings = list(law.warnings_) + ([warned[0]] if warned else [])

    def fit_chinchilla() -> Any:
        return ChinchillaLaw(n_boot=n_boot, seed=seed).fit(n, d, loss)

    chin, _ = _catch("scaling law (Chinchilla)", notices, fit_chinchilla)
    if chin is not None:
        s = chin.summary()
        out.chinchilla = [ParamRow(name=str(k), estimate=_num(r["estimate"]),
                                   lo95=_num(r["ci95_low"]), hi95=_num(r["ci95_high"]))
                          for k, r in s.iterrows()]
        budgets = np.array([1e23, 1e24, 1e25, 1e26])
        alloc, _w = _warned(lambda: chin.allocate(budgets))
        for i, b in enumerate(budgets):
            out.allocation.append({
                "compute_flop": float(b), "params": _num(alloc.params["estimate"][i]),
                "params_lo95": _num(alloc.params["lo95"][i]),
                "params_hi95": _num(alloc.params["hi95"][i]),
                "tokens": _num(alloc.tokens["estimate"][i]),
                "tokens_lo95": _num(alloc.tokens["lo95"][i]),
                "tokens_hi95": _num(alloc.tokens["hi95"][i]),
                "loss": _num(alloc.loss["estimate"][i]),
                "extrapolation_oom": _num(alloc.extrapolation_oom[i])})
    return out


def _points(reg: Register, bench: Benchmark, models: Mapping[str, Model], focus: set[str]
            ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, list[dt.date | None]]:
    import numpy as np

    best = _best_results(reg.results(benchmark=bench.id), bench)
    names = [nm for nm in best if nm in models]
    comp = np.array([models[nm].effective_compute_flop or math.nan for nm in names], dtype=float)
    vals = np.array([best[nm].value for nm in names], dtype=float)
    samples = np.array([best[nm].samples or math.nan for nm in names], dtype=float)
    dates = [models[nm].release_date for nm in names]
    return names, comp, vals, samples, dates


def capability_section(reg: Register, bench: Benchmark, models: Mapping[str, Model], *,
                       thresholds: Sequence[tuple[float, str]] = (), focus: Iterable[str] = (),
                       n_boot: int = DEFAULT_BOOT, seed: int = 0,
                       notices: list[Notice] | None = None,
                       backtest: tuple[Any, str | None] | None = None) -> CapabilitySection:
    """Fit the benchmark's score as a sigmoid in log effective compute; crossing forecasts for
    each threshold; P(reached) for a 4x scale-up of each model in focus; and how far its
    intervals can be trusted (`calibration`), from `backtest` (what `forecast_backtest`
    returns; run here when not given)."""
    import numpy as np

    from tripwire.forecast import CapabilityCurve

    notices = notices if notices is not None else []
    focus = set(focus)
    out = CapabilitySection(benchmark=bench.id, name=bench.name, metric=bench.metric,
                            floor=bench.chance, ceiling=bench.ceiling)
    names, comp, vals, samples, _ = _points(reg, bench, models, focus)
    has = np.isfinite(comp)
    out.points = [Point(label=nm, x=float(x), y=float(y), highlight=nm in focus)
                  for nm, x, y, ok in zip(names, comp, vals, has, strict=True) if ok]
    out.n_models = int(has.sum())
    if not bench.higher_is_better:
        out.reason = "lower is better on this benchmark; the sigmoid forecast needs rising scores"
        return out
    floor = bench.chance if bench.chance is not None else 0.0

    def fit() -> Any:
        return CapabilityCurve(floor=floor, ceiling=None, n_boot=n_boot, seed=seed).fit(
            comp[has], vals[has], samples[has])

    curve, reason = _catch(f"forecast {bench.id}", notices, fit)
    if curve is None:
        out.reason = reason
        return out
    out.available = True
    out.params = {k: (_num(v) if isinstance(v, float) else v)
                  for k, v in curve.summary().items() if k != "warnings"}
    out.warnings = list(curve.warnings_)
    if backtest is None:
        backtest = forecast_backtest(reg, bench, models, thresholds=[v for v, _ in thresholds],
                                     n_boot=backtest_boot(n_boot), seed=seed, notices=notices)
    out.calibration = forecast_calibration(*backtest, curve.model_error_.to_dict())
    x_lo, x_hi = float(np.log10(comp[has].min())) - 0.5, float(np.log10(comp[has].max())) + 2.0
    grid = np.logspace(x_lo, x_hi, 90)
    band = curve.predict(grid)
    out.curve = Band(x=[float(v) for v in grid], y=_nums(band["predicted"]),
                     lo80=_nums(band["lo80"]), hi80=_nums(band["hi80"]),
                     lo95=_nums(band["lo95"]), hi95=_nums(band["hi95"]))
    out.floor, out.ceiling = floor, _num(curve.params_["ceiling"])
    seen: set[float] = set()
    for value, label in sorted(thresholds):
        line = ThresholdLine(value=value, label=label)
        out.thresholds.append(line)
        if value in seen:
            continue
        seen.add(value)
        try:
            cross = curve.crossing(value)
            line.crossing_quantiles = {k: _num(v) for k, v in cross.compute_quantiles.items()}
            line.cdf = _nums(curve.crossing_cdf(value, grid))
            line.warnings = [w for w in cross.warnings if w not in out.warnings]
            for nm in sorted(focus):
                m = models.get(nm)
                if m is None or not m.effective_compute_flop:
                    continue
                planned = curve.crossing(value, at_compute_flop=4 * m.effective_compute_flop)
                line.planned.append({"model": nm, "compute_flop": 4 * m.effective_compute_flop,
                                     "probability": _num(planned.probability),
                                     "predicted": _num(planned.predicted)})
        except TripwireError as e:
            line.available, line.reason = False, str(e)
    return out


def trend_section(reg: Register, bench: Benchmark, models: Mapping[str, Model], *,
                  focus: Iterable[str] = (), n_boot: int = DEFAULT_BOOT, seed: int = 0,
                  notices: list[Notice] | None = None) -> TrendSection:
    """The benchmark's score against release date, as a logit trend (odds doubling time)."""
    from tripwire.forecast import TimeTrend

    notices = notices if notices is not None else []
    focus = set(focus)
    out = TrendSection(benchmark=bench.id)
    names, _, vals, _, dates = _points(reg, bench, models, focus)
    keep = [i for i, d in enumerate(dates) if d is not None]
    out.points = [Point(label=names[i], x=dates[i].isoformat(), y=float(vals[i]),  # type: ignore[union-attr]
                        highlight=names[i] in focus) for i in keep]
    out.n_models = len(keep)
    if not bench.higher_is_better:
        out.reason = "lower is better on this benchmark; no rising trend to fit"
        return out
    floor = bench.chance if bench.chance is not None else 0.0

    def fit() -> Any:
        return TimeTrend(transform="logit", floor=floor, ceiling=bench.ceiling, n_boot=n_boot,
                         seed=seed).fit([dates[i] for i in keep], vals[keep])

    trend, reason = _catch(f"time trend {bench.id}", notices, fit)
    if trend is None:
        out.reason = reason
        return out
    out.available = True
    summ = trend.summary()
    out.doubling_days = _num(summ.get("doubling_days"))
    lo, hi = trend.doubling_interval(0.95)
    out.doubling_95 = (_num(lo), _num(hi))
    out.warnings = list(summ.get("warnings", []))
    known = [d for d in dates if d is not None]
    first, last = min(known), max(known)
    span = (last - first).days
    grid = [first + dt.timedelta(days=round(k * (span * 1.4) / 59)) for k in range(60)]
    band = trend.predict(grid)
    out.curve = Band(x=[g.isoformat() for g in grid], y=_nums(band["predicted"]),
                     lo80=_nums(band["lo80"]), hi80=_nums(band["hi80"]),
                     lo95=_nums(band["lo95"]), hi95=_nums(band["hi95"]))
    return out


def backtest_boot(n_boot: int) -> int:
    """Bootstrap resamples of each backtest cutoff's fit, for a report fitted with n_boot."""
    return max(50, n_boot // 2)


def forecast_backtest(reg: Register, bench: Benchmark, models: Mapping[str, Model], *,
                      thresholds: Sequence[float] = (), n_boot: int = 100, seed: int = 0,
                      notices: list[Notice] | None = None) -> tuple[Any, str | None]:
    """The walk-forward backtest of the benchmark's compute forecast (fit on smaller models,
    predict the larger), as (`tripwire.forecast.Backtest`, None) or (None, why not).

    Its lead time is that of the lowest threshold; threshold probabilities are recorded for
    every threshold and the quartiles of the scores, for the reliability diagram.
    """
    import numpy as np

    from tripwire.forecast import backtest_compute

    notices = notices if notices is not None else []
    if not bench.higher_is_better:
        return None, "lower is better on this benchmark"
    names, comp, vals, samples, _ = _points(reg, bench, models, set())
    has = np.isfinite(comp)
    floor = bench.chance if bench.chance is not None else 0.0
    levels = sorted({float(v) for v in thresholds}
                    | {float(q) for q in np.quantile(vals[has], [0.25, 0.5, 0.75])}
                    if has.any() else {float(v) for v in thresholds})

    kept = [nm for nm, ok in zip(names, has, strict=True) if ok]
    threshold = min(thresholds, default=None)
    key = hashlib.sha256(repr((bench.id, floor, kept, threshold, levels, n_boot, seed)).encode()
                         + comp[has].tobytes() + vals[has].tobytes()
                         + samples[has].tobytes()).hexdigest()
    with _BACKTESTS_LOCK:
        hit = _BACKTESTS.get(key)
    if hit is not None:
        if hit[0] is None:
            notices.append(Notice(section=f"backtest {bench.id}", message=str(hit[1])))
        return hit

    def run() -> Any:
        return backtest_compute(comp[has], vals[has], floor=floor, samples=samples[has],
                                names=kept, threshold=threshold, n_boot=n_boot, seed=seed,
                                events=levels)

    got = _catch(f"backtest {bench.id}", notices, run)
    with _BACKTESTS_LOCK:
        _BACKTESTS[key] = got
        while len(_BACKTESTS) > _BACKTESTS_KEPT:
            _BACKTESTS.pop(next(iter(_BACKTESTS)))
    return got


_BACKTESTS: dict[str, tuple[Any, str | None]] = {}
"""Backtests already run in this process, keyed by everything they depend on (the
benchmark's models, compute, scores and sample counts, the levels, resamples and seed): the
dashboard's pages and a report's sections ask for the same ones again."""
_BACKTESTS_KEPT = 256
_BACKTESTS_LOCK = threading.Lock()


def forecast_calibration(bt: Any, reason: str | None,
                         model_error: dict[str, Any] | None = None) -> ForecastCalibration:
    """The verdict on a forecast's intervals from its backtest (`forecast_backtest`), with
    the reliability diagrams of the intervals and of the threshold probabilities."""
    from tripwire.forecast._evaluate import score, verdict

    summary = None if bt is None else bt.summary
    status, text = verdict(summary, error=reason if bt is None else None,
                           model_error=model_error)
    out = ForecastCalibration(status=status, text=text, model_error=dict(model_error or {}))
    if bt is None or not len(bt.predictions):
        return out
    sc = score(bt.predictions, distance="decades_past_data", bins=(0.0, 0.5, 1.0, 2.0, 5.0))
    out.n_cutoffs = int(bt.summary.get("n_cutoffs") or 0)
    out.n_predictions = int(sc["n_predictions"])
    for k in ("mae", "coverage80", "coverage95", "interval_score80", "interval_score95"):
        setattr(out, k, _num(sc.get(k)))
    out.reliability = [{k: _num(v) for k, v in r.items()} for r in sc.get("reliability", [])]
    out.probability_reliability = [{k: (_num(v) if k != "n" else v) for k, v in r.items()}
                                   for r in sc.get("probability_reliability", [])]
    out.levels = sorted(float(c[5:]) for c in bt.predictions.columns if c.startswith("p_ge_"))
    return out


def backtest_row(reg: Register, bench: Benchmark, models: Mapping[str, Model], *,
                 threshold: float | None = None, n_boot: int = 100, seed: int = 0,
                 notices: list[Notice] | None = None,
                 backtest: tuple[Any, str | None] | None = None) -> BacktestRow:
    """Backtest the compute forecast: fit on smaller models, score the forecasts of larger
    (`backtest`: what `forecast_backtest` returned, when it ran already)."""
    out = BacktestRow(benchmark=bench.id, threshold=threshold)
    if backtest is None:
        backtest = forecast_backtest(reg, bench, models,
                                     thresholds=[] if threshold is None else [threshold],
                                     n_boot=n_boot, seed=seed, notices=notices)
    bt, reason = backtest
    if bt is None:
        out.reason = reason
        return out
    s = bt.summary
    out.available = True
    out.n_cutoffs, out.n_predictions = s.get("n_cutoffs"), s.get("n_predictions")
    out.mae, out.coverage80, out.coverage95 = (_num(s.get("mae")), _num(s.get("coverage80")),
                                               _num(s.get("coverage95")))
    out.lead, out.lead_units = _num(s.get("lead")), s.get("lead_units")
    out.skipped = list(s.get("skipped", []))
    return out


def anomaly_rows(reg: Register, bench: Benchmark, models: Mapping[str, Model], *,
                 notices: list[Notice] | None = None) -> list[AnomalyRow]:
    """Scores implausibly low for the model's compute (leave-one-out sigmoid, z <= -2.5): the
    check `assess` and `forecast --anomalies` show (forecast.benchmark_anomalies)."""
    from tripwire.forecast import benchmark_anomalies

    notices = notices if notices is not None else []
    if not bench.higher_is_better:
        return []
    results = reg.results(benchmark=bench.id)
    frame, _ = _catch(f"anomalies {bench.id}", notices,
                      lambda: benchmark_anomalies(results, models, bench))
    if frame is None:
        return []
    return [AnomalyRow(model=str(r["model"]), benchmark=bench.id, score=_num(r["score"]),
                       expected=_num(r["expected"]), gap=_num(r["gap"]), z=_num(r["z"]),
                       p_low=_num(r["p_low"]), flagged=bool(r["flagged"]))
            for _, r in frame.iterrows() if bool(r["flagged"])]


def _entry_summary(kind: str, payload: Mapping[str, Any]) -> str:
    keys = ("model", "policy", "level", "safeguard", "by", "path", "file", "sha256", "action",
            "decision")
    parts = []
    for k in keys:
        v = payload.get(k)
        if k == "level" and kind == "determination":
            v = v or "none"
        if v is None or isinstance(v, (dict, list)):
            continue
        text = str(v)
        if k == "sha256":
            text = text[:12]
        parts.append(f"{k}={text}")
    if not parts:
        parts = [f"{k}={v}" for k, v in payload.items()
                 if isinstance(v, (str, int, float, bool))][:4]
    out = " ".join(parts)
    return out if len(out) <= 200 else out[:199] + "…"


def record_section(reg: Register, *, recent: int = 30,
                   notices: list[Notice] | None = None) -> RecordSection:
    """Verify the record and gather its last signed tree head and latest entries."""
    from tripwire.register import record_store as store

    notices = notices if notices is not None else []
    out = RecordSection()
    try:
        report = store.verify_register(reg)
        with reg.read() as conn:
            heads = store.checkpoints(conn)
            entries = store.entries(conn)
    except TripwireError as e:
        out.reason = str(e)
        notices.append(Notice(section="record", message=str(e)))
        return out
    out.available = True
    out.ok = report.ok
    out.entries = report.entries
    out.root_hash = report.root_hash
    out.failure = None if report.failure is None else str(report.failure)
    out.checkpoints = len(heads)
    out.evidence_checked = report.evidence
    out.evidence_rows = report.rows
    out.evidence_changes = [str(c) for c in report.changes]
    out.notes = list(report.notes)
    if heads:
        head = max(heads, key=lambda h: h.tree_size)
        out.last_head = {k: v for k, v in head.to_dict().items()}
    for entry in entries:
        out.kinds[entry.kind] = out.kinds.get(entry.kind, 0) + 1
    out.recent = [EntryRow(seq=x.seq, at=x.at.isoformat(), kind=x.kind, hash=x.entry_hash,
                           summary=_entry_summary(x.kind, x.payload))
                  for x in reversed(entries[-recent:])]
    return out


# ------------------------------------------------------------------------------ the report


def load_policies(names: Sequence[str] | None = None) -> list[Any]:
    """The policies a report judges under: these names or files (None: every built-in)."""
    from tripwire.policy import builtin_names, load_policy

    return [load_policy(name) for name in (builtin_names() if names is None else names)]


def policy_row(pol: Any) -> PolicyRow:
    p = pol.policy
    return PolicyRow(name=p.name, title=p.title or None, version=p.version, kind=p.kind,
                     sha256=pol.sha256, levels=[lv.id for lv in p.levels],
                     thresholds=len(pol.thresholds), builtin=bool(pol.builtin))


SECTIONS = ("determinations", "forecasts", "scaling", "trends", "backtests", "anomalies",
            "record", "changes")
"""The parts of a report that are computed; `gather_report(sections=...)` picks some."""


def gather_report(
    reg: Register,
    *,
    models: Sequence[str] | None = None,
    policies: Sequence[str] | Sequence[Any] | None = None,
    thresholds: Mapping[str, Sequence[float]] | None = None,
    sections: Iterable[str] | None = None,
    n_boot: int = DEFAULT_BOOT,
    seed: int = 0,
    title: str | None = None,
    now: dt.datetime | None = None,
    judged: Sequence[tuple[Determination, list[str]]] | None = None,
) -> ReportData:
    """Gather a report on `models` (None: every model) under `policies` (names, files or
    loaded policies; None: every built-in).

    `thresholds` adds score thresholds to draw and forecast, benchmark id -> values, beside those
    the policies' conditions name. `sections` limits the computed parts (default: all of
    SECTIONS). `judged` passes determinations just made (with their warnings) instead of
    judging again. Unknown model or policy names raise InputError naming the ones that exist.
    """
    want = set(SECTIONS if sections is None else sections)
    unknown = want - set(SECTIONS)
    if unknown:
        raise InputError(f"unknown report section {sorted(unknown)[0]!r}",
                         hint="known: " + ", ".join(SECTIONS))
    notices: list[Notice] = []
    all_models = reg.models()
    by_name = {m.name: m for m in all_models}
    if models is None:
        focus = [m.name for m in all_models]
        scope: Literal["model", "all"] = "all"
    else:
        focus = list(dict.fromkeys(reg.get_model(name).name for name in models))
        scope = "model"
    if policies is not None and all(hasattr(p, "thresholds") for p in policies):
        loaded = list(policies)
    else:
        loaded = load_policies([str(p) for p in policies] if policies is not None else None)
    results = reg.results()
    counts: dict[str, int] = {}
    for r in results:
        counts[r.model] = counts.get(r.model, 0) + 1
    focus_set = set(focus)
    highlight = focus_set if scope == "model" else set()

    data = ReportData(
        title=title or ("tripwire report: " + (focus[0] if scope == "model" and len(focus) == 1
                                                else "all models" if scope == "all"
                                                else ", ".join(focus))),
        generated_at=now or utcnow(), register_at=reg.display, scope=scope, focus=focus,
        counts=_register_counts(reg), notices=notices)
    data.models = [model_row(m, counts.get(m.name, 0)) for m in all_models]
    data.results = [result_row(r) for r in results if r.model in focus_set]
    data.policies = [policy_row(p) for p in loaded]

    if "determinations" in want:
        files = {f.sha256: f.path for f in reg.source_files()}
        titles = {p.name: p.policy.title or None for p in loaded}
        if judged is None:
            rows = determinations(reg, focus, loaded, at=now)
        else:
            latest = _latest_recorded(reg)
            rows = [(det, warned, latest.get((det.model, det.policy)))
                    for det, warned in judged if det.model in focus_set]
        for det, warned, entry in rows:
            view = determination_view(det, title=titles.get(det.policy), files=files,
                                      recorded=entry)
            view.warnings = warned
            data.determinations.append(view)
        levels = {(d.model, d.policy): d.level for d in data.determinations}
        for row in data.models:
            row.levels = {p.name: levels[(row.name, p.name)] for p in data.policies
                          if (row.name, p.name) in levels}
    if "scaling" in want:
        data.scaling = scaling_section(reg, n_boot=n_boot, seed=seed, notices=notices)
    extra = {k: list(v) for k, v in (thresholds or {}).items()}
    benches = [b for b in reg.benchmarks() if any(r.benchmark == b.id for r in results)]
    for bench in benches:
        lines = score_thresholds(loaded, bench.id) + [(float(v), "asked for")
                                                      for v in extra.pop(bench.id, [])]
        bt = None  # one backtest serves both; the forecast alone runs it when it can fit
        if "backtests" in want:
            bt = forecast_backtest(reg, bench, by_name, thresholds=[v for v, _ in lines],
                                   n_boot=backtest_boot(n_boot), seed=seed, notices=notices)
        if "forecasts" in want:
            data.capabilities.append(capability_section(
                reg, bench, by_name, thresholds=lines, focus=highlight, n_boot=n_boot,
                seed=seed, notices=notices, backtest=bt))
        if "trends" in want:
            data.trends.append(trend_section(reg, bench, by_name, focus=highlight,
                                             n_boot=n_boot, seed=seed, notices=notices))
        if "backtests" in want:
            data.backtests.append(backtest_row(reg, bench, by_name,
                                               threshold=min((v for v, _ in lines),
                                                             default=None),
                                               backtest=bt))
        if "anomalies" in want:
            data.anomalies.extend(anomaly_rows(reg, bench, by_name, notices=notices))
    for bench_id in extra:
        notices.append(Notice(section="forecasts",
                              message=f"no results for benchmark {bench_id!r}, so no forecast "
                                      "for its threshold"))
    if "changes" in want:
        for name in focus:
            got, _ = _catch("changes", notices, functools.partial(
                changes_section, reg, name, models=all_models))
            if got is not None:
                data.changes.append(got)
    if "record" in want:
        data.record = record_section(reg, notices=notices)
        data.attestations = attestation_rows(reg)
        data.obligations = obligation_rows(reg, focus if scope == "model" else None,
                                           as_of=now)
    return data


def _register_counts(reg: Register) -> dict[str, int]:
    raw = reg.counts()
    names = {"models": "models", "eval_results": "results", "benchmarks": "benchmarks",
             "loss_observations": "loss points", "source_files": "source files",
             "eval_samples": "sample scores", "record_entries": "record entries",
             "record_checkpoints": "checkpoints"}
    return {label: raw[table] for table, label in names.items() if table in raw}


def determinations(reg: Register, models: Sequence[str], policies: Sequence[Any], *,
                   at: dt.datetime | None = None
                   ) -> list[tuple[Determination, list[str], Any]]:
    """Each model judged now under each policy, as `tripwire assess` judges it but without
    recording: (determination, warnings, the latest recorded determination's entry or None)."""
    from tripwire.assess import assess
    from tripwire.register.snapshot import CachedReads

    latest = _latest_recorded(reg)
    at = at or utcnow()
    out = []
    snap = CachedReads(reg)  # every judgement reads the same models, results and benchmarks
    for name in models:
        for pol in policies:
            a = assess(snap, name, pol, at=at, record=False)
            out.append((a.determination, a.warnings, latest.get((name, pol.name))))
    return out


def _latest_recorded(reg: Register) -> dict[tuple[str, str], Any]:
    """The newest recorded determination entry of each (model, policy)."""
    from tripwire.register import record_store as store

    latest: dict[tuple[str, str], Any] = {}
    try:
        with reg.read() as conn:
            for e in store.entries(conn, kind="determination"):
                latest[(str(e.payload.get("model")), str(e.payload.get("policy")))] = e
    except TripwireError:
        return {}
    return latest


def obligation_rows(reg: Register, models: Sequence[str] | None = None, *,
                    as_of: dt.datetime | None = None) -> list[ObligationRow]:
    """The calendar of clocked obligations (of `models`, or all) as of `as_of`, overdue
    first."""
    from tripwire import obligations as obl

    one = models[0] if models is not None and len(models) == 1 else None
    try:
        got = obl.obligations(reg, include_met=True, as_of=as_of, model=one)
    except TripwireError:
        return []
    keep = set(models) if models is not None else None
    return [ObligationRow(**r) for r, o in zip(obl.calendar_rows(got), got, strict=True)
            if keep is None or o.model in keep]


def attestation_rows(reg: Register) -> list[AttestationRow]:
    """Attestations in the record, newest first."""
    from tripwire.register import record_store as store

    try:
        with reg.read() as conn:
            found = store.entries(conn, kind="attestation")
    except TripwireError:
        return []
    rows = []
    for e in reversed(found):
        p = e.payload
        rows.append(AttestationRow(model=p.get("model"), safeguard=str(p.get("safeguard", "")),
                                   by=p.get("by"), evidence=p.get("evidence"),
                                   evidence_sha256=p.get("evidence_sha256"),
                                   at=p.get("at") or e.at.isoformat(), note=p.get("note"),
                                   record_seq=e.seq))
    return rows
