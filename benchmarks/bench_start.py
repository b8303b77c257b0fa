"""Start time of everyday commands, against a bare typer + rich program in the same run.

    .venv/bin/python benchmarks/bench_start.py [--runs 5]

Each command runs as a fresh process (the installed `tripwire` script), as a user or a CI step
runs it; the reference is `python -c "import typer, rich.console"`, the least any typer/rich
command line pays. Runs are interleaved (one of each command per round), so load on a shared
machine falls on all of them alike; the median of the rounds is printed with its ratio to the
reference. The register the commands read is a temporary one holding the bundled public models
and evaluation results.

The floor: `tripwire --help` within 3x of the reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

FLOOR = 3.0
BIN = Path(sys.executable).parent


def tripwire(*args: str) -> list[str]:
    return [str(BIN / "tripwire"), *args]


def commands(db: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Label -> (argv, extra environment)."""
    gate = ["gate", "Llama-3.1-405B", "--no-record", "--db", db]
    complete = {"_TRIPWIRE_COMPLETE": "complete_bash", "COMP_WORDS": "tripwire po",
                "COMP_CWORD": "1"}
    return {
        'python -c "import typer, rich.console"':
            ([sys.executable, "-c", "import typer, rich.console"], {}),
        "tripwire --help": (tripwire("--help"), {}),
        "tripwire gate --help": (tripwire("gate", "--help"), {}),
        "shell completion (tripwire po<TAB>)": (tripwire(), complete),
        "tripwire policy list": (tripwire("policy", "list"), {}),
        "tripwire models": (tripwire("models", "--db", db), {}),
        "tripwire gate (compute line)": (tripwire(*gate, "--action", "train",
                                                  "--policy", "eu-ai-act-gpai"), {}),
        "tripwire gate (scores, anomaly check)": (
            tripwire(*gate, "--action", "deploy", "--policy", "anthropic-rsp",
                     "--map", "cbrn3_uplift=mmlu"), {}),
    }


def run(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="rounds (the median is printed)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "tripwire.db")
        examples = resources.files("tripwire") / "examples"
        subprocess.run(tripwire("init", "--db", db), check=True, capture_output=True)
        subprocess.run(tripwire("ingest", str(examples / "models.csv"),
                                str(examples / "evals.csv"), "--db", db),
                       check=True, capture_output=True)
        cmds = commands(db)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for label, (argv, env) in cmds.items():  # warm the file cache once
            run(argv, env)
        for _ in range(args.runs):
            for label, (argv, env) in cmds.items():
                times[label].append(run(argv, env))
    med = {k: statistics.median(v) for k, v in times.items()}
    ref_label = next(iter(cmds))
    ref = med[ref_label]
    width = max(map(len, med))
    print(f"start time, median of {args.runs} interleaved runs ({os.cpu_count()} cores)")
    for label, m in med.items():
        ratio = m / ref
        extra = ""
        if label == "tripwire --help":
            extra = f"  floor {FLOOR:g}x: {'ok' if ratio <= FLOOR else 'ABOVE'}"
        print(f"{label:<{width}}  {m:6.3f} s  {ratio:5.1f}x{extra}")


if __name__ == "__main__":
    main()
