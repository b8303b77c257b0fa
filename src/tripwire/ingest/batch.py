"""What a reader hands the register: everything one file says, stored all-or-nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from tripwire.model import Benchmark, EvalResult, LossObservation, Model, SampleScore


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
    results: list[EvalResult] = field(default_factory=list)
    loss: list[LossObservation] = field(default_factory=list)
    samples: dict[int, list[SampleScore]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    model_lines: list[int] = field(default_factory=list)
    """Source line of each entry of `models` (for messages), when the reader knows it."""
    skipped: str | None = None

    @property
    def count(self) -> int:
        """Rows this file contributes."""
        return len(self.models) + len(self.results) + len(self.loss)
