"""Concurrent writers against one register: the worker process, the shared setup and the checks.

A worker (`python writers.py worker ...`) imports tripwire, says it is ready, waits for the
start signal, then runs its operations in a seeded order, writing one JSON line per operation
(what it did, its outcome, its time). The mix, per worker:

- ingest a file of its own (new models and results, plus a model and a benchmark that the
  other workers' files also introduce at about the same time);
- ingest one of the shared files, which every worker ingests in the same order (races on the
  same bytes: idempotency by sha256 must hold);
- assess a model under a built-in policy (a determination appended to the record);
- attest a safeguard (an attestation appended to the record).

`check` then proves: every operation succeeded (no "database is locked", no lost file), every
file is stored exactly once, the results total is exact, every determination and attestation
is in the record exactly once, the chain verifies and its sequence numbers are 0..n-1.
Used by tests/reliability/test_concurrency.py and benchmarks/bench_concurrency.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

KINDS = ("distinct", "same", "assess", "attest")
MIX = (0.4, 0.2, 0.2, 0.2)
SHARED_FILES = 25
ROWS = 10
POLICY = "eu-ai-act-gpai"
SAFEGUARD = "technical-documentation"
BASE_MODELS = ("base-a", "base-b", "base-c")


def plan(worker: int, ops: int) -> list[str]:
    """The seeded order of a worker's operations (the same for a given worker and count)."""
    rng = random.Random(1000 + worker)
    return [rng.choices(KINDS, MIX)[0] for _ in range(ops)]


def distinct_csv(worker: int, k: int) -> str:
    """A file only this worker ingests: ROWS results of its own model, plus results naming a
    model and a benchmark that other workers' files introduce too (a race on creating them)."""
    lines = ["model,benchmark,metric,value,stderr,samples"]
    for r in range(ROWS - 2):
        lines.append(f"w{worker}-m{k},bench-{r},acc,{(worker * 7 + k * 3 + r) % 97 / 100},0.01,"
                     f"{100 + r}")
    lines.append(f"new-{k // 4},bench-w{worker}-{k},acc,0.5,0.01,100")
    lines.append(f"w{worker}-m{k},new-bench-{k // 4},acc,0.25,0.01,100")
    return "\n".join(lines) + "\n"


def shared_csv(j: int) -> str:
    lines = ["model,benchmark,metric,value,stderr,samples"]
    lines += [f"shared-{j},bench-{r},acc,{(j + r) % 89 / 100},0.01,200" for r in range(ROWS)]
    return "\n".join(lines) + "\n"


def setup(url: str, folder: Path) -> None:
    """A fresh register at `url` with the base models, and the shared files in `folder`."""
    from tripwire import ingest
    from tripwire.register import open_register

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shared").mkdir(exist_ok=True)
    for j in range(SHARED_FILES):
        (folder / "shared" / f"shared-{j}.csv").write_text(shared_csv(j))
    models = folder / "base-models.csv"
    models.write_text("name,release_date,params,tokens,compute\n" + "".join(
        f"{m},2024-0{i + 1}-01,7e9,1e12,{3e22 * (i + 1)}\n" for i, m in enumerate(BASE_MODELS)))
    reg = open_register(url, create=True)
    reg.ingest(ingest.read_file(models))
    reg.close()


# ------------------------------------------------------------------------------ the worker

def work(url: str, worker: int, ops: int, folder: Path, out: Path) -> None:
    import tripwire.assess as assess
    from tripwire.register import open_register

    reg = open_register(url)
    mine = folder / f"w{worker}"
    mine.mkdir(exist_ok=True)
    (folder / "ready" / str(worker)).touch()
    go = folder / "go"
    while not go.exists():
        time.sleep(0.01)
    shared = 0
    with open(out, "w", encoding="utf-8") as log:
        for k, kind in enumerate(plan(worker, ops)):
            row: dict[str, Any] = {"worker": worker, "k": k, "kind": kind, "t0": time.time()}
            try:
                if kind == "distinct":
                    path = mine / f"w{worker}-{k}.csv"
                    path.write_text(distinct_csv(worker, k))
                    o = reg.ingest_path(path, new_models=True)
                    row.update(status=o.status, sha=o.sha256, results=o.results)
                elif kind == "same":
                    path = folder / "shared" / f"shared-{shared % SHARED_FILES}.csv"
                    shared += 1
                    o = reg.ingest_path(path, new_models=True)
                    row.update(status=o.status, sha=o.sha256, results=o.results)
                elif kind == "assess":
                    model = BASE_MODELS[k % len(BASE_MODELS)]
                    a = assess.assess(reg, model, POLICY, anomalies=False)
                    row.update(seq=a.entry, model=model)
                else:
                    url_ = f"https://example.org/audit/w{worker}/{k}"
                    assess.attest(reg, BASE_MODELS[k % len(BASE_MODELS)], SAFEGUARD,
                                  evidence=url_, by=f"worker {worker}")
                    row.update(evidence=url_)
                row["ok"] = True
            except Exception as e:  # recorded, then judged by the checks
                row.update(ok=False, error=f"{type(e).__name__}: {str(e)[:500]}")
            row["t1"] = time.time()
            log.write(json.dumps(row) + "\n")
            log.flush()
    reg.close()


