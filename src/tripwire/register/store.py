"""Writing files' Batches into the register, idempotent by the sha256 of each file's bytes; a
changed file under the same path becomes a new version beside the old one.

Files are stored in chunks: one transaction per chunk of up to `CHUNK_FILES` files (or
`CHUNK_ROWS` rows), so the per-transaction costs (commit, locks, name lookups, the record's
head) are paid once per chunk. Each file is still stored whole or not at all: should one fail
while being stored, the chunk is written again with a savepoint per file (see
`ingest_batches`). Bulk rows go to the driver's executemany directly.

A file of results only (an evaluation log, a results table: no models table, loss curve or
compute ledger) is stored with keys the ingest chooses itself (`_Ids`), so the record's
commitment to its rows is made from the values inserted instead of reading them back
(`evidence.lines_of`); and its rows, record entry and evidence blocks are written with those
of the chunk's other such files, a statement per table (`_Pending`), when the chunk is
written straight through.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import json
import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tripwire import benchmarks as catalogue
from tripwire.errors import ConflictError, InputError, TripwireError
from tripwire.ingest import Source
from tripwire.ingest.batch import Batch
from tripwire.model import Benchmark
from tripwire.model import utcnow as _now
from tripwire.register import tables as t
from tripwire.register.closest import CloseNames
from tripwire.register.engine import driver_cursor

MODEL_FIELDS = (
    "organization",
    "family",
    "release_date",
    "params",
    "tokens",
    "compute_flop",
    "compute_method",
    "compute_confidence",
    "multiplier",
    "cost_usd",
    "parent",
    "variant",
    "source",
)
FIGURE_FIELDS = ("release_date", "params", "tokens", "compute_flop", "compute_method",
                 "compute_confidence")
# Fields whose disagreement is a conflict; the others (provenance, how C was obtained) follow
# whichever file filled them first, or the newest with --update.
CHECKED_FIELDS = (
    "organization",
    "family",
    "release_date",
    "params",
    "tokens",
    "compute_flop",
    "multiplier",
    "cost_usd",
    "parent",
    "variant",
)


RACE_RETRIES = 3
"""Times a PostgreSQL ingest that lost a race to create a model or benchmark runs again."""

CHUNK_FILES = 256
"""Files stored per transaction by `ingest_paths` / `ingest_batches`."""
CHUNK_ROWS = 200_000
"""Rows after which a chunk is closed early (a large table is a chunk of its own)."""


@dataclass
class IngestOutcome:
    """What one file's ingest did."""

    path: str
    kind: str
    sha256: str
    status: str
    """`stored`, `unchanged` (same bytes seen before) or `skipped` (valid, nothing to store)."""
    version: int | None = None
    models: int = 0
    results: int = 0
    loss: int = 0
    ledger: int = 0
    samples: int = 0
    planned: int = 0
    """Planned runs recorded (their clocks start at their record entries)."""
    warnings: list[str] = field(default_factory=list)
    reason: str | None = None
    export_date: dt.date | None = None
    """The date of a database export, and what it rests on (`export_basis`)."""
    export_basis: str | None = None

    @property
    def rows(self) -> int:
        return self.models + self.results + self.loss + self.ledger


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    return a == b


class _Names:
    """What one write transaction has learnt of the register: aliases, model ids, benchmark
    ids (found, or known to be absent), each path's latest version and the sha256 of files
    stored. Valid only inside that transaction, which holds the write lock (SQLite BEGIN
    IMMEDIATE, PostgreSQL the append lock, taken first); cleared when a file's savepoint rolls
    back, since that file may have created rows the savepoint undid."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.model_alias: dict[str, str | None] = {}
        self.model_id: dict[str, int | None] = {}
        self.bench_alias: dict[str, str | None] = {}
        self.bench: dict[str, bool] = {}
        self.version: dict[str, int] = {}
        self.stored: dict[str, int] = {}
        self.files_known: set[str] = set()
        self.runs: dict[str, tuple[str, int] | None] = {}
        """run_key -> (path, version) of a file stored with it, None if none is."""
        self.ids = _Ids()
        self.registered: CloseNames | None = None
        self.pending: _Pending | None = None
        self.file_clear()

    def file_clear(self) -> None:
        """Forget what the file being stored changed (kept for its record entries)."""
        self.created_benchmarks: list[str] = []
        self.updated_models: dict[int, dict[str, Any]] = {}

    def fill(
        self,
        conn: sa.Connection,
        cache: dict[str, Any],
        names: Iterable[str],
        key: sa.ColumnElement,
        value: sa.ColumnElement,
    ) -> None:
        """Look up the `names` not yet in `cache` (value, or None when absent)."""
        todo = {n for n in names if n not in cache}
        if conn.dialect.name == "postgresql":  # its text cannot hold NUL: no such row exists
            todo = {n for n in todo if "\x00" not in n or cache.setdefault(n, None)}
        if not todo:
            return
        for k, v in _select_in(conn, key, todo, key, value):
            cache[k] = v
        for n in todo:
            cache.setdefault(n, None)

    def lookup(self, conn: sa.Connection, models: set[str], benchmarks: set[str]) -> None:
        """Learn the aliases and ids of these model and benchmark names (as written in files;
        `org/name` also as `name`), querying only for names not looked up before."""
        if models <= self.model_alias.keys() and benchmarks <= self.bench_alias.keys():
            return  # all looked up, with what they name (a file's, by its chunk's lookup)
        self.fill(conn, self.model_alias, models, t.model_aliases.c.alias, t.model_aliases.c.model)
        wanted = models | {a for n in models if (a := self.model_alias[n]) is not None}
        wanted |= {n.rsplit("/", 1)[1] for n in models if "/" in n}
        self.fill(conn, self.model_id, wanted, t.models.c.name, t.models.c.id)
        self.fill(
            conn,
            self.bench_alias,
            benchmarks,
            t.benchmark_aliases.c.alias,
            t.benchmark_aliases.c.benchmark,
        )
        wanted = benchmarks | {a for n in benchmarks if (a := self.bench_alias[n]) is not None}
        self.fill(conn, self.bench, wanted, t.benchmarks.c.id, t.benchmarks.c.id)

    def files(self, conn: sa.Connection, batches: Sequence[Batch]) -> None:
        """Learn which of these files' bytes are stored, each path's latest version and which
        of their runs are stored."""
        shas = {b.sha256 for b in batches} - self.files_known
        if shas:
            for sha, version in _select_in(
                conn,
                t.source_files.c.sha256,
                shas,
                t.source_files.c.sha256,
                t.source_files.c.version,
            ):
                self.stored[sha] = version
            self.files_known |= shas
        runs = {b.run_key for b in batches if b.run_key is not None} - self.runs.keys()
        if runs:
            for key, path, version in _select_in(
                conn, t.source_files.c.run_key, runs, t.source_files.c.run_key,
                t.source_files.c.path, t.source_files.c.version,
            ):
                self.runs.setdefault(key, (path, version))
            for key in runs:
                self.runs.setdefault(key, None)
        paths = {b.path for b in batches} - self.version.keys()
        for p in paths:
            self.version[p] = 0
        for path, version in _select_in(
            conn, t.source_files.c.path, paths, t.source_files.c.path, t.source_files.c.version
        ):
            self.version[path] = max(self.version[path], version)


class _Ids:
    """Keys for the rows a results-only file adds (source file, bare models, results,
    samples), chosen by the ingest so that their canonical lines are made from the values:
    SQLite, counting on from the largest key, read once per transaction (which holds the write
    lock) and again after any write that let the database choose; PostgreSQL, drawn from each
    table's own sequence (as its default would), a block at a time."""

    TABLES = ("source_files", "models", "eval_results", "eval_samples")
    BLOCK = 1024

    def __init__(self) -> None:
        self.next: dict[str, int] = {}
        self.pool: dict[str, list[int]] = {}

    def forget(self) -> None:
        """The database chose keys since (SQLite): read the largest ones again."""
        self.next.clear()

    def take(self, conn: sa.Connection, table: str, n: int) -> list[int]:
        if n <= 0:
            return []
        if conn.dialect.name == "postgresql":
            pool = self.pool.setdefault(table, [])
            if len(pool) < n:
                pool += conn.exec_driver_sql(
                    f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                    "FROM generate_series(1, %s)", (max(n - len(pool), self.BLOCK),)
                ).scalars()
            got, pool[:n] = pool[:n], []
            return got
        if not self.next:
            from tripwire.register.evidence import watermarks

            self.next = {k: v + 1 for k, v in watermarks(conn, self.TABLES).items()}
        first = self.next[table]
        self.next[table] = first + n
        return list(range(first, first + n))


