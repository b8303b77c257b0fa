"""Shared fixtures: registers on SQLite and PostgreSQL, the real public data folder."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tripwire.register import Register, open_register

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
PG_ENV = "TRIPWIRE_TEST_PG"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public datasets beside the checkout (../shared/data); skip where absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"real public data not found at {SHARED_DATA} (it sits beside the "
            "checkout in CI; see shared/data/SOURCES.md)"
        )
    return SHARED_DATA


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("TRIPWIRE_REQUIRE_PG"):
            pytest.fail(
                f"{PG_ENV} is not set but TRIPWIRE_REQUIRE_PG is: PostgreSQL tests must run here"
            )
        pytest.skip(
            f"PostgreSQL tests need a server: set {PG_ENV} to a URL such as "
            "postgresql+psycopg://postgres:pw@localhost:5432/postgres"
        )
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = _pg_admin_url()
    assert admin
    name = "tw_" + uuid.uuid4().hex[:16]
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as e:
        if os.environ.get("TRIPWIRE_REQUIRE_PG"):
            raise
        pytest.skip(f"PostgreSQL at {PG_ENV} is unreachable: {e.orig}")
    url = sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty register location, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "tripwire.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def register(db_url: str) -> Iterator[Register]:
    """A fresh register, once per database backend."""
    reg = open_register(db_url, create=True)
    yield reg
    reg.close()


@pytest.fixture
def sqlite_register(tmp_path: Path) -> Iterator[Register]:
    reg = open_register(str(tmp_path / "tripwire.db"), create=True)
    yield reg
    reg.close()
