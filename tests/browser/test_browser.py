"""The dashboard and the HTML report in a real browser (Debian's chromium through Playwright):
pages load, plots draw points, attestations need the token, hostile names stay text, and the
report file draws its plots with the network off."""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clirun import run
from helpers import write
from report.sample_register import FOCUS, HOSTILE, POLICIES, build

from tripwire.register import Register, open_register
from tripwire.report import gather_report, write_report
from tripwire.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
TOKEN = "browser-test-token-0123456789"
POINTS = ".plot .scatterlayer .point"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium "
                    "(apt-get install chromium; as root, TRIPWIRE_INSTALL_BROWSER=1 bash scripts/test.sh does it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Register]:
    reg = build(tmp_path_factory.mktemp("browser"))
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def server(register: Register, browser: Any) -> Iterator[str]:
    yield from _serve(create_app(register=register, token=TOKEN, policies=POLICIES, n_boot=20))


def _serve(app: Any) -> Iterator[str]:
    """Run `app` on a free local port until the generator is closed; yield its base URL."""
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the dashboard did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


class Watch:
    """A page with its dialogs, console errors and off-site requests recorded."""

    def __init__(self, browser: Any, **context: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watch(browser: Any) -> Iterator[Watch]:
    w = Watch(browser)
    yield w
    w.close()


def model_url(base: str, name: str) -> str:
    return base + "/models/" + urllib.parse.quote(name, safe="")


def test_dashboard_loads_and_plots_render(server: str, watch: Watch):
    page = watch.page
    page.goto(server + "/")
    assert page.title().startswith("Overview")
    assert page.locator("table.matrix tbody tr").count() >= 50
    page.goto(model_url(server, FOCUS))
    page.wait_for_selector(POINTS, timeout=15000)
    assert page.locator(POINTS).count() >= 30
    assert page.locator(".plot svg.main-svg").count() >= 1
    assert page.locator("h1").inner_text() == FOCUS
    assert not watch.errors and not watch.dialogs


def test_hostile_name_shows_as_text(server: str, watch: Watch):
    page = watch.page
    for url in (server + "/", model_url(server, HOSTILE), server + "/evaluations"):
        page.goto(url)
        page.wait_for_load_state("load")
        assert page.get_by_text(HOSTILE, exact=True).count() >= 1, url
    assert page.locator("script:not([src]):not([type='application/json'])").count() == 0
    page.goto(model_url(server, HOSTILE))
    assert page.locator("h1").inner_text() == HOSTILE
    page.wait_for_selector(POINTS, timeout=15000)
    # the plot's label and hover show the name as typed, not as markup
    label = page.locator(".plot .scatterlayer .textpoint").first
    assert label.text_content() == HOSTILE
    page.locator(".plot .scatterlayer .trace:last-child .point").first.hover(force=True)
    page.wait_for_selector(".hoverlayer .hovertext", timeout=5000)
    assert HOSTILE in page.locator(".hoverlayer .hovertext").first.text_content()
    page.wait_for_timeout(200)
    assert watch.dialogs == [] and not watch.errors


def _attest(page: Any, base: str, safeguard: str, token: str) -> str:
    page.goto(model_url(base, FOCUS))
    form = page.locator("form[data-api=attest]")
    form.locator("input[name=safeguard]").fill(safeguard)
    form.locator("input[name=by]").fill("safety lead")
    form.locator("input[name=evidence]").fill("https://example.org/evidence")
    form.locator("input[name=token]").fill(token)
    form.locator("button[type=submit]").click()
    result = form.locator(".result")
    page.wait_for_function("el => el.textContent && el.textContent !== 'sending…'",
                           arg=result.element_handle(), timeout=10000)
    return str(result.text_content())


def test_attestation_with_the_token_appears_in_the_record(server: str, watch: Watch):
    page = watch.page
    text = _attest(page, server, "model-evaluation", TOKEN)
    assert text.startswith("attested model-evaluation"), text
    page.goto(server + "/record")
    assert page.get_by_text("model-evaluation").count() >= 1
    assert "The record verifies" in page.locator(".notice").first.inner_text()
    page.locator("button", has_text="verify the record now").click()
    page.wait_for_url(re.compile(r"/record/verify"))
    assert page.get_by_text("verified at").count() == 1
    assert "The record verifies" in page.locator(".notice").first.inner_text()


def test_attestation_without_the_token_is_refused(server: str, watch: Watch):
    page = watch.page
    text = _attest(page, server, "serious-incident-reporting", "not-the-token")
    assert text.startswith("refused (401)"), text
    page.goto(server + "/record")
    assert page.get_by_text("serious-incident-reporting").count() == 0
    # the write guard is the server's, not the page's: a bare fetch is refused too
    status = page.evaluate("""async () => (await fetch('/api/attest', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({safeguard: 'x',
        by: 'y', evidence: 'https://z'})})).status""")
    assert status == 401


@pytest.mark.parametrize("self_contained", [False, True], ids=["plotly-beside", "one-file"])
def test_html_report_renders_offline_from_a_file(register: Register, browser: Any,
                                                 tmp_path: Path, self_contained: bool):
    data = gather_report(register, models=[HOSTILE], policies=POLICIES, n_boot=20,
                         thresholds={"mmlu": [0.8]},
                         sections=("determinations", "forecasts", "scaling", "record"))
    path = write_report(data, "html", tmp_path, self_contained=self_contained)
    assert len(list(tmp_path.iterdir())) == (1 if self_contained else 2)
    w = Watch(browser, offline=True)
    attempted: list[str] = []

    def block(route: Any) -> None:
        if not route.request.url.startswith("file:"):
            attempted.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    try:
        w.page.route("**/*", block)
        w.page.goto(path.as_uri())
        w.page.wait_for_selector(POINTS, timeout=15000)
        assert w.page.locator(POINTS).count() >= 100
        assert w.page.locator(".plot svg.main-svg").count() >= 4
        assert w.page.locator("h1").inner_text() == f"tripwire report: {HOSTILE}"
        w.page.wait_for_timeout(300)
        assert attempted == [] and w.dialogs == [] and not w.errors
    finally:
        w.close()


def test_dashboard_forecasts_show_reliability_diagrams_and_warnings(server: str,
                                                                    watch: Watch):
    """Each forecast on the dashboard has its reliability diagram drawn beside it (the
    interval curve and the threshold-probability points), and a forecast whose backtest
    could not be run says it is not calibrated, on its figure and beside it."""
    page = watch.page
    page.goto(server + "/forecasts")
    page.wait_for_selector("[id^=fig-rel-] .scatterlayer .point", timeout=20000)
    cards = page.locator(".card", has=page.locator("[id^=fig-cap-]"))
    assert cards.count() >= 6
    for i in range(cards.count()):
        card = cards.nth(i)
        notice = card.locator("[data-calibration]")
        assert notice.count() == 1 and notice.is_visible()
        status = notice.get_attribute("data-calibration")
        if status == "not calibrated":
            assert "too few models for a backtest" in notice.inner_text()
            assert card.locator("[id^=fig-rel-]").count() == 0
            legend = str(card.locator("[id^=fig-cap-] .legend").text_content())
            assert "80 % interval (not calibrated)" in legend
            notes = card.locator("[id^=fig-cap-] .annotation").all_text_contents()
            assert "not calibrated: too few models for a backtest" in notes
        else:
            rel = card.locator("[id^=fig-rel-]")
            assert rel.count() == 1
            # nine interval levels on the left, probability bins on the right
            left = rel.locator(".subplot.xy .scatterlayer .point")
            right = rel.locator(".subplot.x2y2 .scatterlayer .point")
            assert left.count() == 9 and right.count() >= 2
            assert "how far to trust the forecast" in str(rel.locator(".gtitle").text_content())
    page.goto(model_url(server, "Qwen2-72B"))
    page.wait_for_selector("[data-calibration='not calibrated']", timeout=20000)
    assert page.locator("[data-calibration]").count() >= 2
    assert not watch.errors and not watch.dialogs


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[str]:
    """A dashboard over a register whose record starts three clocks: a planned run long
    overdue, one met late by an attestation, and an incident whose 15-day clock is open."""
    folder = tmp_path_factory.mktemp("clocks")
    db = str(folder / "r.db")

    def cli(*args: str, today: str, code: int = 0) -> None:
        r = run(*args, "--db", db, env={"TRIPWIRE_TODAY": today})
        assert r.exit_code == code, r.output

    cli("init", today="2026-01-01")
    cli("ingest", str(write(folder / "m.csv", "name,compute\nlate-run,2e25\nmet-run,2e25\n"
                                              "huge,2e26\n")), today="2026-01-01")
    for name in ("late-run", "met-run"):
        cli("plan", "--policy", "eu-ai-act-gpai", "--compute", "2e25", "--start", "2026-02-01",
            "--name", name, today="2026-01-01")
    cli("attest", "met-run", "commission-notification", "--evidence",
        "https://example.org/notice", "--by", "legal", today="2026-01-20")
    cli("gate", "huge", "--action", "deploy", "--policy", "ca-sb53", today="2026-01-01", code=1)
    cli("incident", "huge", "--by", "oncall", "--evidence", "https://example.org/inc",
        "--at", "2026-01-18T09:00:00", today="2026-01-18")
    reg = open_register(db)
    try:
        yield from _serve(create_app(register=reg, policies=["eu-ai-act-gpai", "ca-sb53"],
                                     n_boot=10))
    finally:
        reg.close()


def test_dashboard_shows_the_calendar_overdue_first(clocked: str, watch: Watch,
                                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TRIPWIRE_TODAY", "2026-01-22")
    page = watch.page
    page.goto(clocked + "/")
    rows = page.locator("table.obligations tbody tr")
    assert rows.count() == 3
    cells = [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
             for i in range(3)]
    # due, days left, status, model, policy, safeguard, within, started by, clause, met by, ...
    assert [(r[0], r[2], r[3]) for r in cells] == [
        ("2026-01-15", "overdue", "late-run"), ("2026-02-02", "open", "huge"),
        ("2026-01-15", "met-late", "met-run")]
    assert cells[0][1] == "-7.0" and cells[1][1] == "11.4"  # due 2026-02-02T09:00
    assert cells[1][5] == "critical-safety-incident-reporting" and cells[1][6] == "15 days"
    assert cells[2][9].startswith("attestation (entry") and "2026-01-20" in cells[2][9]
    assert cells[2][10] == "https://example.org/notice"
    assert "bad" in (rows.nth(0).locator(".badge").get_attribute("class") or "")
    page.locator("table.obligations a", has_text="late-run").click()
    page.wait_for_url(re.compile(r"/models/late-run"))
    mine = page.locator("table.obligations tbody tr")
    assert mine.count() == 1 and "overdue" in mine.first.inner_text()
    api = page.evaluate("async () => (await (await fetch('/api/obligations')).json())")
    assert [o["status"] for o in api] == ["overdue", "open", "met-late"]
    assert not watch.errors and not watch.dialogs
