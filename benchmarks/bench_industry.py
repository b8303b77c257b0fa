"""The industry report on about 1,000 models: gather (every model under every built-in
policy, counts over time, compute trends, crossings, backtests) and render HTML, Markdown and
JSON, end to end from a register file, as `tripwire report --industry` does after its imports.

Data: Epoch AI's Notable AI Models export in ../shared/data when present (895 models), topped up
to --models with copies of its rows under new names; without it, synthetic models (log-uniform
compute 1e15-5e26, dates 2010-2025). Prints wall and CPU seconds against the floor of 10 s, and
as a reference measured in the same run the time to list the same models as `tripwire models
--json` does (read, P(C > line) per model, JSON), with the ratio.

    .venv/bin/python benchmarks/bench_industry.py [--models 1000] [--n-boot 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from tripwire.cli.register_cmds import model_rows
from tripwire.ingest.batch import Batch
from tripwire.model import Model
from tripwire.register import open_register
from tripwire.report.industry import gather_industry, render_industry

NOTABLE = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "epoch_ai"
           / "notable_ai_models_2025-02-24.csv")


def models(n: int) -> tuple[list[Model], str]:
    if NOTABLE.is_file():
        from tripwire.ingest import read_file

        base = read_file(NOTABLE).models
        out = list(base)
        i = 0
        while len(out) < n:
            m = base[i % len(base)]
            out.append(m.model_copy(update={"name": f"{m.name} (copy {i // len(base) + 1})"}))
            i += 1
        return out[:n], f"Epoch AI notable models ({len(base)} rows, topped up to {n})"
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        days = int(rng.integers(0, 15 * 365))
        out.append(Model(name=f"m{i}", release_date=dt.date(2010, 1, 1) + dt.timedelta(days),
                         compute_flop=float(10 ** rng.uniform(15, 26.7)),
                         compute_method="given",
                         compute_confidence=str(rng.choice(["Confident", "Likely",
                                                            "Speculative"]))))
    return out, f"synthetic ({n} models)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--n-boot", type=int, default=200)
    a = ap.parse_args()
    ms, what = models(a.models)
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "t.db")
        reg = open_register(db, create=True)
        batch = Batch(path=str(Path(tmp) / "models.csv"), kind="models-csv", sha256="0" * 64,
                      size=1, models=ms)
        batch.model_lines = list(range(2, len(ms) + 2))
        reg.ingest_batches([batch])
        reg.close()

        t0, c0 = time.perf_counter(), time.process_time()
        reg = open_register(db)
        rows = model_rows(reg.models())
        json.dumps(rows, default=str)
        reg.close()
        ref_wall, ref_cpu = time.perf_counter() - t0, time.process_time() - c0

        t0, c0 = time.perf_counter(), time.process_time()
        reg = open_register(db)
        d = gather_industry(reg, n_boot=a.n_boot)
        reg.close()
        t1 = time.perf_counter()
        sizes = {f: len(render_industry(d, f)) for f in ("html", "md", "json")}
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"industry report over {what}: {len(d.levels)} models x {len(d.policies)} policies")
    print(f"  gather {t1 - t0:.2f} s, render html+md+json {wall - (t1 - t0):.2f} s "
          f"({sizes['html'] / 1e6:.1f} MB html)")
    print(f"  total {wall:.2f} s wall, {cpu:.2f} s CPU  (floor: under 10 s)")
    print(f"  reference, listing the same models (models --json): {ref_wall:.3f} s wall, "
          f"{ref_cpu:.3f} s CPU; ratio {wall / ref_wall:.0f}x")


if __name__ == "__main__":
    main()
