"""Concurrent writers: operations/s with 1, 2, 4 and 8 writer processes on one SQLite register
and on one PostgreSQL register, and the ratio of 8 writers to 1 measured in the same run.

    .venv/bin/python benchmarks/bench_concurrency.py [--ops 100] [--pg URL]

Each writer runs the mix of tests/reliability/writers.py (40 % ingesting a file of its own,
20 % ingesting a file every writer ingests, 20 % assess, 20 % attest), all released together;
ops/s counts every writer's operations over the time from the start signal to the last finish.
Every run is checked (nothing lost or doubled, chain valid and gap-free) before its figure is
printed. PostgreSQL needs --pg or TRIPWIRE_TEST_PG (an admin URL; a database is created and
dropped per run). SQLite serialises writers (BEGIN IMMEDIATE), PostgreSQL serialises only the
record's appends, so 8:1 measures what contention costs, not added capacity.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reliability import writers  # noqa: E402

WRITERS = (1, 2, 4, 8)


def _pg_database(admin: str) -> tuple[str, sa.Engine, str]:
    name = "tw_bench_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)
    return url, engine, name


def measure(backend: str, n: int, ops: int, pg_admin: str | None) -> float:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        if backend == "sqlite":
            url = str(folder / "bench.db")
            outcome = writers.run(url, n, ops, folder / "run")
            writers.check(url, outcome)
        else:
            assert pg_admin is not None
            url, engine, name = _pg_database(pg_admin)
            try:
                outcome = writers.run(url, n, ops, folder / "run")
                writers.check(url, outcome)
            finally:
                with engine.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                engine.dispose()
    return n * ops / outcome["elapsed"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=100, help="operations per writer")
    ap.add_argument("--pg", default=os.environ.get("TRIPWIRE_TEST_PG"),
                    help="PostgreSQL admin URL (default $TRIPWIRE_TEST_PG)")
    args = ap.parse_args()
    backends = ["sqlite"] + (["postgresql"] if args.pg else [])
    print(f"operations per writer: {args.ops} (40 % own file, 20 % shared file, 20 % assess, "
          f"20 % attest); machine: {os.cpu_count()} CPUs")
    for backend in backends:
        rates = {n: measure(backend, n, args.ops, args.pg) for n in WRITERS}
        shown = ", ".join(f"{n} writer{'s' if n > 1 else ''}: {r:,.1f} ops/s"
                          for n, r in rates.items())
        print(f"{backend}: {shown}; 8:1 ratio {rates[8] / rates[1]:.2f} "
              "(every run: 0 lost, 0 duplicated, chain valid)")
    if not args.pg:
        print("postgresql: skipped (give --pg URL or set TRIPWIRE_TEST_PG)")


if __name__ == "__main__":
    main()
