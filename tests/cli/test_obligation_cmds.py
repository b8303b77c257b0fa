"""The clocks through the CLI: a planned run starts the EU notification clock, an incident
the SB 53 ones; `obligations` lists them, overdue first; `gate` names overdue ones; an
attestation meets them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import run as _run
from helpers import write


def run(*args: str, today: str | None = None):
    return _run(*args, env={"TRIPWIRE_TODAY": today} if today else None)


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "r.db")
    assert run("init", "--db", path).exit_code == 0
    return path


def obligations(db: str, *extra: str) -> list[dict]:
    r = run("obligations", "--db", db, "--json", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["obligations"]


def test_planned_run_starts_the_two_week_clock(db: str, tmp_path: Path) -> None:
    r = run("plan", "--policy", "eu-ai-act-gpai", "--compute", "2e25", "--start", "2026-02-01",
            "--name", "acme-2", "--db", db, today="2026-01-01")
    assert r.exit_code == 0, r.output
    assert "recorded as entry" in r.output
    [o] = obligations(db, "--as-of", "2026-01-10")
    assert (o["model"], o["safeguard"], o["status"]) == ("acme-2", "commission-notification",
                                                          "open")
    assert o["due"].startswith("2026-01-15") and o["days_left"] == pytest.approx(5)
    assert o["event"] == "crossing-known" and "Art. 52(1)" in o["source"]
    [late] = obligations(db, "--as-of", "2026-01-20")
    assert late["status"] == "overdue" and late["days_left"] == pytest.approx(-5)
    table = run("obligations", "--db", db, "--as-of", "2026-01-20")
    assert "overdue" in table.stdout and "2026-01-15" in table.stdout
    # The model, once registered, is gated with the overdue duty named.
    run("ingest", str(write(tmp_path / "m.csv", "name,compute\nacme-2,2e25\n")), "--db", db)
    g = run("gate", "acme-2", "--action", "train", "--policy", "eu-ai-act-gpai", "--db", db,
            today="2026-01-20")
    assert "overdue: commission-notification was due 2026-01-15" in g.stdout
    # Attesting the notification meets it (late, and the record says when).
    ev = write(tmp_path / "notice.txt", "notified")
    run("attest", "acme-2", "commission-notification", "--evidence", str(ev), "--by", "legal",
        "--db", db, today="2026-01-21")
    assert obligations(db, "--as-of", "2026-01-22") == []
    [met] = obligations(db, "--as-of", "2026-01-22", "--all")
    assert met["status"] == "met-late" and met["met_at"].startswith("2026-01-21")


def test_overdue_blocks_where_the_policy_says_so(db: str, tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "src/tripwire/policy/builtins/eu-ai-act-gpai.yaml"
            ).read_text()
    pol = write(tmp_path / "eu-strict.yaml", text.replace(
        "name: eu-ai-act-gpai", "name: eu-strict\noverdue: block", 1))
    run("ingest", str(write(tmp_path / "m.csv", "name,compute\nbig,2e25\n")), "--db", db)
    for s in ("commission-notification", "cybersecurity-protection"):
        run("attest", "big", s, "--evidence", "https://example.org/x", "--by", "a", "--db", db,
            today="2025-12-01")
    g0 = run("gate", "big", "--action", "train", "--policy", str(pol), "--db", db,
             today="2026-01-01")
    assert g0.exit_code == 0, g0.output  # attested before the crossing: not yet this duty
    g = run("gate", "big", "--action", "train", "--policy", str(pol), "--db", db,
            today="2026-01-20")
    assert g.exit_code == 1 and "blocks on overdue obligations" in g.stdout


def test_incident_starts_the_reporting_clocks(db: str, tmp_path: Path) -> None:
    run("ingest", str(write(tmp_path / "m.csv", "name,compute\nhuge,2e26\n")), "--db", db)
    run("gate", "huge", "--action", "deploy", "--policy", "ca-sb53", "--db", db,
        today="2026-03-01")
    r = run("incident", "huge", "--by", "oncall", "--evidence", "https://example.org/inc",
            "--imminent", "--at", "2026-03-02T10:00:00", "--db", db)
    assert r.exit_code == 0, r.output
    got = obligations(db, "--as-of", "2026-03-04", "--policy", "ca-sb53")
    assert [(o["within"], o["status"]) for o in got] == [("24 hours", "overdue"),
                                                         ("15 days", "open")]
    assert got[1]["due"].startswith("2026-03-17T10:00")
    bad = run("incident", "nope", "--by", "x", "--evidence", "y", "--db", db)
    assert bad.exit_code == 2


def test_report_shows_the_calendar(db: str, tmp_path: Path) -> None:
    run("plan", "--policy", "eu-ai-act-gpai", "--compute", "2e25", "--start", "2026-02-01",
        "--name", "acme-3", "--db", db, today="2026-01-01")
    run("ingest", str(write(tmp_path / "m.csv", "name,compute\nacme-3,2e25\n")), "--db", db)
    out = tmp_path / "r.json"
    r = run("report", "--all", "--format", "json", "--n-boot", "10", "-o", str(out),
            "--db", db, today="2026-01-20")
    assert r.exit_code == 0, r.output
    [o] = json.loads(out.read_text())["obligations"]
    assert (o["due"], o["status"], o["safeguard"]) == ("2026-01-15", "overdue",
                                                        "commission-notification")
    html = tmp_path / "r.html"
    run("report", "--all", "--n-boot", "10", "-o", str(html), "--db", db, today="2026-01-20")
    text = html.read_text()
    assert 'id="obligations"' in text and "2026-01-15" in text


def test_markdown_report_shows_the_calendar_with_what_met_each(db: str, tmp_path: Path) -> None:
    for name in ("late-1", "open-2"):
        run("plan", "--policy", "eu-ai-act-gpai", "--compute", "2e25", "--start", "2026-02-01",
            "--name", name, "--db", db, today="2026-01-01" if name == "late-1" else "2026-01-18")
    run("ingest", str(write(tmp_path / "m.csv", "name,compute\nlate-1,2e25\nopen-2,2e25\n")),
        "--db", db)
    ev = write(tmp_path / "notice.txt", "notified")
    run("attest", "late-1", "commission-notification", "--evidence", str(ev), "--by", "legal",
        "--db", db, today="2026-01-21")
    out = tmp_path / "r.md"
    r = run("report", "--all", "--format", "md", "--n-boot", "10", "-o", str(out), "--db", db,
            today="2026-01-22")
    assert r.exit_code == 0, r.output
    section = out.read_text().split("## Obligations", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| 2026")]
    # open before met: the calendar keeps the order of `tripwire obligations --all`
    assert [r.split(" | ")[2] for r in rows] == ["open", "met-late"]
    assert rows[0].startswith("| 2026-02-01 | 10 |")
    assert "attestation (entry" in rows[1] and "2026-01-21)" in rows[1]
    assert str(ev).replace("_", "\\_") in rows[1]
    listing = run("obligations", "--db", db, "--all", "--as-of", "2026-01-22")
    assert "attestation (entry" in listing.stdout


def test_attest_points_to_the_incident_command(db: str) -> None:
    for args in (("attest", "m", "--incident"),
                 ("attest", "m", "x", "--incident", "--by", "a", "--evidence", "b")):
        r = run(*args, "--db", db)
        assert r.exit_code == 2
        assert "tripwire incident MODEL" in r.output, r.output
    assert "record it with `tripwire incident" in " ".join(run("attest", "--help").stdout.split())


PLANNED = """\
name,organization,compute,params,tokens,status,start,source
acme-next,Acme,2e25,,,planned,2026-03-01,board minute 2026-01
acme-small,Acme,3e24,,,planned,2026-04-01,board minute 2026-01
acme-6nd,Acme,,4e11,2e13,planned,2026-05-01,design doc
acme-1,Acme,8e24,,,released,,model card
"""


def test_a_planned_row_starts_the_clock_at_its_record_entry(db: str, tmp_path: Path) -> None:
    r = run("ingest", str(write(tmp_path / "models.csv", PLANNED)), "--db", db, "--json",
            today="2026-01-05")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)["summary"]
    assert (summary["models"], summary["planned"]) == (1, 3)
    # Planned runs are intentions, not models: only the released one is registered.
    names = [m["name"] for m in json.loads(run("models", "--db", db, "--json").stdout)]
    assert names == ["acme-1"]
    got = obligations(db, "--as-of", "2026-01-10")
    # 2e25 given, and 6 x 4e11 x 2e13 = 4.8e25 estimated (a factor of 2 as one standard
    # deviation: P(> 1e25) = 0.99, past the policy's 0.9): two clocks; 3e24 starts none.
    assert sorted((o["model"], o["due"][:10], o["status"]) for o in got) == [
        ("acme-6nd", "2026-01-19", "open"), ("acme-next", "2026-01-19", "open")]
    # Each plan entry names the file and row it came from.
    plans = json.loads(run("record", "--kind", "plan", "--db", db, "--json").stdout)
    assert [(e["payload"]["model"], e["payload"]["file"]["line"]) for e in plans] == [
        ("acme-next", 2), ("acme-small", 3), ("acme-6nd", 4)]
    assert {o["event_seq"] for o in got} == {plans[0]["seq"], plans[2]["seq"]}
    late = obligations(db, "--as-of", "2026-01-25")
    assert {o["status"] for o in late} == {"overdue"}
    # Registered later under its planned name, the model is gated with the overdue duty.
    run("ingest", str(write(tmp_path / "trained.csv", "name,compute\nacme-next,2.1e25\n")),
        "--db", db)
    g = run("gate", "acme-next", "--action", "train", "--policy", "eu-ai-act-gpai", "--db", db,
            today="2026-01-25")
    assert "overdue: commission-notification was due 2026-01-19" in g.stdout
    # The same file again changes nothing; an edited one does not move the clock.
    run("ingest", str(write(tmp_path / "models.csv", PLANNED + "acme-2,Acme,1e24,,,,,x\n")),
        "--db", db, today="2026-01-20")
    again = obligations(db, "--as-of", "2026-01-25")
    assert sorted(o["due"][:10] for o in again) == ["2026-01-19", "2026-01-19"]


@pytest.mark.parametrize("row, column, fix", [
    ("x,Acme,2e25,,,planed,2026-03-01,s", "status", "planned, trained, released"),
    ("x,Acme,2e25,,,planned,,s", "start", "YYYY-MM-DD"),
    ("x,Acme,2e25,,,planned,March,s", "start", "date"),
    ("x,Acme,2e25,,,released,2026-03-01,s", "start", "only a planned run"),
    ("x,Acme,,,,planned,2026-03-01,s", "compute", "planned training compute"),
])
def test_bad_planned_rows_name_file_row_column_and_store_nothing(
        db: str, tmp_path: Path, row: str, column: str, fix: str) -> None:
    head = PLANNED.splitlines()[0]
    p = write(tmp_path / "bad.csv", f"{head}\nok-1,Acme,1e24,,,,,s\n{row}\n")
    r = run("ingest", str(p), "--db", db)
    assert r.exit_code == 2
    [line] = [x for x in r.output.splitlines() if x.startswith("error:")]
    assert "bad.csv:3" in line and f"'{column}'" in line and fix in r.output, r.output
    assert json.loads(run("models", "--db", db, "--json").stdout) == []
    assert obligations(db, "--as-of", "2027-01-01") == []


MODELS = """\
name,compute
notified-early,2e25
notified-late,2e25
overdue-a,3e25
open-b,2e25
huge,2e26
small,5e23
Modèle-é,2e25
"""


def _calendar(db: str, tmp_path: Path) -> None:
    """A register whose clocks are overdue, open, met and met late, from determinations (one
    model judged twice), a planned run, a models table's planned row and incidents (imminent
    and not); a model under the line and one judged under a policy that clocks nothing."""
    run("ingest", str(write(tmp_path / "m.csv", MODELS)), "--db", db, today="2026-01-01")
    run("ingest", str(write(tmp_path / "p.csv", "name,compute,status,start\n"
                            "tabled-run,3e25,planned,2026-04-01\n")), "--db", db,
        today="2026-01-10")

    def gate(model: str, policy: str, today: str) -> None:
        r = run("gate", model, "--action", "train", "--policy", policy, "--db", db, today=today)
        assert r.exit_code in (0, 1), r.output

    for m in ("notified-early", "notified-late", "overdue-a", "Modèle-é", "small"):
        gate(m, "eu-ai-act-gpai", "2026-01-01")
    for p in ("ca-sb53", "ny-raise", "eu-ai-act-gpai", "anthropic-rsp"):
        gate("huge", p, "2026-01-10")
    gate("open-b", "eu-ai-act-gpai", "2026-01-25")
    gate("open-b", "eu-ai-act-gpai", "2026-01-28")  # the clock keeps the first crossing
    for m, day in (("notified-early", "2026-01-05"), ("notified-late", "2026-01-20")):
        r = run("attest", m, "commission-notification", "--evidence", "https://example.org/n",
                "--by", "legal", "--db", db, today=day)
        assert r.exit_code == 0, r.output
    r = run("plan", "--policy", "eu-ai-act-gpai", "--compute", "2e25", "--start", "2026-03-01",
            "--name", "acme-plan", "--db", db, today="2026-01-20")
    assert r.exit_code == 0, r.output
    for at, flag in (("2026-01-30T10:00:00", ("--imminent",)), ("2026-01-31T09:00:00", ())):
        r = run("incident", "huge", "--by", "oncall", "--evidence", "https://example.org/i",
                "--at", at, *flag, "--db", db)
        assert r.exit_code == 0, r.output


CALENDAR = [  # as of 2026-02-01, --all: (model, policy, within, status, due, event)
    ("Modèle-é", "eu-ai-act-gpai", "2 weeks", "overdue", "2026-01-15", "crossing-known"),
    ("overdue-a", "eu-ai-act-gpai", "2 weeks", "overdue", "2026-01-15", "crossing-known"),
    ("huge", "eu-ai-act-gpai", "2 weeks", "overdue", "2026-01-24", "crossing-known"),
    ("tabled-run", "eu-ai-act-gpai", "2 weeks", "overdue", "2026-01-24", "crossing-known"),
    ("huge", "ca-sb53", "24 hours", "overdue", "2026-01-31", "incident"),
    ("huge", "ny-raise", "24 hours", "overdue", "2026-01-31", "incident"),
    ("huge", "ny-raise", "72 hours", "open", "2026-02-02", "incident"),
    ("acme-plan", "eu-ai-act-gpai", "2 weeks", "open", "2026-02-03", "crossing-known"),
    ("huge", "ny-raise", "72 hours", "open", "2026-02-03", "incident"),
    ("open-b", "eu-ai-act-gpai", "2 weeks", "open", "2026-02-08", "crossing-known"),
    ("huge", "ca-sb53", "15 days", "open", "2026-02-14", "incident"),
    ("huge", "ca-sb53", "15 days", "open", "2026-02-15", "incident"),
    ("notified-late", "eu-ai-act-gpai", "2 weeks", "met-late", "2026-01-15", "crossing-known"),
    ("notified-early", "eu-ai-act-gpai", "2 weeks", "met", "2026-01-15", "crossing-known"),
]


def test_the_calendar_is_the_same_on_both_backends_and_both_read_paths(
        db_url: str, tmp_path: Path) -> None:
    """`tripwire obligations` reads a SQLite register with the standard library's driver and
    PostgreSQL through SQLAlchemy; the library call reads either through SQLAlchemy. Every
    answer (all obligations, one model's, one policy's) is the same on each, field for field,
    and the same calendar on both backends."""
    from tripwire import obligations as obl
    from tripwire.clock import parse_when
    from tripwire.policy import load_policy
    from tripwire.register import open_register

    assert run("init", "--db", db_url).exit_code == 0
    _calendar(db_url, tmp_path)
    got = obligations(db_url, "--as-of", "2026-02-01", "--all")
    assert [(o["model"], o["policy"], o["within"], o["status"], o["due"][:10], o["event"])
            for o in got] == CALENDAR
    assert {o["safeguard"] for o in got if o["event"] == "incident"} == {
        "critical-safety-incident-reporting"}
    assert obligations(db_url, "--as-of", "2026-02-01") == got[:-2]  # met ones only with --all
    reg = open_register(db_url)
    try:
        for extra, model, policy in (((), None, None), (("--model", "huge"), "huge", None),
                                     (("--model", "Modèle-é"), "Modèle-é", None),
                                     (("--policy", "ca-sb53"), None, "ca-sb53")):
            lib = obl.obligations(reg, as_of=parse_when("2026-02-01"), include_met=True,
                                  model=model,
                                  policies=[load_policy(policy)] if policy else None)
            answer = obligations(db_url, "--as-of", "2026-02-01", "--all", *extra)
            assert answer == [o.to_dict() for o in lib], extra
            assert answer == [o for o in got if model in (None, o["model"])
                              and policy in (None, o["policy"])], extra
        # The built-ins' clocks kept as data answer as the parsed policies do.
        parsed = [load_policy(n) for n in ("ca-sb53", "eu-ai-act-gpai", "ny-raise")]
        assert got == [o.to_dict() for o in obl.obligations(
            reg, policies=parsed, as_of=parse_when("2026-02-01"), include_met=True)]
    finally:
        reg.close()
