"""The "what changed" view: a model against its previous release, in the report (data, HTML,
forest figure) and on the dashboard's model page and its JSON twin."""

from __future__ import annotations

import json
import urllib.parse

from fastapi.testclient import TestClient
from report.sample_register import HOSTILE, POLICIES

from tripwire.register import Register
from tripwire.report import gather_report, render_html
from tripwire.report.changes import changes_section
from tripwire.report.figures import forest_figure
from tripwire.web import create_app

NEW = "falcon-180B"  # family falcon: falcon-7b is the previous release


def test_section_compares_with_the_previous_release(sample: Register) -> None:
    s = changes_section(sample, NEW)
    assert s is not None and (s.baseline, s.how) == ("falcon-7b", "family")
    mmlu = next(r for r in s.rows if r.benchmark == "mmlu")
    assert mmlu.verdict == "improvement" and mmlu.test == "unpaired-binomial"
    assert "mmlu acc" in s.improvements and s.regressions == []
    fig = forest_figure(s)
    assert fig is not None
    assert sum(len(t["x"]) for t in fig["data"]) == len(s.compared)
    assert changes_section(sample, HOSTILE) is None  # no family, no parent: no section


def test_report_shows_what_changed(sample: Register) -> None:
    d = gather_report(sample, models=[NEW], policies=POLICIES[:1], n_boot=20,
                      sections=("changes",))
    assert d.changes_for(NEW) is not None
    html = render_html(d)
    assert 'id="changes"' in html and "Compared with <b>falcon-7b</b>" in html
    assert 'data-target="fig-changes-0"' in html


def test_dashboard_model_page_and_json(sample: Register) -> None:
    client = TestClient(create_app(register=sample, token="t" * 32, policies=POLICIES[:1],
                                   n_boot=20))
    path = "/models/" + urllib.parse.quote(NEW, safe="")
    page = client.get(path)
    assert page.status_code == 200 and "What changed" in page.text
    assert "Compared with <b>falcon-7b</b>" in page.text and 'id="fig-changes"' in page.text
    api = client.get("/api" + path)
    changes = json.loads(api.text)["changes"]
    assert changes["baseline"] == "falcon-7b" and "mmlu acc" in changes["improvements"]


def test_markdown_report_lists_the_changes(sample: Register) -> None:
    from tripwire.report import render_markdown

    d = gather_report(sample, models=[NEW], policies=POLICIES[:1], n_boot=20,
                      sections=("changes",))
    md = render_markdown(d)
    assert "## What changed" in md and "falcon-180B against falcon-7b (family)" in md
    assert "| mmlu | acc |" in md


def test_nothing_in_common_says_so(sample: Register) -> None:
    s = changes_section(sample, "GPT-4 Turbo")
    assert s is not None and s.baseline == "GPT-4" and s.rows == []
    d = gather_report(sample, models=["GPT-4 Turbo"], policies=POLICIES[:1], n_boot=20,
                      sections=("changes",))
    assert "no benchmark metric in common (only GPT-4 has" in render_html(d)