class _Pending:
    """The rows of a chunk's results-only files not written yet, with their record entries
    and evidence blocks: written together (`write`), a statement per table, at the end of the
    chunk or before anything that needs them in the database. Only while the chunk is written
    straight through: a failure there rolls the whole transaction back anyway."""

    ORDER = ("source_files", "models", "eval_results", "eval_samples")

    def __init__(self) -> None:
        from tripwire.register.evidence import Deferred

        self.rows: dict[str, tuple[tuple[str, ...], list[tuple]]] = {}
        self.record = Deferred()

    def add(self, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
        got = self.rows.setdefault(table, (cols, []))
        if got[0] != cols:
            raise ValueError(f"{table}: pending rows of other columns")
        got[1].extend(rows)

    def write(self, conn: sa.Connection) -> None:
        for table in self.ORDER:
            if table in self.rows:
                _bulk_insert(conn, table, *self.rows.pop(table))
        self.record.write(conn)


def _write(conn: sa.Connection, names: _Names, table: str, cols: tuple[str, ...],
           rows: list[tuple]) -> None:
    """Rows of a results-only file: kept with the chunk's pending rows, or written now."""
    if names.pending is not None:
        names.pending.add(table, cols, rows)
    else:
        _bulk_insert(conn, table, cols, rows)


def _results_only(batch: Batch) -> bool:
    """A file whose rows are results (and the bare models and benchmarks they name) only."""
    return not (batch.models or batch.loss or batch.ledger or batch.planned
                or batch.export_date is not None or batch.kind == "benchmarks-csv")


# Run once per file, straight on the driver (`_driver`): through SQLAlchemy each costs more
# than the database's work.
_INSERT_FILE = (
    "INSERT INTO source_files (path, sha256, kind, size, version, rows, ingested_at, run_key, "
    "etag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_INSERT_MODEL = (
    "INSERT INTO models (name, multiplier, source_file_id, updated_at, source) "
    "VALUES (?, ?, ?, ?, ?) RETURNING id"
)
_FILE_COLS = ("id", "path", "sha256", "kind", "size", "version", "rows", "ingested_at",
              "run_key", "etag", "export_date", "export_basis")
_MODEL_COLS = ("id", "name", "organization", "family", "release_date", "params", "tokens",
               "compute_flop", "compute_method", "multiplier", "cost_usd", "parent", "variant",
               "source", "source_file_id", "updated_at", "compute_confidence")
"""Every column of the two tables in the record's canonical order (evidence.TABLES)."""
_INSERT_BENCH = t.benchmarks.insert()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a chunk is read and stored. A chunk
    allocates hundreds of thousands of row tuples and values, none of them in a reference
    cycle, and every collection they set off walks all of them and everything else alive:
    about a tenth of an ingest of logs, measured. Cycles made meanwhile are collected when
    it resumes, at the end of the chunk."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _FileFailed(Exception):
    """A file of a chunk written without savepoints failed: roll back, write with them."""


class _Commit:
    """A chunk's write transaction, every row of it written, being committed on a thread
    while the ingest reads the next chunk. The commit (SQLite's write of the log and its
    checkpoint, PostgreSQL's round trip and flush) runs in the database driver, which lets
    go of the interpreter lock for it, so reading and committing run side by side. The
    chunk's outcomes are reported only once `wait` has returned."""

    def __init__(self, conn: sa.Connection, trans: sa.RootTransaction) -> None:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1, thread_name_prefix="tripwire-commit")
        self.future = pool.submit(_commit_and_close, conn, trans)
        pool.shutdown(wait=False)  # the thread ends with its one task

    def wait(self) -> None:
        """Until committed; the commit's error, if it failed (the chunk is then not stored)."""
        self.future.result()


def _commit_and_close(conn: sa.Connection, trans: sa.RootTransaction) -> None:
    try:
        trans.commit()
    finally:
        conn.close()  # rolls back a transaction whose commit failed


Stored = IngestOutcome | TripwireError
"""A file's outcome, or the error that kept it out of the register."""


