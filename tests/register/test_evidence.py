"""The record's commitment to the evidence rows (tripwire.register.evidence): what every table
and column is, the roots entries carry, the entries of updates, aliases and late samples, and the
baseline an old register gets on upgrade."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tripwire.demo import example_path
from tripwire.record import leaf_hash, merkle_root
from tripwire.register import engine as eng
from tripwire.register import evidence as ev
from tripwire.register import open_register
from tripwire.register import tables as t
from tripwire.register.evidence import TABLES
from tripwire.register.record_store import entries, verify_register


def test_every_register_table_is_evidence_with_every_column() -> None:
    """A column or table added to the register without being committed would be an open door."""
    assert set(TABLES) == set(t.metadata.tables)
    for name, table in t.metadata.tables.items():
        spec = TABLES[name]
        assert set(spec.columns) == {c.name for c in table.columns}, name
        assert spec.columns[0] == spec.key == next(iter(table.primary_key.columns)).name


def test_roots_are_rfc6962_over_the_blocks_of_rows(monkeypatch: pytest.MonkeyPatch,
                                                  db_url: str) -> None:
    """An entry's root is the RFC 6962 root over the leaf hashes of its blocks' texts (the
    rows' lines in key order, BLOCK to a block, newline-separated)."""
    rng = random.Random(0)
    for n in (1, 2, 3, 5, 8, 13):
        leaves = [rng.randbytes(32) for _ in range(n)]
        assert ev._root(leaves) == merkle_root(leaves)
    monkeypatch.setattr(ev, "BLOCK", 4)
    reg = open_register(db_url, create=True)
    reg.ingest_path(example_path("models.csv"))  # 58 rows: 15 blocks, the last partial
    with reg.read() as conn:
        (entry,) = entries(conn, "ingest")
        lines = ev._fetch(conn, ev._select(ev.TABLES["models"], conn.dialect.name)
                          + " ORDER BY id")
        assert conn.execute(sa.select(sa.func.count()).select_from(ev.evidence_blocks)
                            .where(ev.evidence_blocks.c.tbl == "models")).scalar() == 15
    committed = entry.payload["evidence"]["models"]
    assert committed == {"rows": 58, "leaves": "blocks", "root": merkle_root(
        [leaf_hash(b"\n".join(lines[i:i + 4])) for i in range(0, 58, 4)]).hex()}
    report = verify_register(reg)
    counts = reg.counts()
    assert report.ok and report.rows == sum(counts[n] for n in ev.TABLES)
    reg.close()


def test_updates_aliases_and_samples_are_entries_of_their_own(db_url: str, tmp_path: Path,
                                                              shared_data: Path) -> None:
    reg = open_register(db_url, create=True)
    reg.ingest_path(example_path("models.csv"))
    reg.ingest_path(example_path("evals.csv"))
    revised = tmp_path / "models.csv"
    revised.write_text("name,compute_flop\nLlama-3.1-405B,3.9e25\n")
    reg.ingest_path(revised, update=True)
    reg.add_alias("model", "llama-405b", "Llama-3.1-405B")
    log = shared_data / "inspect_ai" / "mmlu-summary-choices.eval"
    reg.ingest_path(log)
    reg.ingest_path(log, samples=True)  # the same bytes: samples attached later
    with reg.read() as conn:
        kinds = [e.kind for e in entries(conn)]
        (update,) = entries(conn, "update")
        (alias,) = entries(conn, "alias")
        (samples,) = entries(conn, "samples")
    assert kinds.count("ingest") == 4
    assert update.payload["models"] == [{"name": "Llama-3.1-405B",
                                         "changed": {"compute_flop": [3.8e25, 3.9e25]}}]
    assert update.payload["evidence"]["models"]["rows"] == 1
    assert alias.payload["evidence"]["model_aliases"]["rows"] == 1
    assert samples.payload["evidence"]["eval_samples"]["rows"] == samples.payload["rows"] > 0
    report = verify_register(reg)
    assert report.ok, report.failure
    reg.close()


def test_an_old_register_gets_a_baseline_entry_on_upgrade(db_url: str) -> None:
    """Rows stored before the record covered the evidence are committed as found by one
    `baseline` entry that says so, neither trusted silently nor flagged; later edits are seen."""
    engine = eng.create_engine(eng.resolve_url(db_url))
    eng.upgrade(engine, "0006")
    with engine.begin() as conn:
        fid = conn.execute(t.source_files.insert().returning(t.source_files.c.id).values(
            path="old.csv", sha256="ab" * 32, kind="models-csv", size=10, version=1, rows=1,
            ingested_at=sa.func.now())).scalar_one()
        conn.execute(t.models.insert().values(name="old-model", compute_flop=2e24,
                                              multiplier=1.0, source_file_id=fid,
                                              updated_at=sa.func.now()))
    engine.dispose()
    reg = open_register(db_url)
    with reg.read() as conn:
        (base,) = entries(conn, "baseline")
    assert "upgraded from schema 0006" in base.payload["reason"]
    assert "cannot be detected" in base.payload["reason"]
    assert {k: v["rows"] for k, v in base.payload["evidence"].items()} == {
        "models": 1, "source_files": 1}
    assert verify_register(reg).ok
    with reg.transaction() as conn:
        conn.execute(t.models.update().values(compute_flop=2e26))
    report = verify_register(reg)
    assert not report.ok and report.failure is not None
    assert "models 1 (old-model) changed outside tripwire (compute_flop: 2e+24 -> 2e+26" in str(
        report.failure)
    reg.close()
    reopened = open_register(db_url)  # no second baseline: the upgrade happened once
    with reopened.read() as conn:
        assert len(entries(conn, "baseline")) == 1
    reopened.close()


def test_postgresql_session_float_settings_do_not_change_the_rows(pg_url: str) -> None:
    """A server or session that sends floats with 15 digits (extra_float_digits = 0) reads the
    same canonical rows: verify sets the exact form for its transaction."""
    reg = open_register(pg_url, create=True)
    reg.ingest_path(example_path("models.csv"))
    with reg.transaction() as conn:
        name = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET extra_float_digits = 0')
    reg.close()
    reg = open_register(pg_url)
    with reg.read() as conn:
        assert conn.exec_driver_sql("SHOW extra_float_digits").scalar_one() == "0"
    report = verify_register(reg)
    assert report.ok and report.rows, report.failure
    reg.close()


def test_lines_made_from_inserted_values_are_the_rows_read_back(db_url: str) -> None:
    """A results-only ingest commits lines it made from the values it inserted (no read-back):
    they must be exactly the lines verify will read, for every awkward value either database
    stores differently from how Python wrote it (SQLite: NaN as NULL, -0.0 as 0.0; integers in
    float columns; times in other zones or naive; quotes, escapes and non-ASCII text; str
    enums), through COPY and INSERT alike."""
    import datetime as dt

    from tripwire.model import Variant
    from tripwire.register import store

    reg = open_register(db_url, create=True)
    d = reg.dialect
    stamp = store._db_time(d)
    when = [dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=dt.UTC),
            dt.datetime(2024, 3, 1, 1, 2, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=5))),
            dt.datetime(1999, 12, 31, 12, 0, 0)]
    values = [0.1, -0.0, 3, 1e308, float("inf"), -float("inf"), 5e-324, 2**53 + 1, 1 / 3, 0.0]
    stderrs = [None, float("nan"), -0.0, 0.0, 1.5, 2, None, 1e-300, None, -2.5]
    texts = ["it's", 'say "hi"', "naïve ☃ 𝄞", "back\\slash", "tab\tnew\nline", "", "\x7f\x01",
             "'", "ok", "z"]
    rows = {
        "source_files": [(7, "/logs/a.json", "ab" * 32, "lm-eval-results", 2**40, 1, 3,
                          stamp(when[1]), None, '"etag-1"', None, None)],
        "models": [(11, "org/model ☃", None, None, None, None, None, None, None, 1.0, None, None,
                    None, "named in a.json", 7, stamp(when[0]), None),
                   (12, "other", None, None, None, None, None, None, None, 1, None, None,
                    None, None, 7, stamp(when[2]), None)],
        "benchmarks": [("bench ☃", None, None, True, 0.25, 1, None, None, None, None)],
    }
    rows["eval_results"] = [
        (100 + i, 11 if i % 2 else 12, "bench ☃", texts[i % 10], values[i % 10],
         stderrs[(i * 3) % 10], [None, 0, 2**31 - 1, 5][i % 4], 7,
         None if i % 7 == 6 else stamp(when[i % 3]), texts[(i + 1) % 10], texts[(i + 2) % 10],
         [None, "strict-match"][i % 2], [None, Variant.POST][i % 2], '{"n_shot": 5}')
        for i in range(40)]
    forms: set[bytes] = set()
    with reg.transaction() as conn:
        for name, table_rows in rows.items():
            if name == "benchmarks":
                conn.execute(t.benchmarks.insert(), [dict(zip(TABLES[name].columns, r,
                                                              strict=True)) for r in table_rows])
            else:
                store._bulk_insert(conn, name, TABLES[name].columns, table_rows)
        for name, table_rows in rows.items():
            made = ev.lines_of(name, table_rows, d)
            read = ev._rows_of(conn, TABLES[name], [r[0] for r in table_rows])
            assert made == sorted(read, key=lambda x: ev._key_of(x, TABLES[name])), name
            forms.update(x[:1] for x in made)
        assert forms == {b"[", b"("}  # JSON lines, and tuples for the infinities
        # values whose stored form is not worked out: read back instead
        assert ev.lines_of("eval_results", [(1, 1, "b", "m", "0.5", *[None] * 9)], d) is None
        assert ev.lines_of("models", [(1, "m", None, None, dt.date(2024, 1, 1),
                                       *[None] * 12)], d) is None
    reg.close()


