"""Parsing files in other processes while the register stores the files parsed before them.

An ingest of many evaluation logs spends about a fifth of its time in the readers, on one
core, while the register's writes wait. With `Ahead`, worker processes parse the files of
the next chunk while the current chunk is written, and their Batches (or errors) come back
pickled, in order. Only the pure step moves: reading bytes already loaded into a Batch.
Loading the bytes, the sha256 checks and every write stay in the ingest's own process.

Results are received and unpickled by the ingest's own thread when it takes them, never by
a helper thread of its process: a thread of its own would contend for the interpreter lock
with the register's writes, which give it up and take it back for every row.

Workers are forked (Linux) so that they start with the modules the ingest has imported, in
milliseconds; elsewhere, and for few files, files are parsed in process as before.
"""

from __future__ import annotations

import gc
import os
import queue
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from tripwire.errors import TripwireError
from tripwire.ingest.batch import Batch

MIN_FILES = 64
"""Files below which an ingest does not start workers (their start costs more than it saves)."""
MAX_WORKERS = 4
"""Workers at most: a writer stores about four files in the time one is parsed."""
_POLL = 1.0
"""Seconds a worker waits for a task before checking that the ingest is still alive."""


def workers_for(files: int, asked: int | None = None) -> int:
    """How many worker processes an ingest of `files` files uses: `asked` when given (0:
    parse in process), else one fewer than the cores this process may run on (at most
    `MAX_WORKERS`) when there are `MIN_FILES` or more; none where workers cannot be forked."""
    if not _can_fork():
        return 0
    if asked is not None:
        return max(0, asked)
    if files < MIN_FILES:
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(0, min(cores - 1, MAX_WORKERS))


def _can_fork() -> bool:
    import multiprocessing

    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


class WorkerFault(RuntimeError):
    """A worker failed other than on a file's contents (a fault of tripwire's): the ingest
    stops with the worker's traceback."""


def _work(parent: int, tasks: Any, results: Any) -> None:
    """A worker: parse each task `(index, parse, args, kwargs)` and put `(index, Batch or
    TripwireError)`, until told to stop (None) or the ingest that forked it is gone."""
    gc.enable()  # the ingest may have paused the collector when the worker was forked
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the ingest's to handle
    while True:
        try:
            task = tasks.get(timeout=_POLL)
        except queue.Empty:
            if os.getppid() != parent:  # the ingest was killed: nobody will read results
                os._exit(0)  # not `return`, which waits to flush results into a full pipe
            continue
        if task is None:
            return
        index, parse, args, kwargs = task
        try:
            out: Any = parse(*args, **kwargs)
        except TripwireError as e:
            out = e
        except BaseException:  # noqa: BLE001  (sent back, raised there)
            out = WorkerFault(traceback.format_exc())
        results.put((index, out))


class Ahead:
    """Forked worker processes parsing files: `submit` queues one and returns its ticket,
    `result(ticket)` waits for its Batch or TripwireError. Use it as a context manager: the
    workers stop when it closes."""

    def __init__(self, workers: int) -> None:
        import multiprocessing

        self._ctx = multiprocessing.get_context("fork")
        self._workers = workers
        self._tasks: Any = None
        self._results: Any = None
        self._done: dict[int, Any] = {}
        self._next = 0
        self._taken = 0
        self._procs: list[Any] = []

    def _start(self) -> None:
        """Fork the workers, at the first file to parse (an ingest of files all stored
        already starts none)."""
        ctx = self._ctx
        self._tasks, self._results = ctx.Queue(), ctx.Queue()
        self._procs = [
            ctx.Process(target=_work, args=(os.getpid(), self._tasks, self._results),
                        daemon=True, name=f"tripwire-parse-{i}")
            for i in range(self._workers)
        ]
        for p in self._procs:
            p.start()

    def submit(self, parse: Callable[..., Batch], *args: Any, **kwargs: Any) -> int:
        if not self._procs:
            self._start()
        ticket = self._next
        self._next += 1
        self._tasks.put((ticket, parse, args, kwargs))
        return ticket

    def result(self, ticket: int) -> Batch | TripwireError:
        while ticket not in self._done:
            try:
                index, out = self._results.get(timeout=_POLL)
            except queue.Empty:
                dead = [p for p in self._procs if not p.is_alive()]
                if dead:
                    raise WorkerFault(
                        f"a parsing worker ended unexpectedly (exit code {dead[0].exitcode})"
                    ) from None
                continue
            self._done[index] = out
        out = self._done.pop(ticket)
        self._taken += 1
        if isinstance(out, WorkerFault):
            raise out
        return out  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the workers. Idle ones (every result taken) are told to stop; when results
        are still outstanding (the ingest stopped early), the workers are ended at once:
        parsing changes nothing, so nothing is lost."""
        if not self._procs:
            return
        idle = self._next == len(self._done) + self._taken
        for p in self._procs:
            if idle:
                self._tasks.put(None)
            else:
                p.terminate()
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
        for q in (self._tasks, self._results):
            q.cancel_join_thread()
            q.close()

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