class BatchStore:
    """The ingest half of `Register`: storing batches (a mixin; the register supplies
    `transaction()`, `read()`, `dialect` and the `_on_ingest` hook)."""

    dialect: str
    engine: sa.Engine
    if TYPE_CHECKING:  # supplied by Register

        def transaction(self) -> AbstractContextManager[sa.Connection]: ...

        def read(self) -> AbstractContextManager[sa.Connection]: ...

    # -- ingest --------------------------------------------------------------------------
    def ingest(
        self, batch: Batch, *, update: bool = False, model_override: str | None = None
    ) -> IngestOutcome:
        """Store one file's Batch; nothing of it is stored on failure (the error is raised)."""
        (out,) = self.ingest_batches([batch], update=update, model_override=model_override)
        if isinstance(out, TripwireError):
            raise out
        return out

    def ingest_batches(
        self,
        batches: Sequence[Batch],
        *,
        update: bool = False,
        model_override: str | None = None,
        keep_going: bool = True,
    ) -> list[Stored]:
        """Store files' Batches in one transaction, each whole or not at all: a file that
        fails (its error is its entry in the returned list) leaves nothing behind and, with
        `keep_going`, the others are stored; without, the files after it are not attempted
        (the list ends at the failure).

        The chunk is first written straight through; should a file fail while being stored
        (a conflict, a value the database refuses), that transaction is rolled back and the
        chunk written again with each file in a savepoint of its own. (Savepoints cost SQLite
        a journal of every page a file changes, nearly doubling the cost of its rows, so
        they are paid for only when a file fails.)

        PostgreSQL writers run side by side: a file that loses a race to create the same new
        model or benchmark as another writer (a unique violation) runs again in a fresh
        savepoint, and then finds the row. (SQLite writers queue, so they never race.)"""
        return self._store_batches(batches, update=update, model_override=model_override,
                                   keep_going=keep_going)[0]

    def _store_batches(
        self,
        batches: Sequence[Batch],
        *,
        update: bool,
        model_override: str | None,
        keep_going: bool,
        later: bool = False,
    ) -> tuple[list[Stored], _Commit | None]:
        """`ingest_batches`; with `later`, the transaction may be left committing on a thread
        (returned: wait for it before anything else writes or its outcomes are reported)."""
        if not batches:
            return [], None
        handoff: list[_Commit] | None = [] if later and self._commits_on_thread() else None
        with _collector_paused():
            try:
                done = self._store_chunk(batches, update, model_override, keep_going, False,
                                         handoff)
            except _FileFailed:
                done = self._store_chunk(batches, update, model_override, keep_going, True,
                                         handoff)
        return done, (handoff[0] if handoff else None)

    def _commits_on_thread(self) -> bool:
        """Whether a connection may be committed by another thread than the one that opened
        it: not SQLite's in-memory databases, which are one connection per thread."""
        return not isinstance(self.engine.pool, sa.pool.SingletonThreadPool | sa.pool.StaticPool)

    @contextlib.contextmanager
    def _chunk_transaction(self, handoff: list[_Commit] | None) -> Iterator[sa.Connection]:
        """A chunk's write transaction: committed on leaving, or (`handoff`) left to commit
        on a thread, appended to `handoff`. Rolled back on an error, either way."""
        conn = self.engine.connect()
        try:
            trans = conn.begin()
            yield conn
        except BaseException:
            conn.close()
            raise
        if handoff is None:
            _commit_and_close(conn, trans)
        else:
            handoff.append(_Commit(conn, trans))

    def _store_chunk(
        self,
        batches: Sequence[Batch],
        update: bool,
        model_override: str | None,
        keep_going: bool,
        savepoints: bool,
        handoff: list[_Commit] | None = None,
    ) -> list[Stored]:
        done: list[Stored] = []
        with self._chunk_transaction(handoff) as conn:
            from tripwire.register.record_store import lock_appends

            lock_appends(conn)  # PostgreSQL: before any insert, so writers never deadlock
            names = _Names()
            if not savepoints:
                names.pending = _Pending()
            names.files(conn, batches)
            models: set[str] = {model_override} if model_override else set()
            benches: set[str] = set()
            for b in batches:
                if not b.skipped:
                    m, bn = _result_names(b)
                    models |= m
                    benches |= bn
            names.lookup(conn, models, benches)  # the whole chunk's names in four queries
            for batch in batches:
                out = self._ingest_file(conn, batch, names, update, model_override, savepoints)
                done.append(out)
                if isinstance(out, TripwireError) and not keep_going:
                    break
            if names.pending is not None:
                try:
                    names.pending.write(conn)
                except (sa.exc.IntegrityError, sa.exc.DataError, OverflowError) as e:
                    raise _FileFailed from e  # written again, a savepoint per file
        return done

    def _ingest_file(
        self,
        conn: sa.Connection,
        batch: Batch,
        names: _Names,
        update: bool,
        model_override: str | None,
        savepoints: bool,
    ) -> Stored:
        from tripwire.register.record_store import forget_head

        out = IngestOutcome(
            path=batch.path,
            kind=batch.kind,
            sha256=batch.sha256,
            status="stored",
            warnings=list(batch.warnings),
            export_date=batch.export_date,
            export_basis=batch.export_basis,
        )
        if batch.skipped:
            out.status, out.reason = "skipped", batch.skipped
            return out
        for attempt in range(RACE_RETRIES + 1):
            if (not names.files_known >= {batch.sha256} or batch.path not in names.version
                    or (batch.run_key is not None and batch.run_key not in names.runs)):
                names.files(conn, [batch])
            seen = names.stored.get(batch.sha256)
            if seen is not None:
                out.status, out.version = "unchanged", seen
                return out
            if batch.run_key is not None:
                same = names.runs[batch.run_key]
                if same is not None:
                    out.status = "skipped"
                    out.reason = (
                        f"the same evaluation run, with the same scores, as {same[0]} "
                        f"(stored already, version {same[1]}); nothing added"
                    )
                    return out
            if not savepoints:
                try:
                    self._store_file(conn, batch, names, out, update, model_override)
                except (TripwireError, sa.exc.IntegrityError, sa.exc.DataError, OverflowError) as e:
                    raise _FileFailed from e  # the transaction rolls back
                return out
            savepoint = conn.begin_nested()
            try:
                self._store_file(conn, batch, names, out, update, model_override)
            except BaseException as e:
                savepoint.rollback()
                forget_head(conn)
                names.clear()
                out.models = out.results = out.loss = out.samples = 0
                out.warnings = list(batch.warnings)
                if isinstance(e, TripwireError):
                    return e
                if isinstance(e, sa.exc.IntegrityError):
                    text = str(e.orig)
                    if "sha256" in text or "source_files" in text:
                        continue  # another writer stored the same bytes: found on the retry
                    if attempt < RACE_RETRIES and getattr(e.orig, "sqlstate", None) == "23505":
                        continue
                    return InputError(
                        f"could not store: {text.strip().splitlines()[0]}", source=batch.path
                    )
                if isinstance(e, sa.exc.DataError | OverflowError):
                    # PostgreSQL refuses NUL in text and counts beyond its 32-bit integer
                    # columns; SQLite integers beyond 64 bits. Name the value, not the
                    # driver's statement.
                    where, what = _unstorable(batch) or (None, str(getattr(e, "orig", e)).strip())
                    return InputError(
                        f"cannot store: {what.splitlines()[0]}", source=batch.path, where=where
                    )
                raise
            savepoint.commit()
            return out
        return InputError(
            f"could not store: lost the race to create rows {RACE_RETRIES + 1} times",
            source=batch.path,
        )

    def _store_file(
        self,
        conn: sa.Connection,
        batch: Batch,
        names: _Names,
        out: IngestOutcome,
        update: bool,
        model_override: str | None,
    ) -> None:
        from tripwire.register.evidence import watermarks

        out.version = names.version[batch.path] + 1
        names.file_clear()
        values = (batch.path, batch.sha256, batch.kind, batch.size, out.version, batch.count,
                  _db_time(self.dialect)(_now()), batch.run_key, batch.etag)
        built: dict[str, list[tuple]] | None = None
        marks: dict[str, int] = {}
        if _results_only(batch):
            (file_id,) = names.ids.take(conn, "source_files", 1)
            built = {"source_files": [(file_id, *values, None, None)]}
            _write(conn, names, "source_files", _FILE_COLS, built["source_files"])
        else:
            if names.pending is not None:
                names.pending.write(conn)
            names.ids.forget()
            names.registered = None
            marks = watermarks(conn)
            file_id = _driver(conn, _INSERT_FILE, values)
            if batch.export_date is not None:
                conn.execute(t.source_files.update().where(t.source_files.c.id == file_id)
                             .values(export_date=batch.export_date,
                                     export_basis=batch.export_basis))
        self._store(conn, batch, file_id, out, names, update=update,
                    model_override=model_override, built=built)
        if built is None:
            names.ids.forget()
        self._on_ingest(conn, batch, out, marks, names, update, built)
        names.version[batch.path] = out.version
        names.stored[batch.sha256] = out.version
        if batch.run_key is not None:
            names.runs[batch.run_key] = (batch.path, out.version)

    def ingest_path(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        samples: bool = False,
        update: bool = False,
        model_override: str | None = None,
        new_models: bool = False,
        as_of_export: dt.date | None = None,
    ) -> IngestOutcome:
        """Read and store one file; bytes already in the register are not even parsed."""
        ((_, out),) = self.ingest_paths(
            [Path(path)],
            format=format,
            samples=samples,
            update=update,
            model_override=model_override,
            keep_going=False,
            new_models=new_models,
            as_of_export=as_of_export,
        )
        if isinstance(out, TripwireError):
            raise out
        return out

    def ingest_paths(
        self,
        paths: Sequence[Source],
        *,
        format: str | None = None,
        samples: bool = False,
        update: bool = False,
        model_override: str | None = None,
        keep_going: bool = False,
        progress: Callable[[Source], None] | None = None,
        new_models: bool = False,
        as_of_export: dt.date | None = None,
    ) -> Iterator[tuple[Source, Stored]]:
        """Read and store files, yielding each path with its outcome (or error) in order.

        Model tables (tripwire's and Epoch AI exports) are stored first, so a results table
        may name the models of the same ingest; a results table naming a model that is
        neither registered, ingested with it nor an alias is an error unless `new_models`.

        The sha256 of every file of a chunk is looked up at once, and bytes already in the
        register are not parsed (`--samples` still attaches per-sample scores to a file stored
        without them). Objects from a store (`ingest.collect` of a URL) whose ETag and size
        match the latest stored version of their URL are not even downloaded. Files are parsed
        before the chunk's transaction opens, so the write lock is held only while rows are
        written. Without `keep_going` the first failure ends the run: the files before it are
        stored, none after it is read. `progress(path)` is called as each file has been read.
        `as_of_export` states the date of the Epoch AI exports among the files (see
        `ingest.csv.export_date` for what is used otherwise)."""
        todo = _model_tables_first(paths) if format is None else list(paths)
        slots: deque[tuple[Source, str, Any]] = deque()
        taken = 0  # files of `todo` made into slots
        cut = False  # a file failed to load and the run stops there
        # The chunk being committed on a thread while the next is read and stored, with its
        # outcomes: reported once it is committed, after the next chunk is written (a run
        # its consumer stops may so have stored a chunk past the last outcome it took).
        # Never one whose outcomes end the run.
        committing: tuple[_Commit, list[tuple[Source, Stored | None]]] | None = None
        try:
            while True:
                if not slots and taken < len(todo) and not cut:
                    window = todo[taken : taken + CHUNK_FILES]
                    taken += len(window)
                    got, cut = self._prepare(window, format=format, samples=samples,
                                             keep_going=keep_going)
                    slots.extend(got)
                previous: list[tuple[Source, Stored | None]] = []
                outcomes: list[tuple[Source, Stored | None]] = []
                commit: _Commit | None = None
                more = stop = False
                with _collector_paused():  # resumed with the chunk's rows freed, not before
                    chunk, stop = self._read_chunk(
                        slots, format=format, samples=samples, keep_going=keep_going,
                        new_models=new_models, as_of_export=as_of_export, progress=progress)
                    if stop:
                        slots.clear()
                    if committing is not None:
                        earlier, previous = committing
                        committing = None
                        earlier.wait()
                    if chunk:
                        more = not stop and (bool(slots) or (taken < len(todo) and not cut))
                        stored_list, commit = self._store_batches(
                            [b for _, b in chunk if isinstance(b, Batch)],
                            update=update,
                            model_override=model_override,
                            keep_going=keep_going,
                            later=more,
                        )
                        stored = iter(stored_list)
                        # In the files' order (None: not attempted, an earlier file failed).
                        outcomes = [(p, next(stored, None) if isinstance(item, Batch) else item)
                                    for p, item in chunk]
                    # The run ends here: nothing was left to read, or a failure ends it.
                    ends = not chunk or stop or any(
                        r is None or (isinstance(r, TripwireError) and not keep_going)
                        for _, r in outcomes)
                    del chunk
                if commit is not None:
                    if more and not ends:
                        committing = (commit, outcomes)
                        outcomes = []
                    else:
                        commit.wait()
                for p, result in previous + outcomes:
                    if result is None:  # not attempted: an earlier file failed
                        break
                    yield p, result
                if ends:
                    return
        finally:
            if committing is not None:  # an error before its outcomes were reported
                committing[0].future.exception()  # committed, or not, before it propagates

    def _read_chunk(
        self,
        slots: deque[tuple[Source, str, Any]],
        *,
        format: str | None,
        samples: bool,
        keep_going: bool,
        new_models: bool,
        as_of_export: dt.date | None,
        progress: Callable[[Source], None] | None,
    ) -> tuple[list[tuple[Source, Stored | Batch]], bool]:
        """The next chunk taken from `slots` (a deque of `_prepare`'s), parsed: up to
        `CHUNK_FILES` files or `CHUNK_ROWS` rows; and whether a failure ends the run there."""
        from tripwire import ingest as readers

        chunk: list[tuple[Source, Stored | Batch]] = []
        rows = 0
        while slots and len(chunk) < CHUNK_FILES:
            p, what, item = slots.popleft()
            if what == "parse":
                try:
                    item = readers.parse(p, *item, format=format, samples=samples)
                except TripwireError as e:
                    item = e
            if isinstance(item, Batch):
                item.new_models = new_models
                if as_of_export is not None:
                    if item.kind == "epoch-csv":
                        item.export_date = as_of_export
                        item.export_basis = "stated (ingest --as-of-export)"
                    else:
                        item.warnings.append("--as-of-export applies to Epoch AI "
                                             "exports only: ignored for this file")
                rows += item.count
            chunk.append((p, item))
            if progress is not None:
                progress(p)
            if isinstance(item, TripwireError) and not keep_going:
                return chunk, True
            if rows >= CHUNK_ROWS:
                break
        return chunk, False

    def _prepare(
        self, window: Sequence[Source], *, format: str | None, samples: bool, keep_going: bool,
    ) -> tuple[list[tuple[Source, str, Any]], bool]:
        """The files of `window` made ready to be taken in order, as (source, what, item):
        `done` (an outcome or error known without parsing: unchanged bytes or object, a file
        that could not be read) or `parse` ((bytes, sha256), parsed when taken; a chunk closed
        early by its rows leaves the rest for the next). Also whether a file failed to load
        and, without `keep_going`, the window was cut there."""
        from tripwire import ingest as readers

        same = self._unchanged_objects(window)
        fetched = readers.load_many(
            [p for p in window if samples or _key(p) not in same], samples=samples
        )
        loaded: list[tuple[Source, bytes | None, Any]] = []
        cut = False
        for p in window:
            if not samples and _key(p) in same:
                loaded.append((p, None, same[_key(p)]))
                continue
            _, got = next(fetched)
            if isinstance(got, TripwireError):
                loaded.append((p, None, got))
                if not keep_going:
                    cut = True
                    break
            else:
                loaded.append((p, *got))
        fetched.close()
        known = self._stored_files({sha for _, data, sha in loaded if data is not None})
        slots: list[tuple[Source, str, Any]] = []
        for p, data, sha in loaded:
            if data is None and isinstance(sha, TripwireError):
                slots.append((p, "done", sha))
            elif data is None or sha in known or _key(p) in same:
                if data is None:  # an object known by its ETag: not downloaded
                    version, kind, stored_sha = sha
                elif sha in known:
                    (version, kind), stored_sha = known[sha], sha
                else:  # downloaded only for its samples; stored from its header
                    version, kind, stored_sha = same[_key(p)]
                out = IngestOutcome(
                    path=readers.resolved(p),
                    kind=kind,
                    sha256=stored_sha,
                    status="unchanged",
                    version=version,
                    reason="same ETag and size as stored" if _key(p) in same else None,
                )
                if samples and data is not None:
                    try:
                        batch = readers.parse(p, data, sha, format=format, samples=True)
                        batch.sha256 = stored_sha
                        out.samples = self._add_samples(batch)
                    except TripwireError as e:
                        slots.append((p, "done", e))
                        if keep_going:
                            continue
                        return slots, True
                slots.append((p, "done", out))
            else:
                slots.append((p, "parse", (data, sha)))
        return slots, cut

    def _unchanged_objects(
        self, sources: Sequence[Source]
    ) -> dict[str | None, tuple[int, str, str]]:
        """URL -> (version, kind, sha256) of the objects from a store whose ETag and size match
        the latest stored version of their URL: known without downloading them."""
        objs = {p.url: p for p in sources if not isinstance(p, Path)}
        if not objs:
            return {}
        latest: dict[str, Any] = {}
        with self.read() as conn:
            for r in _select_in(
                conn,
                t.source_files.c.path,
                set(objs),
                t.source_files.c.path,
                t.source_files.c.version,
                t.source_files.c.kind,
                t.source_files.c.sha256,
                t.source_files.c.etag,
                t.source_files.c.size,
            ):
                if r.path not in latest or r.version > latest[r.path].version:
                    latest[r.path] = r
        return {
            url: (int(r.version), str(r.kind), str(r.sha256))
            for url, r in latest.items()
            if r.etag is not None and r.etag == objs[url].etag and r.size == objs[url].size
        }

    def _stored_files(self, shas: set[str]) -> dict[str, tuple[int, str]]:
        """sha256 -> (version, kind) of those already stored, in one read."""
        if not shas:
            return {}
        with self.read() as conn:
            return {
                sha: (version, kind)
                for sha, version, kind in _select_in(
                    conn,
                    t.source_files.c.sha256,
                    shas,
                    t.source_files.c.sha256,
                    t.source_files.c.version,
                    t.source_files.c.kind,
                )
            }

    def _add_samples(self, batch: Batch) -> int:
        """Per-sample scores for a file stored earlier without them (`ingest --samples` of the
        same bytes): attached to that file's results, which were stored in the batch's order.
        Results that already have samples are left alone; returns how many were added."""
        if not batch.samples:
            return 0
        with self.transaction() as conn:
            file_id = conn.execute(
                sa.select(t.source_files.c.id).where(t.source_files.c.sha256 == batch.sha256)
            ).scalar_one()
            ids = (
                conn.execute(
                    sa.select(t.eval_results.c.id)
                    .where(t.eval_results.c.source_file_id == file_id)
                    .order_by(t.eval_results.c.id)
                )
                .scalars()
                .all()
            )
            if len(ids) != batch.result_count:
                return 0  # stored by another reader version: do not guess the pairing
            have = set(
                conn.execute(
                    sa.select(t.eval_samples.c.result_id)
                    .distinct()
                    .where(t.eval_samples.c.result_id.in_(ids))
                ).scalars()
            )
            rows = [
                (ids[i], sc.sample_id, sc.epoch, sc.score, sc.raw)
                for i, scores in sorted(batch.samples.items())
                if ids[i] not in have
                for sc in scores
            ]
            if not rows:
                return 0
            from tripwire.register.evidence import commit, watermarks
            from tripwire.register.record_store import lock_appends

            lock_appends(conn)
            marks = watermarks(conn, ["eval_samples"])
            _bulk_insert(
                conn, "eval_samples", ("result_id", "sample_id", "epoch", "score", "raw"), rows
            )
            commit(
                conn,
                "samples",
                {"path": batch.path, "sha256": batch.sha256, "rows": len(rows)},
                since=marks,
            )
        return len(rows)

    def _on_ingest(
        self,
        conn: sa.Connection,
        batch: Batch,
        out: IngestOutcome,
        marks: dict[str, int],
        names: _Names,
        update: bool,
        built: dict[str, list[tuple]] | None = None,
    ) -> None:
        """Run inside the ingest transaction after a file is stored: commit its rows to the
        record. Models it changed get an `update` entry of their own (what changed, from what
        to what), then the file's `ingest` entry commits every row it added: those above the
        watermarks `marks`, or, for a results-only file, the rows `built` (table -> rows
        inserted, every column), their lines made from the values where `lines_of` can."""
        from tripwire.register.evidence import commit, lines_of

        ident = {"path": batch.path, "sha256": batch.sha256}
        if names.updated_models:
            commit(
                conn,
                "update",
                {
                    **ident,
                    "update": update,
                    "models": [names.updated_models[k] for k in sorted(names.updated_models)],
                },
                keys={"models": names.updated_models},
            )
        payload = {**ident, "kind": batch.kind, "rows": batch.count}
        pending = names.pending if built is not None else None
        if pending is not None and not names.updated_models and not batch.planned:
            # Its entry is the only one the file appends: made with the chunk's others.
            pending.record.commit_later("ingest", payload, dict(built or {}),
                                        {"benchmarks": names.created_benchmarks})
            return
        keys: dict[str, list[Any]] = {"benchmarks": names.created_benchmarks}
        lines = {}
        for name, rows in (built or {}).items():
            got = lines_of(name, rows, self.dialect)
            if got is None:
                keys[name] = [r[0] for r in rows]
            else:
                lines[name] = ([r[0] for r in rows], got)
        if pending is not None and len(keys) > 1:  # rows to read back: in the database first
            pending.write(conn)
        entry = commit(
            conn,
            "ingest",
            payload,
            since=marks,
            keys=keys,
            built=lines,
            defer=pending.record if pending is not None else None,
        )
        self._record_planned(conn, batch, out, entry.seq)

    @staticmethod
    def _record_planned(conn: sa.Connection, batch: Batch, out: IngestOutcome,
                        ingest_seq: int) -> None:
        """One `plan` entry per planned run of the file: the intention, recorded when it
        became known (the clocks of `tripwire obligations` judge it against each policy
        and start at this entry), with the file and row it came from."""
        from tripwire.clock import now
        from tripwire.register.record_store import append_entry

        at = now().isoformat()
        for p in batch.planned:
            m = p.model
            append_entry(conn, "plan", {
                "model": m.name, "at": at, "start": p.start.isoformat(),
                "compute_flop": m.compute_flop,
                "compute_method": getattr(m.compute_method, "value", m.compute_method),
                "params": m.params, "tokens": m.tokens, "organization": m.organization,
                "parent": m.parent, "file": {"path": batch.path, "sha256": batch.sha256,
                                             "line": p.line, "ingest_entry": ingest_seq}})
        out.planned = len(batch.planned)

    def _store(
        self,
        conn: sa.Connection,
        batch: Batch,
        file_id: int,
        out: IngestOutcome,
        names: _Names,
        *,
        update: bool,
        model_override: str | None,
        built: dict[str, list[tuple]] | None = None,
    ) -> None:
        model_ids = self._store_models(conn, batch, file_id, out, names, update=update)
        if batch.kind == "benchmarks-csv":
            _store_benchmarks(conn, batch)
        if batch.result_count:
            self._store_results(
                conn, batch, file_id, out, model_ids, names, model_override=model_override,
                built=built,
            )
        if batch.loss:
            conn.execute(
                t.loss_observations.insert(),
                [
                    dict(
                        model=p.model,
                        params=p.params,
                        tokens=p.tokens,
                        compute_flop=p.compute_flop,
                        loss=p.loss,
                        source=p.source,
                        source_file_id=file_id,
                    )
                    for p in batch.loss
                ],
            )
            out.loss = len(batch.loss)
        if batch.ledger:
            self._store_ledger(conn, batch, file_id, out)

    @staticmethod
    def _store_ledger(conn: sa.Connection, batch: Batch, file_id: int, out: IngestOutcome
                      ) -> None:
        """Store ledger entries; a model the register does not know yet is added by name."""
        names = sorted({e.model for e in batch.ledger})
        known = set(conn.execute(
            sa.select(t.models.c.name).where(t.models.c.name.in_(names))).scalars())
        now = _now()
        fresh = [dict(name=n, multiplier=1.0, source=f"compute ledger {batch.path}",
                      source_file_id=file_id, updated_at=now) for n in names if n not in known]
        if fresh:
            conn.execute(t.models.insert(), fresh)
            out.models += len(fresh)
        conn.execute(t.compute_ledger.insert(), [
            dict(model=e.model, component=e.component, method=e.method, flop=e.flop,
                 params=e.params, tokens=e.tokens, accelerator=e.accelerator, chips=e.chips,
                 hours=e.hours, utilization=e.utilization, uncertainty=e.uncertainty,
                 counts=" ".join(e.counts), source=e.source, source_file_id=file_id)
            for e in batch.ledger])
        out.ledger = len(batch.ledger)

    def _store_models(
        self,
        conn: sa.Connection,
        batch: Batch,
        file_id: int,
        out: IngestOutcome,
        names: _Names,
        *,
        update: bool,
    ) -> dict[str, int]:
        ids: dict[str, int] = {}
        if not batch.models:
            return ids
        wanted = [m.name for m in batch.models]
        existing = (
            {
                r.name: r
                for r in conn.execute(sa.select(t.models).where(t.models.c.name.in_(wanted)))
            }
            if len(wanted) < 900
            else {r.name: r for r in conn.execute(sa.select(t.models))}
        )
        now = _now()
        new_rows = []
        # A later-dated export of the same database revises its figures: they replace the
        # stored ones from an earlier-dated export without a conflict, whichever was ingested
        # first; an earlier-dated one only fills gaps (model_figures keeps every version).
        exports = self._epoch_files(conn, existing) if batch.kind == "epoch-csv" else {}
        older = {i for i, d in exports.items() if _later_export(batch.export_date, d)}
        kept = 0
        for i, m in enumerate(batch.models):
            values = {f: getattr(m, f) for f in MODEL_FIELDS}
            old = existing.get(m.name)
            if old is None:
                new_rows.append(dict(name=m.name, source_file_id=file_id, updated_at=now, **values))
                continue
            if old.source_file_id in exports and old.source_file_id not in older:
                ids[m.name] = old.id  # a later-dated export's figures stay current
                kept += 1
                fill = {f: v for f, v in values.items()
                        if v is not None and getattr(old, f) is None}
                if fill:
                    conn.execute(t.models.update().where(t.models.c.id == old.id).values(**fill))
                continue
            revisable = older
            if old.source_file_id in revisable:
                values["compute_confidence"] = m.compute_confidence
                if m.compute_flop is not None:
                    values["compute_method"] = m.compute_method
            differ = [
                f
                for f in CHECKED_FIELDS
                if values[f] is not None
                and getattr(old, f) is not None
                and not _same(values[f], getattr(old, f))
            ]
            if differ and not update and old.source_file_id not in revisable:
                f = differ[0]
                line = batch.model_lines[i] if i < len(batch.model_lines) else None
                raise ConflictError(
                    f"model {m.name!r} is already registered with {f} = "
                    f"{_show(getattr(old, f))}, this file says {_show(values[f])}"
                    + (f" (also differs: {', '.join(differ[1:])})" if differ[1:] else ""),
                    source=batch.path,
                    where=str(line) if line else f"model {i + 1}",
                    hint="pass --update to replace the stored values",
                )
            changes = (
                values
                if update or old.source_file_id in revisable
                else {f: v for f, v in values.items() if v is not None and getattr(old, f) is None}
            )
            changes = {f: v for f, v in changes.items() if v is not None}
            if changes:
                conn.execute(
                    t.models.update()
                    .where(t.models.c.id == old.id)
                    .values(updated_at=now, source_file_id=file_id, **changes)
                )
                out.models += 1
                names.updated_models[old.id] = {
                    "name": m.name,
                    "changed": {
                        f: [_plain(getattr(old, f)), _plain(v)]
                        for f, v in changes.items()
                        if not _same(v, getattr(old, f))
                    },
                }
            ids[m.name] = old.id
        if kept:
            later = max(d for i, d in exports.items() if i not in older)
            out.warnings.append(
                f"{kept} model(s) keep the figures of a later-dated export ({later}); this "
                f"export's ({batch.export_date}) are kept as their earlier version "
                "(`tripwire models --diff` shows the changes)")
        if new_rows:
            conn.execute(t.models.insert(), new_rows)
            out.models += len(new_rows)
            for r in conn.execute(
                sa.select(t.models.c.id, t.models.c.name).where(
                    t.models.c.source_file_id == file_id
                )
            ):
                ids[r.name] = r.id
        names.model_id.update(ids)
        figures = [
            dict(model_id=ids[m.name], source_file_id=file_id,
                 **{f: getattr(m, f) for f in FIGURE_FIELDS})
            for m in batch.models
            if m.name in ids
        ]
        if figures:
            conn.execute(t.model_figures.insert(), figures)
        return ids

    @staticmethod
    def _epoch_files(conn: sa.Connection, existing: dict[str, Any]) -> dict[int, Any]:
        """Id -> export date (None: unknown) of the Epoch AI exports that filled the given
        stored models."""
        ids = {r.source_file_id for r in existing.values() if r.source_file_id is not None}
        if not ids:
            return {}
        return dict(conn.execute(
            sa.select(t.source_files.c.id, t.source_files.c.export_date).where(
                t.source_files.c.id.in_(ids), t.source_files.c.kind == "epoch-csv")
        ).all())

    def _store_results(
        self,
        conn: sa.Connection,
        batch: Batch,
        file_id: int,
        out: IngestOutcome,
        model_ids: dict[str, int],
        names: _Names,
        *,
        model_override: str | None,
        built: dict[str, list[tuple]] | None = None,
    ) -> None:
        """Store a file's results; the models they name that the register lacks are created
        bare. With `built` (a results-only file), rows get keys from `names.ids` and are
        added to it (table -> rows, every column) for the record's commitment."""
        # Look up only the names this file uses (the register may hold far more), and only
        # those this transaction has not looked up already.
        tab = batch.table if not batch.samples else None
        used, b_names = _result_names(batch)
        if model_override:
            used.add(model_override)
        names.lookup(conn, used, b_names)
        m_alias = {n: a for n in used if (a := names.model_alias[n]) is not None}
        wanted = used | set(m_alias.values()) | {n.rsplit("/", 1)[1] for n in used if "/" in n}
        model_ids = {n: i for n in wanted if (i := names.model_id[n]) is not None} | model_ids
        b_alias = {n: a for n in b_names if (a := names.bench_alias[n]) is not None}
        declared: dict[str, Benchmark] = {}
        created: list[str] = []
        now = _now()

        def target_of(name: str) -> str:
            return model_override or m_alias.get(name) or _known_name(name, model_ids)

        # Models the file names but the register lacks are created bare, in one insert; a
        # results table may do so only when told to (a typo would file scores under a phantom).
        missing = sorted({target_of(n) for n in used} - model_ids.keys())
        if missing and batch.kind == "evals-csv" and not batch.new_models:
            raise _unknown_models(conn, batch, set(missing), target_of)
        if missing:
            new_models: list[dict[str, Any]] = [
                dict(
                    name=m,
                    multiplier=1.0,
                    source_file_id=file_id,
                    updated_at=now,
                    source=f"named in {os.path.basename(batch.path)}",
                )
                for m in missing
            ]
            if built is not None:
                new_ids = names.ids.take(conn, "models", len(new_models))
                stamp_now = _db_time(self.dialect)(now)
                model_rows = [
                    (mid, row["name"], None, None, None, None, None, None, None, 1.0, None, None,
                     None, row["source"], file_id, stamp_now, None)
                    for mid, row in zip(new_ids, new_models, strict=True)
                ]
                _write(conn, names, "models", _MODEL_COLS, model_rows)
                built["models"] = model_rows
                for mid, row in zip(new_ids, new_models, strict=True):
                    model_ids[row["name"]] = names.model_id[row["name"]] = mid
            elif len(new_models) <= 4:  # the usual case (a log names one model): ids straight back
                for row in new_models:
                    mid = _driver(conn, _INSERT_MODEL, (
                        row["name"], 1.0, file_id, _db_time(self.dialect)(now), row["source"]
                    ))
                    model_ids[row["name"]] = names.model_id[row["name"]] = mid
            else:
                conn.execute(t.models.insert(), new_models)
                for mid, name in _select_in(
                    conn, t.models.c.name, set(missing), t.models.c.id, t.models.c.name
                ):
                    model_ids[name] = names.model_id[name] = mid
            created.extend(missing)
            out.models += len(missing)

        def model_id(name: str) -> int:
            return model_ids[target_of(name)]

        def bench_id(name: str) -> str:
            target = b_alias.get(name, name) if b_alias else name
            if not names.bench.get(target):
                known = catalogue.lookup(target)
                if not declared:
                    declared.update((b.id, b) for b in batch.benchmarks)
                b = declared.get(target)
                if b is None:
                    b = known
                else:  # the file's metadata first, the catalogue's where the file is silent
                    b = b.model_copy(
                        update={
                            f: getattr(known, f)
                            for f in ("name", "chance", "ceiling", "samples", "source")
                            if getattr(b, f) is None and getattr(known, f) is not None
                        }
                    )
                conn.execute(_INSERT_BENCH, _bench_row(b))
                names.bench[target] = True
                names.created_benchmarks.append(target)
            return target

        for bid in batch.benchmark_ids:  # declare groups and metadata even without results
            if bid not in b_alias and not names.bench.get(bid):
                bench_id(bid)
        cols = (
            "model_id",
            "benchmark_id",
            "metric",
            "value",
            "stderr",
            "samples",
            "source_file_id",
            "created_at",
            "original_model",
            "original_benchmark",
            "filter",
            "variant",
            "extra",
        )
        stamp = _db_time(self.dialect)
        now_db = stamp(now)
        if tab is not None:  # the columnar bulk path
            mids = {m: model_id(m) for m in set(tab.model)}
            known = names.bench
            bids = {b: b if not b_alias and known.get(b) else bench_id(b)
                    for b in set(tab.benchmark)}
            n = len(tab)
            none = [None] * n
            model_col = tab.model
            ids = names.ids.take(conn, "eval_results", n) if built is not None else None
            rows = list(
                zip(
                    *([ids] if ids is not None else []),
                    [mids[m] for m in model_col] if len(mids) > 1 else [mids[model_col[0]]] * n,
                    tab.benchmark if all(k == v for k, v in bids.items())
                    else [bids[b] for b in tab.benchmark],
                    tab.metric,
                    tab.value,
                    tab.stderr,
                    tab.samples,
                    [file_id] * n,
                    [stamp(tab.created_at) if tab.created_at else now_db] * n,
                    model_col,
                    tab.original_benchmark,
                    tab.filter if tab.filter is not None else none,
                    none,
                    tab.extra if tab.extra is not None else none,
                    strict=True,
                )
            )
            if built is not None:
                _write(conn, names, "eval_results", ("id", *cols), rows)
                built["eval_results"] = rows
            else:
                _bulk_insert(conn, "eval_results", cols, rows)
            out.results = n
        else:
            self._store_result_objects(
                conn, batch, file_id, out, cols, model_id, bench_id, stamp, now_db, names, built
            )
        if created:
            if names.registered is None:
                names.registered = CloseNames(_model_names(conn, registered=True))
            near_of = functools.partial(names.registered.closest, exclude=created)
            shown = ", ".join(
                m + (f" (closest: {', '.join(near)})" if (near := near_of(m)) else "")
                for m in created[:5]
            ) + (f" and {len(created) - 5} more" if created[5:] else "")
            out.warnings.append(
                f"{len(created)} model(s) not in the register were added without "
                f"compute: {shown} (ingest a models CSV or `tripwire alias add`)"
            )

    def _store_result_objects(
        self,
        conn: sa.Connection,
        batch: Batch,
        file_id: int,
        out: IngestOutcome,
        cols: tuple[str, ...],
        model_id: Any,
        bench_id: Any,
        stamp: Any,
        now_db: Any,
        names: _Names,
        built: dict[str, list[tuple]] | None,
    ) -> None:
        mids: dict[str, int] = {}
        bids: dict[str, str] = {}
        rows = []
        for r in batch.results:
            mid = mids.get(r.model)
            if mid is None:
                mid = mids[r.model] = model_id(r.model)
            bid = bids.get(r.benchmark)
            if bid is None:
                bid = bids[r.benchmark] = bench_id(r.benchmark)
            rows.append(
                (
                    mid,
                    bid,
                    r.metric,
                    r.value,
                    r.stderr,
                    r.samples,
                    file_id,
                    stamp(r.created_at) if r.created_at else now_db,
                    r.original_model or r.model,
                    r.original_benchmark or r.benchmark,
                    r.filter,
                    r.variant,
                    json.dumps(r.extra, sort_keys=True) if r.extra else None,
                )
            )
        sample_cols = ("result_id", "sample_id", "epoch", "score", "raw")
        if built is not None:
            ids = names.ids.take(conn, "eval_results", len(rows))
            keyed: list[tuple] = [(i, *r) for i, r in zip(ids, rows, strict=True)]
            _write(conn, names, "eval_results", ("id", *cols), keyed)
            built["eval_results"] = keyed
            sample_rows = [
                (ids[i], s.sample_id, s.epoch, s.score, s.raw)
                for i, scores in batch.samples.items()
                for s in scores
            ]
            if sample_rows:
                sids = names.ids.take(conn, "eval_samples", len(sample_rows))
                keyed = [(i, *r) for i, r in zip(sids, sample_rows, strict=True)]
                _write(conn, names, "eval_samples", ("id", *sample_cols), keyed)
                built["eval_samples"] = keyed
            out.samples = len(sample_rows)
        elif batch.samples:
            ids = _bulk_insert(conn, "eval_results", cols, rows, returning="id")
            sample_rows = [
                (ids[i], s.sample_id, s.epoch, s.score, s.raw)
                for i, scores in batch.samples.items()
                for s in scores
            ]
            if sample_rows:
                _bulk_insert(conn, "eval_samples", sample_cols, sample_rows)
            out.samples = len(sample_rows)
        else:
            _bulk_insert(conn, "eval_results", cols, rows)
        out.results = len(rows)


