"""Policy commands: policy list|show|check|test|schema, assess, gate, plan, attest.

`assess`, `gate` and `plan` end with one line, the answer and what could not be judged
(`tripwire.assess.bottom_line`), and exit with its code: 0 answered; 1 (`gate`) blocked
whatever the missing evidence says; 2 a usage or input error; 3 when insufficient or stale
evidence could change the answer.
`policy check` and `policy test` exit 1 when the policy has errors or a case fails.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tripwire.cli.app import (
    DbOpt,
    JsonOpt,
    app,
    fmt,
    info,
    make_app,
    print_json,
    render,
    stdout,
    warn,
)
from tripwire.errors import InputError

if TYPE_CHECKING:
    from tripwire.model import Determination

policy_app = make_app("Policies: list the built-ins, show, check and test policy files.")
app.add_typer(policy_app, name="policy")

PolicyOpt = Annotated[
    str,
    typer.Option("--policy", "-p", help="A built-in policy name (see `tripwire policy list`) "
                 "or a policy file."),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", metavar="NAME=BENCHMARK",
                 help="Map a policy's named evidence to a register benchmark (repeatable)."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="PARAM=VALUE",
                 help="Set a policy parameter, e.g. a bar the policy leaves to you (repeatable)."),
]
NoRecordOpt = Annotated[
    bool, typer.Option("--no-record", help="Do not append the determination to the record."),
]


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"{option} {item!r} is not NAME=VALUE",
                             hint=f"write e.g. {option} cbrn_uplift=my_eval")
        out[key.strip()] = value.strip()
    return out


def _numbers(items: list[str] | None) -> dict[str, float]:
    out = {}
    for key, value in _pairs(items, "--set").items():
        try:
            out[key] = float(value.replace("_", ""))
        except ValueError:
            raise InputError(f"--set {key}={value}: {value!r} is not a number") from None
        if not math.isfinite(out[key]):
            raise InputError(f"--set {key}={value}: the value must be a finite number")
    return out


# ------------------------------------------------------------------------------ policy group

@policy_app.command("list")
def policy_list(json: JsonOpt = False) -> None:
    """List the built-in policies: the version and date of the document each encodes, and
    the file's own version."""
    from tripwire.policy import builtin_names, load_policy
    from tripwire.policy.provenance import encoded_source

    rows = []
    for name in builtin_names():
        p = load_policy(name).policy
        src = encoded_source(p)
        rows.append(dict(name=name, kind=p.kind, title=p.title,
                         encodes=src.version if src is not None else None,
                         date=src.date.isoformat() if src is not None and src.date else None,
                         file_version=p.version, levels=len(p.levels),
                         thresholds=len(p.thresholds)))
    render(rows, as_json=json, title="built-in policies",
           columns=["name", "kind", "encodes", "date", "file_version", "title", "levels",
                    "thresholds"])


@policy_app.command("show")
def policy_show(
    name: Annotated[str, typer.Argument(help="A built-in name or a policy file.")],
    tests: Annotated[bool, typer.Option(
        "--tests", help="Print the policy's test cases instead, to save beside a copy of it "
                        "as NAME.tests.yaml.")] = False,
    provenance: Annotated[bool, typer.Option(
        "--provenance", help="Print where each level, threshold, safeguard, deadline and "
        "number comes from (source document, clause, verified or not).")] = False,
    json: JsonOpt = False,
) -> None:
    """Print a policy: its YAML text (to copy and adapt), its test cases (--tests), the
    validated policy as JSON, or its provenance table."""
    from tripwire.policy import load_policy
    from tripwire.policy.loader import read_policy_text

    if tests:
        from tripwire.policy.testing import tests_text
        text = tests_text(name)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    if provenance:
        from tripwire.policy.provenance import provenance_rows

        loaded = load_policy(name)
        rows = provenance_rows(loaded.policy)
        if json:
            print_json({"policy": loaded.name, "version": loaded.version, "parts": rows})
            return
        render(rows, title=f"{loaded.name} {loaded.version}: provenance",
               columns=["kind", "id", "what", "document", "place", "status"])
        return
    if json:
        loaded = load_policy(name)
        data = loaded.policy.model_dump(mode="json")
        data["sha256"] = loaded.sha256
        print_json(data)
        return
    text, _, _ = read_policy_text(name)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@policy_app.command("check")
