"""Every forecast in a report shows how far to trust it: its walk-forward backtest's verdict
and reliability diagrams beside it (HTML, Markdown, JSON), and says plainly when its intervals
failed the backtest or when no backtest could be run."""

from __future__ import annotations

import json
import re

import pytest
from report.sample_register import FEW

from tripwire.forecast._evaluate import verdict
from tripwire.report import ReportData
from tripwire.report import figures as figs
from tripwire.report.html import render_html
from tripwire.report.json import render_json
from tripwire.report.md import render_markdown

LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def _cards(html: str) -> list[str]:
    """The capability forecast cards of a rendered report."""
    part = html.split('id="forecasts"', 1)[1].split('id="scaling"', 1)[0]
    return [c for c in part.split('<div class="card">')[1:] if 'id="fig-cap-' in c]


def _card_of(html: str, benchmark: str) -> str:
    """The card whose capability figure is the benchmark's."""
    for card in _cards(html):
        spec = re.search(r'data-target="fig-cap-\d+">(.*?)</script>', card, re.S)
        assert spec
        title = json.loads(spec.group(1))["layout"]["title"]["text"]
        if re.match(re.escape(benchmark) + r"[ :]", title):
            return card
    raise AssertionError(f"no forecast card for {benchmark}")


def test_every_forecast_carries_its_backtest_and_reliability(focus_report: ReportData):
    shown = [c for c in focus_report.capabilities if c.available]
    assert len(shown) >= 6
    backtests = {b.benchmark: b for b in focus_report.backtests}
    for c in shown:
        cal = c.calibration
        assert cal is not None, c.benchmark
        assert cal.status in ("calibrated", "failed", "not calibrated")
        if cal.status == "not calibrated":
            assert cal.text.startswith("not calibrated: too few models for a backtest")
            assert not cal.reliability and not cal.probability_reliability
            continue
        # the diagram is the backtest's: nominal 10 % ... 90 % against what held
        assert [r["nominal"] for r in cal.reliability] == pytest.approx(LEVELS)
        emp = [r["empirical"] for r in cal.reliability]
        assert all(0.0 <= e <= 1.0 for e in emp) and emp == sorted(emp)
        # every prediction's P(score >= level), for each level, lands in one bin
        assert sum(r["n"] for r in cal.probability_reliability) == (
            cal.n_predictions * len(cal.levels))
        assert all(r["bin_low"] <= r["mean_predicted"] <= r["bin_high"]
                   for r in cal.probability_reliability)
        assert 0.8 in cal.levels or c.benchmark != "mmlu"  # the threshold asked for
        # the backtests section reports the same run
        b = backtests[c.benchmark]
        assert (b.coverage80, b.coverage95, b.n_predictions) == (
            cal.coverage80, cal.coverage95, cal.n_predictions)
        want = "failed" if cal.coverage80 < 0.5 else cal.status
        assert cal.status == want


def test_too_few_models_says_not_calibrated_instead_of_a_calibrated_looking_band(
        focus_report: ReportData):
    c = next(c for c in focus_report.capabilities if c.benchmark == FEW)
    assert c.available and c.n_models == 7 and c.calibration is not None
    assert c.calibration.status == "not calibrated"
    assert figs.reliability_figure(c) is None
    fig = figs.capability_figure(c, focus_report.regulatory_lines)
    names = [t.get("name") for t in fig["data"]]
    assert "80 % interval (not calibrated)" in names and "80 % interval" not in names
    assert any("not calibrated: too few models for a backtest" in a["text"]
               for a in fig["layout"]["annotations"])
    card = _card_of(render_html(focus_report), FEW)
    assert 'data-calibration="not calibrated"' in card
    assert "<b>Not calibrated</b>: too few models for a backtest" in card
    md = render_markdown(focus_report)
    row = next(line for line in md.splitlines() if line.startswith("| mmlu\\_pro | 7 |"))
    assert "**not calibrated**" in row


def test_html_shows_the_diagram_beside_every_forecast(focus_report: ReportData):
    html = render_html(focus_report)
    cards = _cards(html)
    shown = [c for c in focus_report.capabilities if c.available]
    assert len(cards) == len(shown)
    for card, c in zip(cards, shown, strict=True):
        assert c.calibration is not None
        assert f'data-calibration="{c.calibration.status}"' in card, c.benchmark
        if c.calibration.status == "not calibrated":
            assert 'id="fig-rel-' not in card
            continue
        fig_id = re.search(r'id="(fig-rel-\d+)"', card)
        assert fig_id, c.benchmark
        spec = re.search(r'data-target="' + fig_id.group(1) + r'">(.*?)</script>', card,
                         re.S)
        assert spec
        data = json.loads(spec.group(1))
        assert "how far to trust the forecast" in data["layout"]["title"]["text"]
        curves = [t for t in data["data"] if t.get("name") == "intervals"]
        assert curves and curves[0]["x"] == pytest.approx(LEVELS)
        assert [t for t in data["data"] if t.get("name") == "probabilities"]


def test_a_failed_backtest_is_flagged_in_every_format(focus_report: ReportData):
    d = focus_report.model_copy(deep=True)
    c = next(c for c in d.capabilities if c.calibration and c.calibration.reliability)
    assert c.calibration is not None
    summary = {"n_cutoffs": c.calibration.n_cutoffs, "n_predictions": 40,
               "coverage80": 0.3, "coverage95": 0.55}
    status, text = verdict(summary)
    c.calibration = c.calibration.model_copy(update={"status": status, "text": text})
    assert status == "failed"
    card = _card_of(render_html(d), c.benchmark)
    assert 'class="notice small bad" data-calibration="failed"' in card
    assert "<b>Intervals failed their backtest</b>: the 80 % intervals covered 30%" in card
    assert "(failed its backtest)" in card
    md = render_markdown(d)
    assert "**intervals failed their backtest**" in md and text in md
    got = json.loads(render_json(d))
    cal = next(x for x in got["capabilities"] if x["benchmark"] == c.benchmark)["calibration"]
    assert cal["status"] == "failed" and cal["text"] == text


def test_json_report_carries_the_numbers(focus_report: ReportData):
    got = json.loads(render_json(focus_report))
    for c in got["capabilities"]:
        if not c["available"]:
            continue
        cal = c["calibration"]
        assert {"status", "text", "n_cutoffs", "n_predictions", "coverage80", "coverage95",
                "interval_score80", "reliability", "probability_reliability", "levels",
                "model_error"} <= set(cal)
        assert cal["model_error"]["units"] == "decades of compute"
        if cal["status"] != "not calibrated":
            assert isinstance(cal["coverage80"], float) and cal["interval_score80"] > 0
            assert all(isinstance(r["empirical"], float) for r in cal["reliability"])
