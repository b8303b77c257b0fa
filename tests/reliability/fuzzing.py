"""What every fuzzed reader shares: hostile values, JSON documents mutated the ways real files
go wrong, and the property each input must satisfy.

The property: an input is either accepted and reads back from the register exactly as the
reader produced it, or rejected with one line that names the file (and the place, where the
reader can know it) and no traceback; a rejected input leaves the register as it was (row
count of every table and the record's last hash unchanged).

Profiles: the default run tries FAST inputs per reader; `pytest -m reliability
tests/reliability` tries LONG per reader and prints the count per reader.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tripwire import ingest
from tripwire.errors import TripwireError
from tripwire.register import Register, open_register

FAST = int(os.environ.get("TRIPWIRE_FUZZ_FAST", "120"))
LONG = int(os.environ.get("TRIPWIRE_FUZZ_LONG", "2500"))
ROTATE = 150
"""Inputs per register before a fresh one (keeps read-backs cheap in long runs)."""

HOSTILE = [
    "", "nan", "NaN", "inf", "-inf", "-1", "1e400", "-0", "0", "abc", "1,5", "7e9 ",
    "<script>alert(1)</script>", "'; drop table models; --", "x" * 10_000, "\u202egnp.exe",
    "a\u0000b", '"quoted"', "\ufeff", "1e-400", "２", "0x10", "1_000", "  ", "\n",
    "line\u2028separator", "next\x85line", "tab\there", "\U0001f600",
]
"""Strings real files carry by mistake or by malice (markup, SQL, 10,000 characters, a
right-to-left override, NUL, full-width digits, Unicode line separators, an emoji)."""

HOSTILE_JSON = [
    "NaN", "Infinity", "-Infinity", "-1", "1e400", "-1e400", "1e-400", "0", "-0", '""',
    "true", "false", "null", '"0.5"', "[]", "{}", "99999999999999999999999", "-2147483649",
    "2147483648", "1.5", '"N/A"', '[1, 2]', '{"value": 1}',
]
"""JSON tokens put where a number, string or object was (NaN and Infinity are what Python
and some harnesses write; 1e400 overflows to infinity; the big integers overflow 32 and 64
bits)."""


class Bases(dict):  # type: ignore[type-arg]
    """Base files by name, shown briefly (hypothesis prints the arguments of strategies)."""

    def __repr__(self) -> str:
        return f"<{len(self)} base files: {', '.join(sorted(self))[:120]}>"


class Raw:
    """A JSON token written as is (NaN, 1e400, a 23-digit integer)."""

    def __init__(self, text: str) -> None:
        self.text = text


class Pairs:
    """A JSON object that may repeat a key."""

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self.items = items


def dump(v: Any, pretty: bool = True, depth: int = 0, ascii: bool = True) -> str:
    """JSON text of a document that may hold Raw tokens and repeated keys (`ascii=False`
    writes non-ASCII characters as they are, as lm-eval and Inspect do)."""
    nl = ("\n" + "  " * (depth + 1)) if pretty else ""
    end = ("\n" + "  " * depth) if pretty else ""
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, Pairs | dict):
        items = v.items if isinstance(v, Pairs) else list(v.items())
        if not items:
            return "{}"
        return "{" + ",".join(nl + json.dumps(str(k), ensure_ascii=ascii) + ": "
                              + dump(x, pretty, depth + 1, ascii) for k, x in items) + end + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[" + ",".join(nl + dump(x, pretty, depth + 1, ascii) for x in v) + end + "]"
    return json.dumps(v, ensure_ascii=ascii)


def paths(doc: Any, prefix: tuple[Any, ...] = (), limit: int = 6) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) into a document, to a depth of `limit`."""
    out: list[tuple[Any, ...]] = [prefix] if prefix else []
    if len(prefix) >= limit:
        return out
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, prefix + (k,), limit)
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:8]):
            out += paths(v, prefix + (i,), limit)
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path[:-1]:
        doc = doc[p]
    return doc


