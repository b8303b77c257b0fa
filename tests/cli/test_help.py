"""Every command explains itself: help text exists and `--help` works for each."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from tripwire.cli import app


def _commands(group, prefix=()):  # noqa: ANN001, ANN202
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))


def test_every_command_has_help() -> None:
    root = typer.main.get_command(app)
    found = list(_commands(root))
    assert len(found) >= 6
    runner = CliRunner()
    for path, cmd in found:
        assert (cmd.help or "").strip(), f"`tripwire {' '.join(path)}` has no help text"
        r = runner.invoke(app, [*path, "--help"])
        assert r.exit_code == 0, (path, r.output)