_INT32 = 2**31 - 1


def _unstorable(batch: Batch) -> tuple[str, str] | None:
    """(where, what) of the first value in `batch` a register database cannot hold: a NUL
    character in text, or a count outside a 32-bit integer column."""

    def bad_text(obj: Any) -> str | None:
        return next((f for f, v in obj if isinstance(v, str) and "\x00" in v), None)

    for i, m in enumerate(batch.models):
        if (f := bad_text(m)) is not None:
            return f"model {i + 1}", f"{f} contains a NUL character"
    for i, r in enumerate(batch.results):
        where = f"result {i + 1} ({r.original_benchmark or r.benchmark}, {r.metric})"
        if (f := bad_text(r)) is not None:
            return where, f"{f} contains a NUL character"
        if r.samples is not None and not -_INT32 <= r.samples <= _INT32:
            return where, f"sample count {r.samples} is beyond any evaluation's size"
        for s in batch.samples.get(i, []):
            if (f := bad_text(s)) is not None:
                return where, f"sample {s.sample_id[:40]!r}: {f} contains a NUL character"
            if not -_INT32 <= s.epoch <= _INT32:
                return where, f"sample {s.sample_id[:40]!r}: epoch {s.epoch} is out of range"
    for i, b in enumerate(batch.benchmarks):
        if (f := bad_text(b)) is not None:
            return f"benchmark {i + 1}", f"{f} contains a NUL character"
        if b.samples is not None and not -_INT32 <= b.samples <= _INT32:
            return f"benchmark {i + 1}", f"sample count {b.samples} is beyond any evaluation's size"
    for i, p in enumerate(batch.loss):
        if (f := bad_text(p)) is not None:
            return f"loss point {i + 1}", f"{f} contains a NUL character"
    return None


