"""Crash safety: `tripwire ingest` of a large file and `tripwire assess` are started as real
processes and SIGKILLed at random moments, half of them while their write transaction is open.

After every kill: the record verifies (`tripwire verify` exits 0), the file is in the register
wholly or not at all (its results number 0 or all of its rows, with one ingest entry or none),
and the record holds the determination wholly or not at all, its sequence without a gap. At
the end the same commands run to completion with the right totals.

Default profile: 3 kills of each command, a 5,000-row file, SQLite. `-m reliability`: 20 kills
of each with a 50,000-row file, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tripwire.cli import app
from tripwire.register import Register, open_register, resolve_url
from tripwire.register import record_store as store

TRIPWIRE = Path(sys.executable).with_name("tripwire")
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def command(*args: str) -> list[str]:
    """The installed `tripwire` console script (or the same entry point through python)."""
    if TRIPWIRE.exists():
        return [str(TRIPWIRE), *args]
    return [sys.executable, "-c", "from tripwire.cli import main; main()", *args]


def big_csv(path: Path, rows: int, variant: int) -> Path:
    """An evaluation table of `rows` results over 500 models and rows/500 benchmarks; `variant`
    makes the bytes (and so the sha256) differ between files."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("model,benchmark,metric,value,stderr,samples\n")
        for i in range(rows):
            f.write(f"crash-m{i % 500},crash-b{i // 500},acc,"
                    f"{((i * 7919 + variant * 104729) % 100000) / 100000:.5f},0.01,1000\n")
    return path


class WriteProbe:
    """Tells whether another process has a write transaction open on the register."""

    def __init__(self, url: str) -> None:
        self.url = url = resolve_url(url)
        u = sa.engine.make_url(url)
        self.sqlite = u.get_backend_name() == "sqlite"
        if self.sqlite:
            self.conn = sqlite3.connect(u.database, timeout=0, isolation_level=None)
        else:
            self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
            self.pg = self.engine.connect()

    def writing(self) -> bool:
        if self.sqlite:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return True  # another connection holds the write lock
            self.conn.execute("ROLLBACK")
            return False
        return bool(self.pg.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL").scalar())

    def close(self) -> None:
        if self.sqlite:
            self.conn.close()
        else:
            self.pg.close()
            self.engine.dispose()


@dataclass
class Kills:
    """What the kills of one command found."""

    command: str
    kills: int = 0
    in_transaction: int = 0
    absent: int = 0
    whole: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.command}: {self.kills} SIGKILLs ({self.in_transaction} with the write "
                f"transaction open); afterwards {self.whole} wholly stored, {self.absent} not "
                "at all, 0 partly; verify exit 0 every time; the rerun completed with the "
                "right totals")


def kill_at_random(args: list[str], probe: WriteProbe, rng: random.Random, full: float,
                   in_txn: bool) -> tuple[bool, bool]:
    """Start a command and SIGKILL it: at a uniform moment of a full run, or (`in_txn`) at a
    moment after its write transaction is seen open. Returns (killed, saw the transaction)."""
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    start = time.monotonic()
    saw = False
    if in_txn:
        while proc.poll() is None and time.monotonic() - start < full * 3:
            if probe.writing():
                saw = True
                time.sleep(rng.uniform(0, 0.5) * rng.choice([0.0, 0.1, 1.0]))
                break
            time.sleep(0.005)
    else:
        time.sleep(rng.uniform(0.02, 1.0) * full)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    return killed, saw


def verify_ok(url: str) -> None:
    r = CliRunner().invoke(app, ["verify", "--db", url])
    assert r.exit_code == 0, r.output


def _file_state(reg: Register, sha: str, rows: int) -> bool:
    """True when the file is stored (all its rows and one ingest entry), False when absent;
    fails when it is partly there."""
    with reg.read() as conn:
        n_files = conn.execute(sa.text(
            "SELECT COUNT(*) FROM source_files WHERE sha256 = :s"), {"s": sha}).scalar()
        n_rows = conn.execute(sa.text(
            "SELECT COUNT(*) FROM eval_results r JOIN source_files f ON f.id = r.source_file_id "
            "WHERE f.sha256 = :s"), {"s": sha}).scalar()
        n_entries = sum(1 for e in store.entries(conn, kind="ingest")
                        if e.payload.get("sha256") == sha)
    assert (n_files, n_rows, n_entries) in ((0, 0, 0), (1, rows, 1)), \
        f"partial state: {n_files} file rows, {n_rows} results, {n_entries} ingest entries"
    return n_files == 1


