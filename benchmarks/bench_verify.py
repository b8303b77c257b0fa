"""Verify and append throughput of the record, against raw SHA-256 over the same bytes.

    .venv/bin/python benchmarks/bench_verify.py [--entries 1000000] [--rows 1000000] [--pg URL]

Builds a record of realistic entries (determinations of 1.5-4.5 KB, ingest and attestation
events of a few hundred bytes, the odd policy of several KB with its text, in the proportions a
working register accumulates them), then times, in the same run:

- raw: hashlib.sha256 over every entry's canonical bytes, nothing else (the reference);
- verify: `tripwire.record.verify_record` on the rows in memory: rebuild each entry's canonical
  bytes, re-hash, re-link the chain, check kinds, build the RFC 6962 tree, check a signed head;
- verify from SQLite: `verify_register` end to end, reading the rows from the database file,
  checking stored checkpoints and evidence hashes too;
- appends: `append_entry` into SQLite (and PostgreSQL with --pg), one transaction per entry
  and many entries per transaction;
- the evidence: a register of --rows evaluation results (and a thousand models) stored by the
  real ingest path in files of 100,000 rows, each committed to the record; raw sha256 over
  every row's canonical bytes (the reference) against `verify_evidence` end to end (read every
  row and every committed block from the database, re-hash the blocks, rebuild each entry's
  root, compare every row), on SQLite (and PostgreSQL with --pg).

The floor the record promises: verify throughput >= 0.5 x raw hashing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import random
import re
import tempfile
import time
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tripwire.model import Attestation, Determination, EvidenceRef, ThresholdState
from tripwire.record import (
    GENESIS,
    MerkleTree,
    StoredRow,
    canonical_json,
    entry_body,
    entry_bytes,
    format_time,
    generate_key,
    leaf_hash,
    scan_chain,
    sign_tree_head,
    verify_record,
)

FLOOR = 0.5
CITED = re.compile(rb'"(?:source_)?sha256":"([0-9a-f]{64})"')
CLOCK = time.process_time  # CPU seconds of this process: fair on a shared machine
SAFEGUARDS = ["asl3-security-standard", "asl3-deployment-standard", "asl2-security-standard",
              "misalignment-affirmative-case", "insider-risk-controls", "model-weight-security"]
BENCHES = ["wmdp_bio", "wmdp_chem", "vct", "lab_bench_seqqa", "re_bench", "swe_bench_verified",
           "cybench", "mmlu_pro", "gpqa_diamond", "humaneval"]


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _determination(rng: random.Random) -> dict:
    thresholds = []
    for k in range(rng.randint(2, 8)):
        evidence = [EvidenceRef(kind="result", result_id=rng.randrange(10**6),
                                benchmark=rng.choice(BENCHES), value=rng.random(),
                                stderr=rng.random() / 20, source_sha256=_sha(rng))
                    for _ in range(rng.randint(1, 3))]
        thresholds.append(ThresholdState(
            id=f"T{k}-{rng.choice(BENCHES)}", level=f"ASL-{rng.randint(2, 4)}",
            state=rng.choice(["clear", "alert", "likely", "crossed", "insufficient"]),
            probability=rng.random(),
            reason="P(score >= bar) from the fitted sigmoid and the result's standard error; "
                   f"margin {rng.random():.3f}", evidence=evidence))
    det = Determination(
        model=f"model-{rng.randrange(500)}", policy="anthropic-rsp", policy_version="2.2-tw1",
        policy_sha256=_sha(rng), level=f"ASL-{rng.randint(2, 3)}", thresholds=thresholds,
        required_safeguards={"deploy": rng.sample(SAFEGUARDS, 3),
                             "train": rng.sample(SAFEGUARDS, 2)},
        missing_safeguards={"deploy": rng.sample(SAFEGUARDS, 1)},
        allowed_actions=rng.sample(["train", "deploy", "scale-up"], rng.randint(0, 2)),
        next_due=dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(365)),
        next_due_compute_flop=rng.random() * 1e26,
        notes=["evidence is insufficient for some thresholds: actions needing those safeguards "
               "wait for evidence or attestations"] * rng.randint(0, 2))
    return det.model_dump(mode="json")


def templates(rng: random.Random, count: int = 3000) -> list[tuple[str, bytes]]:
    """(kind, canonical payload) pairs in a working register's proportions."""
    out = []
    for _ in range(count):
        u = rng.random()
        if u < 0.45:
            kind, payload = "determination", _determination(rng)
        elif u < 0.85:
            kind, payload = "ingest", {"path": f"evals/run-{rng.randrange(10**5)}.eval",
                                       "sha256": _sha(rng), "kind": "inspect",
                                       "rows": rng.randrange(1, 5000)}
        elif u < 0.99:
            kind, payload = "attestation", Attestation(
                model=f"model-{rng.randrange(500)}", safeguard=rng.choice(SAFEGUARDS),
                by="security-lead@example.org", evidence="https://example.org/audits/2025.pdf",
                evidence_sha256=_sha(rng), note="external audit").model_dump(mode="json")
        else:
            kind, payload = "policy", {"name": "anthropic-rsp", "version": "2.2-tw1",
                                       "sha256": _sha(rng), "builtin": True,
                                       "text": "thresholds:\n  - id: x\n" * 300}
        out.append((kind, canonical_json(payload)))
    return out


