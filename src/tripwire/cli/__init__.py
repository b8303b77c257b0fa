"""The `tripwire` command line: one module per command group, all on one typer app.

Commands parse arguments, make one library call and render the result; they never decide.
"""

from __future__ import annotations

import sys

from tripwire.cli import (
    backtest_cmd,  # noqa: F401
    compute_cmds,  # noqa: F401  (compute)
    diff_cmd,  # noqa: F401
    fit_cmd,  # noqa: F401
    forecast_cmd,  # noqa: F401
    obligation_cmds,  # noqa: F401  (obligations, incident)
    policy_cmds,  # noqa: F401
    record_cmds,  # noqa: F401
    register_cmds,  # noqa: F401  (init, ingest, alias, models, evals, demo)
    report_cmds,  # noqa: F401  (report, serve)
)
from tripwire.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    sys.exit(app(standalone_mode=True))
