"""Ingest throughput: 100,000 eval-result rows from CSV into a SQLite register, against a raw
`sqlite3` executemany of the same rows into an equivalent table, in the same run.

    .venv/bin/python benchmarks/bench_ingest.py [--rows 100000]

Prints rows/s for both and the ratio tripwire / raw (floor: >= 0.3).
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from tripwire import ingest
from tripwire.register import open_register


def make_csv(path: Path, rows: int, models: int = 500) -> None:
    rng = random.Random(0)
    benches = ["mmlu", "gsm8k", "arc_challenge", "hellaswag", "winogrande", "truthfulqa"]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "benchmark", "metric", "value", "stderr", "samples"])
        for i in range(rows):
            w.writerow([f"model-{i % models}", benches[i % len(benches)], "acc",
                        f"{rng.random():.6f}", f"{rng.random() / 100:.6f}", 1000])


def raw_sqlite(path: Path, csv_path: Path) -> float:
    """Parse the same CSV with csv.reader and executemany it into one table."""
    t0 = time.perf_counter()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, model TEXT, benchmark TEXT, "
                "metric TEXT, value REAL, stderr REAL, samples INTEGER)")
    with csv_path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        rows = [(m, b, me, float(v), float(s), int(n)) for m, b, me, v, s, n in reader]
    with con:
        con.executemany("INSERT INTO r (model, benchmark, metric, value, stderr, samples) "
                        "VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.close()
    return time.perf_counter() - t0


def tripwire_ingest(db: Path, csv_path: Path) -> float:
    reg = open_register(str(db), create=True)
    t0 = time.perf_counter()
    out = reg.ingest(ingest.read_file(csv_path))
    elapsed = time.perf_counter() - t0
    assert out.results == sum(1 for _ in csv_path.open()) - 1
    reg.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = tmp / "evals.csv"
        make_csv(src, args.rows)
        raw = raw_sqlite(tmp / "raw.db", src)
        ours = tripwire_ingest(tmp / "tripwire.db", src)
    print(f"rows: {args.rows:,}")
    print(f"raw sqlite3 executemany: {raw:.3f} s  ({args.rows / raw:,.0f} rows/s)")
    print(f"tripwire ingest:         {ours:.3f} s  ({args.rows / ours:,.0f} rows/s)")
    print(f"ratio tripwire/raw (throughput): {raw / ours:.2f}  (floor 0.3)")


if __name__ == "__main__":
    main()
