"""The register's engine helpers: the head migration read without Alembic matches Alembic's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tripwire.register import engine as eng


def test_head_revision_is_alembics_head() -> None:
    eng.head_revision.cache_clear()
    assert eng.head_revision() == eng.alembic_head()


def test_head_revision_leaves_two_heads_to_alembic(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0001_a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "0002_b.py").write_text('revision: str = "b"\ndown_revision = "a"\n')
    monkeypatch.setattr(eng, "MIGRATIONS", tmp_path)
    monkeypatch.setattr(eng, "alembic_head", lambda: "asked alembic")
    eng.head_revision.cache_clear()
    try:
        assert eng.head_revision() == "b"
        (versions / "0003_c.py").write_text('revision = "c"\ndown_revision = "a"\n')
        eng.head_revision.cache_clear()
        assert eng.head_revision() == "asked alembic"
    finally:
        eng.head_revision.cache_clear()
