"""Ingest of logs naming models the register lacks, into a register that already holds many.

    .venv/bin/python benchmarks/bench_ingest_new_models.py [--files 1000] [--registered 3000]

Each of the public lm-eval results files (copies with their model name varied, as in
bench_ingest_logs) names a model the register does not hold, so each creates it bare and warns
with the closest registered names. Timed: the ingest into a register holding models with
figures of their own, against the same ingest into an empty register, in the same run; the
ratio says what the registered models cost (the closest-name search, mainly). Two registers:
Epoch AI's notable models export (../shared/data, real names) and `--registered` names drawn
like Hugging Face ids under a few organisations (the hard case: every name shares its letters
and prefix with the logs' names). Medians of 3.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_ingest_logs import DATA, make_lmeval  # noqa: E402

from tripwire.register import open_register  # noqa: E402


def models_csv(path: Path, n: int) -> Path:
    rng = random.Random(0)
    orgs = ["meta-llama", "EleutherAI", "mistralai", "Qwen", "google", "allenai", "tiiuae"]
    lines = ["name,organization,compute"]
    for i in range(n):
        org = orgs[i % len(orgs)]
        size = rng.choice(["70m", "410m", "1b", "1.4b", "7b", "13b", "70b"])
        lines.append(f"{org}/model-{i:05d}-{size},{org},{10 ** rng.uniform(20, 26):.3g}")
    path.write_text("\n".join(lines) + "\n")
    return path


def ingest(folder: Path, files: list[Path], registered: Path | None, k: int) -> float:
    reg = open_register(str(folder / f"r{k}.db"), create=True)
    if registered is not None:
        reg.ingest_path(registered)
    t = time.perf_counter()
    out = [o for _, o in reg.ingest_paths(files)]
    took = time.perf_counter() - t
    assert all(getattr(o, "status", None) == "stored" for o in out)
    reg.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--registered", type=int, default=3000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        files = make_lmeval(tmp, args.files)
        epoch = DATA / "epoch_ai" / "notable_ai_models_2025-02-24.csv"
        registers = {f"{args.registered:,} Hugging Face-like names":
                     models_csv(tmp / "models.csv", args.registered)}
        if epoch.exists():
            registers["Epoch AI's notable models"] = epoch
        print(f"{args.files:,} lm-eval files, each naming a new model")
        k = 0
        for label, csv in registers.items():
            empty, full = [], []
            for _ in range(3):  # interleaved, so load from elsewhere hits both alike
                empty.append(ingest(tmp, files, None, k))
                full.append(ingest(tmp, files, csv, k + 1))
                k += 2
            e, f = statistics.median(empty), statistics.median(full)
            print(f"  into an empty register        {e:7.2f} s")
            print(f"  into one holding {label}: {f:7.2f} s   ratio {f / e:.2f}")


if __name__ == "__main__":
    main()
