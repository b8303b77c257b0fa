"""The dashboard's computed views: made once however many ask at the same time, a page that
would wait too long says what is being computed and reloads itself, the API waits, and
failures reach every caller."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from report.sample_register import POLICIES, build

from tripwire.errors import InputError
from tripwire.register import Register
from tripwire.report import data as rdata
from tripwire.web import app as web_app
from tripwire.web import create_app


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Register]:
    r = build(tmp_path_factory.mktemp("views"))
    yield r
    r.close()


def test_a_view_is_made_once_for_callers_asking_together(reg: Register) -> None:
    views = web_app._Views(reg, policies=POLICIES, n_boot=10)
    calls: list[int] = []
    gate = threading.Event()

    def make() -> str:
        calls.append(1)
        gate.wait(5)
        return "made"

    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(views.get(("k",), make)))
               for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert got == ["made"] * 4 and len(calls) == 1
    assert views.get(("k",), make) == "made" and len(calls) == 1  # cached now


def test_a_failure_reaches_every_caller_and_is_not_cached(reg: Register) -> None:
    views = web_app._Views(reg, policies=POLICIES, n_boot=10)

    def fail() -> None:
        raise InputError("no such thing")

    with pytest.raises(InputError, match="no such thing"):
        views.get(("bad",), fail, wait=5)
    assert views.get(("bad",), lambda: "fixed") == "fixed"


def test_slow_page_answers_at_once_and_reloads_api_waits(reg: Register,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real = rdata.gather_report
    release = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> rdata.ReportData:
        release.wait(60)  # the view is still being computed until the test lets it finish
        return real(*args, **kwargs)

    monkeypatch.setattr(rdata, "gather_report", slow)
    client = TestClient(create_app(register=reg, policies=POLICIES, n_boot=10, page_wait=0.05))
    r = client.get("/")  # answered while the computation is still blocked: it did not wait
    assert r.status_code == 503
    assert '<meta http-equiv="refresh" content="1">' in r.text
    assert "every model&#39;s determination under every policy" in r.text
    release.set()
    assert client.get("/api/models").status_code == 200  # the API waits for the same view
    r = client.get("/")
    assert r.status_code == 200 and "<h1>Computing</h1>" not in r.text


def test_serve_computes_the_views_once_started(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    reg = build(tmp_path)
    started = threading.Event()
    monkeypatch.setattr(web_app._Views, "warm", lambda self: started.set())
    app = create_app(register=reg, policies=POLICIES, n_boot=10, warm=True)
    assert not started.wait(0.2)  # not while the app is being built...
    with TestClient(app):
        assert started.wait(5)  # ...but as soon as the server starts
    reg.close()