def build(n: int, rng: random.Random) -> tuple[list[StoredRow], int]:
    """n chained entries (payloads drawn from the templates) and their total canonical size."""
    pool = templates(rng)
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    rows, prev, size = [], GENESIS, 0
    for seq in range(n):
        kind, payload = pool[rng.randrange(len(pool))]
        body = entry_body(format_time(t0 + dt.timedelta(milliseconds=seq)), kind, payload)
        canonical = entry_bytes(body, prev, seq)
        h = leaf_hash(canonical).hex()
        rows.append(StoredRow(seq, kind, body, prev, h))
        prev = h
        size += len(canonical)
    return rows, size


def time_raw(rows: list[StoredRow], chunk: int = 50_000) -> float:
    """Seconds for hashlib.sha256 over each entry's canonical bytes (built outside the clock)."""
    sha, total = hashlib.sha256, 0.0
    for k in range(0, len(rows), chunk):
        canon = [entry_bytes(r.body, r.prev, r.seq) for r in rows[k:k + chunk]]
        t = CLOCK()
        for b in canon:
            sha(b).digest()
        total += CLOCK() - t
    return total


def timed(fn, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN201
    t = CLOCK()
    out = fn(*args, **kw)
    return CLOCK() - t, out


def bench_memory(rows: list[StoredRow], reps: int) -> tuple[float, float]:
    key = Ed25519PrivateKey.generate()
    leaves, _ = scan_chain(rows)
    head = sign_tree_head(len(rows), MerkleTree(leaves).root(), key)
    del leaves
    raws, verifies = [], []
    for _ in range(reps):  # interleaved, so load from elsewhere hits both alike
        raws.append(time_raw(rows))
        s, report = timed(verify_record, rows, [head], public_key=key.public_key())
        assert report.ok, report.failure
        verifies.append(s)
    return min(raws), min(verifies)


def bench_sqlite(rows: list[StoredRow], folder: Path, reps: int) -> tuple[float, float]:
    from tripwire.register import open_register
    from tripwire.register.evidence import commit
    from tripwire.register.record_store import make_checkpoint, verify_register

    reg = open_register(str(folder / "bench.db"), create=True)
    cited = set()
    for r in rows:
        if r.kind in ("determination", "ingest"):
            cited.update(m.decode() for m in CITED.findall(r.body))
    with reg.transaction() as conn:
        conn.exec_driver_sql("SELECT 1")
        raw = conn.connection.driver_connection
        raw.executemany("INSERT INTO source_files (path, sha256, kind, size, version, rows, "
                        "ingested_at) VALUES (?, ?, 'inspect', 1, 1, 1, '2025-01-01')",
                        [(f"f{k}", sha) for k, sha in enumerate(sorted(cited))])
        for k in range(0, len(rows), 100_000):
            raw.executemany("INSERT INTO record_entries (seq, kind, body, prev, hash) "
                            "VALUES (?, ?, ?, ?, ?)", rows[k:k + 100_000])
        commit(conn, "baseline", {"reason": "benchmark"}, since={"source_files": 0})
    key, _ = generate_key(folder / "bench.key")
    sign_s, _ = timed(make_checkpoint, reg, key)
    times = []
    for _ in range(reps):
        s, report = timed(verify_register, reg)
        assert report.ok, report.failure
        times.append(s)
    reg.close()
    return min(times), sign_s


def build_evidence(url: str, n_rows: int, per_file: int = 100_000):  # noqa: ANN201
    """A register of `n_rows` evaluation results over 1,000 models, stored by `ingest_batches`
    (the bulk columnar path) in files of `per_file` rows; returns it and the seconds taken."""
    from tripwire.ingest.batch import Batch, ResultTable
    from tripwire.model import Model
    from tripwire.register import open_register

    rng = random.Random(5)
    reg = open_register(url, create=True)
    names = [f"model-{i:04d}" for i in range(1000)]
    t = time.perf_counter()
    models = Batch(path="models.csv", kind="models-csv", sha256=_sha(rng), size=1,
                   models=[Model(name=n, compute_flop=10 ** rng.uniform(20, 26),
                                 params=10 ** rng.uniform(8, 12)) for n in names])
    reg.ingest_batches([models])
    for f in range(0, n_rows, per_file):
        n = min(per_file, n_rows - f)
        tab = ResultTable(model=[rng.choice(names) for _ in range(n)],
                          benchmark=[BENCHES[i % len(BENCHES)] for i in range(n)],
                          original_benchmark=[BENCHES[i % len(BENCHES)] for i in range(n)],
                          metric=["accuracy"] * n, value=[rng.random() for _ in range(n)],
                          stderr=[rng.random() / 50 for _ in range(n)],
                          samples=[rng.randrange(100, 5000) for _ in range(n)])
        batch = Batch(path=f"results-{f}.csv", kind="evals-csv", sha256=_sha(rng), size=n)
        batch.table = tab
        (out,) = reg.ingest_batches([batch])
        assert not isinstance(out, Exception), out
    return reg, time.perf_counter() - t


def bench_evidence(url: str, n_rows: int, reps: int) -> None:
    """Print raw sha256 over every evidence row's canonical bytes against `verify_evidence`."""
    from tripwire.register.evidence import TABLES, _fetch, _select, verify_evidence

    reg, build_s = build_evidence(url, n_rows)
    with reg.read() as conn:
        lines = []
        for name, table in TABLES.items():
            lines += _fetch(conn, _select(table, conn.dialect.name))
    data = lines
    size = sum(map(len, data))
    n = len(data)
    raws, verifies = [], []
    for _ in range(reps):
        sha = hashlib.sha256
        t = CLOCK()
        for b in data:
            sha(b).digest()
        raws.append(CLOCK() - t)
        with reg.read() as conn:
            s, report = timed(verify_evidence, conn)
        assert report.ok and report.rows == n, (report.rows, n, report.changes[:3])
        verifies.append(s)
    raw_s, verify_s = min(raws), min(verifies)
    print(f"evidence ({reg.dialect}): {n:,} rows, {size / n:,.0f} B mean canonical row "
          f"({size / 1e6:,.0f} MB), stored and committed in {build_s:.0f} s")
    print(f"  raw sha256 over each row's canonical bytes: {n / raw_s:>12,.0f} rows/s "
          f"({size / raw_s / 1e6:,.0f} MB/s)")
    print(f"  verify_evidence (end to end):               {n / verify_s:>12,.0f} rows/s  "
          f"ratio {raw_s / verify_s:.2f} (raw time / verify time; CPU seconds of this "
          f"process{', the server reads rows too' if reg.dialect == 'postgresql' else ''})")
    reg.close()


def bench_appends(url: str, single: int, batched: int) -> tuple[float, float]:
    from tripwire.register import open_register
    from tripwire.register.record_store import append_entry

    rng = random.Random(3)
    payloads = [_determination(rng) for _ in range(50)]
    reg = open_register(url, create=True)
    t = time.perf_counter()  # wall clock: appends wait on the database
    for i in range(single):
        with reg.transaction() as conn:
            append_entry(conn, "determination", payloads[i % 50])
    one = single / (time.perf_counter() - t)
    t = time.perf_counter()
    with reg.transaction() as conn:
        for i in range(batched):
            append_entry(conn, "determination", payloads[i % 50])
    many = batched / (time.perf_counter() - t)
    reg.close()
    return one, many


def _pg_database(admin: str):  # noqa: ANN202
    import sqlalchemy as sa

    name = "tw_bench_" + uuid.uuid4().hex[:10]
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()
    return url, drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-db", action="store_true", help="Skip the SQLite and append runs.")
    ap.add_argument("--rows", type=int, default=1_000_000,
                    help="Evaluation results in the evidence benchmark (0: skip it).")
    ap.add_argument("--no-record", action="store_true", help="Only the evidence benchmark.")
    ap.add_argument("--pg", help="PostgreSQL admin URL: also time appends and the evidence "
                    "there.")
    args = ap.parse_args()
    if args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            bench_evidence(str(Path(tmp) / "evidence.db"), args.rows, args.reps)
        if args.pg:
            url, drop = _pg_database(args.pg)
            try:
                bench_evidence(url, args.rows, args.reps)
            finally:
                drop()
    if args.no_record:
        return
    rng = random.Random(1)
    t = time.perf_counter()
    rows, size = build(args.entries, rng)
    n = len(rows)
    gc.collect()
    gc.freeze()  # the million rows are long-lived: keep the collector from re-walking them
    print(f"record: {n:,} entries, {size / n:,.0f} B mean canonical size "
          f"({size / 1e9:.2f} GB), built in {time.perf_counter() - t:.0f} s")
    kinds = {k: sum(r.kind == k for r in rows) / n for k in sorted({r.kind for r in rows[:5000]})}
    print("mix: " + ", ".join(f"{k} {v:.0%}" for k, v in kinds.items()))

    raw_s, verify_s = bench_memory(rows, args.reps)
    ratio = raw_s / verify_s
    print(f"raw sha256 over the canonical bytes: {n / raw_s:>12,.0f} entries/s "
          f"({size / raw_s / 1e6:,.0f} MB/s)")
    print(f"verify_record (in memory):           {n / verify_s:>12,.0f} entries/s  "
          f"ratio {ratio:.2f}  floor {FLOOR}: {'ok' if ratio >= FLOOR else 'BELOW'}")
    if not args.no_db:
        with tempfile.TemporaryDirectory() as tmp:
            db_s, sign_s = bench_sqlite(rows, Path(tmp), args.reps)
        print(f"verify_register (SQLite, end to end): {n / db_s:>11,.0f} entries/s  "
              f"ratio {raw_s / db_s:.2f}  (reads {size / 1e9:.2f} GB of rows; checkpoint "
              f"= verify + sign: {sign_s:.1f} s)")
        del rows
        gc.unfreeze()
        gc.collect()
        with tempfile.TemporaryDirectory() as tmp:
            one, many = bench_appends(str(Path(tmp) / "append.db"), 300, 5000)
        print(f"append (SQLite): {one:,.0f} entries/s one transaction each, "
              f"{many:,.0f} entries/s in one transaction")
    if args.pg:
        url, drop = _pg_database(args.pg)
        try:
            one, many = bench_appends(url, 300, 5000)
        finally:
            drop()
        print(f"append (PostgreSQL): {one:,.0f} entries/s one transaction each, "
              f"{many:,.0f} entries/s in one transaction")


if __name__ == "__main__":
    main()