def test_canonical_lines_are_json_where_json_is_exact_and_tuples_otherwise() -> None:
    """A row's line is its compact JSON array; a row holding a value JSON would lose (NaN and
    the infinities, which JSON writes as null; text that is not Unicode; an integer beyond 64
    bits; bytes) keeps the tuple form. Either reads back to exactly the values. The bytes of
    the JSON form are pinned: a change in how floats or text are written would make every
    row committed before it read as another form (still the same values, see `_same`)."""
    plain = (1, 0.1, 1e16, -0.0, 5e-324, 1.0, 2**63 - 1, "é ☃ \"q\" \\ \n", None)
    assert ev._lines([plain]) == [
        b'[1,0.1,1e+16,-0.0,5e-324,1.0,9223372036854775807,'
        b'"\xc3\xa9 \xe2\x98\x83 \\"q\\" \\\\ \\n",null]']
    odd = [(2, float("inf"), None), (3, float("nan"), "x"), (4, -float("inf"), None),
           (5, 0.5, "\udcff"), (6, 2**70, None), (7, b"\x00", None), (8, 0.5, None)]
    lines = ev._lines(odd)
    assert [x[:1] for x in lines] == [b"("] * 6 + [b"["]
    assert ev._lines(odd, floats=[1]) == lines
    for row, line in zip(odd, lines, strict=True):
        got = ev._values(line) if not isinstance(row[2], bytes) else None
        if got is not None:
            assert ascii(got) == ascii(row)
        assert b"\n" not in line
    assert ev._key_of(lines[0], TABLES["models"]) == 2
    assert ev._lines([plain]) == [ev._line(plain)] and ev._line(odd[0]) == lines[0]