def _result_names(batch: Batch) -> tuple[set[str], set[str]]:
    """The model and benchmark names a file's results use, and the benchmarks it declares."""
    tab = batch.table
    if tab is not None:
        models, benches = set(tab.model), set(tab.benchmark)
    else:
        models = {r.model for r in batch.results}
        benches = {r.benchmark for r in batch.results}
    benches.update(batch.benchmark_ids)
    return models, benches


def _select_in(
    conn: sa.Connection, key: sa.ColumnElement, values: set[str], *columns: sa.ColumnElement
) -> list[Any]:
    """Rows whose `key` is one of `values`, fetched in chunks under driver parameter limits."""
    items = sorted(values)
    rows: list[Any] = []
    for i in range(0, len(items), 500):
        rows += conn.execute(sa.select(*columns).where(key.in_(items[i : i + 500]))).all()
    return rows


def _later_export(new: dt.date | None, old: dt.date | None) -> bool:
    """Whether an export dated `new` supersedes one dated `old`: on or after it; where either
    date is unknown, the one ingested later does."""
    return new is None or old is None or new >= old


def _db_time(dialect: str) -> Any:
    """How a UTC datetime is written by a raw bulk insert: SQLite stores SQLAlchemy's text
    form (read back by the DateTime type), PostgreSQL takes the datetime itself; naive means
    UTC on both (PostgreSQL would read it in the session's time zone)."""
    if dialect != "sqlite":
        return lambda d: d if d.tzinfo is not None else d.replace(tzinfo=dt.UTC)

    def text(d: dt.datetime) -> str:
        if d.tzinfo is not None:
            d = d.astimezone(dt.UTC).replace(tzinfo=None)
        return d.strftime("%Y-%m-%d %H:%M:%S.%f")

    return text


