"""The clocks: duties with a deadline that a recorded event starts, read from the record.

A policy safeguard's deadline with an `event` is clocked:

* `crossing-known`: the first record entry (a determination, a planned run recorded with
  `tripwire plan --start`, or one a models table marks `planned`, judged here against each
  policy) in which a threshold whose level (or own requirement) requires the
  safeguard is `crossed`, i.e. its probability passed the policy's confidence. For a planned
  run, that is when "it becomes known that it will be met" (EU AI Act Art. 52(1)).
* `incident`: an incident recorded with `tripwire incident` for the model, under every policy
  under which a recorded crossing of that model requires the safeguard; a deadline with a `when`
  (imminent risk of death or serious physical injury) applies only to incidents recorded as
  imminent.

The obligation is due `within` after the event. It is met by an attestation of the safeguard
for that model (or for every model) recorded at or after the event; met after the due date it
is `met-late`. Open obligations past their due date are `overdue`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from tripwire.clock import TODAY_ENV as TODAY_ENV
from tripwire.clock import now as now
from tripwire.clock import parse_when as parse_when
from tripwire.errors import InputError
from tripwire.policy.clocks import Clock, Clocks, builtin_clocks

if TYPE_CHECKING:
    from tripwire.policy.loader import LoadedPolicy
    from tripwire.register import Register


@dataclass(frozen=True)
class Obligation:
    """One clocked duty of one model under one policy."""

    model: str
    policy: str
    safeguard: str
    within: str
    due: dt.datetime
    event: str
    event_seq: int
    event_at: dt.datetime
    source: str | None
    after: str
    when: str | None
    status: str
    """open, overdue, met or met-late."""
    met_seq: int | None
    met_at: dt.datetime | None
    evidence: str | None
    days_left: float
    """Days from the as-of time to the due date (negative: overdue)."""

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        for k in ("due", "event_at", "met_at"):
            if d[k] is not None:
                d[k] = d[k].isoformat()
        return d


def _at(payload: Mapping[str, Any], entry: Mapping[str, Any]) -> dt.datetime:
    """When an event happened: the payload's `at`, else when its record entry was made."""
    text = payload.get("at")
    if isinstance(text, str):
        try:
            got = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return got if got.tzinfo is not None else got.replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    return dt.datetime.fromisoformat(entry["at"])


_SQLITE_ENTRIES = ("SELECT seq, kind, body FROM record_entries "
                   "WHERE kind IN ('attestation', 'determination', 'incident', 'plan')")
"""On SQLite the body filters run in Python as the rows stream in: a scan with instr() costs
more than reading the rows, and ORDER BY would sort every body through a temporary b-tree (seq
is not the rowid); the few rows kept are sorted instead."""


def _entries(reg: Register | sqlite3.Connection, marks: Sequence[bytes],
             any_of: Sequence[bytes]) -> list[tuple[int, str, bytes]]:
    """The record entries that can start or meet a clock, in record order: every attestation,
    incident and plan, and the determinations whose canonical JSON holds each of `marks` and
    one of `any_of`.

    `reg` is a register, or a standard-library connection to a SQLite register's file
    (`register.direct.connect`): the same rows, without SQLAlchemy."""
    if isinstance(reg, sqlite3.Connection):
        return _kept(reg.execute(_SQLITE_ENTRIES), marks, any_of)
    with reg.read() as conn:
        if conn.dialect.name == "sqlite":
            return _kept(conn.exec_driver_sql(_SQLITE_ENTRIES), marks, any_of)
        # PostgreSQL: the server filters, which saves moving the bodies.
        has = " AND ".join(["position(%s IN body) > 0"] * len(marks))
        one = " OR ".join(["position(%s IN body) > 0"] * len(any_of)) or "FALSE"
        return _kept(conn.exec_driver_sql(
            "SELECT seq, kind, body FROM record_entries WHERE kind IN "
            f"('attestation', 'incident', 'plan') OR (kind = 'determination' AND {has} "
            f"AND ({one}))", (*marks, *any_of)), marks, any_of)


def _kept(rows: Iterable[Any], marks: Sequence[bytes], any_of: Sequence[bytes]
          ) -> list[tuple[int, str, bytes]]:
    out = []
    for seq, kind, body in rows:
        body = bytes(body)
        if kind == "determination":
            if not all(m in body for m in marks) or not _holds_one(body, any_of):
                continue
        out.append((seq, kind, body))
    out.sort(key=itemgetter(0))
    return out


