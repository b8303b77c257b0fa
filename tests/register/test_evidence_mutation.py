"""Mutation test of the record's cover of the evidence: random edits, inserts and deletes of
every evidence table through raw SQL, on SQLite and PostgreSQL; every one must be detected by
`verify_evidence`, naming the row (table and key) and, for an edit, the column.

Each mutation runs in a transaction of its own that is rolled back after the check, so the
register is the same for every mutation and the run stays fast. The default run makes 500 per
database; the `reliability` run 5,000 per database."""

from __future__ import annotations

import csv
import datetime as dt
import random
import string
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tripwire.demo import example_path
from tripwire.register import Register, open_register
from tripwire.register import tables as t
from tripwire.register.evidence import TABLES, verify_evidence


def _epoch_subset(shared_data: Path, folder: Path, n: int = 40) -> Path:
    """The first `n` models of Epoch AI's notable-models export, as its own CSV."""
    src = shared_data / "epoch_ai" / "notable_ai_models_2025-02-24.csv"
    with src.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[: n + 1]
    out = folder / "notable_ai_models.csv"
    with out.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return out


@pytest.fixture
def filled(db_url: str, shared_data: Path, tmp_path: Path) -> Iterator[Register]:
    """A register with rows in every evidence table, each written by tripwire."""
    reg = open_register(db_url, create=True)
    for name in ("models.csv", "evals.csv", "loss.csv"):
        reg.ingest_path(example_path(name))
    reg.ingest_path(_epoch_subset(shared_data, tmp_path), update=True)  # revises some models
    reg.ingest_path(shared_data / "inspect_ai" / "mmlu-summary-choices.eval", samples=True)
    reg.add_alias("model", "llama-3.1-405b-instruct", "Llama-3.1-405B")
    reg.add_alias("benchmark", "mmlu_5shot", "mmlu")
    counts = reg.counts()
    assert all(counts[name] > 0 for name in TABLES), counts
    with reg.read() as conn:
        assert verify_evidence(conn).ok
    yield reg
    reg.close()


def _new_value(rng: random.Random, col: sa.Column, old: Any, keys: dict[str, list[Any]]) -> Any:
    """A value for `col` different from `old`, of the column's type (a foreign key names
    another existing row)."""
    fk = next(iter(col.foreign_keys), None)
    if fk is not None:
        choices = [k for k in keys[fk.column.table.name] if k != old]
        return rng.choice(choices)
    if old is not None and not col.primary_key and col.nullable and rng.random() < 0.15:
        return None
    kind = col.type
    for _ in range(100):
        if isinstance(kind, sa.Boolean):
            v: Any = not bool(old)
        elif isinstance(kind, sa.Double | sa.Float):
            v = rng.choice([rng.uniform(-1, 1), 10 ** rng.uniform(-3, 27),
                            (old or 1.0) * (1 + 1e-12)])
        elif isinstance(kind, sa.Integer):
            v = rng.randrange(1, 10**6)
        elif isinstance(kind, sa.DateTime):
            v = dt.datetime(2020, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
                seconds=rng.randrange(10**8), microseconds=rng.randrange(10**6))
        elif isinstance(kind, sa.Date):
            v = dt.date(1990, 1, 1) + dt.timedelta(days=rng.randrange(15000))
        else:
            size = getattr(kind, "length", None) or 24
            v = "".join(rng.choice(string.ascii_letters + " -_/.é") for _ in
                        range(rng.randint(1, min(size, 24))))
        if v != old:
            return v
    raise AssertionError(f"no new value for {col}")


def _keys(conn: sa.Connection) -> dict[str, list[Any]]:
    return {name: sorted(conn.execute(sa.select(table.primary_key.columns.values()[0]))
                         .scalars().all(), key=str)
            for name, table in t.metadata.tables.items()}