COPY_ROWS = 16
"""Rows from which PostgreSQL is sent COPY rather than INSERTs (a COPY costs more to start)."""


def _bulk_insert(
    conn: sa.Connection,
    table: str,
    cols: tuple[str, ...],
    rows: list[tuple],
    returning: str | None = None,
) -> list[int]:
    """Rows straight to the driver, past SQLAlchemy's per-row parameter processing (which
    costs more than the database itself): PostgreSQL through COPY (`_copy`), SQLite through
    executemany. With `returning`, the new ids in row order."""
    if not rows:
        return []
    pg = conn.dialect.name == "postgresql"
    if pg and (returning is not None or len(rows) >= COPY_ROWS):
        return _copy(conn, table, cols, rows, returning)
    mark = "%s" if pg else "?"
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
    if returning is None:
        _driver_many(conn, sql, rows)
        return []
    sql += f" RETURNING {returning}"
    return [conn.exec_driver_sql(sql, row).scalar_one() for row in rows]


def _driver(conn: sa.Connection, sql: str, params: tuple) -> Any:
    """The first column of the first row of one statement (written with `?` marks) run on
    the driver's cursor, its errors raised as SQLAlchemy raises them."""
    pg = conn.dialect.name == "postgresql"
    if pg:
        sql = sql.replace("?", "%s")
    with driver_cursor(conn, sql, params) as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    return row[0] if row is not None else None