# ------------------------------------------------------------------------------ running

def run(url: str, writers: int, ops: int, folder: Path, timeout: float = 900) -> dict[str, Any]:
    """Set up, start `writers` worker processes, release them together, wait, and return the
    operations they logged with the elapsed time from the start signal to the last finish."""
    setup(url, folder)
    (folder / "ready").mkdir(exist_ok=True)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    procs = [subprocess.Popen(
        [sys.executable, __file__, "worker", url, str(w), str(ops), str(folder),
         str(folder / f"ops-{w}.jsonl")], env=env, stderr=subprocess.PIPE, text=True)
        for w in range(writers)]
    deadline = time.time() + timeout
    while len(list((folder / "ready").iterdir())) < writers:
        if any(p.poll() not in (None, 0) for p in procs) or time.time() > deadline:
            errs = [p.stderr.read() if p.stderr and p.poll() is not None else "" for p in procs]
            for p in procs:
                p.kill()
            raise RuntimeError(f"a writer did not start: {errs}")
        time.sleep(0.02)
    start = time.time()
    (folder / "go").touch()
    failed = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=max(deadline - time.time(), 1))
        except subprocess.TimeoutExpired:
            p.kill()
            raise
        if p.returncode != 0:
            failed.append(err[-2000:])
    if failed:
        raise RuntimeError(f"writers exited with errors: {failed}")
    rows = [json.loads(line) for w in range(writers)
            for line in (folder / f"ops-{w}.jsonl").read_text().splitlines()]
    return {"rows": rows, "elapsed": max(r["t1"] for r in rows) - start,
            "writers": writers, "ops": ops}


def check(url: str, outcome: dict[str, Any]) -> dict[str, int]:
    """The invariants after a run; returns the figures (raises AssertionError on a loss, a
    duplicate, a failed operation or a broken chain)."""
    import sqlalchemy as sa

    from tripwire.register import open_register
    from tripwire.register import record_store as store

    rows = outcome["rows"]
    failed = [r for r in rows if not r["ok"]]
    assert not failed, f"{len(failed)} operations failed, e.g. {failed[:3]}"
    assert len(rows) == outcome["writers"] * outcome["ops"], "an operation is missing"
    reg = open_register(url)
    try:
        files = reg.source_files()
        by_sha = Counter(f.sha256 for f in files)
        dupes = [s for s, n in by_sha.items() if n > 1]
        assert not dupes, f"{len(dupes)} files stored twice"
        distinct = [r for r in rows if r["kind"] == "distinct"]
        assert all(r["status"] == "stored" for r in distinct), "a distinct file was not stored"
        assert all(by_sha[r["sha"]] == 1 for r in distinct), "a distinct file is missing"
        same = [r for r in rows if r["kind"] == "same"]
        stored_same = Counter(r["sha"] for r in same if r["status"] == "stored")
        assert all(n == 1 for n in stored_same.values()), "a shared file was stored twice"
        assert {r["sha"] for r in same} <= set(by_sha), "a shared file is missing"
        assert all(r["status"] in ("stored", "unchanged") for r in same)
        expected = ROWS * (len(distinct) + len(stored_same))
        results = reg.counts()["eval_results"]
        assert results == expected, f"{results} results stored, {expected} expected"
        with reg.read() as conn:
            entries = store.entries(conn)
            seqs = [e.seq for e in entries]
            kinds = Counter(e.kind for e in entries)
            by_evidence = Counter(e.payload.get("evidence") for e in entries
                                  if e.kind == "attestation")
            dets = {e.seq: e for e in entries if e.kind == "determination"}
            assert conn.execute(sa.text("SELECT COUNT(*) FROM record_entries")).scalar() \
                == len(entries)
        assert seqs == list(range(len(seqs))), "the record's sequence has a gap"
        assessed = [r for r in rows if r["kind"] == "assess"]
        attested = [r for r in rows if r["kind"] == "attest"]
        assert kinds["determination"] == len(assessed), "a determination is lost or doubled"
        assert sorted(r["seq"] for r in assessed) == sorted(dets), "determination seqs differ"
        assert all(dets[r["seq"]].payload["model"] == r["model"] for r in assessed)
        assert kinds["attestation"] == len(attested), "an attestation is lost or doubled"
        assert all(by_evidence[r["evidence"]] == 1 for r in attested)
        assert kinds["ingest"] == len(files), "a stored file has no ingest entry, or two"
        assert kinds["policy"] == (1 if assessed else 0), \
            f"the policy is recorded {kinds['policy']} times"
        report = store.verify_register(reg)
        assert report.ok, f"the record does not verify: {report.failure}"
        locked = [r for r in rows if "locked" in r.get("error", "")]
        assert not locked
        return {"operations": len(rows), "files": len(files), "results": results,
                "entries": len(entries), "lost": 0, "duplicated": 0}
    finally:
        reg.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", choices=["worker"])
    parser.add_argument("url")
    parser.add_argument("worker", type=int)
    parser.add_argument("ops", type=int)
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    a = parser.parse_args()
    work(a.url, a.worker, a.ops, a.folder, a.out)
