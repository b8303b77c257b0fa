"""The standard-library SQLite reader: it takes only a current SQLite register and never
writes; everything else is left to `open_register`, so `tripwire obligations` says what is
wrong with a register exactly as every other command does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from clirun import run

from tripwire.register import direct, open_register


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "r.db")
    open_register(path, create=True).close()
    return path


def test_a_current_register_is_read_only(db: str) -> None:
    conn = direct.connect(db)
    assert conn is not None
    try:
        assert conn.execute("SELECT count(*) FROM record_entries").fetchone() == (0,)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("INSERT INTO model_aliases VALUES ('a', 'b', '2026-01-01')")
    finally:
        conn.close()
    assert direct.connect("sqlite:///" + db) is not None


def test_an_older_schema_is_left_to_open_register(db: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(direct, "head_revision", lambda: "9999")
    assert direct.connect(db) is None


def _cases(tmp: Path) -> dict[str, str]:
    (tmp / "notes.txt").write_text("not a database\n")
    sqlite3.connect(tmp / "empty.db").execute("CREATE TABLE t (a)").connection.close()
    (tmp / "folder").mkdir()
    return {"missing": str(tmp / "missing.db"), "text": str(tmp / "notes.txt"),
            "empty": str(tmp / "empty.db"), "folder": str(tmp / "folder"),
            "no-folder": str(tmp / "nowhere" / "r.db"), "memory": "sqlite://",
            "unsupported": "mysql://u@h/db"}


@pytest.mark.parametrize("case", ["missing", "text", "empty", "folder", "no-folder", "memory",
                                  "unsupported"])
def test_anything_else_gets_the_register_s_own_error(tmp_path: Path, case: str) -> None:
    db = _cases(tmp_path)[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert direct.connect(db) is None
    got = run("obligations", "--db", db)
    same = run("models", "--db", db)
    assert got.exit_code == same.exit_code == 2
    [line] = [x for x in got.output.splitlines() if x.startswith("error:")]
    assert line in same.output.splitlines()
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing created


def test_a_path_sqlalchemy_reads_differently_is_left_to_it(tmp_path: Path) -> None:
    path = str(tmp_path / "a%20b.db")
    open_register(path, create=True).close()
    assert direct.connect(path) is None
    r = run("obligations", "--db", path, "--json")
    assert r.exit_code == 0, r.output