def _driver_many(conn: sa.Connection, sql: str, rows: list[tuple]) -> None:
    """One statement (written with the driver's marks) for each row, by the driver's
    executemany, its errors raised as SQLAlchemy raises them."""
    with driver_cursor(conn, sql, rows[:1]) as cur:
        cur.executemany(sql, rows)


def _copy(
    conn: sa.Connection,
    table: str,
    cols: tuple[str, ...],
    rows: list[tuple],
    returning: str | None = None,
) -> list[int]:
    """PostgreSQL's COPY FROM STDIN through psycopg's `cursor.copy`, in the transaction (and
    savepoint) open on `conn`: one statement for all rows, each sent as a COPY row. COPY
    returns nothing, so with `returning` (an integer key with a sequence) the ids are first
    taken from the table's sequence, then copied with the rows."""
    ids: list[int] = []
    if returning is not None:
        ids = list(
            conn.exec_driver_sql(
                f"SELECT nextval(pg_get_serial_sequence('{table}', '{returning}')) "
                "FROM generate_series(1, %s)",
                (len(rows),),
            ).scalars()
        )
        cols = (returning, *cols)
        rows = [(i, *r) for i, r in zip(ids, rows, strict=True)]
    dbapi: Any = conn.connection.dbapi_connection
    sql = f"COPY {table} ({', '.join(cols)}) FROM STDIN"
    error = conn.dialect.loaded_dbapi.Error
    try:
        with dbapi.cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except error as e:  # as SQLAlchemy would raise it (IntegrityError, DataError, ...)
        raise sa.exc.DBAPIError.instance(sql, None, e, error, dialect=conn.dialect) from e
    return ids


