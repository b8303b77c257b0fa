"""What the record's clocks need of a policy, as plain data (`Clocks`): its clocked deadlines
and the safeguards each crossed threshold requires.

`tripwire obligations` reads a whole record; parsing and validating policy files (YAML, the
pydantic policy models) would cost it a good part of its time. For the built-in policies these
facts are kept in `builtins/clocks.json`, written from the parsed policies by
`scripts/policy_clocks.py` (tests/policy/test_clocks.py fails when it is stale), and used for a
policy only while its text has the sha256 they were written from; any other policy, or a
built-in whose text changed since, is parsed and its clocks taken from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from tripwire.policy.shipped import builtin_names, shipped_text

if TYPE_CHECKING:
    from tripwire.policy.loader import LoadedPolicy

CACHE = "clocks.json"
"""The built-in policies' clocks, in `builtins/`."""


@dataclass(frozen=True)
class Clock:
    """A safeguard's deadline that a recorded event starts (a `deadlines:` entry with an
    `event`)."""

    safeguard: str
    event: str
    """crossing-known or incident."""
    within: str
    hours: float
    after: str
    when: str | None
    source: str | None


@dataclass(frozen=True)
class Clocks:
    """One policy's clocks and which safeguards a crossed threshold requires."""

    name: str
    sha256: str
    """Of the policy text these were taken from."""
    clocks: tuple[Clock, ...]
    by_level: dict[str | None, frozenset[str]]
    """Level (None: no level) -> the safeguards it requires, for any action."""
    own: dict[str, frozenset[str]]
    """Threshold id -> the safeguards it requires of its own, for any action."""
    policy: LoadedPolicy | None = field(default=None, compare=False, repr=False)
    """The parsed policy, when these were taken from one."""

    def of(self, event: str) -> list[Clock]:
        return [c for c in self.clocks if c.event == event]

    def required(self, crossed: Iterable[tuple[Any, Any]]) -> set[str]:
        """The safeguards required by thresholds (id, level) found crossed: their level's
        (none for a level the policy no longer has) and their own."""
        out: set[str] = set()
        for tid, level in crossed:
            out.update(self.by_level.get(level, ()))
            out.update(self.own.get(tid, ()))
        return out

    def loaded(self) -> LoadedPolicy:
        """The parsed policy (a built-in is parsed now if these came from the cache)."""
        if self.policy is not None:
            return self.policy
        from tripwire.policy.loader import load_policy

        return load_policy(self.name)

    @classmethod
    def of_policy(cls, pol: LoadedPolicy) -> Clocks:
        def union(required: dict[str, list[str]]) -> frozenset[str]:
            return frozenset(s for names in required.values() for s in names)

        p = pol.policy
        clocks = tuple(Clock(safeguard=s.id, event=d.event, within=d.within, hours=d.hours,
                             after=d.after, when=d.when, source=d.source)
                       for s in p.safeguards for d in s.deadlines if d.event)
        by_level = {lv: union(pol.required_at(lv))
                    for lv in (None, *(level.id for level in p.levels))}
        own = {t.id: union(p.threshold_required([t.spec])) for t in pol.thresholds
               if t.spec.requires_any}
        return cls(name=pol.name, sha256=pol.sha256, clocks=clocks, by_level=by_level, own=own,
                   policy=pol)

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256,
                "clocks": [c.__dict__ for c in self.clocks],
                "levels": [[lv, sorted(s)] for lv, s in self.by_level.items()],
                "own": {t: sorted(s) for t, s in sorted(self.own.items())}}

    @classmethod
    def from_json(cls, name: str, d: dict[str, Any]) -> Clocks:
        return cls(name=name, sha256=d["sha256"],
                   clocks=tuple(Clock(**c) for c in d["clocks"]),
                   by_level={lv: frozenset(s) for lv, s in d["levels"]},
                   own={t: frozenset(s) for t, s in d["own"].items()})


def _clocked_names() -> dict[str, str]:
    """Built-in policy name -> its text, for those whose text declares an event (the others
    clock nothing)."""
    texts = {n: shipped_text(n) for n in builtin_names()}
    return {n: t for n, t in texts.items() if "event:" in t}


def parsed_builtins() -> list[Clocks]:
    """The built-in policies with clocks, each parsed (what the cache is written from)."""
    from tripwire.policy.loader import load_policy

    got = [Clocks.of_policy(load_policy(n)) for n in _clocked_names()]
    return [c for c in got if c.clocks]


def builtin_clocks() -> list[Clocks]:
    """The built-in policies with clocks: from the cache where a policy's text is the one the
    cache was written from, else parsed."""
    try:
        cache = json.loads((resources.files("tripwire.policy") / "builtins" / CACHE)
                           .read_text("utf-8"))
    except (OSError, ValueError):
        cache = {}
    out: list[Clocks] = []
    for name, text in _clocked_names().items():
        d = cache.get(name)
        got = None
        if d is not None and d.get("sha256") == hashlib.sha256(text.encode("utf-8")).hexdigest():
            try:
                got = Clocks.from_json(name, d)
            except (KeyError, TypeError, ValueError):
                got = None  # not as written by scripts/policy_clocks.py: parse instead
        if got is None:
            from tripwire.policy.loader import load_policy

            got = Clocks.of_policy(load_policy(name))
        if got.clocks:
            out.append(got)
    return out


def cache_text(clocks: Sequence[Clocks]) -> str:
    """The cache file's text for these policies' clocks."""
    return json.dumps({c.name: c.to_json() for c in clocks}, indent=1, sort_keys=True,
                      ensure_ascii=False) + "\n"
