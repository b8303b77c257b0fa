"""The data types every layer speaks: models, loss points, benchmarks, results, attestations,
determinations. Plain pydantic models with no storage logic, so the numeric core, the readers,
the register and the surfaces share one vocabulary.

Units: compute in FLOP, cost in 2023 US dollars, params and tokens as plain counts,
times as timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> dt.datetime:
    """Now, in UTC, to the microsecond."""
    return dt.datetime.now(dt.UTC)


class Variant(StrEnum):
    """Which variant of a model was evaluated: before or after safety mitigations."""

    PRE = "pre-mitigation"
    POST = "post-mitigation"


class ComputeMethod(StrEnum):
    """Where a training-compute figure came from."""

    GIVEN = "given"
    SIX_N_D = "6ND"
    HARDWARE = "hardware"


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, use_enum_values=True)


class Model(_Base):
    """One trained model (or training run) in the register."""

    name: str
    """Register identity; unique."""
    organization: str | None = None
    family: str | None = None
    release_date: dt.date | None = None
    params: float | None = None
    """Parameter count N."""
    tokens: float | None = None
    """Training tokens (or datapoints) D."""
    compute_flop: float | None = None
    """Physical training compute C, FLOP."""
    compute_method: ComputeMethod | None = None
    """`given` when C was stated by the source, otherwise how it was estimated."""
    compute_confidence: str | None = None
    """How sure the source is of C, in Epoch AI's vocabulary (Confident, Likely, Speculative,
    Unknown); None for a figure the developer disclosed or tripwire estimated."""
    multiplier: float = 1.0
    """Declared algorithmic-efficiency multiplier; effective compute = C x multiplier."""
    cost_usd: float | None = None
    """Estimated training cost, US dollars."""
    parent: str | None = None
    """Base model for fine-tunes and variants."""
    variant: Variant | None = None
    source: str | None = None
    """Where the numbers came from (paper, model card, dataset)."""

    @property
    def compute_estimated(self) -> bool:
        """True when C is an estimate rather than a figure the source gave."""
        return self.compute_method not in (None, ComputeMethod.GIVEN, "given")

    @property
    def effective_compute_flop(self) -> float | None:
        """C x declared algorithmic multiplier (None when C is unknown)."""
        if self.compute_flop is None:
            return None
        return self.compute_flop * self.multiplier


class LossObservation(_Base):
    """One point a scaling law is fitted to: a run's size, data, compute and final loss."""

    model: str | None = None
    params: float
    tokens: float
    compute_flop: float | None = None
    loss: float
    source: str | None = None


class Benchmark(_Base):
    """An evaluation: what is measured, which way is better, and its chance level."""

    id: str
    name: str | None = None
    metric: str | None = None
    higher_is_better: bool = True
    chance: float | None = None
    """Score of random guessing, on the same scale as results (the sigmoid floor)."""
    ceiling: float | None = None
    """Best attainable score (the sigmoid ceiling), default 1 for accuracies."""
    parent: str | None = None
    """Group this benchmark belongs to (e.g. `mmlu` for `mmlu_anatomy`)."""
    dataset: str | None = None
    samples: int | None = None
    source: str | None = None


class SourceFile(_Base):
    """An ingested file, identified by the sha256 of its bytes."""

    id: int | None = None
    path: str
    sha256: str
    kind: str
    """Reader that took it: models-csv, evals-csv, loss-csv, epoch-csv, inspect, lm-eval, ..."""
    size: int
    version: int = 1
    """1 for the first file of this path, +1 for each changed file of the same path."""
    ingested_at: dt.datetime = Field(default_factory=utcnow)
    export_date: dt.date | None = None
    """The date of a database export, and what it rests on (`export_basis`)."""
    export_basis: str | None = None