def _plain(v: Any) -> Any:
    """A stored value as JSON can carry it exactly (dates as ISO text; non-finite as text)."""
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return str(v)  # enum members as their plain value
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def _key(p: Source) -> str | None:
    """An object's URL (the key of `_unchanged_objects`); None for a local file."""
    return None if isinstance(p, Path) else p.url


def _show(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else repr(v)


def _model_tables_first(paths: Iterable[Source]) -> list[Source]:
    """`paths` with the local CSV files whose header is a models table or an Epoch AI export
    moved to the front (order otherwise kept): told from the first line, before any is
    parsed. (Remote objects keep their place: their first line costs a download.)"""
    from tripwire.ingest.csv import csv_kind

    first: list[Source] = []
    rest: list[Source] = []
    for p in paths:
        head = ""
        if isinstance(p, Path) and p.suffix.lower() in (".csv", ".tsv"):
            try:
                with open(p, encoding="utf-8-sig", errors="replace") as fh:
                    head = fh.readline()
            except OSError:
                pass  # the reader reports it, in its place
        delim = max([",", ";", "\t"], key=head.count)
        kind = csv_kind([h.strip().strip('"') for h in head.split(delim)]) if head else None
        (first if kind in ("models-csv", "epoch-csv") else rest).append(p)
    return first + rest


def _model_names(conn: sa.Connection, *, registered: bool = False) -> set[str]:
    """Every model name and model alias in the register (for "closest names" messages).

    `registered`: only models that carry a figure of their own (organisation, parameters or
    compute), not those a log created by naming them: a log's model name is most likely a
    misspelling of a registered model, and comparing it with every log-created name makes a
    folder of logs that each name a new model quadratic in the number of models."""
    m = t.models.c
    q = sa.select(m.name)
    if registered:
        q = q.where(sa.or_(m.organization.is_not(None), m.params.is_not(None),
                           m.compute_flop.is_not(None)))
    return set(conn.execute(q).scalars()) | set(
        conn.execute(sa.select(t.model_aliases.c.alias)).scalars()
    )


def _unknown_models(
    conn: sa.Connection, batch: Batch, missing: set[str], target_of: Callable[[str], str]
) -> InputError:
    """The error for a results table naming models the register lacks: the first such row,
    the name, the closest registered names, and how to create them if they are meant."""
    names = batch.table.model if batch.table is not None else [r.model for r in batch.results]
    row = next(i for i, n in enumerate(names) if target_of(n) in missing)
    first = target_of(names[row])
    line = batch.result_lines[row] if row < len(batch.result_lines) else None
    near = CloseNames(_model_names(conn)).closest(first)
    others = sorted(missing - {first})
    more = (
        f" (also unknown: {', '.join(others[:4])}{' ...' if others[4:] else ''})" if others else ""
    )
    return InputError(
        f"model {first!r} is not in the register, not in this ingest and not an alias{more}",
        source=batch.path,
        where=str(line) if line is not None else None,
        hint=("did you mean " + ", ".join(near) + "? " if near else "")
        + "fix the name, ingest its models table with it, add an alias (`tripwire alias add`), "
        "or pass --new-models to create it without compute",
    )


def _known_name(name: str, known: dict[str, int]) -> str:
    """`EleutherAI/pythia-1.4b` is `pythia-1.4b` when only the latter is registered."""
    if name in known or "/" not in name:
        return name
    bare = name.rsplit("/", 1)[1]
    return bare if bare in known else name


def _store_benchmarks(conn: sa.Connection, batch: Batch) -> None:
    """A benchmarks table: each row's fields replace what the register held for that
    benchmark (or its alias target); a new benchmark takes the catalogue's metadata where the
    table is silent."""
    for b in batch.benchmarks:
        target = conn.execute(sa.select(t.benchmark_aliases.c.benchmark).where(
            t.benchmark_aliases.c.alias == b.id)).scalar()
        bid = target or b.id
        exists = conn.execute(sa.select(t.benchmarks.c.id).where(
            t.benchmarks.c.id == bid)).first()
        given = {f: v for f, v in _bench_row(b).items() if f != "id" and f in b.model_fields_set}
        if exists:
            conn.execute(t.benchmarks.update().where(t.benchmarks.c.id == bid).values(**given))
            continue
        known = catalogue.lookup(bid)
        row = _bench_row(known) | given
        row["id"] = bid
        conn.execute(t.benchmarks.insert().values(**row))


def _bench_row(b: Benchmark) -> dict[str, Any]:
    return dict(
        id=b.id,
        name=b.name,
        metric=b.metric,
        higher_is_better=b.higher_is_better,
        chance=b.chance,
        ceiling=b.ceiling,
        parent=b.parent,
        dataset=b.dataset,
        samples=b.samples,
        source=b.source,
    )
