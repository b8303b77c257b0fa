"""Storage: the register of models, benchmarks, results and loss points (SQLAlchemy 2 and
Alembic; SQLite by default, PostgreSQL by URL).

The names below are loaded from their modules on first use (`tripwire.lazy`), so a reader that
needs only the engine helpers or the standard-library SQLite reader (`register.direct`) does not
import SQLAlchemy.
"""

import typing as _typing

from tripwire.lazy import exports as _exports

if _typing.TYPE_CHECKING:
    from tripwire.register.core import Register, close_names, open_register
    from tripwire.register.engine import display_url, head_revision, resolve_url
    from tripwire.register.store import IngestOutcome

_LAZY: dict[str, str] = {
    **dict.fromkeys(("Register", "close_names", "open_register"), "tripwire.register.core"),
    **dict.fromkeys(("display_url", "head_revision", "resolve_url"), "tripwire.register.engine"),
    "IngestOutcome": "tripwire.register.store",
}
__getattr__, __dir__ = _exports(__name__, _LAZY)

__all__ = [
    "IngestOutcome",
    "Register",
    "close_names",
    "display_url",
    "head_revision",
    "open_register",
    "resolve_url",
]
