"""The exception tree. The CLI maps each branch to one exit code.

TripwireError
  InputError            bad file or argument (carries source and place)  -> exit 2
    PolicyError         policy file or condition fails validation          -> exit 2
    RegisterError       register missing, unreadable or unreachable        -> exit 2
  ConflictError         same model ingested with different values          -> exit 2
  InsufficientEvidence  too little data to decide                          -> exit 3
  IntegrityError        hash chain or Merkle proof does not verify         -> exit 1
  Blocked               an action is not allowed under a policy            -> exit 1
"""

from __future__ import annotations

_ESCAPES = {c: repr(chr(c))[1:-1] for c in (*range(0x20), 0x7F, 0x85, 0x2028, 0x2029)}


def one_line(text: str) -> str:
    """Text quoted from a user's input (a validator's message may quote the offending
    value) with its line breaks and other control characters escaped: an error stays on
    one line."""
    return text.translate(_ESCAPES)


class TripwireError(Exception):
    """Base of every error tripwire raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, where: str | None = None,
                 hint: str | None = None) -> None:
        self.message = message
        self.source = source
        self.where = where
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        place = ":".join(p for p in (self.source, self.where) if p)
        text = f"{place}: {self.message}" if place else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled with its parts (an error sent between processes keeps its file, place and
        hint), not rebuilt from its text as an exception otherwise is."""
        return (_rebuilt, (type(self), self.message, self.source, self.where, self.hint),
                self.__dict__)


def _rebuilt(cls: type[TripwireError], message: str, source: str | None, where: str | None,
             hint: str | None) -> TripwireError:
    error = cls.__new__(cls)
    TripwireError.__init__(error, message, source=source, where=where, hint=hint)
    return error


class InputError(TripwireError):
    """A user's file or argument is wrong; `source` names the file, `where` the line/row/key."""

    exit_code = 2


class PolicyError(InputError):
    """A policy file or one of its condition expressions fails validation."""


class RegisterError(InputError):
    """The register cannot be opened, created or reached."""


class ConflictError(TripwireError):
    """Stored data disagrees with new data and no explicit update was asked for."""

    exit_code = 2


class InsufficientEvidence(TripwireError):
    """There is not enough data to fit, forecast or decide; the message says why."""

    exit_code = 3


class IntegrityError(TripwireError):
    """The record or a proof does not verify."""

    exit_code = 1


class Blocked(TripwireError):
    """An action is not allowed: required safeguards are missing."""

    exit_code = 1
