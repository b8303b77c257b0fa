"""Parsing in worker processes (`ingest.ahead`): what comes back is what parsing in process
gives, errors come back whole, a worker's fault or death is raised rather than waited on, and
an ingest with workers stores exactly what one without does."""

from __future__ import annotations

import json
import operator
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tripwire import ingest
from tripwire.errors import InputError, TripwireError
from tripwire.ingest import ahead
from tripwire.ingest.ahead import Ahead, WorkerFault, workers_for
from tripwire.ingest.batch import Batch
from tripwire.register import open_register

EXAMPLES = Path(ingest.__file__).resolve().parents[1] / "examples"

needs_fork = pytest.mark.skipif(not ahead._can_fork(), reason="workers are forked (Linux only)")


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


def test_errors_pickle_with_their_parts() -> None:
    e = InputError("bad value", source="f.csv", where="row 3", hint="fix it")
    e.note = "kept"  # type: ignore[attr-defined]
    got = pickle.loads(pickle.dumps(e))
    assert type(got) is InputError
    assert (got.message, got.source, got.where, got.hint) == ("bad value", "f.csv", "row 3",
                                                              "fix it")
    assert str(got) == str(e) and got.note == "kept"  # type: ignore[attr-defined]


def test_workers_for() -> None:
    assert workers_for(10) == 0
    assert workers_for(10, 0) == 0
    if ahead._can_fork():
        assert workers_for(10, 2) == 2
        cores = len(os.sched_getaffinity(0))
        assert workers_for(1000) == max(0, min(cores - 1, ahead.MAX_WORKERS))
    else:
        assert workers_for(1000, 2) == 0


@needs_fork
def test_results_in_order_and_errors_whole(tmp_path: Path) -> None:
    """Tickets come back in any order the caller asks; a file's error comes back as the
    InputError the reader raised, naming the file."""
    good = EXAMPLES / "models.csv"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with Ahead(2) as pool:
        tickets = [pool.submit(ingest.parse, *ingest.load(p)) for p in (good, bad, good)]
        last, err, first = (pool.result(t) for t in reversed(tickets))
    assert isinstance(first, Batch) and isinstance(last, Batch)
    assert _view(first) == _view(ingest.read_file(good))
    assert isinstance(err, TripwireError) and err.source == str(bad)


@needs_fork
def test_a_fault_is_raised_not_returned() -> None:
    with Ahead(1) as pool, pytest.raises(WorkerFault, match="ZeroDivisionError"):
        pool.result(pool.submit(operator.truediv, 1, 0))


@needs_fork
def test_a_dead_worker_is_raised_not_waited_on() -> None:
    start = time.monotonic()
    with Ahead(1) as pool, pytest.raises(WorkerFault, match="exit code 3"):
        pool.result(pool.submit(os._exit, 3))
    assert time.monotonic() - start < 30


@needs_fork
def test_close_with_work_outstanding_ends_the_workers() -> None:
    pool = Ahead(1)
    for _ in range(5):
        pool.submit(time.sleep, 30)
    start = time.monotonic()
    pool.close()
    assert time.monotonic() - start < 10
    assert not any(p.is_alive() for p in pool._procs)


@needs_fork
def test_workers_of_a_killed_ingest_end(tmp_path: Path) -> None:
    """An ingest killed outright (no chance to stop its workers) leaves no worker behind, even
    one holding a result nobody will read (more than a pipe holds)."""
    script = (
        "import os, sys, time\n"
        "from tripwire.ingest.ahead import Ahead\n"
        "pool = Ahead(1)\n"
        "pool.result(pool.submit(time.sleep, 0.1))\n"
        "pool.submit(bytes, 10_000_000)\n"
        "time.sleep(1)\n"
        "print(pool._procs[0].pid, flush=True)\n"
        "os._exit(0)\n"
    )
    printed = tmp_path / "pid"
    with printed.open("w") as out:  # a file: a pipe would stay open while the worker lives
        subprocess.run([sys.executable, "-c", script], stdout=out, check=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    pid = int(printed.read_text().split()[0])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    assert not _alive(pid), f"worker {pid} outlived its ingest"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _stored(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The register's evidence, times left out (each ingest stamps its own)."""
    engine = sa.create_engine(url)
    with engine.connect() as c:
        got = {
            "models": sorted(c.exec_driver_sql(
                "SELECT id, name, source, source_file_id FROM models").all()),
            "results": sorted(c.exec_driver_sql(
                "SELECT id, model_id, benchmark_id, metric, value, stderr, samples, "
                "source_file_id, original_model, original_benchmark, filter, extra "
                "FROM eval_results").all()),
            "files": sorted(c.exec_driver_sql(
                "SELECT id, path, sha256, kind, size, version, rows FROM source_files").all()),
            "benchmarks": sorted(c.exec_driver_sql("SELECT * FROM benchmarks").all()),
            "entries": [(k, json.loads(b + b"}")["payload"].get("path")) for k, b in
                        c.exec_driver_sql("SELECT kind, body FROM record_entries ORDER BY seq")],
        }
    engine.dispose()
    return got


@needs_fork
@pytest.mark.parametrize("keep_going", [True, False])
def test_ingest_with_workers_stores_what_one_without_does(
        shared_data: Path, tmp_path: Path, keep_going: bool) -> None:
    """Real logs and results, with a broken file among them: the same rows, entries, outcomes
    and errors with two workers as in process, and the record verifies. Without keep_going the
    run stops at the broken file in both."""
    files = [f for f in _real_files(shared_data) if f.suffix != ".csv"]
    folder = tmp_path / "in"
    folder.mkdir()
    copies = []
    for i in range(3):
        for f in files:
            to = folder / f"{i}_{f.parent.name}_{f.name}"
            shutil.copy(f, to)
            copies.append(to)
    broken = folder / "zz_broken_results_2025.json"
    broken.write_text('{"results": [1, 2]}')
    copies.insert(len(copies) // 2, broken)

    runs = {}
    for workers in (0, 2):
        url = f"sqlite:///{tmp_path / f'w{workers}.db'}"
        reg = open_register(url, create=True)
        outs = list(reg.ingest_paths(copies, workers=workers, keep_going=keep_going))
        from tripwire.register.evidence import verify_evidence

        with reg.read() as conn:
            assert verify_evidence(conn).ok
        reg.close()
        runs[workers] = (
            [(str(p), type(o).__name__, str(o) if isinstance(o, TripwireError)
              else (o.status, o.results, o.models, o.warnings)) for p, o in outs],
            _stored(url),
        )
    assert runs[0] == runs[2]
    outcomes = runs[0][0]
    assert sum(kind == "InputError" for _, kind, _ in outcomes) == 1
    if not keep_going:
        assert outcomes[-1][1] == "InputError"
        assert len(outcomes) == copies.index(broken) + 1
