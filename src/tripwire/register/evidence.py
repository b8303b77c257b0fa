"""The record's commitment to the evidence: every row a determination can rest on.

Each write of evidence (an ingest, a model update, an alias, samples attached later, the baseline
of a register upgraded from before this existed) reads back the rows it stored and commits them:

- a row's canonical line is its column values as the database returns them (key first, every
  column in `TABLES` order; dates and times as UTC text, booleans as 0/1) written as a compact
  JSON array (`_lines`: orjson's output, floats in shortest round-trip form, text as UTF-8), so
  it is what `verify` will read back, whatever wrote it (a bulk insert, COPY, an update); a row
  holding a value JSON cannot carry exactly (a non-finite float, text that is not Unicode, an
  integer beyond 64 bits, bytes) is written in the first form instead, the ASCII ``repr`` of
  its tuple, which is also the form of every row committed before JSON lines (``[`` or ``(``
  as first byte says which; rows are compared by value across the two, `_same`);
- the lines are kept in `evidence_blocks` (append-only by trigger, like the record) in blocks
  of `BLOCK` rows in key order, newline-separated, as Zstandard frames;
- the entry that records the write carries, per table, the row count and the RFC 6962 Merkle
  root over its blocks' hashes, each SHA-256(0x00 || block text), in key order
  (``"evidence": {"models": {"root": ..., "rows": n, "leaves": "blocks"}}``): one hash per
  block, where a leaf per row cost more than every other step of the commitment together.
  Entries written before say no ``leaves``: theirs is the tree over every row's leaf hash
  SHA-256(0x00 || line), each of their blocks (zlib) a subtree of it, and verify checks them so.

`verify_evidence` folds the blocks in record order (a later commitment of a key replaces the
earlier one: updates, moved results, replaced aliases) and compares the result with the tables,
naming each row changed (and which fields, with the committed and current values), added or
removed outside tripwire; blocks whose bytes no longer hash to their entry's root are named by
entry. `evidence_state` serves determinations, which name the leaf hash of each row they used
(SHA-256(0x00 || line) of the line committed) and are stale when those rows no longer hold the
committed values.

Writers call `commit` (after `watermarks` taken before writing): it is the one place a new
writer path (bulk COPY, another store) needs to call for its rows to be covered. A writer that
chose the keys of its rows itself (the log ingest) hands `commit` their canonical lines made by
`lines_of` from the values it inserted, instead of the database reading them back: the same
lines, for values the database stores unchanged (`lines_of` says None for any other, and those
rows are read back).
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import hashlib
import itertools
import json
import math
import operator
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from tripwire.record import Entry

__all__ = [
    "BLOCK",
    "COMMIT_KINDS",
    "TABLES",
    "Deferred",
    "RowChange",
    "commit",
    "commit_baseline",
    "committed_lines",
    "lines_of",
    "evidence_blocks",
    "verify_evidence",
    "watermarks",
]

BLOCK = 4096
"""Rows per stored block: a power of two, so each full block is a subtree of the entry's tree."""
COMMIT_KINDS = ("ingest", "update", "alias", "samples", "baseline")
"""Record entry kinds that commit evidence rows."""
FETCH = 4096
_SHA = hashlib.sha256
_LEAF = _SHA(b"\x00")


@dataclass(frozen=True)
class Table:
    """An evidence table: its key column and every column, in canonical order."""

    name: str
    key: str
    columns: tuple[str, ...]
    int_key: bool = True
    times: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    label: str | None = None
    """A column that names the row for people (model name, benchmark id)."""


TABLES: dict[str, Table] = {t.name: t for t in (
    Table("source_files", "id", ("id", "path", "sha256", "kind", "size", "version", "rows",
                                 "ingested_at", "run_key", "etag", "export_date",
                                 "export_basis"), times=("ingested_at",),
          dates=("export_date",), label="path"),
    Table("models", "id", ("id", "name", "organization", "family", "release_date", "params",
                           "tokens", "compute_flop", "compute_method", "multiplier", "cost_usd",
                           "parent", "variant", "source", "source_file_id", "updated_at",
                           "compute_confidence"),
          times=("updated_at",), dates=("release_date",), label="name"),
    Table("model_figures", "id", ("id", "model_id", "source_file_id", "release_date", "params",
                                  "tokens", "compute_flop", "compute_method",
                                  "compute_confidence"), dates=("release_date",)),
    Table("benchmarks", "id", ("id", "name", "metric", "higher_is_better", "chance", "ceiling",
                               "parent", "dataset", "samples", "source"),
          int_key=False, flags=("higher_is_better",)),
    Table("eval_results", "id", ("id", "model_id", "benchmark_id", "metric", "value", "stderr",
                                 "samples", "source_file_id", "created_at", "original_model",
                                 "original_benchmark", "filter", "variant", "extra"),
          times=("created_at",)),
    Table("loss_observations", "id", ("id", "model", "params", "tokens", "compute_flop", "loss",
                                      "source", "source_file_id")),
    Table("model_aliases", "alias", ("alias", "model", "created_at"), int_key=False,
          times=("created_at",)),
    Table("benchmark_aliases", "alias", ("alias", "benchmark", "created_at"), int_key=False,
          times=("created_at",)),
    Table("eval_samples", "id", ("id", "result_id", "sample_id", "epoch", "score", "raw")),
    Table("compute_ledger", "id", ("id", "model", "component", "method", "flop", "params",
                                   "tokens", "accelerator", "chips", "hours", "utilization",
                                   "uncertainty", "counts", "source", "source_file_id"),
          label="model"),
)}
"""Every table a determination can rest on. (Attestations are record entries themselves.)"""