def policy_check(
    file: Annotated[str, typer.Argument(help="A policy file (or a built-in name).")],
    set_: SetOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Validate a policy file: every problem as file:line:col: what — fix (exit 1 if any
    error). Clause references must be well formed and name a declared source, and every
    safeguard a level or threshold requires must name one. With --db, benchmarks the
    conditions name are checked against the register."""
    from tripwire.policy import check_text
    from tripwire.policy.loader import read_policy_text
    from tripwire.register import open_register

    text, source, _ = read_policy_text(file)
    known = None
    if db is not None:
        known = [b.id for b in open_register(db).benchmarks()]
    loaded, issues = check_text(text, source, known_benchmarks=known,
                                overrides=_numbers(set_), provenance=True)
    errors = [i for i in issues if i.severity == "error"]
    if json:
        print_json({"valid": loaded is not None, "issues": [
            dict(severity=i.severity, file=i.source, line=i.line, col=i.col,
                 message=i.message, fix=i.fix) for i in issues]})
    else:
        for i in issues:
            typer.echo(f"{i.severity}: {i}", err=True)
        if loaded is not None:
            p = loaded.policy
            typer.echo(f"ok: {p.name} {p.version}: {len(p.levels)} levels, "
                       f"{len(p.thresholds)} thresholds, {len(p.safeguards)} safeguards"
                       + (f", {len(loaded.warnings)} warnings" if loaded.warnings else ""))
    if errors:
        raise typer.Exit(1)


@policy_app.command("test")
def policy_test(
    target: Annotated[str, typer.Argument(help="A policy file, its NAME.tests.yaml, or a "
                                               "built-in name.")],
    json: JsonOpt = False,
) -> None:
    """Run a policy's test cases (given evidence, expected level and states); exit 1 if any
    case fails."""
    from tripwire.policy import run_tests

    run = run_tests(target)
    rows = [dict(case=c.name, line=c.line, result="pass" if c.passed else "FAIL",
                 failures="; ".join(c.failures)) for c in run.cases]
    if json:
        print_json({"policy": run.policy, "tests": run.tests, "passed": run.passed,
                    "cases": rows})
    else:
        render(rows, title=f"{run.tests}", columns=["case", "result", "failures"])
        n_fail = sum(1 for c in run.cases if not c.passed)
        info(f"{len(run.cases) - n_fail} passed, {n_fail} failed")
    if not run.passed:
        raise typer.Exit(1)


@policy_app.command("schema")
def policy_schema() -> None:
    """Print the JSON Schema of policy files (for editors and CI validation)."""
    from tripwire.policy import policy_json_schema

    print_json(policy_json_schema())


# --------------------------------------------------------------------------------- rendering

def _show_determination(d: Determination, lines: dict[str, list[float]]) -> None:
    rows = [dict(threshold=t.id, level=t.level, state=t.state, P=t.probability,
                 evidence=", ".join(_ref(e, lines) for e in t.evidence), reason=t.reason)
            for t in d.thresholds]
    render(rows, title=f"{d.model} under {d.policy} {d.policy_version}",
           columns=["threshold", "level", "state", "P", "evidence", "reason"])
    stdout.print(f"level: {d.level or 'none (below every level)'}", markup=False)
    for action in ("train", "deploy"):
        req = d.required_safeguards.get(action, [])
        miss = d.missing_safeguards.get(action, [])
        verdict = "allowed" if action in d.allowed_actions else "not allowed"
        stdout.print(f"{action}: {verdict}; requires {', '.join(req) or 'nothing'}"
                     + (f"; missing {', '.join(miss)}" if miss else ""), markup=False)
    if d.next_due or d.next_due_compute_flop:
        due = [x for x in (d.next_due and d.next_due.isoformat(),
                           d.next_due_compute_flop and f"{fmt(d.next_due_compute_flop)} FLOP "
                           "effective compute") if x]
        stdout.print("next assessment due: " + " or ".join(due), markup=False)
    for n in d.notes:
        stdout.print(f"note: {n}", markup=False)


def _finish(warnings: list[str], bottom: Any) -> None:
    """After the answer: the warnings, grouped, then the one line that ends every answer."""
    for w in warnings:
        warn(w)
    stdout.print(bottom.text, markup=False)


def _ref(e: Any, lines: dict[str, list[float]]) -> str:
    if e.kind == "result":
        return f"#{e.result_id} {e.benchmark}={fmt(e.value)}"
    if e.kind == "model":
        v = e.value
        if isinstance(v, float) and e.quantity in lines:  # digits enough to see the side
            from tripwire.compute import digits_beside
            return f"{e.quantity}={v:.{digits_beside(v, lines[e.quantity])}g}"
        return f"{e.quantity}={fmt(v)}"
    return f"{e.kind}:{e.quantity or e.benchmark}={e.value}"


# --------------------------------------------------------------------------- top-level commands

@app.command("assess")
def assess_cmd(
    model: Annotated[str, typer.Argument(help="Model name in the register.")],
    policy: PolicyOpt,
    map_: MapOpt = None,
    set_: SetOpt = None,
    no_record: NoRecordOpt = False,
    no_anomalies: Annotated[bool, typer.Option(
        "--no-anomalies", help="Skip the implausibly-low-score (sandbagging) check.")] = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Judge a model under a policy: level, each threshold's state and probability with the
    evidence used, required and missing safeguards, allowed actions, next assessment due.
    The determination is appended to the record."""
    from tripwire import assess as assess_mod
    from tripwire.register import open_register

    reg = open_register(db)
    a = assess_mod.assess(reg, model, policy, mapping=_pairs(map_, "--map"),
                          overrides=_numbers(set_), record=not no_record,
                          anomalies=not no_anomalies)
    if json:
        print_json(a.to_dict())
        raise typer.Exit(a.bottom.exit_code if a.bottom else 0)
    _show_determination(a.determination,
                        assess_mod.quantity_lines(a.policy) if a.policy is not None else {})
    if a.entry is not None:
        info(f"recorded as entry {a.entry}")
    _finish(a.warnings + [f"stale: {s}" for s in a.stale], a.bottom)
    raise typer.Exit(a.bottom.exit_code if a.bottom else 0)


@app.command("gate")
def gate_cmd(
    model: Annotated[str, typer.Argument(help="Model name in the register.")],
    action: Annotated[str, typer.Option("--action", help="train or deploy.")],
    policy: PolicyOpt,
    map_: MapOpt = None,
    set_: SetOpt = None,
    no_record: NoRecordOpt = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """For CI: exit 0 if ACTION is allowed, 1 if blocked (names the missing safeguards),
    2 on a usage error, 3 if evidence is insufficient or stale."""
    from tripwire import assess as assess_mod
    from tripwire.register import open_register

    if action not in ("train", "deploy"):
        raise InputError(f"--action {action!r} is not train or deploy")
    reg = open_register(db)
    g = assess_mod.gate(reg, model, action, policy, mapping=_pairs(map_, "--map"),
                        overrides=_numbers(set_), record=not no_record)
    d = g.assessment.determination
    if json:
        print_json(g.to_dict())
    else:
        typer.echo(f"gate: {action} {d.model} under {d.policy} {d.policy_version} "
                   f"(level {d.level or 'none'})")
        for r in g.reasons:
            typer.echo(f"  {r}")
        _finish(g.assessment.warnings, g.bottom)
    raise typer.Exit(g.exit_code)


@app.command("plan")
def plan_cmd(
    policy: PolicyOpt,
    from_: Annotated[str | None, typer.Option(
        "--from", help="Scale up from this register model.")] = None,
    scale: Annotated[float | None, typer.Option(
        "--scale", help="Planned compute as a multiple of --from's.")] = None,
    compute: Annotated[float | None, typer.Option(
        "--compute", help="Planned training compute, FLOP (e.g. 3e26).")] = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="`date`: when the developer's own series (--organization or --family) "
        "is expected to reach each level above its highest so far, as date quantiles with "
        "the assumptions, recorded.", show_default=False)] = None,
    organization: Annotated[str | None, typer.Option(
        "--organization", help="With --by date: the series is this organisation's models.",
        show_default=False)] = None,
    family: Annotated[str | None, typer.Option(
        "--family", help="With --by date: the series is this model family.",
        show_default=False)] = None,
    at: Annotated[str | None, typer.Option(
        "--at", help="With --by date: P(level reached by YYYY-MM-DD).",
        show_default=False)] = None,
    map_: MapOpt = None,
    set_: SetOpt = None,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples per forecast.",
                                        min=0, max=100_000)] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Bootstrap seed.")] = 0,
    start: Annotated[str | None, typer.Option(
        "--start", help="Record the planned run, starting YYYY-MM-DD: clocks such as the EU "
        "two-week notification start at that record entry.", show_default=False)] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="Name of the planned model (as it will be registered).",
        show_default=False)] = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Before training: the probability that a planned model crosses each threshold (from
    the register's scaling forecasts) and the safeguards to have in place first. With
    --start, the intention is recorded (`tripwire obligations` then runs its clocks)."""
    from tripwire import assess as assess_mod
    from tripwire.register import open_register

    if by is not None:
        _timeline(policy, by, organization, family, at, n_boot, seed, db, json)
        return
    if compute is None and (from_ is None or scale is None):
        raise InputError("say what is planned: --from MODEL --scale N, or --compute FLOP")
    from tripwire.obligations import parse_when

    start_date = parse_when(start, "--start").date() if start is not None else None
    reg = open_register(db)
    p = assess_mod.plan(reg, policy, from_model=from_, scale=scale, compute=compute,
                        mapping=_pairs(map_, "--map"), overrides=_numbers(set_),
                        n_boot=n_boot, seed=seed, start=start_date, name=name)
    if json:
        print_json(p.to_dict())
        raise typer.Exit(p.bottom.exit_code if p.bottom else 0)
    m = p.planned
    stdout.print(f"planned: {m.name}: {fmt(m.compute_flop)} FLOP training compute, "
                 f"{fmt(m.effective_compute_flop)} effective"
                 + (f", ~{fmt(m.cost_usd)} USD" if m.cost_usd else ""), markup=False)
    rows = [dict(threshold=t.id, level=t.level, P=t.probability, state=t.state,
                 reason=t.reason) for t in p.determination.thresholds]
    render(rows, title=f"{m.name} under {p.determination.policy}",
           columns=["threshold", "level", "P", "state", "reason"])
    stdout.print(f"projected level: {p.determination.level or 'none'}", markup=False)
    for action, names in p.safeguards_first.items():
        stdout.print(f"before {action}: " + (", ".join(names) or "nothing missing"),
                     markup=False)
    if p.entry is not None:
        info(f"recorded as entry {p.entry} (run `tripwire obligations` for its deadlines)")
    _finish(p.warnings, p.bottom)
    raise typer.Exit(p.bottom.exit_code if p.bottom else 0)


def _timeline(policy: str, by: str, organization: str | None, family: str | None,
              at: str | None, n_boot: int, seed: int, db: str | None, json: bool) -> None:
    import datetime as dt

    from tripwire.register import open_register
    from tripwire.timeline import plan_timeline

    if by != "date":
        raise InputError(f"--by {by!r}: plans are by date", hint="--by date")
    at_date = None
    if at is not None:
        try:
            at_date = dt.date.fromisoformat(at)
        except ValueError:
            raise InputError(f"--at {at!r} is not a date", hint="use YYYY-MM-DD") from None
    reg = open_register(db)
    tl = plan_timeline(reg, policy, organization=organization, family=family, at_date=at_date,
                       n_boot=n_boot, seed=seed)
    if json:
        print_json(tl.to_dict())
        return
    stdout.print(f"{tl.series} under {tl.policy}: highest level reached "
                 f"{tl.current_level or 'none'}" + (f" (by {tl.current_by})" if tl.current_by
                                                     and tl.current_level else ""),
                 markup=False)
    rows = [dict(level=lv.level, status=lv.status, compute_flop=lv.compute_flop,
                 **{f"q{q}": d for q, d in lv.date_quantiles.items()},
                 **({f"P(by {at_date})": lv.probability} if at_date else {}),
                 note=lv.note or "") for lv in tl.levels if lv.status != "reached"]
    if rows:
        render(rows, title="when each level above is expected (date quantiles)")
    else:
        stdout.print(f"no level of {tl.policy} lies above {tl.current_level}", markup=False)
    for n in tl.not_judged:
        stdout.print(f"not judged: {n}", markup=False)
    for a in tl.assumptions:
        stdout.print(f"assumes: {a}", markup=False)
    stdout.print(f"bottom line: {tl.bottom_line}", markup=False)
    stdout.print(f"recorded as entry {tl.entry}", markup=False)


def _incident_pointer(given: bool) -> bool:
    """`attest --incident`: point to the one command that records an incident (checked before
    the other options, so the pointer is what the user sees)."""
    if given:
        raise InputError("an incident is recorded with `tripwire incident MODEL --by WHO "
                         "--evidence URL [--imminent] [--at TIME]`, not with attest",
                         hint="attest records a safeguard in place, e.g. the incident report "
                         "that meets a reporting obligation")
    return given


@app.command("attest")
def attest_cmd(
    model: Annotated[str, typer.Argument(help="Model name, or '*' for every model.")],
    safeguard: Annotated[str, typer.Argument(help="Safeguard id as the policy names it.")],
    evidence: Annotated[str, typer.Option("--evidence", help="URL or file (its sha256 is "
                                                              "stored).")],
    by: Annotated[str, typer.Option("--by", help="Who attests.")],
    all_models: Annotated[bool, typer.Option(
        "--all-models", help="An organisation-wide safeguard: applies to every model.")] = False,
    note: Annotated[str | None, typer.Option("--note", help="A remark kept with it.")] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", "-p", help="Refuse a safeguard this policy does not declare.")] = None,
    incident: Annotated[bool, typer.Option(
        "--incident", hidden=True, is_eager=True, callback=lambda v: _incident_pointer(v))
    ] = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Record a safeguard as in place for a model (or all models), appended to the record.

    An attestation meets an obligation whose clock is running (`tripwire obligations`). An
    incident is not a safeguard: record it with `tripwire incident MODEL --by WHO --evidence
    URL [--imminent]`, which starts the incident-reporting clocks."""
    from tripwire import assess as assess_mod
    from tripwire.register import open_register

    reg = open_register(db)
    att, warnings = assess_mod.attest(reg, model, safeguard, evidence=evidence, by=by,
                                      all_models=all_models, note=note, policy=policy)
    for w in warnings:
        warn(w)
    if json:
        print_json(att.model_dump(mode="json"))
        return
    scope = "every model" if att.model is None else att.model
    digest = f" (sha256 {att.evidence_sha256[:12]}…)" if att.evidence_sha256 else ""
    typer.echo(f"attested: {att.safeguard} for {scope} by {att.by}, evidence "
               f"{att.evidence}{digest}")
