"""Storage: the register of models, benchmarks, results and loss points (SQLAlchemy 2 and
Alembic; SQLite by default, PostgreSQL by URL)."""

from tripwire.register.core import Register, close_names, open_register
from tripwire.register.engine import display_url, head_revision, resolve_url
from tripwire.register.store import IngestOutcome

__all__ = [
    "IngestOutcome",
    "Register",
    "close_names",
    "display_url",
    "head_revision",
    "open_register",
    "resolve_url",
]
