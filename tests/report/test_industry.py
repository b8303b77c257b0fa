"""The industry report on Epoch AI's notable-models export: counts over each line with
expected counts, models near a line, every model under every built-in policy, compute growth,
crossing forecasts and the as-of backtests; and the demo that writes it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tripwire import demo
from tripwire.policy import builtin_names
from tripwire.register import open_register
from tripwire.report.industry import gather_industry, render_industry


@pytest.fixture(scope="module")
def industry(tmp_path_factory: pytest.TempPathFactory, shared_data: Path):
    from tripwire import ingest

    reg = open_register(str(tmp_path_factory.mktemp("ind") / "t.db"), create=True)
    reg.ingest(ingest.read_file(shared_data / "epoch_ai" / "notable_ai_models_2025-02-24.csv"))
    data = gather_industry(reg, n_boot=100)
    reg.close()
    return data


def test_counts_near_models_and_levels(industry) -> None:
    d = industry
    assert d.n_models == 895
    eu = next(s for s in d.lines if s.line == 1e25)
    assert eu.count["point"] == 17 and eu.count["unknown"] > 0
    assert eu.count["interval80"][0] <= eu.count["expected"] <= eu.count["interval80"][1]
    # The step series ends at today's counts.
    assert eu.series[-1].point == 17
    assert [p.date for p in eu.series] == sorted(p.date for p in eu.series)
    grok = next(m for m in d.near if m.name == "Grok-3")
    assert grok.p_over["1e+26"] > 0.9 and grok.confidence == "Confident"
    assert set(d.policies) == set(builtin_names())
    assert len(d.levels) == 895 and all(set(r.levels) == set(d.policies) for r in d.levels)


def test_growth_crossings_and_backtests(industry) -> None:
    d = industry
    assert d.growth is not None and 3 < d.growth["per_year"] < 8
    c26 = next(c for c in d.crossings if c["threshold"] == 1e26)
    assert c26["crossed_by"] == "Grok-3"
    c27 = next(c for c in d.crossings if c["threshold"] == 1e27)
    assert c27["date_quantiles"]["0.5"] is not None
    bt = {(b["threshold"], str(b["as_of"])): b for b in d.backtests}
    gpt4 = bt[(1e25, "2022-12-31")]
    assert gpt4["actual_model"] == "GPT-4" and gpt4["inside80"] is True
    assert bt[(1e26, "2023-12-31")]["actual_model"] == "Grok-3"
    # Every half-decade crossed since 2013, forecast one to three years ahead.
    cal = d.calibration
    assert cal is not None and cal["n"] >= 30
    assert {r["model"] for r in cal["rows"]} >= {"GPT-4", "Grok-3"}
    assert 0 <= cal["inside80"] <= cal["inside95"] <= 1


def test_renders_offline_in_three_formats(industry) -> None:
    html = render_industry(industry, "html")
    assert "Models over each compute line" in html and 'class="tw-figure"' in html
    page = html.split("<script>")[0]  # the page before the inlined plotly.js
    assert not re.search(r"""(src|href)=["']https?://""", page)  # nothing fetched
    assert "connect-src 'none'" in page
    # A summary first with the key counts and dates, then the figure, then the tables; a
    # table of contents; the long tables folded.
    body = page.split("<main>")[1]
    assert body.index('id="summary"') < body.index('id="fig-lines"') < body.index('id="near"')
    assert '<nav aria-label="contents">' in body and 'href="#policies"' in body
    summary = body[body.index('id="summary"'):body.index('id="fig-lines"')]
    assert "Over 1e+25 FLOP" in summary and "first: GPT-4 (2023-03-15)" in summary
    assert "1e+27 FLOP first crossed" in summary and "x per year" in summary
    assert "tripwire's assumption" in summary  # Epoch's labels read as 3x/10x/30x
    policies = body[body.index('id="policies"'):]
    assert "<details>" in policies.split("</section>")[0]
    md = render_industry(industry, "md")
    assert "| Grok-3 | xAI |" in md and "## Backtests" in md
    assert md.index("## Summary") < md.index("## Models over each compute line")
    data = json.loads(render_industry(industry, "json"))
    assert data["n_models"] == 895


def test_industry_demo_falls_back_to_the_bundled_models(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "epoch_notable_export", lambda: None)
    run = demo.run_industry_demo(tmp_path / "d", n_boot=20)
    assert run.source.name == "models.csv"
    assert {p.suffix for p in run.paths.values()} == {".html", ".md", ".json"}
    assert all(p.is_file() for p in run.paths.values())
