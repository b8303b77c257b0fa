"""`tripwire serve`: loopback by default, the token from TRIPWIRE_TOKEN, arguments checked
before anything listens."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

import tripwire.web
from tripwire.cli import app
from tripwire.demo import run_demo


@pytest.fixture
def db(tmp_path: Any) -> str:
    return run_demo(tmp_path, report=False).register.url


def test_serve_binds_loopback_and_reads_the_token(db: str, monkeypatch: pytest.MonkeyPatch):
    seen: dict[str, Any] = {}
    monkeypatch.setattr(tripwire.web, "serve", lambda **kw: seen.update(kw))
    monkeypatch.setenv("TRIPWIRE_TOKEN", "a-long-enough-token-0123")
    r = CliRunner().invoke(app, ["serve", "--db", db, "--threshold", "mmlu=0.8"])
    assert r.exit_code == 0, r.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8000
    assert seen["token"] == "a-long-enough-token-0123" and seen["private"] is False
    assert seen["thresholds"] == {"mmlu": [0.8]} and seen["max_body"] == 50 * 1024 * 1024
    assert "writes need TRIPWIRE_TOKEN" in r.stderr


def test_serve_warns_and_refuses(db: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(tripwire.web, "serve", lambda **kw: None)
    monkeypatch.delenv("TRIPWIRE_TOKEN", raising=False)
    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--db", db, "--host", "0.0.0.0"])
    assert r.exit_code == 0 and "anyone who can reach it can read" in r.stderr
    assert "read-only" in r.stderr
    for args, message in ((["--port", "70000"], "not a port number"),
                          (["--max-upload-mb", "0"], "must be positive"),
                          (["--private"], "reads can only be closed with a token")):
        r = runner.invoke(app, ["serve", "--db", db, *args])
        assert r.exit_code == 2 and message in r.stderr, (args, r.output)
