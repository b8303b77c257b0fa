"""Reports: what is gathered, the three renderings, escaping, and where files may be written."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from report.sample_register import FOCUS, HOSTILE, PIPE, POLICIES, TRAVERSAL
from typer.testing import CliRunner

from tripwire.cli import app
from tripwire.errors import InputError
from tripwire.register import Register
from tripwire.report import (
    ReportData,
    gather_report,
    render_html,
    render_json,
    render_markdown,
    safe_child,
    write_report,
)
from tripwire.report.md import escape


def test_gathered_decisions_follow_the_policies(focus_report: ReportData):
    d = focus_report
    assert d.scope == "model" and d.focus == [FOCUS, HOSTILE]
    eu = d.determination(FOCUS, "eu-ai-act-gpai")
    ca = d.determination(FOCUS, "ca-sb53")
    assert eu is not None and ca is not None
    # 3.8e25 FLOP is over the EU's 1e25 line and under California's 1e26
    assert eu.level == "GPAI-systemic-risk" and ca.level is None
    assert "deploy" in eu.blocked_actions and "commission-notification" in \
        eu.missing_safeguards["train"]
    assert {x.model for x in d.determinations} == {FOCUS, HOSTILE}
    assert len(d.determinations) == 2 * len(POLICIES)
    row = d.model(FOCUS)
    assert row and row.levels == {"eu-ai-act-gpai": "GPAI-systemic-risk", "ca-sb53": None}
    assert any("EU AI Act" in x for x in row.regulatory_lines)
    assert {r.model for r in d.results} == {FOCUS, HOSTILE}
    assert all(r.source_sha256 and len(r.source_sha256) == 64 for r in d.results)


def test_fits_forecasts_and_record_are_gathered(focus_report: ReportData):
    d = focus_report
    s = d.scaling
    assert s.available and s.n_points == 100 and s.curve is not None
    params = {p.name: p for p in s.params}
    assert 0 < params["alpha"].estimate < 1 and params["alpha"].lo95 < params["alpha"].hi95
    # the band is ordered and the curve extends beyond the fitted range (extrapolation)
    assert all(lo <= y <= hi for lo, y, hi in zip(s.curve.lo95, s.curve.y, s.curve.hi95,
                                                  strict=True))
    assert max(s.curve.x) > s.fitted_range[1] * 100
    mmlu = next(c for c in d.capabilities if c.benchmark == "mmlu")
    assert mmlu.available and mmlu.n_models >= 30
    assert {p.label for p in mmlu.points if p.highlight} == {FOCUS, HOSTILE} & \
        {p.label for p in mmlu.points}
    line = next(t for t in mmlu.thresholds if t.label == "asked for")
    q = [line.crossing_quantiles[k] for k in ("0.1", "0.5", "0.9")]
    assert all(v is not None for v in q) and q[0] < q[1] < q[2]
    cdf = [p for p in line.cdf if p is not None]
    assert cdf == sorted(cdf) and cdf[0] < 0.2 and cdf[-1] > 0.8
    assert line.planned and 0 <= line.planned[0]["probability"] <= 1
    assert {t.benchmark for t in d.trends} >= {"mmlu", "gsm8k"}
    assert any(b.available for b in d.backtests)
    assert d.record.available and d.record.ok


def test_unknown_names_say_what_exists(sample: Register):
    with pytest.raises(InputError, match="no model named 'nope'"):
        gather_report(sample, models=["nope"], sections=())
    with pytest.raises(InputError, match="eu-ai-act-gpai"):
        gather_report(sample, models=[FOCUS], policies=["eu-ai-act"], sections=())
    with pytest.raises(InputError, match="unknown report section"):
        gather_report(sample, sections=("charts",))


def test_json_report_round_trips(focus_report: ReportData):
    text = render_json(focus_report)
    assert "NaN" not in text and "Infinity" not in text
    back = ReportData.model_validate_json(text)
    assert back.model_dump() == focus_report.model_dump()
    assert json.loads(text)["version"] == 1


def test_html_report_is_self_contained_and_escaped(focus_report: ReportData):
    html = render_html(focus_report)
    # nothing is fetched: no external script, stylesheet, image or frame, and a CSP forbidding it
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"(?!data:)", html)
    assert "default-src 'none'" in html and "connect-src 'none'" in html
    assert "Plotly" in html and len(html) > 3_000_000  # plotly.js is inlined
    assert html.count('class="tw-figure"') >= 6
    # the hostile name is text everywhere: escaped in markup, \u003c-escaped in figure JSON
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\\u003cscript\\u003e" not in html.split("<script>")[0]
    figures = re.findall(r'class="tw-figure" data-target="[^"]+">(.*?)</script>', html, re.S)
    assert figures and all("<" not in f for f in figures)
    assert any("&amp;lt;script&amp;gt;" in json.loads(f)["data"][-1].get("customdata", [""])[0]
               or "&lt;script&gt;" in json.dumps(json.loads(f)) for f in figures)


def test_html_reports_share_one_plotly_file_beside_them(focus_report: ReportData,
                                                         all_report: ReportData, folder: Path):
    from tripwire.report.html import plotly_file_name, plotly_version

    first = write_report(focus_report, "html", folder)
    js = folder / plotly_file_name()
    assert js.name == f"plotly-{plotly_version()}.min.js" and js.stat().st_size > 3_000_000
    html = first.read_text(encoding="utf-8")
    assert f'<script src="{js.name}"></script>' in html and len(html) < 1_000_000
    # scripts from the report's own place only; still no network request of any kind
    assert "script-src 'self' 'unsafe-inline'" in html and "connect-src 'none'" in html
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"(?!data:|plotly-)", html)
    stamp = js.stat().st_mtime_ns
    write_report(all_report, "html", folder / "all.html")  # the same file is not rewritten
    assert js.stat().st_mtime_ns == stamp
    js.write_text("damaged", encoding="utf-8")
    write_report(all_report, "html", folder / "all.html")  # a different one is replaced
    assert js.stat().st_size > 3_000_000
    assert sorted(p.name for p in folder.iterdir()) == sorted([first.name, "all.html", js.name])


def test_self_contained_html_report_inlines_plotly(focus_report: ReportData, folder: Path):
    path = write_report(focus_report, "html", folder / "one.html", self_contained=True)
    html = path.read_text(encoding="utf-8")
    assert len(html) > 3_000_000 and "<script src=" not in html
    assert "script-src 'unsafe-inline'" in html and "'self'" not in html
    assert [p.name for p in folder.iterdir()] == ["one.html"]


def test_report_command_self_contained_option(sample: Register, folder: Path):
    r = CliRunner().invoke(app, ["report", FOCUS, "--db", sample.url, "--n-boot", "10",
                                 "--policy", "eu-ai-act-gpai", "--output",
                                 str(folder / "r.html"), "--self-contained"])
    assert r.exit_code == 0, r.output
    assert [p.name for p in folder.iterdir()] == ["r.html"]
    assert (folder / "r.html").stat().st_size > 3_000_000


def test_markdown_report_escapes_names(focus_report: ReportData, all_report: ReportData):
    md = render_markdown(focus_report)
    assert "# tripwire report" in md and "GPAI-systemic-risk" in md
    assert "<script>" not in md and "&lt;script&gt;" in md
    md_all = render_markdown(all_report)
    row = next(line for line in md_all.splitlines() if "a\\|b" in line)
    # the name's pipe is escaped, so the row has exactly as many cells as the header
    header = next(line for line in md_all.splitlines() if line.startswith("| model |"))
    assert len(re.split(r"(?<!\\)\|", row)) == len(re.split(r"(?<!\\)\|", header))
    assert "[x](javascript" not in md_all and "\\[x\\](javascript" in md_all
    assert escape("x\n| y") == "x \\| y"


def test_output_stays_inside_the_folder_given(all_report: ReportData, folder: Path):
    d = all_report.model_copy(update={"scope": "model", "focus": [TRAVERSAL]})
    path = write_report(d, "md", str(folder) + os.sep)
    assert path.parent == folder.resolve() and path.name == "escaped.md"
    assert path.read_text(encoding="utf-8").startswith("# tripwire report")
    d = all_report.model_copy(update={"scope": "model", "focus": [PIPE]})
    assert write_report(d, "json", folder).parent == folder.resolve()
    for bad in ("../x.html", "/etc/x.html", "..", "a/b.html"):
        with pytest.raises(InputError):
            safe_child(folder, bad)
    outside = folder.parent / "outside.html"
    (folder / "link.html").symlink_to(outside)
    with pytest.raises(InputError, match="outside the folder"):
        safe_child(folder, "link.html")
    assert not outside.exists()
    assert not list(folder.glob(".tripwire-report-*"))  # no temporary file left behind
    with pytest.raises(InputError, match="does not exist"):
        write_report(all_report, "md", folder / "missing" / "r.md")


def test_output_folder_ending_in_a_slash_is_created(all_report: ReportData, folder: Path):
    """`report --output reports/` as documented works when reports/ does not exist yet."""
    d = all_report.model_copy(update={"scope": "model", "focus": ["gpt2-xl"]})
    path = write_report(d, "md", str(folder / "new" / "reports") + "/")
    assert path == (folder / "new" / "reports" / "gpt2-xl.md").resolve() and path.is_file()
    (folder / "plain").write_text("a file, not a folder")
    with pytest.raises(InputError, match="cannot create the output folder"):
        write_report(d, "md", str(folder / "plain") + "/")


def test_report_command(sample: Register, folder: Path):
    runner = CliRunner()
    db = sample.url
    r = runner.invoke(app, ["report", FOCUS, "--db", db, "--format", "md", "--output",
                            str(folder), "--policy", "eu-ai-act-gpai", "--n-boot", "10",
                            "--threshold", "mmlu=0.8"])
    assert r.exit_code == 0, r.output
    written = Path(r.stdout.strip())
    assert written.parent == folder.resolve() and "GPAI-systemic-risk" in written.read_text()
    for args, message in (([], "name one MODEL or pass --all"),
                          (["nope"], "no model named 'nope'"),
                          ([FOCUS, "--format", "pdf"], "unknown format"),
                          ([FOCUS, "--threshold", "mmlu"], "BENCHMARK=SCORE"),
                          ([FOCUS, "--all"], "name one MODEL or pass --all")):
        r = runner.invoke(app, ["report", *args, "--db", db])
        assert r.exit_code == 2 and message in r.stderr, (args, r.output)