def _record_ok(reg: Register) -> list[str]:
    report = store.verify_register(reg)
    assert report.ok, report.failure
    with reg.read() as conn:
        es = store.entries(conn)
    assert [e.seq for e in es] == list(range(len(es)))
    return [e.kind for e in es]


def crash_ingest(url: str, folder: Path, rows: int, kills: int, seed: int = 0) -> Kills:
    from tripwire import ingest

    rng = random.Random(seed)
    reg = open_register(url, create=True)
    probe = WriteProbe(url)
    tally = Kills(f"tripwire ingest of a {rows:,}-row file")
    # A full run first: it times the command and must complete.
    t0 = time.monotonic()
    first = big_csv(folder / "big-0.csv", rows, 0)
    done = subprocess.run(command("ingest", str(first), "--new-models", "--db", url), env=ENV,
                          capture_output=True, text=True)
    full = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-2000:]
    stored = [ingest.load(first)[2]]
    variant = 1
    current = big_csv(folder / f"big-{variant}.csv", rows, variant)
    while tally.kills < kills:
        in_txn = tally.kills % 2 == 1
        killed, saw = kill_at_random(command("ingest", str(current), "--new-models", "--db", url), probe,
                                     rng, full, in_txn)
        sha = ingest.load(current)[2]
        whole = _file_state(reg, sha, rows)
        _record_ok(reg)
        verify_ok(url)
        if not killed:
            assert whole, "the command finished but the file is not stored"
        else:
            tally.kills += 1
            tally.in_transaction += saw
            tally.whole += whole
            tally.absent += not whole
        if whole:
            stored.append(sha)
            variant += 1
            current = big_csv(folder / f"big-{variant}.csv", rows, variant)
    # The same command again, to completion.
    done = subprocess.run(command("ingest", str(current), "--new-models", "--db", url), env=ENV,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    stored.append(ingest.load(current)[2])
    for sha in stored:
        assert _file_state(reg, sha, rows)
    assert reg.counts()["eval_results"] == rows * len(stored)
    kinds = _record_ok(reg)
    assert kinds.count("ingest") == len(stored)
    probe.close()
    reg.close()
    return tally


def crash_assess(url: str, folder: Path, kills: int, seed: int = 1) -> Kills:
    from tripwire import ingest

    rng = random.Random(seed)
    reg = open_register(url, create=True)
    models = folder / "models.csv"
    models.write_text("name,release_date,params,tokens,compute\nbase,2024-01-01,7e10,1.4e13,"
                      "5.9e24\n")
    reg.ingest(ingest.read_file(models))
    probe = WriteProbe(url)
    tally = Kills("tripwire assess")
    args = command("assess", "base", "-p", "eu-ai-act-gpai", "--db", url)
    t0 = time.monotonic()
    done = subprocess.run(args, env=ENV, capture_output=True, text=True)
    full = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-2000:]
    expected = _record_ok(reg).count("determination")
    while tally.kills < kills:
        in_txn = tally.kills % 2 == 1
        killed, saw = kill_at_random(args, probe, rng, full, in_txn)
        kinds = _record_ok(reg)
        verify_ok(url)
        n = kinds.count("determination")
        assert n in (expected, expected + 1), (n, expected)
        assert kinds.count("policy") == 1
        if killed:
            tally.kills += 1
            tally.in_transaction += saw
            tally.whole += n == expected + 1
            tally.absent += n == expected
        expected = n
    done = subprocess.run(args, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _record_ok(reg).count("determination") == expected + 1
    probe.close()
    reg.close()
    return tally


def _final_verify(url: str) -> None:
    r = subprocess.run(command("verify", "--db", url), env=ENV, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr


def test_crash_ingest_fast(tmp_path: Path) -> None:
    url = str(tmp_path / "crash.db")
    crash_ingest(url, tmp_path, rows=5_000, kills=3)
    _final_verify(url)


def test_crash_assess_fast(tmp_path: Path) -> None:
    url = str(tmp_path / "crash.db")
    crash_assess(url, tmp_path, kills=3)
    _final_verify(url)


@pytest.mark.reliability
def test_crash_ingest_long(db_url: str, tmp_path: Path) -> None:
    tally = crash_ingest(db_url, tmp_path, rows=50_000, kills=20)
    _final_verify(db_url)
    print(f"\n{'PostgreSQL' if db_url.startswith('postgresql') else 'SQLite'}: {tally.line()}")


@pytest.mark.reliability
def test_crash_assess_long(db_url: str, tmp_path: Path) -> None:
    tally = crash_assess(db_url, tmp_path, kills=20)
    _final_verify(db_url)
    print(f"\n{'PostgreSQL' if db_url.startswith('postgresql') else 'SQLite'}: {tally.line()}")


def small_files(folder: Path, n: int, rows: int) -> list[Path]:
    """n evaluation tables of `rows` results each, every one naming a model of its own
    (the folder's name makes the names, and so the bytes, differ between folders)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        lines = [f"{folder.name}-m{i},folder-b{j},acc,{(i * 31 + j * 7) % 1000 / 1000:.3f}"
                 for j in range(rows)]
        path = folder / f"part-{i:04d}.csv"
        path.write_text("model,benchmark,metric,value\n" + "\n".join(lines) + "\n")
        out.append(path)
    return out


def _folder_state(reg: Register, shas: set[str], rows: int) -> int:
    """How many of these files are stored; fails when any is partly there (its rows, its
    source row and its one ingest entry come together or not at all)."""
    with reg.read() as conn:
        results = dict(conn.execute(sa.text(
            "SELECT f.sha256, COUNT(r.id) FROM source_files f LEFT JOIN eval_results r "
            "ON r.source_file_id = f.id GROUP BY f.sha256")).all())
        entries = [e.payload.get("sha256") for e in store.entries(conn, kind="ingest")]
    for sha in shas:
        state = (sha in results, results.get(sha, 0), entries.count(sha))
        assert state in ((False, 0, 0), (True, rows, 1)), f"partial state of a file: {state}"
    return sum(sha in results for sha in shas)


def crash_folder(url: str, folder: Path, files: int, rows: int, kills: int,
                 seed: int = 2) -> tuple[int, int, list[int]]:
    """`tripwire ingest FOLDER` (files stored in chunks of one transaction) killed at random
    moments, each time on a new folder, half of the kills after the write transaction is seen
    open. After every kill each file is wholly stored or not at all and the record verifies;
    then one ingest of all the folders completes with every file once.

    Returns (kills, kills with the transaction open, files stored at each kill)."""
    from tripwire import ingest

    rng = random.Random(seed)
    reg = open_register(url, create=True)
    probe = WriteProbe(url)
    # Time a full run into a scratch SQLite register, so the kills land inside a real run.
    scratch = str(folder / "scratch.db")
    subprocess.run(command("init", "--db", scratch), env=ENV, capture_output=True)
    small_files(folder / "timing", files, rows)
    t0 = time.monotonic()
    subprocess.run(command("ingest", str(folder / "timing"), "--new-models", "--db", scratch), env=ENV,
                   capture_output=True)
    full = max(time.monotonic() - t0, 0.5)
    n_kills = in_txn = 0
    stored_at_kill: list[int] = []
    every: set[str] = set()
    for k in range(kills):
        paths = small_files(folder / "runs" / f"run{k:02d}", files, rows)
        shas = {ingest.load(p)[2] for p in paths}
        every |= shas
        killed, saw = kill_at_random(command("ingest", str(paths[0].parent), "--new-models", "--db", url),
                                     probe, rng, full, k % 2 == 1)
        now = _folder_state(reg, shas, rows)
        _record_ok(reg)
        verify_ok(url)
        if killed:
            n_kills += 1
            in_txn += saw
            stored_at_kill.append(now)
        else:
            assert now == files
    done = subprocess.run(command("ingest", str(folder / "runs"), "--new-models", "--db", url), env=ENV,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _folder_state(reg, every, rows) == len(every)
    assert reg.counts()["eval_results"] == len(every) * rows
    assert _record_ok(reg).count("ingest") == len(every)
    probe.close()
    reg.close()
    return n_kills, in_txn, stored_at_kill


def test_crash_folder_ingest_fast(tmp_path: Path) -> None:
    url = str(tmp_path / "crash.db")
    crash_folder(url, tmp_path, files=600, rows=20, kills=2)
    _final_verify(url)


@pytest.mark.reliability
def test_crash_folder_ingest_long(db_url: str, tmp_path: Path) -> None:
    kills, in_txn, stored = crash_folder(db_url, tmp_path, files=1000, rows=20, kills=20)
    _final_verify(db_url)
    print(f"\n{'PostgreSQL' if db_url.startswith('postgresql') else 'SQLite'}: tripwire "
          f"ingest of a folder of 1,000 files: {kills} SIGKILLs ({in_txn} with the write "
          f"transaction open); files stored at each kill: {stored}; 0 files partly stored; "
          "verify exit 0 every time; the rerun stored every file once")
