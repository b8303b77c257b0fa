"""The record in the register: appending entries, signing checkpoints, proving and verifying.

Tables `record_entries` and `record_checkpoints` (migration 0003) refuse UPDATE and DELETE.
Appends are serialised so the chain never forks: on SQLite the register's write transactions
are BEGIN IMMEDIATE already; on PostgreSQL `append_entry` takes a transaction-scoped advisory
lock before reading the chain's end. The hashing, proofs and verification live in
`tripwire.record`; this module only moves rows in and out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from itertools import compress
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tripwire.errors import InputError, IntegrityError
from tripwire.record import (
    GENESIS,
    ConsistencyProof,
    Entry,
    Failure,
    InclusionProof,
    MerkleTree,
    PublicKeys,
    SignedTreeHead,
    StoredRow,
    VerifyReport,
    canonical_json,
    default_key_path,
    key_ring,
    load_private_key,
    sign_tree_head,
    verify_blocks,
)
from tripwire.register.core import Register
from tripwire.register.engine import driver_cursor

__all__ = [
    "Entry",
    "append_entry",
    "checkpoints",
    "consistency_proof",
    "entries",
    "find_entry",
    "forget_head",
    "inclusion_proof",
    "insert_rows",
    "lock_appends",
    "make_checkpoint",
    "verify_register",
]

APPEND_LOCK = 0x7472_6970_7265_63  # pg_advisory_xact_lock key for appends ("tripwrec")
FETCH = 256

metadata = sa.MetaData()
record_entries = sa.Table(
    "record_entries",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("prev", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
)
record_checkpoints = sa.Table(
    "record_checkpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", sa.String(64), nullable=False),
    sa.Column("timestamp", sa.String(32), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("public_key", sa.String(64), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)
_LAST = (sa.select(record_entries.c.seq, record_entries.c.hash)
         .order_by(record_entries.c.seq.desc()).limit(1))
_ROW_SQL = "SELECT seq, kind, body, prev, hash FROM record_entries ORDER BY seq"
_SOURCE_REF = re.compile(rb'"source_sha256":"(.{64})', re.DOTALL)
_INGEST_REF = re.compile(rb'"sha256":"(.{64})', re.DOTALL)


_LOCKED = "tripwire.record.append_lock"
_HEAD = "tripwire.record.head"
"""(transaction, next seq, last hash) after this connection's latest append: the appends of
one transaction hold the append lock, so no other writer can move the head under them."""


def _lock(conn: sa.Connection) -> None:
    """PostgreSQL: hold the append lock until this transaction ends (taken once per
    transaction). SQLite needs nothing: the register's write transactions are BEGIN IMMEDIATE."""
    if conn.dialect.name != "postgresql":
        return
    txn = conn.get_transaction()
    if txn is not None and conn.info.get(_LOCKED) is txn:
        return
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK})
    conn.info[_LOCKED] = txn


def lock_appends(conn: sa.Connection) -> None:
    """Hold the append lock until the caller's transaction ends, for a read of the record that
    decides an append (PostgreSQL; SQLite write transactions hold it already)."""
    _lock(conn)


def append_entry(conn: sa.Connection, kind: str, payload: dict[str, Any], *,
                 defer: list[StoredRow] | None = None) -> Entry:
    """Append one entry inside the caller's transaction (`with reg.transaction() as conn`).

    Computes its seq, links it to the hash of the current last entry and stores its RFC 8785
    bytes; concurrent appenders queue (SQLite BEGIN IMMEDIATE, PostgreSQL advisory lock), and the
    primary key on seq refuses a fork should a caller bypass both. With `defer`, the entry's
    row is added to that list instead, for `insert_rows` before the transaction ends (the
    transaction's later appends follow it all the same).
    """
    payload_json = canonical_json(payload) if isinstance(payload, dict) else b""
    _lock(conn)
    txn = conn.get_transaction()
    head = conn.info.get(_HEAD)
    if head is not None and head[0] is txn:  # this transaction appended last: no re-read
        seq, prev = head[1], head[2]
    else:
        last = conn.execute(_LAST).first()
        seq, prev = (last.seq + 1, last.hash) if last is not None else (0, GENESIS)
    entry = Entry.create(seq, kind, payload, prev, payload_json=payload_json)
    if defer is not None:
        defer.append(entry.row())
    else:
        insert_rows(conn, [entry.row()])
    conn.info[_HEAD] = (txn, entry.seq + 1, entry.entry_hash)
    return entry


