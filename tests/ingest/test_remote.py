"""`tripwire ingest s3://bucket/prefix/` against a real S3 HTTP API on loopback: moto's server
mode, started here as a subprocess (as s3fs's own tests do), with IAM authentication enforced
so that credentials and an access denial are real."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tripwire.cli import app
from tripwire.register import open_register

pytest.importorskip("s3fs", reason="s3fs not installed (tripwire[s3])")
pytest.importorskip("moto", reason="moto not installed (the test extra)")
boto3 = pytest.importorskip("boto3")

runner = CliRunner()
DENY_PREFIX = "denied/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class S3:
    endpoint: str
    admin: dict[str, str]
    reader: dict[str, str]
    """Credentials that may list and read everything except keys under `denied/`."""

    def client(self, creds: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        c = creds or self.admin
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=c["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=c["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3]:
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server")
    if exe is None:
        pytest.skip("moto_server not found (pip install 'moto[server]')")
    port = _free_port()
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("moto_server did not start")
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        keys = {}
        for user, policy in {
            "admin": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            "reader": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::*/{DENY_PREFIX}*"},
            ],
        }.items():
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": policy}))
            k = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = {"AWS_ACCESS_KEY_ID": k["AccessKeyId"],
                          "AWS_SECRET_ACCESS_KEY": k["SecretAccessKey"]}
        # From here on every request must carry the credentials of one of these users.
        urllib.request.urlopen(urllib.request.Request(
            endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
            headers={"Content-Type": "text/plain"}), timeout=5)
        yield S3(endpoint, keys["admin"], keys["reader"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_server: S3) -> S3:
    """Only the standard AWS variables: no profile files, no instance metadata."""
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    for k, v in s3_server.reader.items():
        monkeypatch.setenv(k, v)
    return s3_server


_buckets = iter(range(10_000))


def new_bucket(s3: S3, files: dict[str, bytes]) -> str:
    name = f"logs-{os.getpid()}-{next(_buckets)}"
    c = s3.client()
    c.create_bucket(Bucket=name)
    for key, data in files.items():
        c.put_object(Bucket=name, Key=key, Body=data)
    return name


def ingest(db: Path, *args: str):  # type: ignore[no-untyped-def]
    if not db.exists():
        open_register(str(db), create=True).close()
    return runner.invoke(app, ["ingest", "--db", str(db), "--json", *args])


def summary(result) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(result.stdout)["summary"]


def error_lines(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]


@pytest.fixture
def logs(inspect_logs, lmeval_run) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """Real logs: Inspect .eval and .json (the mock-model run), lm-eval results."""
    return {
        "runs/a/tiny.eval": inspect_logs.eval.read_bytes(),
        "runs/a/tiny.json": inspect_logs.json.read_bytes(),
        "runs/b/epochs.eval": inspect_logs.epochs.read_bytes(),
        "runs/c/results.json": lmeval_run.results.read_bytes(),
        "runs/.hidden/skip.json": b"{}",
        "runs/notes.txt": b"not a log",
    }


def test_prefix_ingests_then_unchanged_objects_are_not_downloaded(
    aws_env: S3, logs: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = new_bucket(aws_env, logs)
    db = tmp_path / "t.db"
    first = ingest(db, f"s3://{bucket}/runs/")
    assert first.exit_code == 0, first.stderr
    s = summary(first)
    assert s["files"] == 4 and s["failed"] == 0 and s["results"] > 0
    files = json.loads(first.stdout)["files"]
    assert {f["path"] for f in files} == {f"s3://{bucket}/runs/{k}" for k in (
        "a/tiny.eval", "a/tiny.json", "b/epochs.eval", "c/results.json")}
    reg = open_register(str(db))
    stored = {f.path: f for f in reg.source_files()}
    assert stored[f"s3://{bucket}/runs/a/tiny.eval"].size == len(logs["runs/a/tiny.eval"])

    import tripwire.ingest.remote as remote

    def no_download(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("an unchanged object was downloaded")

    with monkeypatch.context() as m:
        m.setattr(remote, "fetch", no_download)
        again = ingest(db, f"s3://{bucket}/runs/")
    assert again.exit_code == 0, again.stderr
    assert summary(again)["unchanged"] == 4
    assert all(f["reason"] == "same ETag and size as stored"
               for f in json.loads(again.stdout)["files"])

    # A changed object (new ETag) is downloaded and stored as a new version of its URL.
    changed = json.loads(logs["runs/c/results.json"])
    changed["results"][next(iter(changed["results"]))]["acc,none"] = 0.123
    aws_env.client().put_object(Bucket=bucket, Key="runs/c/results.json",
                                Body=json.dumps(changed).encode())
    third = ingest(db, f"s3://{bucket}/runs/")
    assert third.exit_code == 0, third.stderr
    assert summary(third)["stored"] == 1 and summary(third)["unchanged"] == 3


def test_eval_header_only_by_ranged_reads_and_samples_on_request(
    aws_env: S3, inspect_logs, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    data = inspect_logs.eval.read_bytes()
    bucket = new_bucket(aws_env, {"x/tiny.eval": data})
    db, local_db = tmp_path / "t.db", tmp_path / "local.db"
    r = ingest(db, f"s3://{bucket}/x/tiny.eval")
    assert r.exit_code == 0, r.stderr
    assert ingest(local_db, str(inspect_logs.eval)).exit_code == 0

    def rows(path: Path) -> list[tuple]:
        return sorted((e.model, e.benchmark, e.metric, e.value, e.stderr, e.samples)
                      for e in open_register(str(path)).results())

    assert rows(db) == rows(local_db)  # the header alone gives every result
    out = json.loads(r.stdout)["files"][0]
    import hashlib
    assert out["sha256"] != hashlib.sha256(data).hexdigest()  # the samples were not fetched
    assert out["samples"] == 0
    with_samples = ingest(db, "--samples", f"s3://{bucket}/x/tiny.eval")
    assert with_samples.exit_code == 0, with_samples.stderr
    assert summary(with_samples)["samples"] == 10  # five samples under each of two scorers
    reg = open_register(str(db))
    assert len(reg.source_files()) == 1


def test_no_credentials(aws_env: S3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bucket = new_bucket(aws_env, {"a.json": b"{}"})
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    r = ingest(tmp_path / "t.db", f"s3://{bucket}/")
    assert r.exit_code == 2
    (line,) = error_lines(r)
    assert f"s3://{bucket}/" in line and "no credentials" in line and "AWS_ACCESS_KEY_ID" in line
    assert "Traceback" not in r.output


def test_missing_bucket(aws_env: S3, tmp_path: Path) -> None:
    r = ingest(tmp_path / "t.db", "s3://no-such-bucket-here/logs/")
    assert r.exit_code == 2
    (line,) = error_lines(r)
    assert "s3://no-such-bucket-here/logs/" in line and "no such bucket" in line


def test_denied_object_stops_there_keeps_the_rest_and_a_rerun_resumes(
    aws_env: S3, logs: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = new_bucket(aws_env, {
        "runs/a/tiny.eval": logs["runs/a/tiny.eval"],
        f"runs/{DENY_PREFIX}epochs.eval": logs["runs/b/epochs.eval"],
        "runs/z/results.json": logs["runs/c/results.json"],
    })
    db = tmp_path / "t.db"
    r = ingest(db, "--keep-going", f"s3://{bucket}/runs/")
    assert r.exit_code == 2
    (line,) = error_lines(r)
    assert f"s3://{bucket}/runs/{DENY_PREFIX}epochs.eval" in line and "access denied" in line
    assert "s3:GetObject" in line
    assert summary(r)["stored"] == 2
    # With credentials that may read it, the rerun stores only what is missing.
    for k, v in aws_env.admin.items():
        monkeypatch.setenv(k, v)
    again = ingest(db, f"s3://{bucket}/runs/")
    assert again.exit_code == 0, again.stderr
    assert summary(again)["stored"] == 1 and summary(again)["unchanged"] == 2


class DroppingProxy:
    """A loopback TCP proxy to the S3 server that, while `drop` is set, cuts the connection
    (a reset) after the first bytes of any listing response."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.drop = False
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target))
        try:
            while True:
                req = client.recv(65536)
                if not req:
                    return
                upstream.sendall(req)
                listing = b"list-type=2" in req.split(b"\r\n", 1)[0]
                resp = upstream.recv(65536)
                if listing and self.drop:
                    client.sendall(resp[:200])
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    return
                client.sendall(resp)
                upstream.settimeout(0.05)
                try:
                    while more := upstream.recv(65536):
                        client.sendall(more)
                except TimeoutError:
                    pass
                upstream.settimeout(None)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.sock.close()


def test_dropped_connection_mid_listing_keeps_what_is_stored_and_a_rerun_resumes(
    aws_env: S3, logs: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = new_bucket(aws_env, {"runs/a/tiny.eval": logs["runs/a/tiny.eval"]})
    proxy = DroppingProxy(int(aws_env.endpoint.rsplit(":", 1)[1]))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
    db = tmp_path / "t.db"
    try:
        assert ingest(db, f"s3://{bucket}/runs/").exit_code == 0
        aws_env.client().put_object(Bucket=bucket, Key="runs/b/results.json",
                                    Body=logs["runs/c/results.json"])
        proxy.drop = True
        r = ingest(db, f"s3://{bucket}/runs/")
        assert r.exit_code == 2
        (line,) = error_lines(r)
        assert f"s3://{bucket}/runs/" in line and "connection" in line
        assert "run the same command again" in line
        assert len(open_register(str(db)).source_files()) == 1  # what was stored stays
        proxy.drop = False
        again = ingest(db, f"s3://{bucket}/runs/")
        assert again.exit_code == 0, again.stderr
        assert summary(again)["stored"] == 1 and summary(again)["unchanged"] == 1
    finally:
        proxy.close()
