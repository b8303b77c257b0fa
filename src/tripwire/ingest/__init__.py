"""Readers: one per source format, each turning one file into a `Batch` of model types.

Formats are told by content (the first bytes, a CSV header, a log's keys), not by extension
alone; `--format` overrides. Readers know nothing of storage or policies.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Union

from tripwire.errors import InputError, TripwireError
from tripwire.ingest.batch import Batch
from tripwire.ingest.csv import READERS as CSV_KINDS

if TYPE_CHECKING:
    from tripwire.ingest.remote import RemoteObject

Source = Union[Path, "RemoteObject"]
"""What ingest reads: a local file, or an object listed from a store URL (`s3://...`)."""
REMOTE_WORKERS = 16
"""Objects fetched side by side from a store (each fetch waits on the network, not the CPU)."""

__all__ = [
    "FORMATS",
    "Batch",
    "Source",
    "collect",
    "detect_format",
    "load",
    "load_many",
    "parse",
    "read_file",
    "walk",
]

# format -> (module, function); log readers load lazily so optional extras stay optional.
FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("tripwire.ingest.csv", "read_csv"),
    **{k: ("tripwire.ingest.csv", "read_csv") for k in CSV_KINDS},
    "inspect": ("tripwire.ingest.inspect_log", "read_inspect"),
    "lm-eval": ("tripwire.ingest.lmeval", "read_lmeval_results"),
    "lm-eval-samples": ("tripwire.ingest.lmeval", "read_lmeval_samples"),
}

LOG_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl", ".eval"}


def detect_format(path: Path, head: bytes) -> str | None:
    """The format of a file from its first bytes (and, as a tie-breaker, its name)."""
    from tripwire.ingest.inspect_log import sniff_inspect
    from tripwire.ingest.lmeval import sniff_lmeval, sniff_lmeval_samples

    if sniff_inspect(head, path):
        return "inspect"
    if sniff_lmeval_samples(head, path):
        return "lm-eval-samples"
    if sniff_lmeval(head, path):
        return "lm-eval"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"{", b"[")) or head.startswith(b"PK\x03\x04"):
        return None
    first = text.split(b"\n", 1)[0]
    if b"\x00" in head[:4096]:
        return None
    if path.suffix.lower() in (".csv", ".tsv") or b"," in first or b";" in first:
        return "csv"
    return None


def walk(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and files under folders named (recursively, sorted, hidden ones skipped)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                Path(root) / f
                for root, dirs, files in os.walk(p)
                for f in files
                if not f.startswith(".") and (Path(f).suffix.lower() in LOG_SUFFIXES)
                if not any(part.startswith(".") for part in Path(root).relative_to(p).parts)
            )
            if not found:
                raise InputError("the folder holds no CSV, JSON or .eval files", source=str(p))
            out += found
        elif p.exists():
            out.append(p)
        else:
            raise InputError("no such file or folder", source=str(p))
    return out


def collect(args: Iterable[str | Path]) -> list[Source]:
    """What `tripwire ingest ARGS` reads: local files and folders as `walk` finds them, and
    the objects under each store URL (`s3://bucket/prefix/`), listed once each."""
    out: list[Source] = []
    for a in args:
        if isinstance(a, str) and _is_url(a):
            from tripwire.ingest.remote import list_objects

            out += list_objects(a, LOG_SUFFIXES)
        else:
            out += walk([a])
    return out


def _is_url(text: str) -> bool:
    from tripwire.ingest.remote import is_url  # fsspec is imported only to read a URL

    return is_url(text)


def load_many(
    sources: Iterable[Source], *, samples: bool = False
) -> Generator[tuple[Source, tuple[bytes, str] | TripwireError], None, None]:
    """Each source with (bytes, sha256) or the error that kept it from being read, in order;
    objects from a store are fetched side by side (see `load`)."""
    from concurrent.futures import ThreadPoolExecutor

    from tripwire.ingest.remote import RemoteObject

    items = list(sources)

    def one(src: Source) -> tuple[bytes, str] | TripwireError:
        try:
            return load(src, samples=samples)[1:]
        except TripwireError as e:
            return e

    remote = [s for s in items if isinstance(s, RemoteObject)]
    if not remote:
        for src in items:
            yield src, one(src)
        return
    pool = ThreadPoolExecutor(max_workers=min(REMOTE_WORKERS, len(remote)))
    try:
        futures = {id(s): pool.submit(one, s) for s in remote}
        for src in items:
            f = futures.get(id(src))
            yield src, (f.result() if f is not None else one(src))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def load(path: Source | str, *, samples: bool = False) -> tuple[Source, bytes, str]:
    """A file's bytes and their sha256; errors name the file. An object from a store is
    fetched (an `.eval` without `samples` as its header only: see `ingest.remote`)."""
    if not isinstance(path, str | Path):
        from tripwire.ingest.remote import fetch

        return (path, *fetch(path, samples=samples))
    p = path if isinstance(path, Path) else Path(path)
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise InputError(
            "is a folder; pass it to `tripwire ingest` to walk it", source=str(p)
        ) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", source=str(p)) from None
    return p, data, hashlib.sha256(data).hexdigest()


def resolved(p: Source) -> str:
    """The file's absolute path with symlinks resolved, as the register names it (an object
    from a store: its URL). A folder's resolution is reused for all its files (one lstat per
    file instead of one per component of the path)."""
    if not isinstance(p, Path):
        return p.url
    text = os.fspath(p)
    if os.path.islink(text):
        return str(p.resolve())
    folder, name = os.path.split(os.path.abspath(text))
    return os.path.join(_resolved_dir(folder), name)


@functools.lru_cache(maxsize=1024)
def _resolved_dir(folder: str) -> str:
    return os.path.realpath(folder)


def parse(p: Source, data: bytes, sha: str, *, format: str | None = None,
          samples: bool = False) -> Batch:
    """Read loaded bytes into a Batch with the reader their format calls for. An object from
    a store is named by its URL and keeps its ETag and size (its bytes may be its header)."""
    if not isinstance(p, Path):
        local = Path(p.key)
        try:
            batch = parse(local, data, sha, format=format, samples=samples)
        except TripwireError as e:
            if e.source in (str(local), None):
                e.source = p.url
            raise
        batch.path, batch.size, batch.etag = p.url, p.size, p.etag
        return batch
    if not data.strip():
        raise InputError("the file is empty", source=str(p))
    fmt = format or detect_format(p, data[:65536])
    if fmt is None:
        raise InputError(
            "not a format tripwire reads (CSV, Inspect log, lm-eval results or samples)",
            source=str(p),
            hint="pass --format to say which",
        )
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", hint="known: " + ", ".join(FORMATS))
    module, func = FORMATS[fmt]
    reader = getattr(importlib.import_module(module), func)
    if module.endswith(".csv"):
        batch = reader(p, data, kind=fmt if fmt != "csv" else None, sha256=sha)
    else:
        batch = reader(p, data, samples=samples, sha256=sha)
    batch.sha256, batch.size = sha, len(data)
    batch.path = resolved(p)
    return batch


def read_file(path: str | Path, *, format: str | None = None, samples: bool = False) -> Batch:
    """Read one file into a Batch (its sha256 and size set); errors name the file."""
    p, data, sha = load(path)
    return parse(p, data, sha, format=format, samples=samples)


def parse_json(path: str, data: bytes) -> object:
    """json.loads with an error that names the file, line and column."""
    try:
        return json.loads(data)
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (bad byte at offset {e.start})", source=path) from None
    except json.JSONDecodeError as e:
        raise InputError(
            f"invalid JSON: {e.msg}", source=path, where=f"{e.lineno}:{e.colno}"
        ) from None
