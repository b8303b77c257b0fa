"""A SQLite register read through the standard library's driver, for a command whose whole run
is one read of the record (`tripwire obligations`): importing SQLAlchemy and building an engine
costs more than that query.

Only the plain case is taken: a SQLite file that exists and is at the schema this version of
tripwire ships. Anything else (a PostgreSQL URL, a missing file or folder, a file that is not a
register, an older schema to upgrade) gives None, and the caller opens the register with
`open_register`, which upgrades it or says what is wrong exactly as every other command does.
"""

from __future__ import annotations

import os
import sqlite3
from urllib.parse import quote

from tripwire.register.engine import BUSY_TIMEOUT_MS, head_revision, resolve_url

PREFIX = "sqlite:///"


def connect(db: str | None) -> sqlite3.Connection | None:
    """A read-only connection to the SQLite register `db` names (path or URL; default as
    `open_register`), or None where `open_register` must handle it."""
    url = resolve_url(db)
    path = url[len(PREFIX):] if url.startswith(PREFIX) else ""
    # Paths SQLAlchemy would read differently from a file name (query, escapes) are left to it.
    if not path or path == ":memory:" or any(c in path for c in "?#%") or not os.path.isfile(path):
        return None
    try:
        # mode=rw: never create the file; query_only: this connection cannot write.
        conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True,
                               timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        conn.execute("PRAGMA query_only = ON")
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        row = None
    if row is None or row[0] != head_revision():
        conn.close()
        return None
    return conn
