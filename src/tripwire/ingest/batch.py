"""What a reader hands the register: everything one file says, stored all-or-nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from tripwire import ledger
from tripwire.model import (
    Benchmark,
    EvalResult,
    LossObservation,
    Model,
    SampleScore,
    trusted,
)


@dataclass
class ResultTable:
    """Many results as columns: the bulk path of large results tables and of log readers,
    where one object per row would cost more than storing it. Holds exactly what the same
    EvalResults would: the optional columns are None where every row's value is None, and
    `extra` holds each row's extra mapping as the JSON text the register stores."""

    model: list[str]
    benchmark: list[str]
    original_benchmark: list[str]
    metric: list[str]
    value: list[float]
    stderr: list[float | None]
    samples: list[int | None]
    filter: list[str | None] | None = None
    extra: list[str | None] | None = None
    created_at: dt.datetime | None = None
    """When the evaluation ran, for every row (one file, one run)."""
    source_file: str | None = None
    source_sha256: str | None = None

    def __len__(self) -> int:
        return len(self.value)

    def to_results(self) -> list[EvalResult]:
        n = len(self)
        filters = self.filter if self.filter is not None else [None] * n
        extras = self.extra if self.extra is not None else [None] * n
        parsed: dict[str | None, dict] = {None: {}}
        for text in set(extras):
            if text is not None:
                parsed[text] = json.loads(text)
        return [
            trusted(
                EvalResult,
                model=m,
                benchmark=b,
                original_benchmark=ob,
                metric=me,
                value=v,
                stderr=se,
                samples=k,
                filter=f,
                created_at=self.created_at,
                source_file=self.source_file,
                source_sha256=self.source_sha256,
                original_model=m if self.source_file is not None else None,
                extra=dict(parsed[x]),
            )
            for m, b, ob, me, v, se, k, f, x in zip(
                self.model,
                self.benchmark,
                self.original_benchmark,
                self.metric,
                self.value,
                self.stderr,
                self.samples,
                filters,
                extras,
                strict=True,
            )
        ]


@dataclass(frozen=True)
class PlannedRun:
    """A training run a models table marks `planned`: recorded on ingest as the intention
    (the event "it becomes known that it will be met" clocks run from), not as a model."""

    model: Model
    """The planned model: name, planned compute (or parameters and tokens), organisation."""
    start: dt.date
    """When the run is to start."""
    line: int
    """Its row in the file."""


@dataclass
class Batch:
    """The contents of one source file, in model types, before any storage.

    `samples` maps an index into `results` to that result's per-sample scores.
    `skipped` is set (with the reason) when the file is valid but holds nothing to store,
    e.g. an Inspect log whose status is not `success`.
    """

    path: str
    kind: str
    sha256: str
    size: int
    models: list[Model] = field(default_factory=list)
    loss: list[LossObservation] = field(default_factory=list)
    ledger: list[ledger.Entry] = field(default_factory=list)
    """Compute-ledger entries (parts of a model's training compute)."""
    planned: list[PlannedRun] = field(default_factory=list)
    """Planned training runs (models-table rows with `status` planned)."""
    samples: dict[int, list[SampleScore]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    model_lines: list[int] = field(default_factory=list)
    """Source line of each entry of `models` (for messages), when the reader knows it."""
    result_lines: list[int] = field(default_factory=list)
    """Source line of each result, in order (for messages), when the reader knows it."""
    new_models: bool = False
    """A results table may create the models it names that the register lacks (`ingest
    --new-models`); without it such a name is an error. Logs always create theirs."""
    skipped: str | None = None
    run_key: str | None = None
    """Identity of the evaluation run and of the results the file holds (a SHA-256), where
    the format has run ids: the same run saved in two formats is stored once."""
    etag: str | None = None
    """The object store's ETag of a file read from a URL (with `size`, the object's size)."""
    export_date: dt.date | None = None
    """The date of a database export (an Epoch AI export): of two exports, the later-dated
    one's figures are the current ones, whichever was ingested last."""
    export_basis: str | None = None
    """What `export_date` rests on (the user's word, a column, the file name, ...)."""
    table: ResultTable | None = None
    """Results read by a bulk reader, as columns; `results` turns them into objects on use."""
    _results: list[EvalResult] = field(default_factory=list, repr=False)
    _benchmarks: list[Benchmark] = field(default_factory=list, repr=False)
    _pending: tuple[list[str], Callable[[], list[Benchmark]]] | None = field(
        default=None, repr=False
    )

    @property
    def results(self) -> list[EvalResult]:
        """The file's evaluation results (readers append to this list)."""
        if self.table is not None:
            self._results.extend(self.table.to_results())
            self.table = None
        return self._results

    @property
    def benchmarks(self) -> list[Benchmark]:
        """Benchmarks the file declares, with what it says of them (readers append)."""
        if self._pending is not None:
            self._benchmarks.extend(self._pending[1]())
            self._pending = None
        return self._benchmarks

    def declare_later(self, ids: list[str], make: Callable[[], list[Benchmark]]) -> None:
        """Declare benchmarks `ids` whose descriptions `make()` builds when first asked for:
        the register needs them only for benchmarks it does not hold yet."""
        self._pending = (ids, make)

    @property
    def benchmark_ids(self) -> list[str]:
        """Ids of the declared benchmarks, without building their descriptions."""
        if self._pending is not None:
            return [b.id for b in self._benchmarks] + self._pending[0]
        return [b.id for b in self._benchmarks]

    @property
    def result_count(self) -> int:
        return len(self._results) + (len(self.table) if self.table is not None else 0)

    @property
    def count(self) -> int:
        """Rows this file contributes."""
        declared = len(self.benchmarks) if self.kind == "benchmarks-csv" else 0
        return (len(self.models) + self.result_count + len(self.loss) + len(self.ledger)
                + len(self.planned) + declared)
