"""What a reader hands the register: everything one file says, stored all-or-nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    """Many results as columns: the bulk path of large results tables, where one object per
    row would cost more than storing it. Holds exactly what the same EvalResults would."""

    model: list[str]
    benchmark: list[str]
    original_benchmark: list[str]
    metric: list[str]
    value: list[float]
    stderr: list[float | None]
    samples: list[int | None]

    def __len__(self) -> int:
        return len(self.value)

    def to_results(self) -> list[EvalResult]:
        return [
            trusted(
                EvalResult,
                model=m,
                benchmark=b,
                original_benchmark=ob,
                metric=me,
                value=v,
                stderr=se,
                samples=n,
                extra={},
            )
            for m, b, ob, me, v, se, n in zip(
                self.model,
                self.benchmark,
                self.original_benchmark,
                self.metric,
                self.value,
                self.stderr,
                self.samples,
                strict=True,
            )
        ]


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
    benchmarks: list[Benchmark] = field(default_factory=list)
    loss: list[LossObservation] = field(default_factory=list)
    samples: dict[int, list[SampleScore]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    model_lines: list[int] = field(default_factory=list)
    """Source line of each entry of `models` (for messages), when the reader knows it."""
    skipped: str | None = None
    table: ResultTable | None = None
    """Results read by a bulk reader, as columns; `results` turns them into objects on use."""
    _results: list[EvalResult] = field(default_factory=list, repr=False)

    @property
    def results(self) -> list[EvalResult]:
        """The file's evaluation results (readers append to this list)."""
        if self.table is not None:
            self._results.extend(self.table.to_results())
            self.table = None
        return self._results

    @property
    def result_count(self) -> int:
        return len(self._results) + (len(self.table) if self.table is not None else 0)

    @property
    def count(self) -> int:
        """Rows this file contributes."""
        return len(self.models) + self.result_count + len(self.loss)