def insert_rows(conn: sa.Connection, rows: Sequence[StoredRow]) -> None:
    """Entries' rows, straight to the driver (through SQLAlchemy an insert costs more than the
    database's work, and ingest appends one per file); errors raised as SQLAlchemy raises
    them."""
    if not rows:
        return
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    sql = (f"INSERT INTO record_entries (seq, kind, body, prev, hash) "
           f"VALUES ({', '.join([mark] * 5)})")
    params = [tuple(r) for r in rows]
    with driver_cursor(conn, sql, params[:1]) as cur:
        cur.executemany(sql, params)


def forget_head(conn: sa.Connection) -> None:
    """Drop the record head `append_entry` keeps for its transaction: call it after rolling
    back to a savepoint, which may have undone appends."""
    conn.info.pop(_HEAD, None)


def entries(conn: sa.Connection, kind: str | None = None, *,
            after: int | None = None) -> list[Entry]:
    """The entries in seq order, of one kind or all, optionally only those after seq `after`
    (as stored; `verify_register` checks them)."""
    q = sa.select(record_entries).order_by(record_entries.c.seq)
    if kind is not None:
        q = q.where(record_entries.c.kind == kind)
    if after is not None:
        q = q.where(record_entries.c.seq > after)
    return [Entry.from_row(StoredRow(*r)) for r in conn.execute(q)]


def checkpoints(conn: sa.Connection) -> list[SignedTreeHead]:
    """Stored signed tree heads, oldest first (InputError if a row is malformed)."""
    rows = conn.execute(sa.select(record_checkpoints).order_by(record_checkpoints.c.id))
    return [SignedTreeHead.from_dict({k: v for k, v in r._mapping.items() if k != "id"},
                                     source=f"record_checkpoints row {r.id}") for r in rows]


def _count(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(record_entries)).scalar_one()


def find_entry(conn: sa.Connection, ref: str) -> int:
    """Resolve an entry reference to its seq: a number of up to 7 digits is a seq; 8 to 64 hex
    digits are the start of an entry's hash (or, failing that and all digits, a seq).
    InputError naming what exists when nothing, or more than one entry, matches."""
    ref = ref.strip().lower()
    n = _count(conn)
    span = f"0..{n - 1}" if n else "none yet"
    if ref.isdigit() and len(ref) < 8:
        if int(ref) >= n:
            raise InputError(f"no entry {int(ref)} in the record (entries: {span})")
        return int(ref)
    if not re.fullmatch(r"[0-9a-f]{8,64}", ref):
        raise InputError(f"{ref!r} is neither an entry number nor 8 or more hex digits of an "
                         "entry hash", hint="see `tripwire record`")
    hits = conn.execute(
        sa.select(record_entries.c.seq).where(record_entries.c.hash.like(ref + "%")).limit(2)
    ).scalars().all()
    if len(hits) > 1:
        raise InputError(f"more than one entry's hash starts with {ref}",
                         hint="give more hex digits")
    if hits:
        return hits[0]
    if ref.isdigit() and int(ref) < n:
        return int(ref)
    raise InputError(f"no entry's hash starts with {ref} (entries: {span})",
                     hint="see `tripwire record`")


def _blocks(conn: sa.Connection) -> Iterator[list[tuple[Any, ...]]]:
    """All entry rows in seq order, in blocks, straight from the driver (a server-side cursor on
    PostgreSQL), so a million entries stream through verification without piling up."""
    raw = conn.connection.driver_connection
    assert raw is not None
    cur = raw.cursor(name="tripwire_record_scan") if conn.dialect.name == "postgresql" \
        else raw.cursor()
    try:
        cur.execute(_ROW_SQL)
        while block := cur.fetchmany(FETCH):
            yield block
    finally:
        cur.close()


def _all_rows(conn: sa.Connection) -> list[StoredRow]:
    return [StoredRow(*r) for r in conn.exec_driver_sql(_ROW_SQL)]