@st.composite
def mutate_json(draw: st.DrawFn, doc: Any, focus: tuple[str, ...] = ()) -> Any:
    """`doc` (a parsed JSON document, copied) changed by one to three mutations: a key dropped,
    renamed or repeated, a value of the wrong type, a hostile string or number, an emptied
    container. Half the picks fall under the `focus` top-level keys (what the reader reads)."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        every = paths(doc)
        if not every:
            break
        near = [p for p in every if p[0] in focus] if focus else []
        path = draw(st.sampled_from(near if near and draw(st.booleans()) else every))
        parent, key = _parent(doc, path), path[-1]
        if isinstance(parent, Pairs):  # a repeated key was made above: leave it
            continue
        kind = draw(st.sampled_from(["drop", "rename", "repeat", "type", "string", "number",
                                     "empty"]))
        if kind == "drop":
            del parent[key]
        elif kind == "rename" and isinstance(parent, dict):
            new = draw(st.sampled_from([str(key).upper(), str(key) + "_", "", " " + str(key),
                                        "<script>", str(key)[:-1] or "x"]))
            parent[new] = parent.pop(key)
        elif kind == "repeat" and isinstance(parent, dict):
            other = draw(st.sampled_from([Raw(t) for t in HOSTILE_JSON] + [parent[key]]))
            repeated = Pairs(list(parent.items()) + [(key, other)])
            if len(path) == 1:
                doc = repeated
                break
            _parent(doc, path[:-1])[path[-2]] = repeated
        elif kind == "type":
            parent[key] = draw(st.sampled_from([None, True, 0, 1.5, "text", [], {}, [None],
                                                {"x": None}]))
        elif kind == "string":
            parent[key] = draw(st.sampled_from(HOSTILE))
        elif kind == "number":
            parent[key] = Raw(draw(st.sampled_from(HOSTILE_JSON)))
        elif kind == "empty":
            v = parent[key]
            parent[key] = {} if isinstance(v, dict) else [] if isinstance(v, list) else ""
    return doc


@st.composite
def mutate_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """Byte-level faults: truncated at any byte, a byte flipped, a BOM, CRLF line ends."""
    kind = draw(st.sampled_from(["truncate", "flip", "bom", "crlf", "none"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    if kind == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    return data


# ------------------------------------------------------------------------------ .eval zips

def zip_members(data: bytes) -> list[tuple[str, bytes]]:
    """(name, bytes) of every member of an Inspect .eval zip; zstd members (method 93, which
    Python's zipfile cannot read) are decompressed from their raw bytes."""
    import zstandard

    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            if info.compress_type != 93:
                out.append((info.filename, z.read(info)))
                continue
            head = data[info.header_offset: info.header_offset + 30]
            name_len, extra_len = struct.unpack("<HH", head[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            raw = data[start: start + info.compress_size]
            out.append((info.filename, zstandard.ZstdDecompressor().decompress(
                raw, max_output_size=max(info.file_size, 1))))
    return out


def make_zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        warnings.simplefilter("ignore", UserWarning)  # a repeated member name, on purpose
        for name, body in members:
            z.writestr(name, body)
    return buf.getvalue()


# ------------------------------------------------------------------------------ the property

@dataclass
class Tally:
    """Inputs tried for one reader and what became of them."""

    reader: str
    accepted: int = 0
    rejected: int = 0
    stored: int = 0
    places: int = 0
    """Rejections whose message names a place inside the file (line, key, column)."""
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.accepted + self.rejected

    def line(self, tail: str = "0 tracebacks, 0 partial writes",
             place: str = "naming a place inside the file") -> str:
        ok = f"{self.accepted} accepted"
        if self.stored:
            ok += f", {self.stored} stored and read back"
        no = f"{self.rejected} rejected"
        if self.places:
            no += f", {self.places} {place}"
        return f"{self.reader}: {self.total} inputs ({ok}; {no}), {tail}"


def snapshot(reg: Register) -> tuple[tuple[tuple[str, int], ...], str | None]:
    """Row count of every table and the hash of the record's last entry."""
    counts = tuple(sorted(reg.counts().items()))
    with reg.read() as conn:
        head = conn.exec_driver_sql(
            "SELECT hash FROM record_entries ORDER BY seq DESC LIMIT 1").scalar()
    return counts, head


def one_line_error(e: TripwireError, path: Path) -> str:
    """Check an error is one line naming the file first; returns the message."""
    msg = str(e)
    assert "\n" not in msg.strip(), f"multi-line error: {msg!r}"
    assert "Traceback" not in msg, msg
    assert msg.startswith(str(path) + ":") or msg.startswith(path.name + ":"), \
        f"error does not start with the file: {msg!r}"
    if e.where:
        assert f":{e.where}: " in msg, msg
    return msg


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True,
                                                                   default=str)


def _num(a: float | None, b: float | None) -> bool:
    return a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b))


