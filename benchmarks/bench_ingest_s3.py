"""Ingest of evaluation logs from S3: a first pass over a prefix, then a second pass over the
unchanged prefix, against a real S3 HTTP API on loopback (moto's server mode).

    .venv/bin/python benchmarks/bench_ingest_s3.py [--lmeval 800] [--inspect 200]

The objects are real logs made as bench_ingest_logs makes them (the public lm-eval results and
Inspect logs under ../shared/data, each copy with its model name varied). Printed:
  first    `ingest.collect` of s3://bucket/logs/ (one listing) and `Register.ingest_paths`
           into a fresh SQLite register: every object fetched (an .eval's header by ranged
           reads) and stored
  second   the same over the unchanged prefix: one listing, every object known by its ETag
           and size, nothing downloaded; as a share of the first (ceiling 5 %)
  whole    the second pass as the command, `tripwire ingest s3://...` in a subprocess
Needs s3fs and moto[server] (the test extra). The loopback server has no network latency; a
real store's round trips make the first pass slower and the second pass's share smaller.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest_logs import make_inspect, make_lmeval  # noqa: E402

from tripwire import ingest  # noqa: E402
from tripwire.register import open_register  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lmeval", type=int, default=800)
    ap.add_argument("--inspect", type=int, default=200)
    args = ap.parse_args()
    import boto3

    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if exe is None:
        raise SystemExit("moto_server not found: pip install 'moto[server]'")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(env)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            (tmp / "lm").mkdir()
            (tmp / "inspect").mkdir()
            files = make_lmeval(tmp / "lm", args.lmeval) + make_inspect(tmp / "inspect",
                                                                       args.inspect)
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket="bench")
            keys = [f"logs/{f.parent.name}/{f.name}" if f.parent.name != "inspect"
                    else f"logs/inspect/{f.name}" for f in files]
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda kf: s3.put_object(Bucket="bench", Key=kf[0],
                                                       Body=kf[1].read_bytes()),
                              zip(keys, files, strict=True)))
            size = sum(f.stat().st_size for f in files)
            print(f"s3://bench/logs/: {len(files):,} objects ({args.lmeval} lm-eval results, "
                  f"{args.inspect} Inspect logs), {size / 1e6:.1f} MB, on {endpoint}")
            db = tmp / "t.db"
            reg = open_register(str(db), create=True)
            t0 = time.perf_counter()
            objects = ingest.collect(["s3://bench/logs/"])
            t_list = time.perf_counter() - t0
            first = [o for _, o in reg.ingest_paths(objects)]
            t_first = time.perf_counter() - t0
            assert all(getattr(o, "status", None) == "stored" for o in first), first[:3]
            rows = sum(o.results for o in first)
            t0 = time.perf_counter()
            listed = ingest.collect(["s3://bench/logs/"])
            t_list2 = time.perf_counter() - t0
            again = [o for _, o in reg.ingest_paths(listed)]
            t_second = time.perf_counter() - t0
            assert all(o.status == "unchanged" for o in again)
            reg.close()
            t0 = time.perf_counter()
            cmd = subprocess.run(
                [str(Path(sys.executable).parent / "tripwire"), "ingest", "--db", str(db),
                 "--json", "s3://bench/logs/"], capture_output=True, text=True,
                env={**os.environ, **env})
            t_cmd = time.perf_counter() - t0
            assert cmd.returncode == 0, cmd.stderr[-2000:]
        print(f"  first pass   {t_first:8.2f} s  {len(files) / t_first:8,.0f} objects/s  "
              f"({rows:,} results; listing {t_list:.2f} s)")
        print(f"  second pass  {t_second:8.2f} s  {len(files) / t_second:8,.0f} objects/s  "
              f"{100 * t_second / t_first:5.1f} % of first (ceiling 5 %; listing {t_list2:.2f} s)")
        print(f"  second pass as the command (subprocess, start-up included) {t_cmd:.2f} s  "
              f"{100 * t_cmd / t_first:5.1f} % of first")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
