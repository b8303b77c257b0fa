"""scripts/postgres.sh: a private throwaway PostgreSQL server beside a command, gone after it."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "postgres.sh"

pytestmark = pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/initdb"),
    reason="no PostgreSQL binaries (Debian's postgresql package) to start a server from",
)

PROBE = """
import os, sys, sqlalchemy as sa
url = os.environ["TRIPWIRE_TEST_PG"]
with sa.create_engine(url).connect() as c:
    print(url)
    print(c.exec_driver_sql("show data_directory").scalar())
sys.exit(int(sys.argv[1]))
"""


def run(code: int) -> tuple[subprocess.CompletedProcess[str], str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TRIPWIRE_TEST_PG"}
    p = subprocess.run(
        ["bash", str(SCRIPT), sys.executable, "-c", PROBE, str(code)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    url, data = (p.stdout.splitlines() + ["", ""])[:2]
    return p, url, data


def test_server_runs_beside_the_command_and_is_gone_after() -> None:
    p, url, data = run(0)
    assert p.returncode == 0, p.stderr
    assert "throwaway server" in p.stderr and "stopped and removed at exit" in p.stderr
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert port != 5432 and ":tripwire@" not in url  # a random port and a random password
    assert data.startswith("/") and not Path(data).exists()  # its folder removed
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # and the server stopped


def test_command_status_is_passed_through() -> None:
    p, _url, data = run(3)
    assert p.returncode == 3, p.stderr
    assert not Path(data).exists()
