"""Assessment throughput: 10,000 models x 20 results judged under every built-in policy.

Pure evaluation path (no database): evidence in memory -> Determination objects. Every policy's
named evidence is mapped onto the synthetic benchmarks and every unset bar is given a value, so
each threshold is really judged (normal, Jeffreys-binomial and exact results; given and
estimated compute). Prints determinations/s and, as a reference measured in the same run, the
cost of building the same number of Determination objects with full pydantic validation.
The synthetic evidence is built with the garbage collector paused and then frozen (it lives
for the whole run); the judging itself runs with the collector on.

    .venv/bin/python benchmarks/bench_assess.py [--models 10000] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from tripwire.model import Determination, EvalResult, Model
from tripwire.policy import Evidence, builtin_names, evaluate_policy, load_policy
from tripwire.policy.evaluate import _complete

N_BENCH = 20
BENCH = [f"b{b}" for b in range(N_BENCH)]
AT = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def make_models(start: int, stop: int, seed: int = 0) -> list[Evidence]:
    """Models start..stop-1, drawn from a stream seeded by (seed, start)."""
    out = []
    base = EvalResult(model="", benchmark="", value=0.0, source_sha256="0" * 64).model_dump()
    rng = np.random.default_rng([seed, start])
    for i in range(start, stop):
        log_c = rng.uniform(21, 27)
        method = "given" if rng.random() < 0.5 else "6ND"
        m = Model(name=f"m{i}", compute_flop=10 ** log_c, compute_method=method,
                  multiplier=float(rng.choice([1.0, 2.0])),
                  cost_usd=float(10 ** (log_c - 17.5)) if rng.random() < 0.8 else None)
        values = np.clip(rng.normal(0.2 + 0.1 * (log_c - 21), 0.15, N_BENCH), 0, 1)
        results = []
        created = AT - dt.timedelta(days=30)
        for b in range(N_BENCH):
            kind = b % 3
            row = dict(base, id=i * N_BENCH + b, model=m.name, benchmark=BENCH[b],
                       value=float(values[b]), stderr=0.02 if kind == 0 else None,
                       samples=500 if kind == 1 else None, created_at=created, extra={})
            results.append(_complete(EvalResult, row))
        out.append(Evidence(model=m, results=results,
                            attestations=["asl2-security", "technical-documentation"]))
    return out


def load_all():
    policies = []
    for name in builtin_names():
        base = load_policy(name)
        unset = {k: 0.5 for k, v in base.parameters.items() if v is None}
        policies.append((load_policy(name, overrides=unset),
                         {e: f"b{j % N_BENCH}" for j, e in enumerate(base.policy.evidence)}))
    return policies


def _run(args: tuple[int, int]) -> tuple[int, dict[str, int], float, float, float, float]:
    """Judge models start..stop under every built-in:
    (count, states, build s, judge s wall, judge s CPU, total s CPU)."""
    start, stop = args
    t0 = time.perf_counter()
    c0 = time.process_time()
    gc.disable()  # building 200,000 long-lived objects: no point scanning them while they grow
    evs = make_models(start, stop)
    policies = load_all()
    gc.enable()
    gc.freeze()  # the evidence lives for the whole run, as a register's would in a service
    t1 = time.perf_counter()
    c1 = time.process_time()
    counts: dict[str, int] = {}
    n = 0
    for ev in evs:
        for pol, mapping in policies:
            ev.mapping = mapping
            det = evaluate_policy(pol, ev, at=AT)
            for t in det.thresholds:
                counts[t.state] = counts.get(t.state, 0) + 1
            n += 1
    return (n, counts, t1 - t0, time.perf_counter() - t1, time.process_time() - c1,
            time.process_time() - c0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    a = ap.parse_args()

    t0 = time.perf_counter()
    chunks = [(i * a.models // a.workers, (i + 1) * a.models // a.workers)
              for i in range(a.workers)]
    if a.workers == 1:
        parts = [_run(chunks[0])]
    else:
        with ProcessPoolExecutor(a.workers) as pool:
            parts = list(pool.map(_run, chunks))
    elapsed = time.perf_counter() - t0
    n = sum(p[0] for p in parts)
    states: dict[str, int] = {}
    for p in parts:
        for k, v in p[1].items():
            states[k] = states.get(k, 0) + v
    build = max(p[2] for p in parts)
    judge = max(p[3] for p in parts)
    cpu = max(p[4] for p in parts)
    print(f"{a.models} models x {N_BENCH} results x {len(builtin_names())} policies = "
          f"{n} determinations on {a.workers} process(es)")
    print(f"  whole run (start-up, building evidence, judging): {elapsed:.2f} s")
    print(f"  judging: {judge:.2f} s wall (slowest process), {n / judge:,.0f} "
          f"determinations/s; {cpu:.2f} s CPU per process, {n / cpu:,.0f} determinations per "
          f"CPU-second over {a.workers} processes; building evidence: {build:.2f} s")
    total_cpu = max(p[5] for p in parts)
    print(f"  CPU per process (building + judging): {total_cpu:.2f} s; load average at the "
          f"end {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (wall time grows with the "
          "load of other jobs on the machine, CPU time does not)")
    print("  threshold states:", dict(sorted(states.items())))

    # Reference in the same run: one process, the same determinations re-validated by pydantic.
    gc.disable()
    evs = make_models(0, 2000, seed=1)
    policies = load_all()
    gc.enable()
    gc.freeze()
    dets = []
    t1 = time.perf_counter()
    for ev in evs:
        for pol, mapping in policies:
            ev.mapping = mapping
            dets.append(evaluate_policy(pol, ev, at=AT))
    t_eval = time.perf_counter() - t1
    t2 = time.perf_counter()
    for d in dets:
        Determination.model_validate(d.model_dump())
    t_valid = time.perf_counter() - t2
    print(f"reference (1 process, {len(dets)} determinations): evaluation {len(dets) / t_eval:,.0f}"
          f"/s; a pydantic dump + validate of each {len(dets) / t_valid:,.0f}/s; "
          f"ratio evaluation/validation time {t_eval / t_valid:.2f}")
    print("floor (whole run < 10 s on 2 cores):", "PASS" if elapsed < 10 else "FAIL")


if __name__ == "__main__":
    main()
