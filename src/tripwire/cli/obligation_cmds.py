"""`tripwire obligations` and `tripwire incident`: the clocks that recorded events start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tripwire.cli.app import DbOpt, JsonOpt, app, info, print_json, render

if TYPE_CHECKING:
    import sqlite3

    from tripwire.register import Register


@app.command("obligations")
def obligations_cmd(
    model: Annotated[str | None, typer.Option("--model", help="Only this model's.",
                                              show_default=False)] = None,
    policy: Annotated[list[str] | None, typer.Option(
        "--policy", "-p", help="Policy name or file (repeatable; default: every built-in "
        "policy with clocked deadlines).", show_default=False)] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Judge deadlines at YYYY-MM-DD (default: now, or TRIPWIRE_TODAY).",
        show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Also list obligations met.")] = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Every open obligation with a deadline: due date, days left, the event that started its
    clock (record entry) and its clause, overdue ones first. Met by attesting the safeguard
    (`tripwire attest`)."""
    from tripwire import obligations as obl
    from tripwire.register import direct

    when = obl.parse_when(as_of, "--as-of") if as_of is not None else obl.now()
    pols = None  # the built-in policies' clocks, which need no policy file parsed
    if policy:
        from tripwire.policy.loader import load_policy

        pols = [load_policy(p) for p in policy]
    # A current SQLite register is read with the standard library's driver (no SQLAlchemy);
    # any other register is opened as every command opens it.
    src: Register | sqlite3.Connection | None = direct.connect(db)
    if src is None:
        from tripwire.register import open_register

        src = open_register(db)
    try:
        got = obl.obligations(src, policies=pols, model=model, as_of=when, include_met=all_)
    finally:
        src.close()
    if json:
        print_json({"as_of": when.isoformat(), "obligations": [o.to_dict() for o in got]})
        return
    render(obl.calendar_rows(got), title=f"obligations as of {when.date().isoformat()}",
           columns=["due", "days_left", "status", "model", "policy", "safeguard", "within",
                    "event", "source", "met_by", "evidence"])
    n = sum(o.status == "overdue" for o in got)
    if n:
        info(f"{n} overdue")


@app.command("incident")
def incident_cmd(
    model: Annotated[str, typer.Argument(help="Model name in the register.")],
    by: Annotated[str, typer.Option("--by", help="Who records it.")],
    evidence: Annotated[str, typer.Option("--evidence", help="URL or file describing it.")],
    imminent: Annotated[bool, typer.Option(
        "--imminent", help="It poses an imminent risk of death or serious physical injury "
        "(the 24-hour clocks apply too).")] = False,
    at: Annotated[str | None, typer.Option(
        "--at", help="When it was discovered, YYYY-MM-DD or ISO time (default: now).",
        show_default=False)] = None,
    note: Annotated[str | None, typer.Option("--note", help="A remark kept with it.")] = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Record a critical safety incident: the event incident-reporting clocks run from
    (SB 53: 15 days, 24 hours if imminent; RAISE: 72 hours, 24 hours if imminent)."""
    from tripwire import obligations as obl
    from tripwire.register import open_register

    when = obl.parse_when(at, "--at") if at is not None else None
    reg = open_register(db)
    got = obl.record_incident(reg, model, by=by, evidence=evidence, imminent=imminent,
                              at=when, note=note)
    if json:
        print_json(got)
        return
    info(f"incident on {got['model']} recorded as entry {got['entry']} "
         "(run `tripwire obligations` for the reporting deadlines)")