def test_same_values_across_the_two_forms_and_nothing_else() -> None:
    row = (9, "m", 0.1, None, -0.0)
    new, old = ev._line(row), ev._line1(row)
    assert new[:1] == b"[" and old[:1] == b"("
    assert ev._same(old, new) and ev._same(new, new)
    assert not ev._same(old, ev._line((9, "m", 0.1, None, 0.0)))  # -0.0 is not 0.0
    assert not ev._same(old, ev._line((9, "m", 0.1, 0, -0.0)))  # None is not 0
    assert not ev._same(old, ev._line((9, "m", 0.1, None, -0)))  # an int is not a float
    assert not ev._same(old, b"[9,")


def _first_commit_lines(conn: sa.Connection, lines_by_table: Any, kind: str,
                        payload: dict[str, Any], defer: Any = None) -> Any:
    """The commitment as first written: a leaf per row, blocks zlib-compressed."""
    import zlib

    from tripwire.register.record_store import append_entry

    blocks, summary = [], {}
    for name in sorted(lines_by_table):
        keys, lines = lines_by_table[name]
        if not lines:
            continue
        order = sorted(range(len(keys)), key=keys.__getitem__)
        keys, lines = [keys[i] for i in order], [lines[i] for i in order]
        roots = []
        for part, lo in enumerate(range(0, len(lines), ev.BLOCK)):
            chunk = lines[lo:lo + ev.BLOCK]
            roots.append(merkle_root([leaf_hash(x) for x in chunk]))
            int_key = TABLES[name].int_key
            blocks.append((name, part, keys[lo] if int_key else None,
                           keys[lo + len(chunk) - 1] if int_key else None, chunk))
        summary[name] = {"rows": len(lines), "root": merkle_root(roots).hex()}
    entry = append_entry(conn, kind, {**payload, "evidence": summary},
                         defer=defer.entries if defer is not None else None)
    rows = [(entry.seq, n, p, f, la, len(c), zlib.compress(b"\n".join(c), 1))
            for n, p, f, la, c in blocks]
    if defer is not None:
        defer.blocks += rows
    elif rows:
        ev._insert_blocks(conn, rows)
    return entry