class _Evidence:
    """Collects the source-file hashes that determinations cite and ingest entries record.

    Found without parsing: JCS writes a member as "name":"value" with no spaces and escapes
    every quote inside a string, so these patterns only ever match a member. A value that is
    not a 64-digit hash matches no stored file, and is reported as such."""

    def __init__(self) -> None:
        self.refs: set[bytes] = set()

    def __call__(self, kinds: tuple[str, ...], bodies: tuple[bytes, ...]) -> None:
        for kind, pattern in (("determination", _SOURCE_REF), ("ingest", _INGEST_REF)):
            self.refs.update(pattern.findall(b"\n".join(compress(bodies, map(kind.__eq__,
                                                                              kinds)))))


def _check_evidence(conn: sa.Connection, report: VerifyReport, refs: set[bytes]) -> None:
    if not refs:
        return
    if not sa.inspect(conn).has_table("source_files"):
        known: set[str] = set()
    else:
        known = set(conn.exec_driver_sql("SELECT sha256 FROM source_files").scalars())
    report.evidence = len(refs)
    absent = {r.decode("utf-8", "replace") for r in refs} - known
    if not absent:
        return
    for e in entries(conn):  # name the first entry that cites a vanished file
        pattern = {"determination": _SOURCE_REF, "ingest": _INGEST_REF}.get(e.kind)
        if pattern is None:
            continue
        cited = {m.decode("utf-8", "replace") for m in pattern.findall(e.canonical)}
        gone = sorted(cited & absent)
        if gone:
            report.failure = Failure(
                "evidence", e.seq, f"{e.kind} cites source file {gone[0][:16]}…, which no "
                "longer matches any stored source file (its row was changed or deleted)")
            return


class _EntryFailure:
    """An entry whose committed evidence rows were altered in `evidence_blocks`."""

    def __init__(self, seq: int | None, detail: str) -> None:
        self.seq, self.detail = seq, detail

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"entry": self.seq, "change": "entry", "detail": self.detail}


def _check_rows(conn: sa.Connection, report: VerifyReport) -> None:
    """Compare the evidence tables with the rows the record committed (`evidence`)."""
    from tripwire.register.evidence import verify_evidence

    if not sa.inspect(conn).has_table("evidence_blocks"):
        return
    found = verify_evidence(conn)
    report.rows = found.rows
    report.changes = [_EntryFailure(s, d) for s, d in found.entry_failures] + found.changes
    n = len(report.changes) + found.more
    if n:
        first = report.changes[0]
        seq = first.seq
        more = f" (and {n - 1} more)" if n > 1 else ""
        report.failure = Failure("evidence", seq, f"{first}{more}")


def _verify(conn: sa.Connection, external: SignedTreeHead | None,
            public_key: list[Ed25519PublicKey] | None, fast: bool = False) -> VerifyReport:
    try:
        stored = checkpoints(conn)
    except InputError as e:
        report = VerifyReport(_count(conn), None)
        report.failure = Failure("bad signature", None, f"a stored checkpoint is malformed: {e}")
        return report
    evidence = _Evidence()
    report = verify_blocks(_blocks(conn), lambda: _all_rows(conn), stored, external=external,
                           public_key=public_key, on_block=evidence)
    if report.ok:
        _check_evidence(conn, report, evidence.refs)
    if report.ok and not fast:
        _check_rows(conn, report)
    return report


def _public_key(public_key: PublicKeys | None) -> list[Ed25519PublicKey] | None:
    """The trusted key ring as keys, files read before the register is opened (InputError
    naming a file that is not a public key)."""
    ring = key_ring(public_key)
    return None if ring is None else list(ring.values())


def verify_register(reg: Register, checkpoint: SignedTreeHead | None = None,
                    public_key: PublicKeys | None = None, *, fast: bool = False) -> VerifyReport:
    """Recompute the chain and the tree of the register's record and check them against every
    stored checkpoint and `checkpoint` (an exported one), and check that the source files the
    record cites are still stored with the same hashes. Reports the first failure and why.

    `public_key`: one trusted public key or several (keys or key files), e.g. the current key
    and those retired by `tripwire keygen --force`; a checkpoint signed by any of them passes,
    one signed by another key is a "bad signature". None: each head's own key is checked.

    Then every evidence row is compared with the rows the record committed, naming each row
    changed (and its columns), added or removed outside tripwire (`report.changes`); `fast`
    skips that comparison, checking the record and the cited file hashes only."""
    with reg.read() as conn:
        return _verify(conn, checkpoint, _public_key(public_key), fast)


