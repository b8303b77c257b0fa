"""The time "now" is for recording and for judging deadlines: the current time, or the date
TRIPWIRE_TODAY sets (what-if runs and tests). Below the register, so storage can use it."""

from __future__ import annotations

import datetime as dt
import os

from tripwire.errors import InputError

TODAY_ENV = "TRIPWIRE_TODAY"
"""Environment variable that sets "now" (a date, YYYY-MM-DD, or an ISO 8601 time) for
recording and for judging deadlines: what-if runs and tests."""


def parse_when(text: str, what: str = "date") -> dt.datetime:
    """A date (midnight UTC) or an ISO 8601 time (UTC when it names no zone)."""
    try:
        got = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{what} {text!r} is not a date",
                         hint="write YYYY-MM-DD or an ISO 8601 time") from None
    return got if got.tzinfo is not None else got.replace(tzinfo=dt.UTC)


def now() -> dt.datetime:
    """The current time, or the one TRIPWIRE_TODAY sets."""
    text = os.environ.get(TODAY_ENV)
    if text:
        return parse_when(text, TODAY_ENV)
    return dt.datetime.now(dt.UTC)