MMLU_POLICY = """\
name: mmlu-house
version: "1"
default_level: base
confidence: 0.9
levels:
  - id: base
    requires: {deploy: [security]}
  - id: high
    requires: {deploy: [vault]}
safeguards: [{id: security}, {id: vault}]
evidence:
  knowledge: {benchmark: mmlu, description: general knowledge}
thresholds:
  - id: knowledge-high
    level: high
    condition: score("knowledge") >= 0.9
"""


def test_rows_committed_in_the_first_form_verify_and_keep_their_digests(
        db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A register whose rows were committed in the first form (tuple lines, a leaf per row,
    zlib blocks: every register written before JSON lines) verifies clean alongside rows
    committed since; a determination made now names
    the same row digests as one made then (so reports see the same evidence); edits made
    afterwards to rows of either form are found and named."""
    from tripwire.assess import assess

    policy = tmp_path / "mmlu-house.yaml"
    policy.write_text(MMLU_POLICY)
    with monkeypatch.context() as m:  # the writer as it was
        m.setattr(ev, "_lines", lambda rows, floats=None, cols=None: list(map(ev._line1, rows)))
        m.setattr(ev, "_commit_lines", _first_commit_lines)
        reg = open_register(db_url, create=True)
        reg.ingest_path(example_path("models.csv"))
        reg.ingest_path(example_path("evals.csv"))
        then = assess(reg, "gpt2-xl", policy, anomalies=False).determination
        with reg.read() as conn:
            blocks = conn.execute(sa.select(ev.evidence_blocks.c.data)).scalars().all()
            old = entries(conn, "ingest")
        assert all(x[:1] == b"(" for b in blocks for x in ev._unpack(b))
        assert all(b[:1] == b"\x78" for b in blocks)  # zlib
        assert not any("leaves" in v for e in old for v in e.payload["evidence"].values())
    assert then.evidence_rows.get("eval_results") and then.evidence_rows.get("models")
    report = verify_register(reg)
    assert report.ok, report.failure
    reg.ingest_path(example_path("loss.csv"))  # committed as JSON lines
    with reg.read() as conn:
        blocks = conn.execute(sa.select(ev.evidence_blocks.c.data)).scalars().all()
    assert any(x[:1] == b"[" for b in blocks for x in ev._unpack(b))
    assert any(b[:4] == ev._ZSTD_MAGIC for b in blocks)
    assert verify_register(reg).ok
    now = assess(reg, "gpt2-xl", policy, anomalies=False)
    assert not now.tampered
    assert now.determination.evidence_rows == then.evidence_rows
    with reg.transaction() as conn:
        conn.execute(t.models.update().where(t.models.c.name == "gpt2-xl")
                     .values(params=1.0))
        conn.execute(t.loss_observations.update().where(t.loss_observations.c.id == 1)
                     .values(loss=9.5))
    report = verify_register(reg)
    assert not report.ok
    found = sorted(str(c) for c in report.changes)
    assert len(found) == 2
    assert found[0].startswith("loss_observations 1 changed outside tripwire (loss: ")
    assert found[1].startswith("models ") and "(gpt2-xl) changed outside tripwire (params: " \
        "1.5e+09 -> 1;" in found[1]
    later = assess(reg, "gpt2-xl", policy, anomalies=False)
    assert later.tampered and "params" in later.tampered[0]
    reg.close()


def _rewrite_block(reg: Any, block_id: int, data: bytes) -> None:
    """Replace a stored block's bytes as someone holding the database could (triggers off)."""
    with reg.engine.begin() as conn:
        if reg.dialect == "sqlite":
            saved = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = "
                                         "'trigger' AND tbl_name = 'evidence_blocks'").all()
            for name, _ in saved:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            conn.exec_driver_sql("ALTER TABLE evidence_blocks DISABLE TRIGGER USER")
        conn.execute(ev.evidence_blocks.update().where(ev.evidence_blocks.c.id == block_id)
                     .values(data=data))
        if reg.dialect == "sqlite":
            for _, sql in saved:
                conn.exec_driver_sql(sql)
        else:
            conn.exec_driver_sql("ALTER TABLE evidence_blocks ENABLE TRIGGER USER")


