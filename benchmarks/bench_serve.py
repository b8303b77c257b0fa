"""How soon `tripwire serve` answers, against a bare FastAPI app on uvicorn in the same run.

    .venv/bin/python benchmarks/bench_serve.py [--runs 3]

Each run starts the real command (`tripwire serve --port P --db R`) over a fresh register holding
the bundled public data (58 models, 212 scores, 100 loss points) and polls, from the moment the
process is launched:

- `/` first answer: the overview page, or the page saying it is still being computed;
- `/` complete: the overview with every model's level under every policy;
- `/forecasts` complete: every benchmark's forecast, the scaling law, trends and backtests;
- `/api/models` (which waits for the overview).

The reference is the least any FastAPI dashboard pays: `python -c` importing FastAPI and uvicorn
and serving one route, timed the same way. The median of the runs is printed with its ratio to
the reference, and beside the first answers the CPU seconds the server process had used by then
(from /proc; on a loaded machine wall time stretches, CPU time much less). The floor: the first
answer of `/` within 2 s of the start.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

FLOOR_S = 2.0
BIN = Path(sys.executable).parent
BARE = """
import sys
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
app = FastAPI()
@app.get("/")
def index() -> HTMLResponse:
    return HTMLResponse("<h1>ok</h1>")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> int | None:
    """The status of GET `url`, or None while nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=300) as r:
            r.read()
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (ConnectionError, urllib.error.URLError):
        return None


def until(url: str, t0: float, done: set[int]) -> float:
    """Seconds from t0 until GET `url` answers with a status in `done`."""
    while True:
        status = get(url)
        if status in done:
            return time.perf_counter() - t0
        if status is not None and status not in (503,):
            raise SystemExit(f"{url} answered {status}")
        time.sleep(0.02)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, all its threads (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_serve(db: str) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "tripwire"), "serve", "--port", str(port), "--db", db],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = {"/ first answer": until(base + "/", t0, {200, 503})}
        out["cpu"] = cpu_seconds(proc.pid)
        out["/ complete"] = until(base + "/", t0, {200})
        out["/forecasts complete"] = until(base + "/forecasts", t0, {200})
        out["/api/models"] = until(base + "/api/models", t0, {200})
        return out
    finally:
        proc.terminate()
        proc.wait()


def run_bare() -> tuple[float, float]:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", BARE, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return until(f"http://127.0.0.1:{port}/", t0, {200}), cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs (the median is printed)")
    args = ap.parse_args()
    examples = resources.files("tripwire") / "examples"
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "tripwire.db")
        subprocess.run([str(BIN / "tripwire"), "init", "--db", db], check=True,
                       capture_output=True)
        subprocess.run([str(BIN / "tripwire"), "ingest", *(str(examples / f) for f in
                        ("models.csv", "evals.csv", "loss.csv")), "--db", db],
                       check=True, capture_output=True)
        bare: list[tuple[float, float]] = []
        serve: dict[str, list[float]] = {}
        for _ in range(args.runs):
            bare.append(run_bare())
            for k, v in run_serve(db).items():
                serve.setdefault(k, []).append(v)
    ref = statistics.median(b[0] for b in bare)
    cpu = serve.pop("cpu")
    print(f"time from launch to answer, median of {args.runs} runs ({os.cpu_count()} cores)")
    label = "bare FastAPI + uvicorn, GET /"
    width = max(len(label), *(len("tripwire serve " + k) for k in serve))
    print(f"{label:<{width}}  {ref:6.2f} s   1.0x  "
          f"(cpu {statistics.median(b[1] for b in bare):.2f} s)")
    for k, v in serve.items():
        m = statistics.median(v)
        extra = (f"  (cpu {statistics.median(cpu):.2f} s)  floor {FLOOR_S:g} s: "
                 f"{'ok' if m <= FLOOR_S else 'ABOVE'}" if k == "/ first answer" else "")
        print(f"{'tripwire serve ' + k:<{width}}  {m:6.2f} s  {m / ref:4.1f}x{extra}")


if __name__ == "__main__":
    main()
