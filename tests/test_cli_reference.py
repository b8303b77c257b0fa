"""docs/cli.md is the `--help` of every command as the code has it now."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location("cli_reference",
                                                  REPO / "scripts" / "cli_reference.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    current = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == mod.reference(), (
        "docs/cli.md is stale: run .venv/bin/python scripts/cli_reference.py")