POLICY_KEY = b'"policy":'


def _canonical(name: str) -> bytes:
    """A name as the record's canonical JSON writes it (UTF-8, not \\u escapes)."""
    return json.dumps(name, ensure_ascii=False).encode()


def _holds_one(body: bytes, marks: Sequence[bytes]) -> bool:
    """Whether `body` holds one of `marks`, each `"policy":<name>`: one scan for the key
    instead of one per policy in scope."""
    i = body.find(POLICY_KEY)
    while i >= 0:
        for m in marks:
            if body.startswith(m, i):
                return True
        i = body.find(POLICY_KEY, i + len(POLICY_KEY))
    return False


def obligations(reg: Register | sqlite3.Connection, *,
                policies: Sequence[LoadedPolicy] | None = None, model: str | None = None,
                as_of: dt.datetime | None = None,
                include_met: bool = False) -> list[Obligation]:
    """Every clocked obligation in the record (open ones, or all with `include_met`), overdue
    first, then by due date. `reg` is a register, or a standard-library connection to a SQLite
    register (`register.direct.connect`), which reads the same entries faster."""
    views = builtin_clocks() if policies is None else [Clocks.of_policy(p) for p in policies]
    as_of = as_of or now()
    by_name = {v.name: v for v in views}
    crossing = {v.name: v.of("crossing-known") for v in views}
    incident = {v.name: v.of("incident") for v in views}
    # Only determinations and plans with a crossed threshold under a policy in scope can start
    # a clock: the canonical JSON (no spaces, quotes inside strings escaped) is filtered on
    # its bytes before it is decoded.
    crossed_mark = b'"state":"crossed"'
    policy_marks = [POLICY_KEY + _canonical(n) for n in by_name]
    events: dict[tuple[str, str, str], tuple[Clock, int, dt.datetime]] = {}
    # (model, policy, safeguard) -> (deadline, seq, at) of the first crossing-known event
    scope: dict[tuple[str, str], set[tuple[str, tuple[tuple[Any, Any], ...]]]] = {}
    # (model, policy) -> its recorded crossings (keys of `requires`): incident duties' scope
    incidents: list[tuple[int, dt.datetime, Mapping[str, Any]]] = []
    attested: dict[tuple[str | None, str], list[tuple[int, dt.datetime, str]]] = {}
    marks = [crossed_mark]
    if model is not None:
        marks.append(b'"model":' + _canonical(model))
    rows = _entries(reg, marks, policy_marks)
    # Many entries (the whole record): orjson; one model's few (gate): the standard library.
    loads = json.loads if model is not None else _orjson_loads()
    requires: dict[tuple[str, tuple[tuple[Any, Any], ...]], set[str]] = {}
    # (policy, the (id, level) of the thresholds crossed) -> the safeguards they require

    def crossed_in(view: Clocks, name: str, det: Mapping[str, Any], seq: int,
                   at: dt.datetime) -> None:
        pname = view.name
        key = (pname, tuple([(t.get("id"), t.get("level")) for t in det.get("thresholds", ())
                             if t.get("state") == "crossed"]))
        crossed = requires.get(key)
        if crossed is None:
            crossed = requires[key] = view.required(key[1])
        scope.setdefault((name, pname), set()).add(key)
        for c in crossing[pname]:
            k = (name, pname, c.safeguard)
            if c.safeguard in crossed and k not in events:
                events[k] = (c, seq, at)

    for seq, kind, body in rows:
        tabled = kind == "plan" and b'"determination":' not in body
        if kind == "plan" and not tabled and (
                crossed_mark not in body or not _holds_one(body, policy_marks)):
            continue  # (determinations were filtered so as they were read)
        d = loads(body + b"}")
        p = d["payload"]
        if kind == "attestation":
            attested.setdefault((p.get("model"), p.get("safeguard", "")), []).append(
                (seq, _at(p, d), str(p.get("evidence", ""))))
            continue
        if kind == "incident":
            incidents.append((seq, _at(p, d), p))
            continue
        if tabled:  # a planned run from a models table: judged under each policy in scope
            name = p.get("model")
            if name is None or (model is not None and name != model):
                continue
            at = _at(p, d)
            for view in views:
                crossed_in(view, name, judge_planned(view.loaded(), p, at), seq, at)
            continue
        det = p.get("determination", p) if kind == "plan" else p
        name = p.get("model") if kind == "plan" else det.get("model")
        pol = by_name.get(det.get("policy", ""))
        if pol is None or name is None or (model is not None and name != model):
            continue
        crossed_in(pol, name, det, seq, _at(det, d))
    out: list[Obligation] = []

    def add(name: str, pol: str, d: Clock, seq: int, at: dt.datetime, event: str) -> None:
        sid = d.safeguard
        due = at + dt.timedelta(hours=d.hours)
        met = min((m for who in (name, None) for m in attested.get((who, sid), ())
                   if m[1] >= at), default=None, key=lambda m: m[1])
        if met is not None:
            status = "met" if met[1] <= due else "met-late"
        else:
            status = "overdue" if as_of > due else "open"
        if status.startswith("met") and not include_met:
            return
        out.append(Obligation(
            model=name, policy=pol, safeguard=sid, within=d.within, due=due, event=event,
            event_seq=seq, event_at=at, source=d.source, after=d.after, when=d.when,
            status=status, met_seq=met[0] if met else None, met_at=met[1] if met else None,
            evidence=met[2] if met else None,
            days_left=(due - as_of).total_seconds() / 86400))

    for (who, pol_name, _), (d, seq, at) in events.items():
        add(who, pol_name, d, seq, at, "crossing-known")
    for seq, at, inc in incidents:
        who = str(inc.get("model"))
        if model is not None and who != model:
            continue
        for pol_name, clocked in incident.items():
            required = set().union(*(requires[k] for k in scope.get((who, pol_name), ())))
            for d in clocked:
                if d.safeguard in required and (d.when is None or inc.get("imminent")):
                    add(who, pol_name, d, seq, at, "incident")
    order = {"overdue": 0, "open": 1, "met-late": 2, "met": 3}
    out.sort(key=lambda o: (order[o.status], o.due, o.model, o.policy, o.safeguard))
    return out


