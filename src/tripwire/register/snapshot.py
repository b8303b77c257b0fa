"""A register whose model, benchmark and result queries are answered from memory after the
first time: for work that reads one unchanging state many times over, such as a report judging
every model under every policy (each judgement reads the model, its results, the benchmarks and
every model on a benchmark). Writes still go to the database but later reads through the memo
do not see them, so it is for reading only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tripwire.model import Benchmark, EvalResult, Model
from tripwire.register.core import Register

T = TypeVar("T")


class CachedReads(Register):
    """`reg`'s connection and settings, with `models`, `get_model`, `benchmarks`,
    `get_benchmark` and `results` remembered per arguments (lists are copied on the way out;
    a lookup that fails, such as an unknown name, is asked again every time)."""

    def __init__(self, reg: Register) -> None:
        self.__dict__.update(reg.__dict__)
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _remember(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]  # type: ignore[no-any-return]

    def models(self) -> list[Model]:
        return list(self._remember(("models",), super().models))

    def get_model(self, name: str) -> Model:
        return self._remember(("model", name), lambda: super(CachedReads, self).get_model(name))

    def benchmarks(self) -> list[Benchmark]:
        return list(self._remember(("benchmarks",), super().benchmarks))

    def get_benchmark(self, bid: str) -> Benchmark:
        return self._remember(("benchmark", bid),
                              lambda: super(CachedReads, self).get_benchmark(bid))

    def results(self, model: str | None = None, benchmark: str | None = None, *,
                metric: str | None = None) -> list[EvalResult]:
        return list(self._remember(
            ("results", model, benchmark, metric),
            lambda: super(CachedReads, self).results(model, benchmark, metric=metric)))