def make_checkpoint(reg: Register, key_path: str | Path | None = None) -> SignedTreeHead:
    """Verify the record, then sign and store a tree head over all its entries.

    Refuses (IntegrityError) to sign a record that fails verification, so a checkpoint never
    vouches for tampering. Appends wait while it runs, so the head covers a settled record.
    """
    key = load_private_key(key_path if key_path is not None else default_key_path())
    with reg.transaction() as conn:
        _lock(conn)
        report = _verify(conn, None, None)
        if not report.ok:
            raise IntegrityError(f"the record fails verification, so it is not signed: "
                                 f"{report.failure}", hint="run `tripwire verify`")
        root = MerkleTree([]).root() if report.root_hash is None else \
            bytes.fromhex(report.root_hash)
        head = sign_tree_head(report.entries, root, key)
        conn.execute(record_checkpoints.insert().values(head.to_dict()))
    return head


def _tree(conn: sa.Connection) -> MerkleTree:
    hashes = conn.exec_driver_sql("SELECT hash FROM record_entries ORDER BY seq").scalars()
    return MerkleTree([bytes.fromhex(h) for h in hashes])


def _matching(tree: MerkleTree, head: SignedTreeHead, what: str) -> None:
    if head.tree_size > tree.size:
        raise IntegrityError(f"{what} covers {head.tree_size} entries but the record holds "
                             f"{tree.size}", hint="run `tripwire verify`")
    if tree.root(head.tree_size).hex() != head.root_hash:
        raise IntegrityError(f"the record no longer matches {what} (size {head.tree_size})",
                             hint="run `tripwire verify`")


def inclusion_proof(reg: Register, seq: int,
                    checkpoint: SignedTreeHead | None = None) -> InclusionProof:
    """Prove entry `seq` is in the tree of `checkpoint`, by default the newest stored
    checkpoint that covers it."""
    with reg.read() as conn:
        if checkpoint is None:
            covering = [c for c in checkpoints(conn) if c.tree_size > seq]
            if not covering:
                raise InputError(f"no checkpoint covers entry {seq} yet",
                                 hint="run `tripwire checkpoint` first")
            checkpoint = max(covering, key=lambda c: c.tree_size)
        elif checkpoint.tree_size <= seq:
            raise InputError(f"the checkpoint covers entries 0..{checkpoint.tree_size - 1}, "
                             f"not entry {seq}")
        tree = _tree(conn)
        _matching(tree, checkpoint, "the checkpoint")
        row = conn.execute(sa.select(record_entries).where(record_entries.c.seq == seq)).first()
        if row is None:
            raise InputError(f"no entry {seq} in the record")
        entry = Entry.from_row(StoredRow(*row))
    path = [p.hex() for p in tree.inclusion_path(seq, checkpoint.tree_size)]
    return InclusionProof(seq, entry.entry_hash, path, checkpoint,
                          entry.canonical.decode("utf-8"))


def _head_at(heads: Sequence[SignedTreeHead], size: int | None) -> SignedTreeHead:
    if not heads:
        raise InputError("the record has no checkpoints", hint="run `tripwire checkpoint`")
    if size is None:
        return max(heads, key=lambda c: c.tree_size)
    at = [c for c in heads if c.tree_size == size]
    if not at:
        sizes = ", ".join(str(s) for s in sorted({c.tree_size for c in heads}))
        raise InputError(f"no checkpoint at size {size}", hint=f"checkpoint sizes: {sizes}")
    return at[-1]


def consistency_proof(reg: Register, old_size: int,
                      new_size: int | None = None) -> ConsistencyProof:
    """Prove the checkpoint at `old_size` is a prefix of the one at `new_size` (default: the
    largest stored checkpoint)."""
    with reg.read() as conn:
        heads = checkpoints(conn)
        old, new = _head_at(heads, old_size), _head_at(heads, new_size)
        if old.tree_size > new.tree_size:
            raise InputError(f"--from-size {old.tree_size} is larger than --to-size "
                             f"{new.tree_size}")
        tree = _tree(conn)
    _matching(tree, new, "the newer checkpoint")
    path = [p.hex() for p in tree.consistency_path(old.tree_size, new.tree_size)]
    return ConsistencyProof(old, new, path)