def read_back(reg: Register, batch: ingest.Batch) -> None:
    """The stored rows of a just-ingested batch equal the reader's, field by field."""
    stored = [r for r in reg.results() if r.source_sha256 == batch.sha256]
    assert len(stored) == len(batch.results)
    for got, want in zip(stored, batch.results, strict=True):
        bare = want.model.rsplit("/", 1)[-1]
        assert got.model in (want.model, bare), (got.model, want.model)
        assert got.benchmark == want.benchmark
        assert got.metric == want.metric and got.filter == want.filter
        assert _num(got.value, want.value) and _num(got.stderr, want.stderr)
        assert got.samples == want.samples and got.variant == want.variant
        assert got.original_model == (want.original_model or want.model)
        assert got.original_benchmark == (want.original_benchmark or want.benchmark)
        assert _same(got.extra, want.extra)
        if want.created_at is not None:
            assert got.created_at == want.created_at
    for i, scores in batch.samples.items():
        back = reg.samples(stored[i].id)  # type: ignore[arg-type]
        assert [(s.sample_id, s.epoch, s.score, s.raw) for s in back] == \
            [(s.sample_id, s.epoch, s.score, s.raw) for s in scores]
    names = {m.name for m in reg.models()}
    assert {m.name for m in batch.models} <= names
    if batch.loss:
        pts = reg.loss_observations()[-len(batch.loss):]
        assert [(p.params, p.tokens, p.loss) for p in pts] == \
            [(p.params, p.tokens, p.loss) for p in batch.loss]


class Harness:
    """Feeds inputs to the readers and the register and checks the property on each.

    Each input is written to a folder of its own (readers look at sibling files); the
    register is replaced by a fresh copy of an empty one every ROTATE inputs."""

    def __init__(self, tmp_path: Path, reader: str, *, db_url: str | None = None) -> None:
        self.root = tmp_path
        self.tally = Tally(reader)
        self.n = 0
        self.db_url = db_url
        self._template = tmp_path / "empty.db"
        if db_url is None:
            open_register(str(self._template), create=True).close()
        self.reg = self._fresh()

    def _fresh(self) -> Register:
        if self.db_url is not None:
            reg = open_register(self.db_url, create=True)
            return reg
        path = self.root / f"fuzz-{self.n}.db"
        shutil.copyfile(self._template, path)
        return open_register(str(path))

    def close(self) -> None:
        self.reg.close()

    def feed(self, name: str, data: bytes, *, samples: bool = False,
             siblings: dict[str, bytes] | None = None, folder: str = "run",
             format: str | None = None,
             place: Callable[[TripwireError, bytes], None] | None = None) -> str:
        """One input: `data` as `<folder>/<name>` (with `siblings` beside it) through the
        reader and the register. Returns 'rejected', 'stored', or the ingest status."""
        self.n += 1
        if self.n % ROTATE == 0 and self.db_url is None:
            self.reg.close()
            self.reg = self._fresh()
        where = self.root / "in" / str(self.n) / folder
        where.mkdir(parents=True)
        for sib, body in (siblings or {}).items():
            (where / sib).write_bytes(body)
        path = where / name
        path.write_bytes(data)
        before = snapshot(self.reg)
        try:
            batch = ingest.read_file(path, samples=samples, format=format)
            out = self.reg.ingest(batch)
        except TripwireError as e:
            one_line_error(e, path)
            if place is not None:
                place(e, data)
            if e.where:
                self.tally.places += 1
            assert snapshot(self.reg) == before, "a rejected file changed the register"
            self.tally.rejected += 1
            return "rejected"
        finally:
            shutil.rmtree(self.root / "in" / str(self.n), ignore_errors=True)
        self.tally.accepted += 1
        if out.status != "stored":
            assert snapshot(self.reg) == before, f"{out.status} input changed the register"
            return out.status
        self.tally.stored += 1
        read_back(self.reg, batch)
        return "stored"


def run(strategy: st.SearchStrategy[Any], examples: int, body: Callable[[Any], None]) -> None:
    """Run `body` on `examples` inputs drawn from `strategy` (no example database, no
    deadline: the count is the figure)."""

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(x=strategy)
    def prop(x: Any) -> None:
        body(x)

    prop()


def finish(h: Harness, examples: int, report: bool) -> None:
    h.close()
    assert h.tally.total >= examples * 0.9, h.tally.line()
    if report:
        print("\n" + h.tally.line())


JSON_PLACE = re.compile(r"^line \d+ column \d+$|^\d+:\d+$")


def json_syntax_place(e: TripwireError, data: bytes) -> None:
    """When the bytes are not JSON, the error names the line and column; bytes that are JSON
    are never called invalid JSON."""
    try:
        json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, RecursionError):
        return
    except json.JSONDecodeError:
        if "invalid JSON" in e.message:
            assert e.where and JSON_PLACE.match(e.where), f"no line and column: {e}"
        return
    assert "invalid JSON" not in e.message, f"the file is JSON, yet: {e}"
