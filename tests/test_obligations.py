"""Obligations from the record, on SQLite and PostgreSQL: the crossing that starts a clock,
attestations that meet it, incidents and their imminent-only deadlines."""

from __future__ import annotations

import datetime as dt

import pytest

from tripwire import assess, ledger, obligations
from tripwire.ingest.batch import Batch
from tripwire.register import Register

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _ledger(reg: Register, tmp_path, rows: list[tuple[str, str, float]]) -> None:
    b = Batch(path=str(tmp_path / "ledger.csv"), kind="ledger-csv", sha256="0" * 64, size=1)
    b.ledger = [ledger.Entry(model=m, component=c, method="given", flop=f, source="log")
                for m, c, f in rows]
    reg.ingest_batches([b])


def test_clock_starts_at_the_first_crossing_and_an_attestation_meets_it(
        register: Register, tmp_path) -> None:
    _ledger(register, tmp_path, [("a", "pre-training", 8e24), ("b", "pre-training", 8e24),
                                 ("b", "fine-tuning", 3e24)])
    assess.assess(register, "a", "eu-ai-act-gpai", at=T0)  # under the line: no clock
    assess.assess(register, "b", "eu-ai-act-gpai", at=T0)
    assess.assess(register, "b", "eu-ai-act-gpai", at=T0 + dt.timedelta(days=3))
    [o] = obligations.obligations(register, as_of=T0 + dt.timedelta(days=20))
    assert (o.model, o.safeguard, o.status) == ("b", "commission-notification", "overdue")
    assert o.event_at == T0 and o.due == T0 + dt.timedelta(days=14)
    assert obligations.obligations(register, model="b", as_of=T0 + dt.timedelta(days=20)) == [o]
    assert obligations.obligations(register, model="a", as_of=T0 + dt.timedelta(days=20)) == []
    assess.attest(register, "b", "commission-notification", by="legal",
                  evidence="https://example.org/n", at=T0 + dt.timedelta(days=10))
    assert obligations.obligations(register, as_of=T0 + dt.timedelta(days=20)) == []
    [met] = obligations.obligations(register, as_of=T0 + dt.timedelta(days=20),
                                    include_met=True)
    assert met.status == "met" and met.met_at == T0 + dt.timedelta(days=10)


@pytest.mark.parametrize("imminent, expected", [(False, ["72 hours"]),
                                                (True, ["24 hours", "72 hours"])])
def test_incident_deadlines(register: Register, tmp_path, imminent: bool,
                            expected: list[str]) -> None:
    _ledger(register, tmp_path, [("f", "pre-training", 2e26)])
    assess.assess(register, "f", "ny-raise", at=T0)
    obligations.record_incident(register, "f", by="oncall", evidence="x", imminent=imminent,
                                at=T0 + dt.timedelta(days=1))
    got = obligations.obligations(register, as_of=T0 + dt.timedelta(days=1, hours=1))
    assert sorted(o.within for o in got) == expected
    assert all(o.status == "open" and o.event == "incident" for o in got)


def test_planned_rows_start_clocks_on_both_backends(register: Register, tmp_path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from tripwire import ingest

    path = tmp_path / "models.csv"
    path.write_text("name,compute,status,start\nbig-run,3e25,planned,2026-02-01\n"
                    "small-run,5e24,planned,2026-02-01\nold,1e24,,\n", encoding="utf-8")
    monkeypatch.setenv("TRIPWIRE_TODAY", "2026-01-01")
    out = register.ingest(ingest.read_file(path))
    assert (out.models, out.planned) == (1, 2)
    [o] = obligations.obligations(register, as_of=T0 + dt.timedelta(days=15))
    assert (o.model, o.status, o.event, o.event_at) == ("big-run", "overdue", "crossing-known",
                                                        T0)
    assert o.due == T0 + dt.timedelta(days=14)
    assert obligations.obligations(register, model="small-run",
                                   as_of=T0 + dt.timedelta(days=15)) == []
