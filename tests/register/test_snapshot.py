"""CachedReads answers as the register does, from memory after the first time."""

from __future__ import annotations

from pathlib import Path

import pytest
from report.sample_register import FOCUS, build

from tripwire.errors import InputError
from tripwire.register.snapshot import CachedReads


def test_cached_reads_answer_as_the_register(tmp_path: Path) -> None:
    reg = build(tmp_path)
    snap = CachedReads(reg)
    assert snap.models() == reg.models()
    assert snap.get_model(FOCUS) == reg.get_model(FOCUS)
    assert snap.results(model=FOCUS) == reg.results(model=FOCUS)
    assert snap.benchmarks() == reg.benchmarks()
    bench = reg.benchmarks()[0].id
    assert snap.get_benchmark(bench) == reg.get_benchmark(bench)
    assert snap.results(benchmark=bench) == reg.results(benchmark=bench)
    # remembered: the same objects come back, in fresh lists the caller may change
    first = snap.models()
    first.clear()
    assert snap.models() and snap.get_model(FOCUS) is snap.get_model(FOCUS)
    with pytest.raises(InputError, match="no model named"):
        snap.get_model("not-a-model")
    assert ("model", "not-a-model") not in snap._memo
    reg.close()