class EvalResult(_Base):
    """One metric of one model on one benchmark, with its uncertainty and provenance."""

    id: int | None = None
    model: str
    benchmark: str
    metric: str = "accuracy"
    value: float
    stderr: float | None = None
    samples: int | None = None
    """Number of scored samples behind `value`."""
    source_file: str | None = None
    source_sha256: str | None = None
    created_at: dt.datetime | None = None
    """When the evaluation ran (from the log), else when it was ingested."""
    original_model: str | None = None
    """The model name as written in the source, before alias mapping."""
    original_benchmark: str | None = None
    filter: str | None = None
    """lm-eval filter (`none`, `strict-match`, ...) where one applies."""
    variant: Variant | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class SampleScore(_Base):
    """One sample's score behind an EvalResult (stored with `ingest --samples`)."""

    sample_id: str
    epoch: int = 1
    score: float | None = None
    raw: str | None = None
    """The score as written when it is not numeric (e.g. `C`, `I`)."""


class Attestation(_Base):
    """A safeguard declared in place, by someone, with evidence, at a time."""

    model: str | None
    """None means every model (an organisation-wide safeguard)."""
    safeguard: str
    by: str
    evidence: str | None = None
    """A URL or a file path."""
    evidence_sha256: str | None = None
    at: dt.datetime = Field(default_factory=utcnow)
    note: str | None = None


class EvidenceRef(_Base):
    """A piece of evidence a threshold judgement used."""

    kind: str = "result"
    """`result`, `model` (a model quantity), `attestation`, `forecast` or `anomaly`."""
    result_id: int | None = None
    benchmark: str | None = None
    quantity: str | None = None
    value: float | str | None = None
    stderr: float | None = None
    source_sha256: str | None = None


class ThresholdState(_Base):
    """One threshold judged for one model."""

    id: str
    level: str
    state: str
    """crossed | likely | possible | alert | clear | insufficient"""
    probability: float | None = None
    """P(condition holds) given the evidence and its uncertainty."""
    reason: str | None = None
    evidence: list[EvidenceRef] = Field(default_factory=list)


class Determination(_Base):
    """One model judged under one policy at one time."""

    version: int = 1
    """Record format; bump when a field changes meaning."""
    model: str
    policy: str
    policy_version: str
    policy_sha256: str
    at: dt.datetime = Field(default_factory=utcnow)
    level: str | None
    """Highest level whose thresholds count as crossed (None: below every level)."""
    thresholds: list[ThresholdState] = Field(default_factory=list)
    required_safeguards: dict[str, list[str]] = Field(default_factory=dict)
    """Action (`train`, `deploy`) -> safeguards the level requires."""
    missing_safeguards: dict[str, list[str]] = Field(default_factory=dict)
    allowed_actions: list[str] = Field(default_factory=list)
    next_due: dt.date | None = None
    """When the cadence requires the next assessment."""
    next_due_compute_flop: float | None = None
    """Effective compute at which the cadence requires the next assessment."""
    forecasts: list[dict[str, Any]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    mapping: dict[str, str] = Field(default_factory=dict)
    """Evidence name -> benchmark id the user mapped (`--map`) for this determination."""
    parameters: dict[str, float | None] = Field(default_factory=dict)
    """Policy parameter values in force (defaults and `--set` overrides)."""
    evidence_rows: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Register rows the judgement used: table -> key -> the row's leaf hash (hex) as read,
    the same hash the record committed for it (`tripwire.register.evidence`)."""


_M = TypeVar("_M", bound=BaseModel)
_PLAIN_DEFAULTS: dict[type, tuple[dict[str, Any], tuple[tuple[str, Any], ...]]] = {}


def trusted(cls: type[_M], **values: Any) -> _M:
    """Build `cls` from values a reader has already validated, without a second validation.

    Bulk readers make 10^5 results per file; pydantic's `model_construct` spends most of
    their time on defaults. Field defaults are computed once per class here; factories
    (mutable defaults) are still called per instance.
    """
    spec = _PLAIN_DEFAULTS.get(cls)
    if spec is None:
        plain = {n: f.default for n, f in cls.model_fields.items()
                 if f.default_factory is None and not f.is_required()}
        factories = tuple((n, f.default_factory) for n, f in cls.model_fields.items()
                          if f.default_factory is not None)
        spec = _PLAIN_DEFAULTS[cls] = (plain, factories)
    plain, factories = spec
    d = dict(plain)
    for n, factory in factories:
        if n not in values:
            d[n] = factory()  # type: ignore[call-arg]
    d.update(values)
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", d)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj
