"""Evaluation-log ingest throughput: lm-eval results files and Inspect logs, against only
parsing the same files, in the same run.

    .venv/bin/python benchmarks/bench_ingest_logs.py [--lmeval 1000] [--inspect 200]
        [--repeat 5] [--pg URL]

The files are real: the public lm-eval results (v0.4 Mamba-2 and Llama-3, v0.3 Pythia/OPT/BLOOM)
under ../shared/data, each copy with its model name varied, and the public Inspect logs rewritten
by Inspect's own writer with the model name varied. Printed, per format:
  parse    json.loads / inspect_ai's read_eval_log (header only) over the bytes
  reader   tripwire's reader (read_lmeval_results / read_inspect) over the same bytes
  ratio    reader throughput / parse throughput (floor 0.5)
and for the whole set, in `--repeat` rounds, each into fresh SQLite registers and (with --pg or
TRIPWIRE_TEST_PG) fresh PostgreSQL databases:
  ingest     Register.ingest_paths (what `tripwire ingest` calls): files in chunks of one
             transaction each, result rows by executemany (SQLite) or COPY (PostgreSQL)
  raw        the same rows (each file's source_files row, the models it names first, its
             results) written by the driver alone into a fresh register (same schema,
             indexes, foreign keys): sqlite3's executemany, psycopg's COPY for the results,
             per file, in one transaction (the database work no ingest can avoid)
  bound      parse + raw: the best any ingest storing these rows could reach;
             the ratio ingest/bound is the floor (0.6 on SQLite, 0.5 on PostgreSQL), taken
             on the best of each term (parse: best of its 5 passes; ingest, raw: best of the
             rounds), medians beside; the ratio against the raw write alone is printed too
  CPU        (SQLite) the same ratio in this process's CPU seconds, steadier on a busy machine:
             the work done, by all its threads (a chunk's commit, run on a thread while the
             next chunk is read, counts in full there and not in the wall time)
  re-ingest  the same files again (all unchanged), as the command does it (the file's sha256
             is looked up before any parsing), as a share of the first ingest (ceiling 5 %).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import re
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from tripwire import ingest
from tripwire.ingest.inspect_log import read_inspect
from tripwire.ingest.lmeval import read_lmeval_results
from tripwire.register import open_register

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def lmeval_sources() -> list[Path]:
    files = sorted((DATA / "lm_eval_harness").rglob("*results_*.json"))
    files += sorted((DATA / "pythia").rglob("*.json"))
    if not files:
        raise SystemExit(f"no lm-eval results files under {DATA.resolve()}")
    return files


def make_lmeval(out: Path, n: int) -> list[Path]:
    """n results files, each a real one with the model renamed `<name>-copy<i>`."""
    sources = [(p, json.loads(p.read_bytes())) for p in lmeval_sources()]
    made = []
    for i in range(n):
        src, doc = sources[i % len(sources)]
        doc = json.loads(json.dumps(doc))
        cfg = doc["config"]
        m = re.search(r"pretrained=([^,]+)", cfg["model_args"])
        new = f"{m.group(1)}-copy{i:04d}"
        cfg["model_args"] = cfg["model_args"].replace(m.group(0), f"pretrained={new}")
        if "model_name" in doc:
            doc["model_name"] = new
        path = out / f"{i:04d}" / "results_2025-01-01T00-00-00.000000.json"
        path.parent.mkdir()
        path.write_text(json.dumps(doc, indent=2))
        made.append(path)
    return made


def make_inspect(out: Path, n: int) -> list[Path]:
    """n Inspect logs written by Inspect from the public success logs, model renamed."""
    from inspect_ai.log import read_eval_log, write_eval_log

    names = ["log_formats.eval", "log_formats.json", "mmlu-summary-choices.eval"]
    templates = [(name, read_eval_log(str(DATA / "inspect_ai" / name))) for name in names]
    made = []
    for i in range(n):
        name, log = templates[i % len(templates)]
        copy = log.model_copy(deep=True)
        copy.eval.model = f"{log.eval.model}-copy{i:04d}"
        path = out / f"{i:03d}_{name}"
        write_eval_log(copy, str(path), format="eval" if name.endswith(".eval") else "json")
        made.append(path)
    return made


class Clock:
    """Wall time and this process's CPU time of a block (`with Clock() as c: ...; c.wall`).
    On a shared, loaded machine the CPU time is the steadier measure of work done in this
    process; it leaves out what a database server does, so PostgreSQL is judged by wall time."""

    def __enter__(self) -> Clock:
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0


def timed(
    files: list[Path], *fns: Callable[[Path, bytes], object], repeat: int = 5
) -> list[tuple[float, float]]:
    """Best of `repeat` passes of each fn over every file's bytes (bytes read inside the
    pass), as (wall, cpu) seconds; the functions' passes alternate, so a busy moment of a
    shared machine does not land on one of them only."""
    best = [(float("inf"), float("inf"))] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            with Clock() as c:
                for f in files:
                    fn(f, f.read_bytes())
            best[i] = (min(best[i][0], c.wall), min(best[i][1], c.cpu))
    return best


def result_rows(files: list[Path]) -> tuple[list[str], list[str], list[list[tuple]]]:
    """The result rows `files` hold, per file, as the register stores them (model and
    benchmark ids resolved against numbered models 1..n, file i's rows citing source file
    i + 1), with the model and benchmark names."""
    results = [ingest.read_file(f).results for f in files]
    models = {m: i + 1 for i, m in enumerate(dict.fromkeys(r.model for rs in results for r in rs))}
    benches = list(dict.fromkeys(r.benchmark for rs in results for r in rs))
    rows = [
        [
            (
                models[r.model], r.benchmark, r.metric, r.value, r.stderr, r.samples, i + 1,
                CREATED, r.original_model, r.original_benchmark, r.filter,
                r.variant, json.dumps(r.extra, sort_keys=True) if r.extra else None,
            )
            for r in rs
        ]
        for i, rs in enumerate(results)
    ]
    return list(models), benches, rows


CREATED = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
COLS = ("model_id, benchmark_id, metric, value, stderr, samples, source_file_id, created_at, "
        "original_model, original_benchmark, filter, variant, extra")


def file_rows(files: list[Path], models: list[str], rows: list[list[tuple]]
              ) -> list[tuple[tuple, list[tuple]]]:
    """Per file, the source_files row and the models rows (those it names first) the
    register stores beside its results, every value as the register's would be."""
    seen: set[int] = set()
    out = []
    for i, (f, rs) in enumerate(zip(files, rows, strict=True)):
        data = f.read_bytes()
        file_row = (i + 1, str(f), f"{i:064x}", "x", len(data), 1, len(rs), CREATED)
        new = sorted({r[0] for r in rs} - seen)
        seen.update(new)
        out.append((file_row, [(m, models[m - 1], 1.0, i + 1, CREATED, f"named in {f.name}")
                               for m in new]))
    return out


def raw_insert(db: Path, files: list[Path]) -> tuple[Clock, int]:
    """The database work any ingest of `files` has to do, done as cheaply as Python can: the
    rows the register stores for them (each file's source_files row, the models it names
    first, its results), exactly as the register stores them, inserted by the sqlite3
    module (execute, executemany) into a fresh register's tables (same schema, indexes,
    foreign keys, pragmas) in one transaction, the benchmarks they cite being there already.
    Returns (its Clock, result rows)."""
    reg = open_register(str(db), create=True)
    reg.close()
    models, benches, rows = result_rows(files)
    stamp = CREATED.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = [[r[:7] + (stamp,) + r[8:] for r in rs] for rs in rows]
    per_file = [((*f[:7], stamp), [(*m[:4], stamp, m[5]) for m in ms])
                for f, ms in file_rows(files, models, rows)]
    con = sqlite3.connect(db, isolation_level=None)
    for pragma in ("journal_mode = WAL", "foreign_keys = ON", "synchronous = NORMAL"):
        con.execute(f"PRAGMA {pragma}")
    con.execute("BEGIN")
    con.executemany("INSERT INTO benchmarks (id, higher_is_better) VALUES (?, 1)",
                    [(b,) for b in benches])
    con.execute("COMMIT")
    sql = f"INSERT INTO eval_results ({COLS}) VALUES ({', '.join(['?'] * 13)})"
    with Clock() as c:
        con.execute("BEGIN")
        for (file_row, model_rows), file_results in zip(per_file, rows, strict=True):
            con.execute(FILE_SQL.replace("%s", "?"), file_row)
            con.executemany(MODEL_SQL.replace("%s", "?"), model_rows)
            con.executemany(sql, file_results)
        con.execute("COMMIT")
    con.close()
    return c, sum(map(len, rows))


FILE_SQL = ("INSERT INTO source_files (id, path, sha256, kind, size, version, rows, "
            "ingested_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
MODEL_SQL = ("INSERT INTO models (id, name, multiplier, source_file_id, updated_at, source) "
             "VALUES (%s, %s, %s, %s, %s, %s)")


def raw_copy(url: str, files: list[Path]) -> tuple[Clock, int]:
    """The same rows into a fresh PostgreSQL register by psycopg alone (each file's
    source_files and models rows by INSERT, its results by one COPY, as an ingest writes
    them, in one transaction), the benchmarks they cite being there already. Returns (its
    Clock, result rows)."""
    import psycopg

    reg = open_register(url, create=True)
    reg.close()
    models, benches, rows = result_rows(files)
    per_file = file_rows(files, models, rows)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as con:
        with con.cursor() as cur:
            cur.executemany("INSERT INTO benchmarks (id, higher_is_better) VALUES (%s, true)",
                            [(b,) for b in benches])
        con.commit()
        with Clock() as c, con.cursor() as cur:
            for (file_row, model_rows), file_results in zip(per_file, rows, strict=True):
                cur.execute(FILE_SQL, file_row)
                cur.executemany(MODEL_SQL, model_rows)
                with cur.copy(f"COPY eval_results ({COLS}) FROM STDIN") as copy:
                    for r in file_results:
                        copy.write_row(r)
            con.commit()
    return c, sum(map(len, rows))


@contextlib.contextmanager
def pg_database(admin: str) -> Iterator[str]:
    """A fresh database on the server of `admin` (a SQLAlchemy URL), dropped afterwards."""
    import sqlalchemy as sa

    name = "tw_bench_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def inspect_parse(path: Path, data: bytes) -> object:
    from inspect_ai.log import read_eval_log

    fmt = "eval" if path.suffix == ".eval" else "json"
    return read_eval_log(io.BytesIO(data), header_only=True, format=fmt)


def line(label: str, n: int, secs: float) -> str:
    return f"  {label:<28} {secs:8.3f} s  {n / secs:10,.0f} files/s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lmeval", type=int, default=1000)
    ap.add_argument("--inspect", type=int, default=200)
    ap.add_argument("--pg", default=os.environ.get("TRIPWIRE_TEST_PG"),
                    help="PostgreSQL admin URL to create the benchmark databases from "
                    "(default $TRIPWIRE_TEST_PG)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="rounds of the full ingest and the raw write, each into fresh "
                    "databases (default 5): best and median of each are printed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "lm").mkdir()
        (tmp / "inspect").mkdir()
        lm = make_lmeval(tmp / "lm", args.lmeval)
        insp = make_inspect(tmp / "inspect", args.inspect)
        for f in lm + insp:  # warm the page cache for every pass alike
            f.read_bytes()

        print(
            f"lm-eval results files: {len(lm):,} ({sum(f.stat().st_size for f in lm) / 1e6:.1f} MB)"
        )
        parse, reader = timed(lm, lambda p, b: json.loads(b), read_lmeval_results)
        print(line("parse (json.loads)", len(lm), parse[0]))
        print(line("reader", len(lm), reader[0]))
        print(f"  ratio reader/parse (throughput): {parse[0] / reader[0]:.2f}  (floor 0.5)")

        print(
            f"Inspect logs: {len(insp):,} ({sum(f.suffix == '.eval' for f in insp)} .eval, "
            f"{sum(f.suffix == '.json' for f in insp)} .json)"
        )
        iparse, ireader = timed(insp, inspect_parse, read_inspect)
        print(line("parse (read_eval_log)", len(insp), iparse[0]))
        print(line("reader", len(insp), ireader[0]))
        print(f"  ratio reader/parse (throughput): {iparse[0] / ireader[0]:.2f}  (floor 0.5)")

        files = lm + insp
        parse_all = (parse[0] + iparse[0], parse[1] + iparse[1])
        rounds = range(args.repeat)
        full_ingest([f"sqlite:///{tmp / f'tripwire{i}.db'}" for i in rounds],
                    files, parse_all, [lambda i=i: raw_insert(tmp / f"raw{i}.db", files)
                                       for i in rounds],
                    "raw insert", "sqlite3 executemany per file, one transaction", 0.6)
        if args.pg:
            with contextlib.ExitStack() as stack:
                urls = [stack.enter_context(pg_database(args.pg)) for _ in range(2 * args.repeat)]
                full_ingest(urls[: args.repeat], files, parse_all,
                            [lambda u=u: raw_copy(u, files) for u in urls[args.repeat:]],
                            "raw COPY", "psycopg COPY per file, one transaction", 0.5)
        else:
            print("PostgreSQL: skipped (pass --pg URL or set TRIPWIRE_TEST_PG)")


def full_ingest(urls: list[str], files: list[Path], parse: tuple[float, float],
                raws: list[Callable[[], tuple[Clock, int]]], raw_label: str, raw_note: str,
                floor: float) -> None:
    """Rounds of: ingest every file into a fresh register (what `tripwire ingest` does), then
    again (all unchanged), and the raw write of the same rows into a fresh database; printed
    against parse + raw write, best of the rounds for every term (parse is the best of its
    passes too), the medians beside."""
    sqlite = urls[0].startswith("sqlite")
    ingest_c: list[Clock] = []
    raw_c: list[Clock] = []
    again_c: list[Clock] = []
    rows = 0
    for url, raw in zip(urls, raws, strict=True):
        reg = open_register(url, create=True)
        with Clock() as c:
            first = [o for _, o in reg.ingest_paths(files)]
        assert all(o.status == "stored" for o in first), {o.status for o in first}
        ingest_c.append(c)
        rows = sum(o.results for o in first)
        with Clock() as c_again:
            again = [o for _, o in reg.ingest_paths(files)]
        assert all(o.status == "unchanged" for o in again)
        again_c.append(c_again)
        reg.close()
        c_raw, raw_rows = raw()
        assert raw_rows == rows, (raw_rows, rows)
        raw_c.append(c_raw)

    def best(cs: list[Clock]) -> float:
        return min(c.wall for c in cs)

    def median(cs: list[Clock]) -> float:
        return statistics.median(c.wall for c in cs)

    def two(label: str, cs: list[Clock], note: str = "") -> str:
        return (f"  {label:<30} best {best(cs):6.3f} s  median {median(cs):6.3f} s  "
                f"{len(files) / best(cs):7,.0f} files/s{note}")

    bound, bound_med = parse[0] + best(raw_c), parse[0] + median(raw_c)
    print(f"Full ingest of all {len(files):,} files into {'SQLite' if sqlite else 'PostgreSQL'}"
          f" ({rows:,} results), {len(raws)} rounds:")
    print(two("ingest", ingest_c))
    print(two(f"{raw_label} of the same rows", raw_c, f"  ({raw_note})"))
    print(f"  bound = parse + {raw_label}: best {bound:.3f} s, median {bound_med:.3f} s (the "
          "best an ingest storing these rows could reach)")
    print(f"  ratio ingest/bound (throughput, wall): {bound / best(ingest_c):.2f} best of each "
          f"(floor {floor}); {bound_med / median(ingest_c):.2f} medians")
    if sqlite:
        cpu_bound = parse[1] + min(c.cpu for c in raw_c)
        cpu = min(c.cpu for c in ingest_c)
        print(f"  the same in CPU seconds, all threads (least of each): ingest {cpu:.3f}, bound "
              f"{cpu_bound:.3f}, ratio {cpu_bound / cpu:.2f}")
    print(f"  ratio ingest/{raw_label} alone (throughput, best): "
          f"{best(raw_c) / best(ingest_c):.2f}")
    t_again = best(again_c)
    print(
        line("re-ingest (the command: sha256 first)", len(files), t_again)
        + f"  {100 * t_again / best(ingest_c):5.1f} % of first (ceiling 5 %)"
    )


if __name__ == "__main__":
    main()
