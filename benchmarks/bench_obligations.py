"""How fast `tripwire obligations` answers over a record of 10,000 models.

    .venv/bin/python benchmarks/bench_obligations.py [--models 10000] [--runs 3]

A fresh SQLite register gets N models (10 % over 10^25 FLOP, the rest under), one recorded
determination each under eu-ai-act-gpai (judged by the real evaluator, appended in one
transaction), 200 attestations and 50 incidents. Timed: the real command in a subprocess
(`tripwire obligations --db R --json`, interpreter start and imports included) and the library
call `obligations()` in process. The reference, measured in the same run, is the least any
reader of the record pays: reading those entries' rows from the record table with the standard
library's driver (`SELECT ... FROM record_entries WHERE kind IN (...)`, in storage order: an
ORDER BY seq would sort every body), without decoding them. Medians with their ratio to the
reference, and the machine's load average; the floor: the command answers within 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR_S = 1.0
BIN = Path(sys.executable).parent


def build(path: str, n: int) -> None:
    from tripwire.model import Attestation, Model
    from tripwire.policy import load_policy
    from tripwire.policy.evaluate import Evidence, evaluate_policy
    from tripwire.register import open_register
    from tripwire.register.record_store import append_entry

    reg = open_register(path, create=True)
    pol = load_policy("eu-ai-act-gpai")
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with reg.transaction() as conn:
        for i in range(n):
            c = 2e25 if i % 10 == 0 else 5e23
            m = Model(name=f"model-{i:05d}", compute_flop=c, compute_method="given")
            det = evaluate_policy(pol, Evidence(model=m), at=at + dt.timedelta(minutes=i))
            append_entry(conn, "determination", det.model_dump(mode="json"))
        for i in range(0, min(n, 2000), 10):
            a = Attestation(model=f"model-{i:05d}", safeguard="commission-notification",
                            by="legal", evidence="https://example.org/notice",
                            at=at + dt.timedelta(days=3))
            append_entry(conn, "attestation", a.model_dump(mode="json"))
        for i in range(0, min(n, 500), 10):
            append_entry(conn, "incident", {"model": f"model-{i:05d}",
                                            "at": (at + dt.timedelta(days=5)).isoformat(),
                                            "imminent": i % 20 == 0, "by": "oncall",
                                            "evidence": "https://example.org/inc", "note": None})
    reg.close()


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "r.db")
        t0 = time.perf_counter()
        build(db, args.models)
        print(f"built: {args.models} models with determinations in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        import sqlite3

        from tripwire import obligations as obl
        from tripwire.register import open_register

        reg = open_register(db)
        raw = sqlite3.connect(db)
        as_of = dt.datetime(2026, 1, 20, tzinfo=dt.UTC)
        kinds = "('determination','plan','attestation','incident')"

        def reference() -> None:
            raw.execute("SELECT seq, kind, body, prev, hash FROM record_entries "
                        f"WHERE kind IN {kinds}").fetchall()

        def library() -> None:
            obl.obligations(reg, as_of=as_of)

        def command() -> None:
            subprocess.run([str(BIN / "tripwire"), "obligations", "--db", db, "--json",
                            "--as-of", "2026-01-20"], check=True, stdout=subprocess.DEVNULL)

        got = obl.obligations(reg, as_of=as_of)
        n_overdue = sum(o.status == "overdue" for o in got)
        ref = statistics.median(timed(reference) for _ in range(args.runs))
        lib = statistics.median(timed(library) for _ in range(args.runs))
        cmd = statistics.median(timed(command) for _ in range(args.runs))
        print(f"obligations: {len(got)} open ({n_overdue} overdue) over {args.models} models")
        print(f"reference (read the entries' rows): {ref:.3f} s")
        print(f"obligations() in process:          {lib:.3f} s  ({lib / ref:.1f}x reference)")
        print(f"tripwire obligations (command):    {cmd:.3f} s  ({cmd / ref:.1f}x reference)")
        print(f"floor {FLOOR_S:g} s: {'met' if cmd < FLOOR_S else 'NOT met'} "
              f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
