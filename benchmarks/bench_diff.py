"""`tripwire diff` over many benchmarks: 60 benchmarks x 5,000 items per model, both models with
per-sample scores, compared as the command does it (target: under 2 s for the whole command).

    .venv/bin/python benchmarks/bench_diff.py [--benchmarks 60] [--items 5000] [--repeat 3]

The two versions' lm-eval output (results and samples files, the real format, written by
tests/difflogs.py) is made and ingested with --samples into a fresh SQLite register (setup,
timed apart). Then, best of --repeat:
  command    `tripwire diff A B --json` in a fresh process (what CI runs: start-up included),
             wall clock and the process's CPU time (user + sys: what a loaded machine inflates
             least)
  start-up   `tripwire --help` in a fresh process (the floor any command pays)
  library    diff_models() in this process (register opened once)
  raw fetch  the same sample rows read by sqlite3 alone (the database work no diff can avoid)
and the ratios library / raw fetch and command / start-up.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from difflogs import write_lmeval  # noqa: E402

from tripwire.diff import diff_models  # noqa: E402
from tripwire.register import open_register  # noqa: E402

TRIPWIRE = Path(sys.executable).with_name("tripwire")


def make(root: Path, n_bench: int, n_items: int) -> list[Path]:
    """Two versions: B agrees with A on most items, regresses on a few benchmarks."""
    rng = np.random.default_rng(0)
    ta: dict[str, list[float]] = {}
    tb: dict[str, list[float]] = {}
    for j in range(n_bench):
        a = (rng.random(n_items) < rng.uniform(0.3, 0.9)).astype(float)
        b = a.copy()
        flip = rng.random(n_items) < 0.05
        b[flip] = rng.random(int(flip.sum())) < 0.4 + 0.2 * (j % 3 == 0)
        ta[f"task{j:02d}"], tb[f"task{j:02d}"] = a.tolist(), b.tolist()
    return [write_lmeval(root, "org/model-v1", ta), write_lmeval(root, "org/model-v2", tb)]


def best(fn, repeat: int) -> float:  # noqa: ANN001
    out = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmarks", type=int, default=60)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        files = make(root / "logs", args.benchmarks, args.items)
        db = root / "r.db"
        reg = open_register(str(db), create=True)
        for _, out in reg.ingest_paths(files, samples=True):
            assert not isinstance(out, Exception), out
        setup = time.perf_counter() - t0
        n_rows = sum(reg.counts()[k] for k in ("eval_samples",))
        print(f"setup: {args.benchmarks} benchmarks x {args.items} items x 2 models written "
              f"and ingested in {setup:.1f} s ({n_rows} sample rows)")

        def library() -> None:
            d = diff_models(reg, "org/model-v2", "org/model-v1")
            assert len(d.compared) == args.benchmarks

        def raw() -> None:
            import sqlite3

            con = sqlite3.connect(db)
            rows = con.execute("SELECT result_id, sample_id, epoch, score FROM eval_samples "
                               "ORDER BY result_id, id").fetchall()
            con.close()
            assert len(rows) == n_rows

        cpu: list[float] = []

        def command() -> None:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            p = subprocess.run([str(TRIPWIRE), "diff", "org/model-v1", "org/model-v2", "--json",
                                "--db", str(db)], capture_output=True, text=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            assert p.returncode == 0, p.stderr
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)

        def startup() -> None:
            subprocess.run([str(TRIPWIRE), "--help"], capture_output=True, check=True)

        t_lib, t_raw = best(library, args.repeat), best(raw, args.repeat)
        t_cmd, t_start = best(command, args.repeat), best(startup, args.repeat)
        reg.close()
    print(f"command    {t_cmd:7.3f} s wall, {min(cpu):.3f} s CPU (user + sys)   "
          f"(target < 2 s: {'met' if t_cmd < 2 else 'MISSED'} by the wall clock)")
    print(f"start-up   {t_start:7.3f} s   command / start-up = {t_cmd / t_start:.2f}")
    print(f"library    {t_lib:7.3f} s")
    print(f"raw fetch  {t_raw:7.3f} s   library / raw fetch = {t_lib / t_raw:.2f}")


if __name__ == "__main__":
    main()
