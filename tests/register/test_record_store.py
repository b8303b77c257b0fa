"""The record in a real register, on SQLite and PostgreSQL: appends, append-only triggers,
checkpoints and proofs, tampering by someone with database access, evidence hashes, and
concurrent appenders."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from tripwire.errors import InputError, IntegrityError
from tripwire.model import Attestation, Determination, EvidenceRef, ThresholdState
from tripwire.record import (
    GENESIS,
    Entry,
    SignedTreeHead,
    entry_bytes,
    generate_key,
    key_id,
    leaf_hash,
    load_public_key,
    retired_public_keys,
    rotate_key,
    verify_consistency,
    verify_inclusion,
)
from tripwire.register import Register, open_register
from tripwire.register import tables as t
from tripwire.register.evidence import commit, watermarks
from tripwire.register.record_store import (
    append_entry,
    checkpoints,
    consistency_proof,
    entries,
    find_entry,
    inclusion_proof,
    make_checkpoint,
    verify_register,
)

TABLES = ("record_entries", "record_checkpoints")


def _source(conn: sa.Connection, i: int) -> str:
    sha = leaf_hash(b"file %d" % i).hex()
    conn.execute(t.source_files.insert().values(
        path=f"evals{i}.csv", sha256=sha, kind="evals-csv", size=100 + i, version=1, rows=3,
        ingested_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)))
    return sha


def _determination(model: str, sha: str) -> dict:
    d = Determination(
        model=model, policy="rsp", policy_version="2.2", policy_sha256="ab" * 32, level="ASL-2",
        thresholds=[ThresholdState(
            id="cbrn", level="ASL-3", state="clear", probability=0.03,
            evidence=[EvidenceRef(kind="result", result_id=1, benchmark="wmdp_bio", value=0.41,
                                  stderr=0.02, source_sha256=sha)])],
        required_safeguards={"deploy": ["asl2-security"]}, allowed_actions=["train", "deploy"])
    return d.model_dump(mode="json")


def _fill(reg: Register, n: int = 20) -> list[str]:
    """n entries of every kind, the evidence they cite stored as source files."""
    shas = []
    with reg.transaction() as conn:
        for i in range(n):
            k = i % 4
            if k == 0:
                marks = watermarks(conn)
                sha = _source(conn, i)
                shas.append(sha)
                commit(conn, "ingest", {"path": f"evals{i}.csv", "sha256": sha,
                                        "kind": "evals-csv", "rows": 3}, since=marks)
            elif k == 1:
                append_entry(conn, "determination", _determination(f"model-{i}", shas[-1]))
            elif k == 2:
                a = Attestation(model=f"model-{i}", safeguard="asl2-security", by="ciso",
                                evidence="https://example.org/audit.pdf")
                append_entry(conn, "attestation", a.model_dump(mode="json"))
            else:
                append_entry(conn, "policy", {"name": "rsp", "version": f"2.{i}",
                                              "sha256": leaf_hash(b"p%d" % i).hex()})
    return shas


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path, _ = generate_key(tmp_path / "tripwire.key")
    return path


def test_appends_chain_and_read_back(register: Register) -> None:
    _fill(register, 12)
    with register.read() as conn:
        got = entries(conn)
        dets = entries(conn, "determination")
    assert [e.seq for e in got] == list(range(12))
    assert got[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.entry_hash for a, b in zip(got, got[1:], strict=False))
    assert [e.seq for e in dets] == [1, 5, 9]
    assert Determination.model_validate(dets[0].payload).thresholds[0].evidence[0].value == 0.41
    report = verify_register(register)
    assert report.ok and report.entries == 12 and report.evidence == 3  # distinct files
    assert "no checkpoint" in report.notes[0]


def test_the_tables_refuse_update_and_delete(register: Register, key: Path) -> None:
    _fill(register, 4)
    make_checkpoint(register, key)
    statements = ["UPDATE record_entries SET kind = 'policy'",
                  "DELETE FROM record_entries WHERE seq = 3",
                  "UPDATE record_checkpoints SET tree_size = 1",
                  "DELETE FROM record_checkpoints"]
    if register.dialect == "postgresql":
        statements += ["TRUNCATE record_entries", "TRUNCATE record_checkpoints"]
    for sql in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with register.transaction() as conn:
                conn.exec_driver_sql(sql)
    assert verify_register(register).ok


def test_checkpoints_proofs_and_refusals(register: Register, key: Path, tmp_path: Path) -> None:
    _fill(register, 9)
    with pytest.raises(InputError, match="no checkpoint covers"):
        inclusion_proof(register, 3)
    with pytest.raises(InputError, match="no signing key"):
        make_checkpoint(register, tmp_path / "absent.key")
    first = make_checkpoint(register, key)
    _fill_more(register, 5)
    second = make_checkpoint(register, key)
    assert (first.tree_size, second.tree_size) == (9, 14)
    public = load_public_key(key.with_name(key.name + ".pub"))
    for seq in (0, 8):
        proof = inclusion_proof(register, seq)
        assert proof.tree_head == second
        verify_inclusion(proof, public_key=public)
        verify_inclusion(inclusion_proof(register, seq, first), first, public)
    with pytest.raises(InputError, match="not entry 12"):
        inclusion_proof(register, 12, first)
    verify_consistency(consistency_proof(register, 9), public)
    verify_consistency(consistency_proof(register, 9, 14), public)
    with pytest.raises(InputError, match="checkpoint sizes: 9, 14"):
        consistency_proof(register, 10)
    with register.read() as conn:
        assert [c.tree_size for c in checkpoints(conn)] == [9, 14]
        assert find_entry(conn, "13") == 13
        assert find_entry(conn, entries(conn)[4].entry_hash[:10].upper()) == 4
        for bad, message in (("14", "no entry 14"), ("zz", "neither"), ("deadbeefdead", "no entry.s")):
            with pytest.raises(InputError, match=message):
                find_entry(conn, bad)
    # a tampered record is never signed
    with attacker(register) as conn:
        conn.exec_driver_sql("UPDATE record_entries SET kind = 'policy' WHERE seq = 1")
    with pytest.raises(IntegrityError, match="not signed"):
        make_checkpoint(register, key)


def test_checkpoints_verify_across_a_key_rotation(register: Register, key: Path,
                                                 tmp_path: Path) -> None:
    _fill(register, 6)
    first = make_checkpoint(register, key)
    _, pub, retired = rotate_key(key)
    assert retired == retired_public_keys(key) and len(retired) == 1
    _fill_more(register, 3)
    second = make_checkpoint(register, key)
    assert first.key_id != second.key_id
    for ring in ([pub, *retired], [load_public_key(pub), load_public_key(retired[0])]):
        report = verify_register(register, second, ring)
        assert report.ok and report.checkpoints == 3, report.failure
        verify_consistency(consistency_proof(register, 6), ring)
        verify_inclusion(inclusion_proof(register, 2, first), first, ring)
    report = verify_register(register, public_key=pub)  # the current key alone
    assert report.failure is not None and report.failure.reason == "bad signature"
    assert f"size 6 is signed by key {first.key_id[:16]}" in report.failure.detail
    with pytest.raises(InputError, match="not by the given public key"):
        verify_register(register, first, pub)
    stranger, stranger_pub = generate_key(tmp_path / "stranger.key")
    third = make_checkpoint(register, stranger)
    report = verify_register(register, public_key=[pub, *retired])
    assert report.failure is not None and report.failure.reason == "bad signature"
    assert key_id(load_public_key(stranger_pub))[:16] in report.failure.detail
    assert "not one of the given public keys" in report.failure.detail
    assert verify_register(register, third, [pub, *retired, stranger_pub]).ok
    with pytest.raises(InputError, match="not a PEM public key"):
        verify_register(register, public_key=[pub, key])  # a private key file is no public key


def _fill_more(reg: Register, n: int) -> None:
    with reg.transaction() as conn:
        for i in range(n):
            append_entry(conn, "policy", {"name": "extra", "version": str(i), "sha256": "cd" * 32})


# --------------------------------------------------------------------------- tampering


@contextmanager
def attacker(reg: Register) -> Iterator[sa.Connection]:
    """Write access with the append-only triggers out of the way, as someone holding the
    database would have: dropped and recreated on SQLite, disabled on PostgreSQL."""
    with reg.engine.begin() as conn:
        if reg.dialect == "sqlite":
            triggers = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name IN ('record_entries', 'record_checkpoints')").all()
            assert len(triggers) == 4
            for name, _ in triggers:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
            yield conn
            for _, sql in triggers:
                conn.exec_driver_sql(sql)
        else:
            for table in TABLES:
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            yield conn
            for table in TABLES:
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _renumber(conn: sa.Connection, moves: dict[int, int]) -> None:
    """Give rows new seq numbers without tripping the primary key mid-way."""
    for old, new in moves.items():
        conn.exec_driver_sql(f"UPDATE record_entries SET seq = {-1 - new} WHERE seq = {old}")
    for new in moves.values():
        conn.exec_driver_sql(f"UPDATE record_entries SET seq = {new} WHERE seq = {-1 - new}")


def _row(conn: sa.Connection, seq: int) -> sa.Row:
    return conn.exec_driver_sql(
        f"SELECT seq, kind, body, prev, hash FROM record_entries WHERE seq = {seq}").one()


def _set(conn: sa.Connection, seq: int, **values: object) -> None:
    cols = ", ".join(f"{k} = :{k}" for k in values)
    conn.execute(sa.text(f"UPDATE record_entries SET {cols} WHERE seq = :s"),
                 {**values, "s": seq})


def _tamper(kind: str, conn: sa.Connection, rng: random.Random, n: int) -> set[str]:
    i = rng.randrange(n - 1)
    if kind == "edit":
        r = _row(conn, i)
        body = r.body.replace(b'"at":"2', b'"at":"1', 1)
        if rng.random() < 0.5:
            _set(conn, i, body=body)
        else:
            _set(conn, i, body=body, hash=leaf_hash(entry_bytes(body, r.prev, i)).hex())
    elif kind == "edit-kind":
        _set(conn, i, kind="attestation" if _row(conn, i).kind != "attestation" else "policy")
    elif kind == "delete":
        conn.exec_driver_sql(f"DELETE FROM record_entries WHERE seq = {i}")
        if rng.random() < 0.5:
            _renumber(conn, {s: s - 1 for s in range(i + 1, n)})
        return {"missing"}
    elif kind == "insert":
        prev = _row(conn, i - 1).hash if i else GENESIS
        forged = Entry.create(i, "attestation", {"forged": True}, prev).row()
        _renumber(conn, {s: s + 1 for s in range(n - 1, i - 1, -1)})
        conn.execute(sa.text("INSERT INTO record_entries (seq, kind, body, prev, hash) "
                             "VALUES (:seq, :kind, :body, :prev, :hash)"), forged._asdict())
        return {"inserted"}
    elif kind == "reorder":
        j = rng.randrange(i + 1, n)
        _renumber(conn, {i: j, j: i})
        return {"reordered"}
    elif kind == "truncate":
        conn.exec_driver_sql(f"DELETE FROM record_entries WHERE seq >= {i + 1}")
        if rng.random() < 0.5:
            conn.exec_driver_sql("DELETE FROM record_checkpoints")
        return {"truncated"}
    elif kind == "signature":
        sigs = conn.exec_driver_sql("SELECT id, signature FROM record_checkpoints "
                                    "ORDER BY id").all()
        conn.execute(sa.text("UPDATE record_checkpoints SET signature = :s WHERE id = :i"),
                     {"s": sigs[1].signature, "i": sigs[0].id})
        return {"bad signature"}
    elif kind == "rewrite":  # everything rebuilt and re-chained, checkpoints gone
        old = [Entry.from_row(_row(conn, s)) for s in range(n)]
        conn.exec_driver_sql("DELETE FROM record_checkpoints")
        conn.exec_driver_sql("DELETE FROM record_entries")
        for e in old:
            payload = {**e.payload, "rewritten": True} if e.seq == i else e.payload
            append_entry(conn, e.kind, payload)
    return {"edited"}


KINDS = ["edit", "edit-kind", "delete", "insert", "reorder", "truncate", "signature", "rewrite"]


def test_tampering_through_the_database_is_detected(register: Register, key: Path,
                                                    tmp_path: Path) -> None:
    _fill(register, 20)
    with register.transaction() as conn:
        conn.exec_driver_sql("SELECT 1")
    make_checkpoint(register, key)
    exported = make_checkpoint(register, key)
    exported = SignedTreeHead.from_json(exported.to_json())
    public = key.with_name(key.name + ".pub")
    with register.read() as conn:
        entry_rows = [dict(r._mapping) for r in conn.exec_driver_sql(
            "SELECT seq, kind, body, prev, hash FROM record_entries")]
        head_rows = [dict(r._mapping) for r in conn.exec_driver_sql(
            "SELECT * FROM record_checkpoints")]
    rng = random.Random(7)
    detected = 0
    for kind in KINDS * 4:
        with attacker(register) as conn:
            expected = _tamper(kind, conn, rng, 20)
        report = verify_register(register, exported, public)
        assert report.failure is not None, kind
        assert report.failure.reason in expected, (kind, str(report.failure))
        detected += 1
        with attacker(register) as conn:  # put the genuine record back
            conn.exec_driver_sql("DELETE FROM record_entries")
            conn.exec_driver_sql("DELETE FROM record_checkpoints")
            conn.execute(sa.text("INSERT INTO record_entries VALUES "
                                 "(:seq, :kind, :body, :prev, :hash)"), entry_rows)
            conn.execute(t_checkpoints().insert(), head_rows)
        assert verify_register(register, exported, public).ok
    assert detected == 32


def t_checkpoints() -> sa.Table:
    from tripwire.register.record_store import record_checkpoints
    return record_checkpoints


def test_evidence_must_still_match_stored_source_files(register: Register) -> None:
    shas = _fill(register, 8)
    assert verify_register(register).ok
    with register.engine.begin() as conn:
        conn.execute(t.source_files.update().where(t.source_files.c.sha256 == shas[1])
                     .values(sha256="f" * 64))
    report = verify_register(register)
    assert report.failure is not None and report.failure.reason == "evidence"
    assert report.failure.seq == 4  # the ingest entry of that file comes first
    with register.engine.begin() as conn:
        conn.execute(t.source_files.update().where(t.source_files.c.sha256 == "f" * 64)
                     .values(sha256=shas[1]))
    assert verify_register(register).ok


# --------------------------------------------------------------------------- concurrency

WORKERS, APPENDS, PER_TRANSACTION = 8, 500, 5


def _appender(url: str, worker: int) -> None:
    reg = open_register(url)
    with reg.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Durability is not under test here; ordering is. Saves an fsync per commit.
            conn.exec_driver_sql("SET synchronous_commit = off")
            conn.commit()
        for i in range(0, APPENDS, PER_TRANSACTION):
            with conn.begin():  # SQLite: BEGIN IMMEDIATE (the register's engine does it)
                for k in range(i, i + PER_TRANSACTION):
                    append_entry(conn, "policy", {"worker": worker, "i": k})
    reg.close()


def test_concurrent_appenders_never_fork_the_chain(register: Register) -> None:
    ctx = multiprocessing.get_context("fork")
    register.engine.dispose()  # no pooled connection crosses the fork
    procs = [ctx.Process(target=_appender, args=(register.url, w)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    report = verify_register(register)
    assert report.ok, report.failure
    with register.read() as conn:
        got = entries(conn)
    assert len(got) == WORKERS * APPENDS
    assert sorted((e.payload["worker"], e.payload["i"]) for e in got) == [
        (w, i) for w in range(WORKERS) for i in range(APPENDS)]
    mine = [(e.payload["worker"], e.payload["i"]) for e in got]
    for w in range(WORKERS):  # each process's own appends stay in its order
        assert [i for ww, i in mine if ww == w] == list(range(APPENDS))
    assert any(mine[k][0] != mine[k + 1][0] for k in range(len(mine) - 1))  # they interleaved
