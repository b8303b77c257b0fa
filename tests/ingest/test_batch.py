"""A Batch is plain data: sent to another process (pickled) it holds what it held."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from tripwire import ingest
from tripwire.ingest.batch import Batch

EXAMPLES = Path(ingest.__file__).resolve().parents[1] / "examples"


def _view(batch: Batch) -> dict[str, Any]:
    """Everything a Batch holds that the register stores or reports, comparable."""
    return {
        "path": batch.path, "kind": batch.kind, "sha256": batch.sha256, "size": batch.size,
        "models": [m.model_dump() for m in batch.models],
        "results": [r.model_dump() for r in batch.results],
        "benchmarks": [b.model_dump() for b in batch.benchmarks],
        "loss": [p.model_dump() for p in batch.loss],
        "samples": {i: [s.model_dump() for s in ss] for i, ss in batch.samples.items()},
        "warnings": batch.warnings, "skipped": batch.skipped, "run_key": batch.run_key,
        "lines": (batch.model_lines, batch.result_lines), "planned": batch.planned,
        "ledger": batch.ledger, "export": (batch.export_date, batch.export_basis),
    }


def _real_files(shared: Path | None) -> list[Path]:
    files = sorted(p for p in EXAMPLES.iterdir() if p.suffix == ".csv")
    if shared is not None:
        files += sorted((shared / "inspect_ai").iterdir())
        files += sorted((shared / "lm_eval_harness").rglob("*results_*.json"))
    return files


def test_batches_survive_pickling(shared_data: Path) -> None:
    """A Batch of every format, sent to another process and back, holds what it held,
    benchmarks declared for later included (an lm-eval file sends only what they need)."""
    files = _real_files(shared_data)
    assert len(files) > 8
    for f in files:
        batch = ingest.read_file(f)
        sent = pickle.loads(pickle.dumps(batch))
        assert _view(sent) == _view(ingest.read_file(f)), f


def test_lmeval_declaration_sends_little(shared_data: Path) -> None:
    """The declared-later benchmarks of an lm-eval file travel without the file's configs and
    results: a small part of the pickled Batch."""
    f = max((shared_data / "lm_eval_harness").rglob("*results_*.json"),
            key=lambda p: p.stat().st_size)
    batch = ingest.read_file(f)
    assert batch._pending is not None
    whole = len(pickle.dumps(batch._pending[1].doc))
    declaration = len(pickle.dumps(batch._pending))
    assert declaration < whole / 2, (declaration, whole)
