"""Evaluation-log ingest throughput: lm-eval results files and Inspect logs, against only
parsing the same files, in the same run.

    .venv/bin/python benchmarks/bench_ingest_logs.py [--lmeval 1000] [--inspect 200]

The files are real: the public lm-eval results (v0.4 Mamba-2 and Llama-3, v0.3 Pythia/OPT/BLOOM)
under ../shared/data, each copy with its model name varied, and the public Inspect logs rewritten
by Inspect's own writer with the model name varied. Printed, per format:
  parse    json.loads / inspect_ai's read_eval_log (header only) over the bytes
  reader   tripwire's reader (read_lmeval_results / read_inspect) over the same bytes
  ratio    reader throughput / parse throughput (floor 0.5)
and for the whole set, into a fresh SQLite register:
  ingest     Register.ingest_path (what `tripwire ingest` calls), one transaction per file
  re-ingest  the same files again (all unchanged), as the command does it (the file's sha256
             is looked up before any parsing), and for comparison parsing first; each as a
             share of the first ingest (ceiling 5 %).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tripwire import ingest
from tripwire.ingest.inspect_log import read_inspect
from tripwire.ingest.lmeval import read_lmeval_results
from tripwire.register import open_register

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def lmeval_sources() -> list[Path]:
    files = sorted((DATA / "lm_eval_harness").rglob("*results_*.json"))
    files += sorted((DATA / "pythia").rglob("*.json"))
    if not files:
        raise SystemExit(f"no lm-eval results files under {DATA.resolve()}")
    return files


def make_lmeval(out: Path, n: int) -> list[Path]:
    """n results files, each a real one with the model renamed `<name>-copy<i>`."""
    sources = [(p, json.loads(p.read_bytes())) for p in lmeval_sources()]
    made = []
    for i in range(n):
        src, doc = sources[i % len(sources)]
        doc = json.loads(json.dumps(doc))
        cfg = doc["config"]
        m = re.search(r"pretrained=([^,]+)", cfg["model_args"])
        new = f"{m.group(1)}-copy{i:04d}"
        cfg["model_args"] = cfg["model_args"].replace(m.group(0), f"pretrained={new}")
        if "model_name" in doc:
            doc["model_name"] = new
        path = out / f"{i:04d}" / "results_2025-01-01T00-00-00.000000.json"
        path.parent.mkdir()
        path.write_text(json.dumps(doc, indent=2))
        made.append(path)
    return made


def make_inspect(out: Path, n: int) -> list[Path]:
    """n Inspect logs written by Inspect from the public success logs, model renamed."""
    from inspect_ai.log import read_eval_log, write_eval_log

    names = ["log_formats.eval", "log_formats.json", "mmlu-summary-choices.eval"]
    templates = [(name, read_eval_log(str(DATA / "inspect_ai" / name))) for name in names]
    made = []
    for i in range(n):
        name, log = templates[i % len(templates)]
        copy = log.model_copy(deep=True)
        copy.eval.model = f"{log.eval.model}-copy{i:04d}"
        path = out / f"{i:03d}_{name}"
        write_eval_log(copy, str(path), format="eval" if name.endswith(".eval") else "json")
        made.append(path)
    return made


def timed(files: list[Path], fn: Callable[[Path, bytes], object], repeat: int = 3) -> float:
    """Best of `repeat` passes of fn over every file's bytes (bytes read inside the pass)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for f in files:
            fn(f, f.read_bytes())
        best = min(best, time.perf_counter() - t0)
    return best


def inspect_parse(path: Path, data: bytes) -> object:
    from inspect_ai.log import read_eval_log

    fmt = "eval" if path.suffix == ".eval" else "json"
    return read_eval_log(io.BytesIO(data), header_only=True, format=fmt)


def line(label: str, n: int, secs: float) -> str:
    return f"  {label:<28} {secs:8.3f} s  {n / secs:10,.0f} files/s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lmeval", type=int, default=1000)
    ap.add_argument("--inspect", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "lm").mkdir()
        (tmp / "inspect").mkdir()
        lm = make_lmeval(tmp / "lm", args.lmeval)
        insp = make_inspect(tmp / "inspect", args.inspect)
        for f in lm + insp:  # warm the page cache for every pass alike
            f.read_bytes()

        print(
            f"lm-eval results files: {len(lm):,} ({sum(f.stat().st_size for f in lm) / 1e6:.1f} MB)"
        )
        parse = timed(lm, lambda p, b: json.loads(b))
        reader = timed(lm, lambda p, b: read_lmeval_results(p, b))
        print(line("parse (json.loads)", len(lm), parse))
        print(line("reader", len(lm), reader))
        print(f"  ratio reader/parse (throughput): {parse / reader:.2f}  (floor 0.5)")

        print(
            f"Inspect logs: {len(insp):,} ({sum(f.suffix == '.eval' for f in insp)} .eval, "
            f"{sum(f.suffix == '.json' for f in insp)} .json)"
        )
        iparse = timed(insp, inspect_parse)
        ireader = timed(insp, lambda p, b: read_inspect(p, b))
        print(line("parse (read_eval_log)", len(insp), iparse))
        print(line("reader", len(insp), ireader))
        print(f"  ratio reader/parse (throughput): {iparse / ireader:.2f}  (floor 0.5)")

        files = lm + insp
        reg = open_register(str(tmp / "tripwire.db"), create=True)
        t0 = time.perf_counter()
        first = [o for _, o in reg.ingest_paths(files)]
        t_first = time.perf_counter() - t0
        assert all(o.status == "stored" for o in first), {o.status for o in first}
        rows = sum(o.results for o in first)
        t0 = time.perf_counter()
        again = [o for _, o in reg.ingest_paths(files)]
        t_again = time.perf_counter() - t0
        assert all(o.status == "unchanged" for o in again)
        t0 = time.perf_counter()
        reread = [reg.ingest(ingest.read_file(f)) for f in files]
        t_reread = time.perf_counter() - t0
        assert all(o.status == "unchanged" for o in reread)
        reg.close()
        t_parse_all = parse + iparse
        print(f"Full ingest of all {len(files):,} files into SQLite ({rows:,} results):")
        print(line("ingest", len(files), t_first))
        print(f"  ratio ingest/parse (throughput): {t_parse_all / t_first:.2f}  (floor 0.5)")
        print(
            line("re-ingest (the command: sha256 first)", len(files), t_again)
            + f"  {100 * t_again / t_first:5.1f} % of first (ceiling 5 %)"
        )
        print(
            line("re-ingest, parsing before the sha check", len(files), t_reread)
            + f"  {100 * t_reread / t_first:5.1f} % of first (for comparison)"
        )


if __name__ == "__main__":
    main()
