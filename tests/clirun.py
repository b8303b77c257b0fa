"""The CLI run in-process for the command tests: one runner, and never a Python traceback in
what a command prints, whatever it was given."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from tripwire.cli import app

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    r = runner.invoke(app, list(args), catch_exceptions=False, env=env)
    assert "Traceback" not in r.output
    return r