evidence_blocks = sa.Table(
    "evidence_blocks",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("tbl", sa.String(40), nullable=False),
    sa.Column("part", sa.Integer, nullable=False),
    sa.Column("first_key", sa.BigInteger),
    sa.Column("last_key", sa.BigInteger),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)


# ------------------------------------------------------------------------ canonical rows

def _select(table: Table, dialect: str) -> str:
    """SELECT of the canonical columns, the same values whatever the session's settings."""
    if dialect != "postgresql":
        cols = table.columns
    else:
        def expr(c: str) -> str:
            if c in table.times:
                return f"to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
            if c in table.dates:
                return f"to_char({c}, 'YYYY-MM-DD')"
            if c in table.flags:
                return f"{c}::int"
            return c
        cols = tuple(map(expr, table.columns))
    return f"SELECT {', '.join(cols)} FROM {table.name}"


def _cursor(conn: sa.Connection, named: str | None = None) -> Any:
    raw = conn.connection.driver_connection
    assert raw is not None
    if named is not None and conn.dialect.name == "postgresql":
        return raw.cursor(name=named)
    return raw.cursor()


def _mark(conn: sa.Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


_EXACT = "tripwire.evidence.exact_floats"


def _exact_floats(conn: sa.Connection) -> None:
    """PostgreSQL: send floats in shortest exact form for the rest of this transaction, whatever
    the session's extra_float_digits (once per transaction)."""
    txn = conn.get_transaction()
    if txn is not None and conn.info.get(_EXACT) is txn:
        return
    conn.exec_driver_sql("SET LOCAL extra_float_digits = 1")
    conn.info[_EXACT] = txn


def _fetch(conn: sa.Connection, sql: str, params: Sequence[Any] = ()) -> list[bytes]:
    """Canonical lines of the rows a query returns, in its order."""
    return _lines(_fetch_rows(conn, sql, params))


def _fetch_rows(conn: sa.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """The rows a query returns, in its order. SQLite text that is not UTF-8 (only raw SQL
    writes it) is read with its bad bytes escaped instead of failing."""
    if conn.dialect.name == "postgresql":
        _exact_floats(conn)
    cur = _cursor(conn)
    try:
        try:
            cur.execute(sql, tuple(params))
            return cur.fetchall()  # type: ignore[no-any-return]
        except Exception as e:
            if conn.dialect.name != "sqlite" or "decode" not in str(e):
                raise
        raw = conn.connection.driver_connection
        old = raw.text_factory  # type: ignore[union-attr]
        raw.text_factory = lambda b: b.decode("utf-8", "surrogateescape")  # type: ignore
        try:
            cur.execute(sql, tuple(params))
            return cur.fetchall()  # type: ignore[no-any-return]
        finally:
            raw.text_factory = old  # type: ignore[union-attr]
    finally:
        cur.close()


_INFINITIES = frozenset((math.inf, -math.inf))


def _line1(row: Sequence[Any]) -> bytes:
    """The first form of a canonical line: the ASCII ``repr`` of the row's tuple."""
    return ascii(tuple(row)).encode("ascii")


def _line(row: Sequence[Any]) -> bytes:
    """One row's canonical line: its JSON array where JSON carries every value exactly,
    else the first form."""
    if not _inexact([(v,) for v in row], None):
        import orjson  # here, not at import: commands that never write rows skip it

        try:
            return orjson.dumps(row)
        except TypeError:  # bytes, text that is not Unicode, an integer beyond 64 bits
            pass
    return _line1(row)


def _inexact(cols: Sequence[Sequence[Any]], floats: Iterable[int] | None) -> list[int]:
    """Indexes of the rows (given as columns) holding a float JSON cannot write (orjson writes
    NaN and the infinities as null). `floats`: the only columns that may hold floats, when
    known; else every column is looked at."""
    bad: set[int] = set()
    for i in range(len(cols)) if floats is None else floats:
        col = cols[i]
        types = set(map(type, col))
        if float not in types:
            continue
        if types <= {float, int, _NONE} and _finite(col, _NONE in types):
            continue
        values = set(col)
        if types <= {float, int, _NONE}:
            values.discard(None)
            if not (_INFINITIES & values or any(map(math.isnan, values))):
                continue
        elif all(type(v) is not float or math.isfinite(v) for v in values):
            continue
        bad.update(j for j, v in enumerate(col) if type(v) is float and not math.isfinite(v))
    return sorted(bad)


def _lines(rows: Sequence[Sequence[Any]], floats: Iterable[int] | None = None,
           cols: Sequence[Sequence[Any]] | None = None) -> list[bytes]:
    """Canonical lines of rows (as `_line`, each step a C-level map where every row is plain
    JSON). `floats` as for `_inexact`; `cols`: the same rows as columns, when at hand."""
    if not rows:
        return []
    import orjson

    try:
        out = list(map(orjson.dumps, rows))
    except TypeError:
        return list(map(_line, rows))
    for i in _inexact(list(zip(*rows, strict=True)) if cols is None else cols, floats):
        out[i] = _line1(rows[i])
    return out


_KINDS: dict[str, tuple[str, ...]] = {}


def _kinds(table: Table) -> tuple[str, ...]:
    """Each column's kind, in canonical order: int, float, text, time, date or flag."""
    got = _KINDS.get(table.name)
    if got is None:
        from tripwire.register import tables as t

        cols = t.metadata.tables[table.name].columns
        got = _KINDS[table.name] = tuple(
            "time" if c in table.times else "date" if c in table.dates
            else "flag" if c in table.flags else "float" if isinstance(cols[c].type, sa.Float)
            else "int" if isinstance(cols[c].type, sa.Integer) else "text"
            for c in table.columns)
    return got


_NONE = type(None)


def _utc_text(d: Any) -> str | None:
    """A timestamp as `_select` reads it back from PostgreSQL (naive means UTC)."""
    if type(d) is not dt.datetime:
        return None
    if d.tzinfo is not None:
        d = d.astimezone(dt.UTC)
    return (f"{d.year:04d}-{d.month:02d}-{d.day:02d} "
            f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{d.microsecond:06d}")


def _column(kind: str, col: tuple[Any, ...], sqlite: bool) -> tuple[Any, ...] | None:
    """A column of values as the database will return them, or None when one is not a value
    it stores unchanged (or in a way worked out here)."""
    types = set(map(type, col))
    if kind == "text" or (kind == "time" and sqlite):
        if types <= {str, _NONE}:
            return col
        if all(issubclass(x, str) or x is _NONE for x in types):  # str enums as their value
            return tuple(None if v is None else str.__str__(v) for v in col)
        return None
    if kind == "int":
        if types <= {int, _NONE}:
            return col
        if types <= {int, bool, _NONE}:
            return tuple(None if v is None else int(v) for v in col)
        return None
    if kind == "float":
        if not types <= {float, int, _NONE}:
            return None
        if int in types:
            try:
                col = tuple(v if v is None else float(v) for v in col)
            except OverflowError:
                return None
        if sqlite:  # SQLite stores NaN as NULL and -0.0 as 0.0
            if _finite(col, _NONE in types):
                if 0.0 in col and _negative_zero(col):
                    col = tuple(0.0 if v == 0.0 else v for v in col)
                return col
            present = set(col)
            present.discard(None)
            if any(map(math.isnan, present)) or (0.0 in present and _negative_zero(col)):
                col = tuple(None if v is not None and v != v else 0.0 if v == 0.0 else v
                            for v in col)
        return col
    if kind == "flag":
        return tuple(None if v is None else int(v) for v in col) if types <= {
            bool, int, _NONE} else None
    if kind == "time":  # a file's rows share a time or a few: each worked out once
        text = {v: _utc_text(v) for v in set(col) if v is not None}
        if None in text.values():
            return None
        text[None] = None
        return tuple(map(text.__getitem__, col))
    return col if types <= {_NONE} else None  # dates: only absent ones


_PRESENT = functools.partial(operator.is_not, None)


def _finite(col: Sequence[Any], nones: bool) -> bool:
    """Whether every number of a column of numbers (and Nones) is finite: their exact sum is
    (NaN and the infinities spread through a sum; an overflow or inf - inf raises), found in
    C rather than by a set of every value."""
    try:
        return math.isfinite(math.fsum(filter(_PRESENT, col) if nones else col))
    except (OverflowError, ValueError):
        return False


def _negative_zero(col: tuple[Any, ...]) -> bool:
    """Whether -0.0 is among the values (found among the zeros only, by C-level search)."""
    i = -1
    for _ in range(col.count(0.0)):
        i = col.index(0.0, i + 1)
        if math.copysign(1.0, col[i]) < 0:
            return True
    return False


def lines_of(name: str, rows: Sequence[Sequence[Any]], dialect: str) -> list[bytes] | None:
    """The canonical lines of `rows` about to be inserted into `name` with every column in
    `TABLES` order (key first), as the database will read them back (`_select`): times as
    the UTC text SQLite is given or PostgreSQL prints, floats as stored (SQLite: NaN is NULL,
    -0.0 is 0.0; integers in a float column as floats). None when a value is of a kind the
    database would change in ways not worked out here (read those rows back instead)."""
    if not rows:
        return []
    table = TABLES[name]
    kinds = _kinds(table)
    cols = list(zip(*rows, strict=True))
    if len(cols) != len(kinds):
        raise ValueError(f"{name}: rows of {len(cols)} values, not {len(kinds)}")
    changed = False
    sqlite = dialect == "sqlite"
    for i, kind in enumerate(kinds):
        got = _column(kind, cols[i], sqlite)
        if got is None:
            return None
        if got is not cols[i]:
            cols[i], changed = got, True
    floats = [i for i, k in enumerate(kinds) if k == "float"]
    return _lines(list(zip(*cols, strict=True)) if changed else rows, floats, cols)


def _key_of(line: bytes, table: Table) -> Any:
    """The key (first value) of a canonical line."""
    if table.int_key:
        return int(line[1:line.index(b",")])
    return _values(line)[0]


def _values(line: bytes) -> tuple[Any, ...]:
    """A canonical line read back into its values (either form)."""
    if line[:1] == b"[":
        try:  # standard JSON, read exactly by the standard library (no orjson to import)
            got = json.loads(line)
        except (ValueError, RecursionError) as e:
            raise ValueError("not a canonical row") from e
        if not isinstance(got, list):
            raise ValueError("not a canonical row")
        return tuple(got)
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError as e:
        raise ValueError("not a canonical row") from e

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name) and node.id in ("nan", "inf"):
            return float(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        raise ValueError("not a canonical row")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as e:
        raise ValueError("not a canonical row") from e
    if not isinstance(tree, ast.Tuple):
        raise ValueError("not a canonical row")
    return tuple(value(e) for e in tree.elts)


def _same(committed: bytes, current: bytes) -> bool:
    """Whether two canonical lines hold the same values: the same bytes, or the same row in
    the two forms (a row committed as a tuple, read now as JSON)."""
    if committed == current:
        return True
    try:
        return _holds(committed, _values(current))
    except ValueError:
        return False


def _holds(committed: bytes, row: tuple[Any, ...]) -> bool:
    """Whether a row's values are those of a committed line (either form; the JSON form read
    by the standard library, so a determination need not load orjson)."""
    if committed[:1] == b"(":
        return _line1(row) == committed
    try:
        return ascii(_values(committed)) == ascii(tuple(row))
    except ValueError:
        return False


def leaf(line: bytes) -> bytes:
    """A canonical line's leaf hash: SHA-256(0x00 || its bytes)."""
    return _SHA(b"\x00" + line).digest()


_DIGEST = type(_SHA()).digest
_ZERO, _ONE = b"\x00".__add__, b"\x01".__add__


def _leaves(lines: Iterable[bytes]) -> list[bytes]:
    """Leaf hashes of lines, each step a C-level map (no Python frame per line)."""
    return list(map(_DIGEST, map(_SHA, map(_ZERO, lines))))


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class BadBlock(ValueError):
    """Stored block bytes that do not decompress."""


def _block_hash(text: bytes) -> bytes:
    """A block's hash, the leaf of its entry's tree: SHA-256(0x00 || its text)."""
    h = _SHA(b"\x00")
    h.update(text)
    return h.digest()


def _pack(text: bytes) -> bytes:
    """A block's text (its lines, newline-separated: neither form has a raw newline in a
    line) as stored: a Zstandard frame (level 1: several times faster than zlib, smaller)."""
    compress = getattr(_compressors, "compress", None)
    if compress is None:
        import zstandard

        compress = _compressors.compress = zstandard.ZstdCompressor(level=1).compress
    return compress(text)  # type: ignore[no-any-return]


_compressors = threading.local()
"""One compressor per thread for every block it packs: making one costs about what
compressing a small block does, and one must not be used by two threads at once."""


def _unpack_text(data: bytes) -> bytes:
    """A stored block's text: a Zstandard frame, or zlib as blocks were first written
    (`BadBlock` when it is neither)."""
    try:
        if data[:4] == _ZSTD_MAGIC:
            import zstandard

            return zstandard.ZstdDecompressor().decompress(data)
        return zlib.decompress(data)
    except Exception as e:  # zlib.error, zstandard.ZstdError
        raise BadBlock(str(e)) from e


def _unpack(data: bytes) -> list[bytes]:
    """A stored block's lines (`BadBlock` when it does not decompress)."""
    return _unpack_text(data).split(b"\n")


def _root(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle root (as `tripwire.record.merkle_root`), each level a C-level map."""
    if not leaves:
        return _SHA(b"").digest()
    level = leaves
    while len(level) > 1:
        nxt = list(map(_DIGEST, map(_SHA, map(_ONE, map(bytes.__add__, level[0::2],
                                                         level[1::2])))))
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


# ------------------------------------------------------------------------------- commit

Watermarks = dict[str, int]
"""Largest key of each integer-keyed table before a write: the rows above it are the write's."""


def watermarks(conn: sa.Connection, tables: Iterable[str] | None = None) -> Watermarks:
    """The largest key of each integer-keyed evidence table (0 when empty), read inside the
    writer's transaction, which holds the write lock."""
    names = [n for n in (tables or TABLES) if TABLES[n].int_key]
    sql = " UNION ALL ".join(f"SELECT '{n}', COALESCE(MAX({TABLES[n].key}), 0) FROM {n}"
                             for n in names)
    return {n: int(v) for n, v in conn.exec_driver_sql(sql)} if names else {}


def _rows_since(conn: sa.Connection, table: Table, mark: int) -> list[bytes]:
    m = _mark(conn)
    return _fetch(conn, f"{_select(table, conn.dialect.name)} WHERE {table.key} > {m} "
                  f"ORDER BY {table.key}", (mark,))


def _rows_of(conn: sa.Connection, table: Table, keys: Iterable[Any]) -> list[bytes]:
    return _lines(_values_of(conn, table, keys))


def _values_of(conn: sa.Connection, table: Table, keys: Iterable[Any]) -> list[Any]:
    """The rows of `keys` as the database returns them (canonical columns)."""
    items = sorted(set(keys))
    rows: list[Any] = []
    for i in range(0, len(items), 500):
        part = items[i:i + 500]
        marks = ", ".join([_mark(conn)] * len(part))
        rows += _fetch_rows(conn, f"{_select(table, conn.dialect.name)} WHERE {table.key} IN "
                            f"({marks})", part)
    return rows


Keyed = tuple[list[Any], list[bytes]]
"""Rows of one table as (keys, canonical lines), in the same order."""


def _keyed(table: Table, lines: list[bytes]) -> Keyed:
    return [_key_of(x, table) for x in lines], lines


@dataclass
class _Later:
    """A commit whose lines `Deferred.write` makes: the rows of `built` (table -> rows as
    inserted, every column, key first) from their values, the rows of `keys` read back."""

    kind: str
    payload: dict[str, Any]
    built: dict[str, list[tuple[Any, ...]]]
    keys: dict[str, list[Any]]


@dataclass
class Deferred:
    """The record and evidence_blocks rows of commits made with `defer`, kept to be written
    together by `write` (after the rows they commit), before the transaction ends; and the
    commits queued by `commit_later`, whose lines are made there."""

    entries: list[Any] = field(default_factory=list)
    blocks: list[tuple[Any, ...]] = field(default_factory=list)
    later: list[_Later] = field(default_factory=list)

    def commit_later(self, kind: str, payload: dict[str, Any],
                     built: dict[str, list[tuple[Any, ...]]],
                     keys: Mapping[str, Iterable[Any]] | None = None) -> None:
        """Queue an entry committing `built`'s rows (and those of `keys`, read back then):
        its lines are made by `write` with those of every other queued commit, a call of
        `lines_of` per table rather than per commit (most of what a commit of a small file
        costs), its entry appended there in queue order. Only for commits that nothing
        appends between (their entries' places in the chain are taken at `write`)."""
        self.later.append(_Later(kind, payload, built,
                                 {n: list(k) for n, k in (keys or {}).items() if k}))

    def write(self, conn: sa.Connection) -> None:
        from tripwire.register.record_store import insert_rows

        if self.later:
            later, self.later = self.later, []
            _commit_all(conn, later, self)
        insert_rows(conn, self.entries)
        if self.blocks:
            _insert_blocks(conn, self.blocks)
        self.entries, self.blocks = [], []


def _commit_all(conn: sa.Connection, later: list[_Later], defer: Deferred) -> None:
    """The queued commits, in order, their rows in the database already: the lines of each
    table's rows made at once (`lines_of` over all of them, then cut per commit); a commit
    whose rows hold a value `lines_of` cannot foresee has its own made, or read back."""
    dialect = conn.dialect.name
    made: dict[str, list[bytes] | None] = {}
    for name in {n for c in later for n in c.built}:
        rows = list(itertools.chain.from_iterable(c.built.get(name, ()) for c in later))
        made[name] = lines_of(name, rows, dialect)
    at = dict.fromkeys(made, 0)
    first = operator.itemgetter(0)
    for c in later:
        lines: dict[str, Keyed] = {}
        for name, rows in c.built.items():
            keys = list(map(first, rows))
            got = made[name]
            if got is not None:
                got = got[at[name]:at[name] + len(rows)]
            else:
                got = lines_of(name, rows, dialect)
            at[name] += len(rows)
            if got is None:
                lines[name] = _keyed(TABLES[name], _rows_of(conn, TABLES[name], keys))
            else:
                lines[name] = (keys, got)
        for name, ks in c.keys.items():
            lines[name] = _keyed(TABLES[name], _rows_of(conn, TABLES[name], ks))
        _commit_lines(conn, lines, c.kind, c.payload, defer)


def _commit_lines(conn: sa.Connection, lines_by_table: Mapping[str, Keyed],
                  kind: str, payload: dict[str, Any], defer: Deferred | None = None) -> Entry:
    from tripwire.register.record_store import append_entry

    blocks: list[tuple[str, int, Any, Any, int, bytes]] = []
    summary: dict[str, dict[str, Any]] = {}
    for name in sorted(lines_by_table):
        table = TABLES[name]
        keys, lines = lines_by_table[name]
        if not lines:
            continue
        if keys != sorted(keys):  # a copy and a compare, in C, when in order already
            order = sorted(range(len(keys)), key=keys.__getitem__)
            keys, lines = [keys[i] for i in order], [lines[i] for i in order]
        roots = []
        for part, lo in enumerate(range(0, len(lines), BLOCK)):
            chunk = lines[lo:lo + BLOCK]
            text = b"\n".join(chunk)
            roots.append(_block_hash(text))
            first = keys[lo] if table.int_key else None
            last = keys[lo + len(chunk) - 1] if table.int_key else None
            blocks.append((name, part, first, last, len(chunk), text))
        summary[name] = {"rows": len(lines), "root": _root(roots).hex(), "leaves": "blocks"}
    entry = append_entry(conn, kind, {**payload, "evidence": summary},
                         defer=defer.entries if defer is not None else None)
    if blocks:
        rows = [(entry.seq, name, part, first, last, n, _pack(text))
                for name, part, first, last, n, text in blocks]
        if defer is not None:
            defer.blocks += rows
        else:
            _insert_blocks(conn, rows)
    return entry


def _insert_blocks(conn: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
    """evidence_blocks rows (seq, tbl, part, first_key, last_key, rows, data), straight to the
    driver: through SQLAlchemy each insert costs more than the database's work."""
    m = _mark(conn)
    sql = ("INSERT INTO evidence_blocks (seq, tbl, part, first_key, last_key, rows, data) "
           f"VALUES ({', '.join([m] * 7)})")
    error = conn.dialect.loaded_dbapi.Error
    cur = _cursor(conn)
    try:
        cur.executemany(sql, rows)
    except error as e:
        raise sa.exc.DBAPIError.instance(sql, rows[:1], e, error, dialect=conn.dialect) from e
    finally:
        cur.close()


def commit(conn: sa.Connection, kind: str, payload: dict[str, Any], *,
           since: Watermarks | None = None,
           keys: Mapping[str, Iterable[Any]] | None = None,
           built: Mapping[str, Keyed] | None = None, defer: Deferred | None = None) -> Entry:
    """Append a `kind` entry with `payload` committing the rows written since `since` (rows
    whose key is above the watermark, integer-keyed tables), the rows of `keys` (table ->
    keys: rows updated, or of text-keyed tables), read back as stored, and the rows of
    `built` (table -> (keys, lines) made by `lines_of` from the values inserted), in the
    caller's transaction. The payload gains ``evidence``: per table, the rows and their
    Merkle root. With `defer`, the entry's row and its blocks are kept there to be written
    later in the transaction (`Deferred.write`)."""
    lines: dict[str, Keyed] = {n: (list(k), list(x)) for n, (k, x) in (built or {}).items()}
    if since:  # read back only the tables that gained rows (one query says which)
        after = watermarks(conn, since)
        since = {n: m for n, m in since.items() if after.get(n, m) > m}
    for name, mark in (since or {}).items():
        got = _keyed(TABLES[name], _rows_since(conn, TABLES[name], mark))
        if name in lines:
            seen = set(lines[name][0])
            got = ([k for k in got[0] if k not in seen],
                   [x for k, x in zip(*got, strict=True) if k not in seen])
        lines[name] = (lines.get(name, ([], []))[0] + got[0],
                       lines.get(name, ([], []))[1] + got[1])
    for name, ks in (keys or {}).items():
        ks = list(ks)
        if not ks:
            continue
        got = _keyed(TABLES[name], _rows_of(conn, TABLES[name], ks))
        if name in lines:  # a key both new and listed: one line
            seen = set(lines[name][0])
            got = ([k for k in got[0] if k not in seen],
                   [x for k, x in zip(*got, strict=True) if k not in seen])
        lines[name] = (lines.get(name, ([], []))[0] + got[0],
                       lines.get(name, ([], []))[1] + got[1])
    return _commit_lines(conn, lines, kind, payload, defer)


def commit_baseline(conn: sa.Connection, reason: str) -> Entry | None:
    """Commit every evidence row as found, as one `baseline` entry saying why (a register
    upgraded from a version whose record did not cover the evidence). None when no table holds
    a row."""
    lines = {name: _fetch(conn, _select(table, conn.dialect.name)) for name, table in
             TABLES.items()}
    if not any(lines.values()):
        return None
    return _commit_lines(conn, {n: _keyed(TABLES[n], x) for n, x in lines.items()}, "baseline",
                         {"reason": reason})


# ------------------------------------------------------------------------------- verify

@dataclass(frozen=True)
class RowChange:
    """One evidence row that differs from what the record committed."""

    table: str
    key: Any
    change: str
    """`changed`, `added` (no entry committed it) or `removed` (committed, now absent)."""
    fields: tuple[tuple[str, Any, Any], ...] = ()
    """For `changed`: (column, committed value, current value) of each column that differs."""
    label: str | None = None
    seq: int | None = None
    """The entry that last committed the row (None for `added`)."""

    def __str__(self) -> str:
        who = f"{self.table} {self.key!r}" + (f" ({self.label})" if self.label else "")
        if self.change == "changed":
            diffs = "; ".join(f"{c}: {_show(a)} -> {_show(b)}" for c, a, b in self.fields)
            return (f"{who} changed outside tripwire ({diffs or 'its stored form'}; committed "
                    f"by entry {self.seq})")
        if self.change == "removed":
            return f"{who} was removed outside tripwire (committed by entry {self.seq})"
        return f"{who} was added outside tripwire (no entry committed it)"

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "key": self.key, "change": self.change,
                "fields": [{"column": c, "committed": _jsonable(a), "current": _jsonable(b)}
                           for c, a, b in self.fields],
                "label": self.label, "entry": self.seq}


def _show(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else repr(v)


def _jsonable(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


@dataclass
class EvidenceReport:
    """What `verify_evidence` found."""

    rows: int = 0
    """Committed rows checked."""
    blocks: int = 0
    changes: list[RowChange] = field(default_factory=list)
    """Rows changed, added or removed outside tripwire (up to `limit`)."""
    more: int = 0
    """Further changed rows found beyond `limit`."""
    entry_failures: list[tuple[int | None, str]] = field(default_factory=list)
    """(entry, why) for committed blocks that no longer match their entry's root."""

    @property
    def ok(self) -> bool:
        return not self.changes and not self.entry_failures and not self.more


@dataclass
class _Block:
    seq: int
    part: int
    first: Any
    last: Any
    rows: int
    data: bytes | None = None


def _numeric(table: Table) -> frozenset[str]:
    from tripwire.register import tables as t

    cols = t.metadata.tables[table.name].columns
    return frozenset(c.name for c in cols if isinstance(c.type, sa.Integer | sa.Float))


def _typed(table: Table, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values as shown: numbers of numeric columns as numbers."""
    numeric = _numeric(table)
    out = []
    for c, v in zip(table.columns, values, strict=False):
        if c in numeric and isinstance(v, str):
            try:
                v = int(v) if v.lstrip("-").isdigit() else float(v)
            except ValueError:
                pass
        out.append(v)
    return tuple(out)


def _diff(table: Table, key: Any, committed: bytes, current: bytes, seq: int) -> RowChange:
    try:
        a, b = _typed(table, _values(committed)), _typed(table, _values(current))
    except ValueError:
        return RowChange(table.name, key, "changed", seq=seq)
    fields = tuple((c, x, y) for c, x, y in zip(table.columns, a, b, strict=False)
                   if ascii(x) != ascii(y))
    label = None
    if table.label is not None:
        i = table.columns.index(table.label)
        label = str(b[i]) if i < len(b) else None
    return RowChange(table.name, key, "changed", fields, label, seq)


def _label(table: Table, line: bytes) -> str | None:
    if table.label is None:
        return None
    try:
        return str(_values(line)[table.columns.index(table.label)])
    except (ValueError, IndexError):
        return None


class _Checker:
    def __init__(self, conn: sa.Connection, roots: Mapping[int, Mapping[str, Any]],
                 limit: int) -> None:
        self.conn, self.roots, self.limit = conn, roots, limit
        self.report = EvidenceReport()
        self.block_roots: dict[tuple[int, str], list[tuple[int, bytes, int]]] = {}

    def add(self, change: RowChange) -> None:
        if len(self.report.changes) < self.limit:
            self.report.changes.append(change)
        else:
            self.report.more += 1

    def lines(self, table: Table, b: _Block) -> list[bytes]:
        """A block's committed lines, its root noted for the entry check."""
        assert b.data is not None
        try:
            text: bytes | None = _unpack_text(b.data)
        except BadBlock:
            text = None
        b.data = None
        lines = text.split(b"\n") if text is not None else []
        if text is None:
            root = b""
        elif self.roots.get(b.seq, {}).get(table.name, {}).get("leaves") == "blocks":
            root = _block_hash(text)
        else:  # entries written before blocks were the leaves: a leaf per row
            root = _root(_leaves(lines))
        self.block_roots.setdefault((b.seq, table.name), []).append((b.part, root, len(lines)))
        self.report.blocks += 1
        self.report.rows += len(lines)
        return lines

    def compare(self, table: Table, committed: Mapping[Any, tuple[bytes, int]],
                current: Sequence[bytes]) -> None:
        """Compare the fold of committed lines (key -> (line, seq)) with the current lines."""
        seen = set()
        for line in current:
            try:
                key = _key_of(line, table)
            except ValueError:
                key = line
            seen.add(key)
            got = committed.get(key)
            if got is None:
                self.add(RowChange(table.name, key, "added", label=_label(table, line)))
            elif got[0] != line and not _same(got[0], line):
                self.add(_diff(table, key, got[0], line, got[1]))
        for key in committed.keys() - seen:
            line, seq = committed[key]
            self.add(RowChange(table.name, key, "removed", label=_label(table, line), seq=seq))

    def entries_check(self) -> None:
        """Each committing entry's per-table root against the roots of its stored blocks."""
        for seq, summary in self.roots.items():
            for name, want in summary.items():
                got = sorted(self.block_roots.pop((seq, name), []))
                rows = sum(n for _, _, n in got)
                parts = [p for p, _, _ in got]
                if (parts != list(range(len(got))) or rows != want.get("rows")
                        or _root([r for _, r, _ in got]).hex() != want.get("root")):
                    self.report.entry_failures.append(
                        (seq, f"the stored copy of the {name} rows it committed no longer "
                              f"matches its root ({want.get('rows')} rows): evidence_blocks "
                              "was changed"))
        for seq, name in sorted(self.block_roots):
            self.report.entry_failures.append(
                (seq, f"evidence_blocks holds {name} rows for this entry, which committed none"))


def _committing_entries(conn: sa.Connection) -> dict[int, dict[str, Any]]:
    """seq -> the per-table evidence summary of every entry that commits rows."""
    import json

    from tripwire.register.record_store import record_entries as re_

    out: dict[int, dict[str, Any]] = {}
    q = sa.select(re_.c.seq, re_.c.body).where(re_.c.kind.in_(COMMIT_KINDS))
    for seq, body in conn.execute(q):
        try:
            payload = json.loads(bytes(body) + b"}")["payload"]
        except (ValueError, KeyError, TypeError):
            continue
        ev = payload.get("evidence") if isinstance(payload, dict) else None
        if isinstance(ev, dict):
            out[seq] = ev
    return out


def _blocks_of(conn: sa.Connection, name: str) -> list[_Block]:
    b = evidence_blocks.c
    q = (sa.select(b.seq, b.part, b.first_key, b.last_key, b.rows, b.data)
         .where(b.tbl == name).order_by(b.seq, b.part))
    return [_Block(s, p, f, la, r, bytes(d)) for s, p, f, la, r, d in conn.execute(q)]


def _clusters(blocks: list[_Block]) -> Iterator[tuple[Any, Any, list[_Block]]]:
    """Blocks grouped by overlapping key ranges, in key order: (lo, hi, blocks in seq order)."""
    group: list[_Block] = []
    lo = hi = None
    for b in sorted(blocks, key=lambda b: (b.first, b.seq, b.part)):
        if group and b.first > hi:
            yield lo, hi, sorted(group, key=lambda b: (b.seq, b.part))
            group = []
        if not group:
            lo, hi = b.first, b.last
        group.append(b)
        hi = max(hi, b.last)
    if group:
        yield lo, hi, sorted(group, key=lambda b: (b.seq, b.part))


def verify_evidence(conn: sa.Connection, *, limit: int = 1000) -> EvidenceReport:
    """Compare every evidence table with the rows the record committed: name each row changed
    (with the columns that differ), added or removed outside tripwire, and each entry whose
    stored rows no longer match its root. Streams one cluster of blocks at a time (a block
    plus whatever later entries re-committed within its key range)."""
    ck = _Checker(conn, _committing_entries(conn), limit)
    d = conn.dialect.name
    m = _mark(conn)
    for name, table in TABLES.items():
        blocks = _blocks_of(conn, name)
        select = _select(table, d)
        if not table.int_key:
            committed: dict[Any, tuple[bytes, int]] = {}
            for b in blocks:
                for line in ck.lines(table, b):
                    committed[_key_of(line, table)] = (line, b.seq)
            ck.compare(table, committed, _fetch(conn, select))
            continue
        prev_hi: int | None = None
        for _lo, hi, group in _clusters(blocks):
            where = f"{table.key} <= {m}" + ("" if prev_hi is None else f" AND {table.key} > {m}")
            params = (hi,) if prev_hi is None else (hi, prev_hi)
            current = _fetch(conn, f"{select} WHERE {where} ORDER BY {table.key}", params)
            prev_hi = hi
            if len(group) == 1:
                lines = ck.lines(table, group[0])
                if lines == current:
                    continue
                committed = {_key_of(x, table): (x, group[0].seq) for x in lines}
            else:
                committed = {}
                for b in group:
                    for line in ck.lines(table, b):
                        committed[_key_of(line, table)] = (line, b.seq)
            ck.compare(table, committed, current)
        rest = f" WHERE {table.key} > {m}" if prev_hi is not None else ""
        if d == "postgresql":
            _exact_floats(conn)
        cur = _cursor(conn, named=f"tripwire_evidence_{name}")
        try:
            cur.execute(f"{select}{rest} ORDER BY {table.key}",
                        (prev_hi,) if prev_hi is not None else ())
            while chunk := cur.fetchmany(FETCH):
                ck.compare(table, {}, _lines(chunk))
        finally:
            cur.close()
    ck.entries_check()
    return ck.report


# ------------------------------------------------------------------- for determinations

def committed_lines(conn: sa.Connection, wanted: Mapping[str, Iterable[Any]]
                    ) -> dict[str, dict[Any, tuple[bytes, int]]]:
    """The committed line and committing entry of each wanted row (absent when no entry
    committed it): the latest commitment of the key in the record."""
    b = evidence_blocks.c
    out: dict[str, dict[Any, tuple[bytes, int]]] = {}
    for name, keys in wanted.items():
        table = TABLES[name]
        keys = set(keys)
        got: dict[Any, tuple[bytes, int]] = {}
        if keys:
            q = sa.select(b.id, b.seq, b.part, b.data).where(b.tbl == name)
            found: dict[int, tuple[int, int, bytes]] = {}
            if table.int_key:
                ordered = sorted(keys)
                for i in range(0, len(ordered), 100):
                    near = sa.or_(*[sa.and_(b.first_key <= k, b.last_key >= k)
                                    for k in ordered[i:i + 100]])
                    for bid, seq, part, data in conn.execute(q.where(near)):
                        found[bid] = (seq, part, data)
            else:
                for bid, seq, part, data in conn.execute(q):
                    found[bid] = (seq, part, data)
            for seq, _part, data in sorted(found.values(), key=lambda r: (r[0], r[1])):
                try:
                    lines = _unpack(bytes(data))
                except BadBlock:
                    continue
                for line in lines:
                    try:
                        k = _key_of(line, table)
                    except ValueError:
                        continue
                    if k in keys:
                        got[k] = (line, seq)
        out[name] = got
    return out


_Lines = dict[str, tuple[dict[Any, tuple[Any, ...]], dict[Any, tuple[bytes, int]]]]
"""table -> (key -> row as stored now, key -> (committed line, committing entry))."""


def _now_and_committed(conn: sa.Connection, wanted: Mapping[str, set[Any]]) -> _Lines:
    committed = (committed_lines(conn, wanted) if sa.inspect(conn).has_table("evidence_blocks")
                 else None)
    out: _Lines = {}
    for name, keys in wanted.items():
        table = TABLES[name]
        now = {r[0]: tuple(r) for r in _values_of(conn, table, keys)}
        out[name] = (now, committed[name] if committed is not None else {})
    return out


def stale_rows(conn: sa.Connection, wanted: Mapping[str, Iterable[Any]]) -> list[RowChange]:
    """The wanted rows that no longer match what the record committed."""
    if not sa.inspect(conn).has_table("evidence_blocks"):
        return []
    wanted = {n: set(k) for n, k in wanted.items()}
    return _stale(wanted, _now_and_committed(conn, wanted))


def _stale(wanted: Mapping[str, set[Any]], lines: _Lines) -> list[RowChange]:
    out = []
    for name, keys in wanted.items():
        table = TABLES[name]
        now, committed = lines[name]
        for key in sorted(keys, key=str):
            have, got = now.get(key), committed.get(key)
            if have is None and got is None:
                continue
            if got is None:
                assert have is not None
                out.append(RowChange(name, key, "added", label=_label(table, _line1(have))))
            elif have is None:
                out.append(RowChange(name, key, "removed", label=_label(table, got[0]),
                                     seq=got[1]))
            elif not _holds(got[0], have):
                out.append(_diff(table, key, got[0], _line1(have), got[1]))
    return out


def used_rows(conn: sa.Connection, model: str, result_ids: Iterable[int],
              benchmarks: Iterable[str], ledger_ids: Iterable[int] = ()) -> dict[str, set[Any]]:
    """The keys of the rows a determination of `model` rests on: its models row, the results it
    cited, the benchmarks whose metadata (chance, ceiling, direction) it used and the
    compute-ledger entries its cumulative compute was summed from."""
    mid = conn.execute(sa.text("SELECT id FROM models WHERE name = :n"), {"n": model}).scalar()
    return {"models": {mid} if mid is not None else set(),
            "eval_results": set(result_ids), "benchmarks": set(benchmarks),
            "compute_ledger": set(ledger_ids)}


def evidence_state(conn: sa.Connection, wanted: Mapping[str, Iterable[Any]]
                   ) -> tuple[dict[str, dict[str, str]], list[RowChange]]:
    """For a determination: the leaf hash of each wanted row as stored now (table -> key as
    text -> hex), and the wanted rows that no longer match what the record committed. A row
    holding the values the record committed is named by the committed line's hash, in
    whichever form it was committed, so that determinations before and after a change of
    form name the same rows alike."""
    wanted = {n: set(k) for n, k in wanted.items() if k}
    lines = _now_and_committed(conn, wanted)
    rows: dict[str, dict[str, str]] = {}
    for name, (now, committed) in lines.items():
        digests = {}
        for key, row in sorted(now.items(), key=lambda kv: str(kv[0])):
            got = committed.get(key)
            digests[str(key)] = leaf(got[0] if got is not None and _holds(got[0], row)
                                     else _line(row)).hex()
        if digests:
            rows[name] = digests
    stale = _stale(wanted, lines) if sa.inspect(conn).has_table("evidence_blocks") else []
    return rows, stale
