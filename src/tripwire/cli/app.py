"""The typer application, the shared options and the one place errors become exit codes.

Exit codes: 0 ok; 1 blocked, gate or check failed, record tampered; 2 usage or input error;
3 insufficient evidence. Commands raise `TripwireError`s; `TripwireGroup.invoke` prints them as
one line on stderr (never a traceback) and exits with the error's code.
"""

from __future__ import annotations

import json as jsonlib
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from tripwire.errors import TripwireError

# Piped output keeps whole table rows (rich would fold them to 80 columns).
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 180)
stderr = Console(stderr=True, soft_wrap=True)


class TripwireGroup(TyperGroup):
    """Turns tripwire errors into one-line messages and exit codes, for every command."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except TripwireError as e:
            typer.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            ctx.exit(130)


def make_app(help: str, *, completion: bool = False) -> typer.Typer:
    """A typer app (or sub-app) wired to the shared error handling; the root app also offers
    shell completion (`--install-completion`)."""
    return typer.Typer(
        cls=TripwireGroup,
        help=help,
        no_args_is_help=True,
        add_completion=completion,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


app = make_app("tripwire: if-then safety commitments for AI development, as software.",
               completion=True)

# Shared options: declared once, reused by every command.
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="TRIPWIRE_DB",
        help="Register: a SQLite path or a SQLAlchemy URL (default ./tripwire.db).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")]


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "model_dump"):
        return _jsonable(v.model_dump(mode="json"))
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return _jsonable(v.item())
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    return v


def print_json(data: Any) -> None:
    """Write `data` as JSON to stdout (NaN/inf become null; dates ISO 8601)."""
    sys.stdout.write(jsonlib.dumps(_jsonable(data), indent=2, ensure_ascii=False) + "\n")


def fmt(v: Any) -> str:
    """Format one cell for a table: compact floats, blank for None."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:.4g}"
    return str(v)


def render(
    rows: Sequence[Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    *,
    as_json: bool = False,
    title: str | None = None,
    columns: Sequence[str] | None = None,
) -> None:
    """Render rows as a rich table for people, or JSON with stable keys for machines."""
    rows = [dict(_jsonable(r)) if hasattr(r, "model_dump") else dict(r) for r in rows]
    if as_json:
        print_json(rows)
        return
    cols = list(columns) if columns else (list(rows[0].keys()) if rows else [])
    table = Table(title=title, show_lines=False)
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(
            *(fmt(r.get(c)) for c in cols),
        )
    if not rows:
        stderr.print(f"{title or 'nothing'}: no rows")
        return
    stdout.print(table, markup=False)


def warn(message: str) -> None:
    """A warning on stderr (never stdout, which carries data)."""
    typer.echo(f"warning: {message}", err=True)


def info(message: str) -> None:
    """Progress or status on stderr."""
    typer.echo(message, err=True)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")
