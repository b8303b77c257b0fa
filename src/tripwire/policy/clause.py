"""Clause references: where in a source document a level, threshold, safeguard or number comes
from, written so that an auditor can find it and a program can check its form.

A reference names a declared source by its `id`, then one or more places in it, separated by
commas, and may end with `(unverified)` when the place could not be checked against the text:

    eu-ai-act Art. 51(2)                     an article, paragraph and point
    eu-ai-act Art. 53(1)(a), Annex XI        several places
    ca-bpc §22757.13(c)(2)                   a section of a code
    rsp-2.2 "Capability Thresholds"          a heading, quoted as the document prints it
    pf-v2 p. 8, Table 1                      a page, a table
    fsf-3.0 "Misalignment" (unverified)      not checked against the text

Places: `Art. N(..)`, `Annex IV`, `Recital N`, `§N(..)`, `Section N.N(..)`, `p. N`,
`pp. N-M`, `Table N` (or `Table 2.2.1.a`), `para. N`, `footnote N`, `Appendix X`, or a
`"quoted heading or phrase"` as the document prints it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOCATOR_FORMS = ('Art. 51(2)', 'Annex XI', 'Recital 111', '§22757.11(a)', 'Section 4.1',
                 'p. 8', 'pp. 8-9', 'Table 1', 'para. 17', 'footnote 6', 'Appendix A',
                 '"a quoted heading"')
_SUB = r"(?:\((?:\d+[a-z]?|[a-z]{1,3}|[ivxl]+)\))*"
_LOCATOR = re.compile("|".join((
    rf"Art\. \d+[a-z]?{_SUB}",
    r"Annex [IVXLC]+",
    r"Recital \d+",
    rf"§ ?\d+(?:\.\d+)*{_SUB}",
    rf"Section \d+(?:\.\d+)*{_SUB}",
    r"p\. \d+",
    r"pp\. \d+-\d+",
    r"Table \d+(?:\.\d+)*(?:\.?[A-Za-z])?",
    r"para\. \d+",
    r"footnote \d+",
    r"Appendix [A-Z0-9]+",
    r'"[^"]+"',
)))
_ID = re.compile(r"[A-Za-z][A-Za-z0-9._-]*")
UNVERIFIED = "(unverified)"


@dataclass(frozen=True)
class Clause:
    """A parsed clause reference."""

    source: str
    """Id of the declared source."""
    places: tuple[str, ...]
    """Places in that source, as written."""
    verified: bool = True
    """False when the reference is marked `(unverified)`."""

    def __str__(self) -> str:
        text = f"{self.source} {', '.join(self.places)}"
        return text if self.verified else f"{text} {UNVERIFIED}"


class ClauseError(ValueError):
    """A clause reference not of the documented form; `offset` points at the fault."""

    def __init__(self, message: str, offset: int, fix: str) -> None:
        super().__init__(message)
        self.message, self.offset, self.fix = message, offset, fix


_FORMS = ("write SOURCE-ID then places separated by ', ', e.g. "
          "'eu-ai-act Art. 53(1)(a), Annex XI'; places: " + ", ".join(LOCATOR_FORMS))


def parse_clause(text: str) -> Clause:
    """Parse a clause reference (see the module docstring); ClauseError if it is malformed."""
    body = text.strip()
    lead = len(text) - len(text.lstrip())
    verified = True
    if body.endswith(UNVERIFIED):
        verified = False
        body = body[: -len(UNVERIFIED)].rstrip()
    m = _ID.match(body)
    if m is None:
        raise ClauseError(f"clause {text!r} does not start with a source id", lead, _FORMS)
    source = m.group(0)
    i = m.end()
    if i >= len(body) or body[i] != " ":
        raise ClauseError(f"clause {text!r} names no place in {source}", lead + i, _FORMS)
    i += 1
    places: list[str] = []
    while True:
        loc = _LOCATOR.match(body, i)
        if loc is None:
            raise ClauseError(f"clause {text!r}: {body[i:]!r} is not a known kind of place",
                              lead + i, _FORMS)
        places.append(loc.group(0))
        i = loc.end()
        if i == len(body):
            break
        if body.startswith(", ", i):
            i += 2
            continue
        raise ClauseError(f"clause {text!r}: unexpected {body[i:]!r} after {loc.group(0)!r}",
                          lead + i, "separate places with ', '; " + _FORMS)
    return Clause(source, tuple(places), verified)
