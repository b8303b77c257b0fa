"""Write docs/cli.md: the `--help` text of every tripwire command, so the reference cannot
drift from the code (tests/test_cli_reference.py fails when it is stale).

    .venv/bin/python scripts/cli_reference.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from tripwire.cli import app

OUT = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _commands(group, prefix=()):  # noqa: ANN001, ANN202
    for name in sorted(group.commands):
        cmd = group.commands[name]
        yield (*prefix, name), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))


def reference() -> str:
    """The whole reference, as Markdown."""
    runner = CliRunner()
    root = typer.main.get_command(app)
    parts = ["# tripwire command reference", "",
             "Generated from `--help` by `scripts/cli_reference.py`; do not edit by hand.", "",
             "Exit codes: 0 ok; 1 blocked, gate or check failed, record tampered; 2 usage or "
             "input error; 3 insufficient or stale evidence.", ""]
    for path, _cmd in [((), root), *_commands(root)]:
        r = runner.invoke(app, [*path, "--help"], prog_name="tripwire", terminal_width=100,
                          env={"COLUMNS": "100"})
        title = " ".join(("tripwire", *path))
        parts += [f"## {title}", "", "```text", r.stdout.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    OUT.write_text(reference(), encoding="utf-8")
    sys.stderr.write(f"wrote {OUT}\n")
