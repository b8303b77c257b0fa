"""The server as a user starts it: `tripwire serve` in its own process, over real HTTP.

It listens on 127.0.0.1 unless told otherwise; writes without the token, with a wrong one
(shorter, longer, another scheme) get 401 and store nothing; bodies over the limit get 413,
whether declared or streamed; no CORS header is sent; a model named `<script>` is shown
escaped. Report output paths stay inside the folder given. (The same page in a real browser,
with no dialog firing, is tests/browser/test_browser.py.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tripwire import ingest
from tripwire.cli import app
from tripwire.register import open_register
from tripwire.web import security

TOKEN = "reliability-token-0123456789abcdef"
HOSTILE = "<script>alert(1)</script>"
TRIPWIRE = Path(sys.executable).with_name("tripwire")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> list[str]:
    """Local addresses of listening TCP sockets on `port` (Linux /proc/net/tcp, tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if int(p, 16) == port and state == "0A":  # LISTEN
                if len(addr) == 8:
                    found.append(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
                else:
                    found.append("ipv6:" + addr)
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, str]]:
    folder = tmp_path_factory.mktemp("served")
    db = str(folder / "r.db")
    reg = open_register(db, create=True)
    models = folder / "models.csv"
    models.write_text(f'name,organization,release_date,compute\n"{HOSTILE}",<b>Evil</b> & Co,'
                      "2024-01-01,3e24\nplain,,2023-01-01,1e23\n")
    reg.ingest(ingest.read_file(models))
    reg.close()
    port = _free_port()
    args = [str(TRIPWIRE)] if TRIPWIRE.exists() else \
        [sys.executable, "-c", "from tripwire.cli import main; main()"]
    proc = subprocess.Popen([*args, "serve", "--db", db, "--port", str(port),
                             "--max-upload-mb", "0.01"],
                            env=dict(os.environ, TRIPWIRE_TOKEN=TOKEN),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"tripwire serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/models", timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("tripwire serve did not answer within 120 s")
    yield f"http://127.0.0.1:{port}", port, db
    proc.terminate()
    proc.wait(30)


def test_binds_loopback_by_default(served: tuple[str, int, str]) -> None:
    _, port, _ = served
    addresses = _listening(port)
    if not addresses:
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    assert addresses == ["127.0.0.1"], addresses


def _counts(db: str) -> dict[str, int]:
    reg = open_register(db)
    try:
        return reg.counts()
    finally:
        reg.close()


@pytest.mark.parametrize("auth", [
    None, "Bearer", "Bearer wrong", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x",
    f"Basic {TOKEN}", TOKEN, f"bearer  {TOKEN.upper()}"])
def test_writes_without_the_right_token_get_401(served: tuple[str, int, str],
                                                auth: str | None) -> None:
    base, _, db = served
    before = _counts(db)
    headers = {"Authorization": auth} if auth is not None else {}
    attest = httpx.post(f"{base}/api/attest", headers=headers, timeout=30, json={
        "model": "plain", "safeguard": "x", "by": "t", "evidence": "https://example.org/a"})
    upload = httpx.post(f"{base}/api/ingest?filename=e.csv", headers=headers, timeout=30,
                        content=b"model,benchmark,metric,value\nplain,mmlu,acc,0.5\n")
    assert attest.status_code == 401 and upload.status_code == 401
    assert "www-authenticate" in attest.headers
    assert _counts(db) == before


def test_the_right_token_writes(served: tuple[str, int, str]) -> None:
    base, _, db = served
    r = httpx.post(f"{base}/api/ingest?filename=e.csv", timeout=60,
                   headers={"Authorization": f"Bearer {TOKEN}"},
                   content=b"model,benchmark,metric,value\nplain,mmlu,acc,0.5\n")
    assert r.status_code == 200 and r.json()["status"] in ("stored", "unchanged")


def test_bodies_over_the_limit_get_413(served: tuple[str, int, str]) -> None:
    base, _, db = served
    before = _counts(db)
    body = b"model,benchmark,metric,value\n" + b"plain,mmlu,acc,0.5\n" * 1000  # ~19 KB
    auth = {"Authorization": f"Bearer {TOKEN}"}
    declared = httpx.post(f"{base}/api/ingest?filename=big.csv", headers=auth, content=body,
                          timeout=30)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 1024):
            yield body[i:i + 1024]

    streamed = httpx.post(f"{base}/api/ingest?filename=big.csv", headers=auth,
                          content=chunks(), timeout=30)
    assert declared.status_code == 413 and streamed.status_code == 413
    assert _counts(db) == before


def test_no_cors_by_default(served: tuple[str, int, str]) -> None:
    base, _, _ = served
    origin = {"Origin": "https://evil.example"}
    pre = httpx.options(f"{base}/api/attest", timeout=30, headers={
        **origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    get = httpx.get(f"{base}/api/models", headers=origin, timeout=30)
    for r in (pre, get):
        assert not any(h.lower().startswith("access-control-") for h in r.headers), r.headers


def _page(url: str) -> httpx.Response:
    """The page as a browser ends up showing it: a view still computing answers 503 with a
    page that reloads itself (its name escaped too), so ask again until it is ready."""
    deadline = time.monotonic() + 120
    while True:
        r = httpx.get(url, timeout=120)
        if r.status_code != 503 or time.monotonic() > deadline:
            return r
        assert HOSTILE not in r.text and "<b>Evil</b>" not in r.text, url
        time.sleep(0.5)


def test_names_from_the_register_are_escaped(served: tuple[str, int, str]) -> None:
    base, _, _ = served
    for path in ("/", "/models", "/models/" + urllib.parse.quote(HOSTILE, safe="")):
        r = _page(base + path)
        assert r.status_code == 200, path
        assert HOSTILE not in r.text and "<b>Evil</b>" not in r.text, path
    page = httpx.get(base + "/models", timeout=120).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "script-src 'self'" in httpx.get(base + "/", timeout=60).headers[
        "content-security-policy"]


def test_token_comparison_hashes_both_sides_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Constant time in content and length: both sides are 32-byte digests when compared."""
    seen: list[tuple[int, int]] = []
    real = security.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    for given in ("", "x", TOKEN, TOKEN * 40):
        security.token_matches(given, TOKEN)
    assert seen == [(32, 32)] * 4


@pytest.mark.parametrize("name", ["../../escaped", "a/b", "..", "/etc/passwd", HOSTILE])
def test_report_paths_stay_in_the_folder_given(tmp_path: Path, name: str) -> None:
    db = str(tmp_path / "r.db")
    reg = open_register(db, create=True)
    (tmp_path / "m.csv").write_text('name,compute\n"' + name.replace('"', '""') + '",1e23\n')
    reg.ingest(ingest.read_file(tmp_path / "m.csv"))
    reg.close()
    out = tmp_path / "reports" / "inner"
    out.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    r = CliRunner().invoke(app, ["report", name, "--db", db, "--format", "md", "-o", str(out),
                                 "--policy", "ca-sb53", "--n-boot", "10"])
    assert r.exit_code == 0, r.output
    written = Path(r.stdout.strip().splitlines()[-1]).resolve()
    assert written.parent == out.resolve() and written.is_file()
    new = {p.resolve() for p in set(tmp_path.rglob("*")) - before
           if p.is_file() and not p.name.startswith("r.db")}  # the register's WAL files
    assert new == {written}, new