def test_a_rewritten_block_fails_its_entry_in_either_form(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block rewritten to agree with an edited row (so the rows compare equal) no longer
    hashes to its entry's root, whether the entry's leaves are rows (first form, zlib) or
    blocks (zstd); bytes that are no block at all fail too."""
    import zlib

    import zstandard

    with monkeypatch.context() as m:
        m.setattr(ev, "_lines", lambda rows, floats=None, cols=None: list(map(ev._line1, rows)))
        m.setattr(ev, "_commit_lines", _first_commit_lines)
        reg = open_register(db_url, create=True)
        reg.ingest_path(example_path("models.csv"))
    reg.ingest_path(example_path("loss.csv"))
    with reg.read() as conn:
        found = {tbl: (bid, seq, bytes(data)) for bid, seq, tbl, data in conn.execute(
            sa.select(ev.evidence_blocks.c.id, ev.evidence_blocks.c.seq,
                      ev.evidence_blocks.c.tbl, ev.evidence_blocks.c.data)
            .where(ev.evidence_blocks.c.tbl.in_(["models", "loss_observations"]))
            .order_by(ev.evidence_blocks.c.id))}
    cases = [("models", "params", lambda text: zlib.compress(text, 1)),
             ("loss_observations", "loss", zstandard.ZstdCompressor().compress)]
    for table, column, pack in cases:
        bid, seq, data = found[table]
        lines = ev._unpack(data)
        values = list(ev._values(lines[0]))
        col = TABLES[table].columns.index(column)
        values[col] = 123.0
        line = ev._line1(values) if lines[0][:1] == b"(" else ev._line(values)
        _rewrite_block(reg, bid, pack(b"\n".join([line, *lines[1:]])))
        with reg.transaction() as conn:
            conn.exec_driver_sql(f"UPDATE {table} SET {column} = 123.0 WHERE id = "
                                 f"{values[0]}")
        report = verify_register(reg)
        assert not report.ok
        assert any(f"entry {seq}" in str(c) and "no longer matches its root" in str(c)
                   for c in report.changes), [str(c) for c in report.changes]
        assert not any(f"{table} {values[0]} " in str(c) for c in report.changes)
        _rewrite_block(reg, bid, b"not a block")
        assert any(f"entry {seq}" in str(c) and "no longer matches its root" in str(c)
                   for c in verify_register(reg).changes)
    reg.close()