def judge_planned(pol: LoadedPolicy, plan: Mapping[str, Any], at: dt.datetime
                  ) -> dict[str, Any]:
    """A planned run recorded from a models table, judged under `pol` as `tripwire plan`
    judges model quantities: its planned compute (exact when given, log-normal when estimated
    from parameters and tokens), no evaluation results; as the determination's JSON."""
    from tripwire.model import ComputeMethod, Model
    from tripwire.policy.evaluate import Evidence, evaluate_policy

    m = Model(name=str(plan["model"]), compute_flop=plan.get("compute_flop"),
              compute_method=ComputeMethod(plan.get("compute_method") or "given"),
              params=plan.get("params"), tokens=plan.get("tokens"),
              organization=plan.get("organization"), parent=plan.get("parent"))
    return evaluate_policy(pol, Evidence(model=m), at=at).model_dump(mode="json")


def _orjson_loads() -> Any:
    import orjson

    return orjson.loads


def record_incident(reg: Register, model: str, *, by: str, evidence: str,
                    imminent: bool = False, at: dt.datetime | None = None,
                    note: str | None = None) -> dict[str, Any]:
    """Append an incident to the record: the event incident-reporting clocks run from."""
    from tripwire.register.record_store import append_entry

    if not by.strip():
        raise InputError("--by must name who records the incident")
    name = reg.get_model(model).name
    payload = {"model": name, "at": (at or now()).isoformat(), "imminent": imminent,
               "by": by.strip(), "evidence": evidence, "note": note}
    with reg.transaction() as conn:
        seq = append_entry(conn, "incident", payload).seq
    return payload | {"entry": seq}


def overdue_for(reg: Register, model: str, policy: LoadedPolicy,
                as_of: dt.datetime) -> list[Obligation]:
    """The overdue obligations of one model under one policy."""
    return [o for o in obligations(reg, policies=[policy], model=model, as_of=as_of)
            if o.status == "overdue"]


def calendar_rows(obls: Iterable[Obligation]) -> list[dict[str, Any]]:
    """Obligations as table rows: due date, days left, status, what started the clock, the
    clause, and the attestation that met it (its record entry, date and evidence)."""
    return [{"due": o.due.date().isoformat(), "days_left": round(o.days_left, 1),
             "status": o.status, "model": o.model, "policy": o.policy,
             "safeguard": o.safeguard, "within": o.within,
             "event": f"{o.event} (entry {o.event_seq}, {o.event_at.date().isoformat()})",
             "source": o.source, "evidence": o.evidence,
             "met_by": (f"attestation (entry {o.met_seq}, {o.met_at.date().isoformat()})"
                        if o.met_seq is not None and o.met_at is not None else None)}
            for o in obls]
