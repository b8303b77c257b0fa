"""Where the register lives and how to talk to it: URL resolution, engines, migrations.

SQLite is the default (a file, WAL mode, foreign keys on, writers serialised by
BEGIN IMMEDIATE and a long busy timeout); PostgreSQL is reached by URL. SQLAlchemy is imported
by the functions that use it, so resolving a URL or the shipped schema revision does not.
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tripwire.errors import RegisterError

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.config import Config

DEFAULT_PATH = "tripwire.db"
MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 60_000


def resolve_url(db: str | None) -> str:
    """`--db` / `TRIPWIRE_DB` / ./tripwire.db -> a SQLAlchemy URL (a bare path means SQLite)."""
    db = db or os.environ.get("TRIPWIRE_DB") or DEFAULT_PATH
    if "://" in db:
        if db.startswith("postgresql://") or db.startswith("postgres://"):
            db = "postgresql+psycopg://" + db.split("://", 1)[1]
        return db
    return "sqlite:///" + str(Path(db).expanduser().resolve())


def display_url(url: str) -> str:
    """The URL with any password hidden, fit for messages."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return u.database or ":memory:"
    return u.render_as_string(hide_password=True)


def _sqlite_events(engine: sa.Engine) -> None:
    import sqlalchemy as sa

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_engine(url: str) -> sa.Engine:
    """An engine for a resolved URL; SQLite gets WAL, foreign keys and immediate writes."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(url)
        _sqlite_events(engine)
        return engine
    if backend == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True)
    raise RegisterError(
        f"unsupported register URL {display_url(url)!r}",
        hint="use a SQLite path or a postgresql+psycopg:// URL",
    )


def _alembic_config(connection: sa.Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest migration shipped with this version of tripwire.

    Read from the `revision` / `down_revision` assignments of the migration files, so that
    opening a register that is already current never imports Alembic; anything but a single
    head (a merge in progress, an unusual file) is left to Alembic's own answer.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = _assigned(path)
        rev, down = found.get("revision"), found.get("down_revision")
        if not isinstance(rev, str):
            return alembic_head()
        revisions.add(rev)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, (tuple, list)):
            parents.update(str(d) for d in down)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else alembic_head()


def _assigned(path: Path) -> dict[str, object]:
    """The literal values a migration file assigns to `revision` and `down_revision`."""
    out: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for t in targets:
            if isinstance(t, ast.Name) and t.id in ("revision", "down_revision"):
                try:
                    out[t.id] = ast.literal_eval(value)
                except ValueError:
                    out[t.id] = None
    return out


def alembic_head() -> str:
    """The head revision as Alembic computes it from the migration scripts."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(conn: sa.Connection) -> str | None:
    """The migration a register is at (None for an empty database)."""
    import sqlalchemy as sa

    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


UNCOMMITTED_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006")
"""Schema revisions whose record did not commit the evidence rows."""
BASELINE_REASON = (
    "register upgraded from schema {before}, whose record did not cover the evidence: every "
    "evidence row is committed as found at the upgrade; a change made before this entry "
    "cannot be detected, one made after it can"
)


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Create or upgrade the schema in place with Alembic; existing rows are kept. A register
    upgraded from before the record covered the evidence gets, in the same transaction, a
    `baseline` entry committing its rows as found (`evidence.commit_baseline`)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Two processes initialising one database must not both create tables.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7261934)")
        from alembic import command

        before = current_revision(conn)
        command.upgrade(_alembic_config(conn), revision)
        if before in UNCOMMITTED_REVISIONS and current_revision(conn) not in UNCOMMITTED_REVISIONS:
            from tripwire.register.evidence import commit_baseline

            commit_baseline(conn, BASELINE_REASON.format(before=before))


@contextmanager
def driver_cursor(conn: sa.Connection, sql: str, params: Any) -> Iterator[Any]:
    """The driver's own cursor on `conn`'s connection, for bulk statements (through SQLAlchemy
    a statement costs more than the database's work); a driver error while it is open is
    raised as SQLAlchemy raises it, citing `sql` and `params`."""
    import sqlalchemy as sa

    dbapi: Any = conn.connection.dbapi_connection
    error = conn.dialect.loaded_dbapi.Error
    try:
        cur = dbapi.cursor()
        try:
            yield cur
        finally:
            cur.close()
    except error as e:
        raise sa.exc.DBAPIError.instance(sql, params, e, error, dialect=conn.dialect) from e
