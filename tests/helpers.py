"""Small helpers shared by tests (importable as `helpers`)."""

from __future__ import annotations

from pathlib import Path


def write(path: Path, text: str) -> Path:
    """Write a small test file and return its path."""
    path.write_text(text, encoding="utf-8")
    return path