def _mutate(rng: random.Random, conn: sa.Connection, keys: dict[str, list[Any]]
            ) -> tuple[str, str, Any, str | None, Any]:
    """One random edit, insert or delete: (op, table, key, column, new key for a key edit)."""
    name = rng.choice(sorted(TABLES))
    table = t.metadata.tables[name]
    pk = table.primary_key.columns.values()[0]
    key = rng.choice(keys[name])
    row = conn.execute(sa.select(table).where(pk == key)).one()._asdict()
    op = rng.choice(["edit", "edit", "insert", "delete"])
    if op == "edit":
        col = rng.choice(list(table.columns))
        new = _new_value(rng, col, row[col.name], keys) if not col.primary_key else (
            max(keys[name]) + rng.randrange(1, 1000) if isinstance(key, int)
            else key + rng.choice(["-x", " ", "2"]))
        conn.execute(table.update().where(pk == key).values({col.name: new}))
        return op, name, key, col.name, new if col.primary_key else None
    if op == "delete":
        conn.execute(table.delete().where(pk == key))
        return op, name, key, None, None
    new_key = max(keys[name]) + rng.randrange(1, 1000) if isinstance(key, int) else key + "-copy"
    row[pk.name] = new_key
    for col in table.columns:
        if col.unique and not col.primary_key:
            row[col.name] = f"{row[col.name]}-copy-{rng.randrange(10**9)}"[:64]
    conn.execute(table.insert().values(row))
    return op, name, new_key, None, None


def _detected(report: Any, op: str, name: str, key: Any, col: str | None, moved: Any) -> bool:
    got = {(c.table, c.key): c for c in report.changes}
    if op == "delete":
        return got.get((name, key)) is not None and got[(name, key)].change == "removed"
    if op == "insert":
        return got.get((name, key)) is not None and got[(name, key)].change == "added"
    if moved is not None:  # the key itself was edited: gone from one key, new at another
        return (got.get((name, key)) is not None and got[(name, key)].change == "removed"
                and got.get((name, moved)) is not None and got[(name, moved)].change == "added")
    c = got.get((name, key))
    return c is not None and c.change == "changed" and col in {f for f, _, _ in c.fields}


def run_mutations(reg: Register, n: int, seed: int) -> Counter[tuple[str, str, str]]:
    """`n` mutations, each checked and rolled back; returns (table, op, outcome) counts and
    fails on the first one not detected and named."""
    rng = random.Random(seed)
    tally: Counter[tuple[str, str, str]] = Counter()
    with reg.read() as conn:
        keys = _keys(conn)
    done = 0
    while done < n:
        with reg.engine.connect() as conn:
            txn = conn.begin()
            try:
                op, name, key, col, moved = _mutate(rng, conn, keys)
            except sa.exc.DBAPIError:  # refused by a constraint (foreign key, not null)
                txn.rollback()
                tally[("-", "-", "refused by the database")] += 1
                continue
            report = verify_evidence(conn)
            txn.rollback()
        assert _detected(report, op, name, key, col, moved), (
            op, name, key, col, moved, [str(c) for c in report.changes])
        tally[(name, op, "detected")] += 1
        done += 1
    return tally


def test_every_raw_sql_mutation_is_detected_and_named(filled: Register) -> None:
    tally = run_mutations(filled, 500, seed=16)
    detected = sum(v for (_, _, outcome), v in tally.items() if outcome == "detected")
    assert detected == 500
    assert {name for name, _, outcome in tally if outcome == "detected"} == set(TABLES)


@pytest.mark.reliability
def test_many_raw_sql_mutations_are_detected_and_named(filled: Register) -> None:
    tally = run_mutations(filled, 5000, seed=1616)
    per_table = Counter()
    for (name, _op, outcome), v in tally.items():
        if outcome == "detected":
            per_table[name] += v
    print(f"\n{filled.dialect}: " + ", ".join(f"{k} {v}" for k, v in sorted(per_table.items()))
          + f"; refused by the database {tally[('-', '-', 'refused by the database')]}")
    assert sum(per_table.values()) == 5000 and set(per_table) == set(TABLES)
