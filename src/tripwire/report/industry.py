"""The industry report: every model in the register against the regulatory compute lines and
under every built-in policy, the growth of training compute, when the next lines fall, and how
such forecasts fared when made earlier.

`gather_industry` collects it from the register (one read of models, results and benchmarks;
policies judged in memory); `render_industry(data, fmt)` writes HTML (self-contained, offline),
Markdown or JSON.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from pydantic import BaseModel, Field

from tripwire import compute
from tripwire.errors import InputError, InsufficientEvidence
from tripwire.model import Model, utcnow

NEAR = 0.01
"""A model is listed against a line when P(C > line) is at least this."""
FORECAST_LINES = (1e26, 1e27)
"""The lines whose first-crossing dates the report forecasts."""


class LinePoint(BaseModel):
    """Models over a line among those released by `date`."""

    date: dt.date
    point: int
    expected: float
    lo80: int
    hi80: int


class LineSection(BaseModel):
    line: float
    label: str
    count: dict[str, Any]
    series: list[LinePoint] = Field(default_factory=list)


class ModelLine(BaseModel):
    """A model over or near a line."""

    name: str
    organization: str | None
    release_date: dt.date | None
    compute_flop: float
    confidence: str | None
    spread: str
    p_over: dict[str, float]


class ModelLevels(BaseModel):
    name: str
    compute_flop: float | None
    levels: dict[str, str | None]
    """Policy -> level reached (None: below every level)."""
    undecided: dict[str, int]
    """Policy -> thresholds judged insufficient (evidence missing)."""


class IndustryData(BaseModel):
    """Everything the industry report shows, as plain data."""

    title: str = "tripwire industry report"
    generated_at: dt.datetime
    register_at: str
    tripwire_version: str
    n_models: int
    n_with_compute: int
    lines: list[LineSection]
    near: list[ModelLine]
    policies: list[str]
    levels: list[ModelLevels]
    growth: dict[str, Any] | None = None
    growth_all: dict[str, Any] | None = None
    crossings: list[dict[str, Any]] = Field(default_factory=list)
    backtests: list[dict[str, Any]] = Field(default_factory=list)
    calibration: dict[str, Any] | None = None
    """How first-crossing forecasts fared over every half-decade of compute crossed."""
    notices: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    """What the report's figures rest on that is not measured (said in its summary)."""


def _series(models: list[Model], line: float) -> list[LinePoint]:
    """The count over `line` after each release that could change it (a step function)."""
    dated = sorted((m for m in models if m.release_date is not None
                    and (p := compute.p_above(m, line)) is not None and p > 1e-6),
                   key=lambda m: m.release_date or dt.date.min)
    out: list[LinePoint] = []
    dist = [1.0]
    point = 0
    for m in dated:
        p = compute.p_above(m, line) or 0.0
        dist = [a * (1 - p) + b * p for a, b in
                zip([*dist, 0.0], [0.0, *dist], strict=True)]
        point += bool(m.compute_flop is not None and m.compute_flop > line)
        cdf = list(itertools.accumulate(dist))
        lo = next(k for k, c in enumerate(cdf) if c >= 0.1 - 1e-12)
        hi = next(k for k, c in enumerate(cdf) if c >= 0.9 - 1e-12)
        pt = LinePoint(date=m.release_date or dt.date.min, point=point,
                       expected=sum(k * q for k, q in enumerate(dist)), lo80=lo, hi80=hi)
        if out and out[-1].date == pt.date:
            out[-1] = pt
        else:
            out.append(pt)
    return out


def _levels(reg: Any, models: list[Model], at: dt.datetime) -> tuple[list[str],
                                                                     list[ModelLevels]]:
    """Every model judged under every built-in policy, in memory (nothing recorded)."""
    from tripwire.policy import builtin_names, load_policy
    from tripwire.policy.evaluate import Evidence, evaluate_policy

    policies = [load_policy(n) for n in builtin_names()]
    results: dict[str, list[Any]] = {}
    for r in reg.results():
        results.setdefault(r.model, []).append(r)
    benches = {b.id: b for b in reg.benchmarks()}
    ledgers = reg.ledger()
    rows = []
    for m in models:
        ev = Evidence(model=m, results=results.get(m.name, ()), benchmarks=benches,
                      ledger=ledgers.get(m.name, ()))
        levels: dict[str, str | None] = {}
        undecided: dict[str, int] = {}
        for pol in policies:
            det = evaluate_policy(pol, ev, at=at)
            levels[pol.name] = det.level
            undecided[pol.name] = sum(t.state == "insufficient" for t in det.thresholds)
        rows.append(ModelLevels(name=m.name, compute_flop=m.compute_flop, levels=levels,
                                undecided=undecided))
    return [p.name for p in policies], rows


def _backtest_dates(first: dt.date) -> list[dt.date]:
    """As-of dates for a line first crossed on `first`: the end of each of the two years
    before it."""
    return [dt.date(first.year - k, 12, 31) for k in (2, 1)]


def gather_industry(reg: Any, *, n_boot: int = 500, seed: int = 0,
                    at: dt.datetime | None = None) -> IndustryData:
    """The industry report's data from the register."""
    from tripwire import __version__
    from tripwire import forecast as fc
    from tripwire.forecast._compute_trend import DEEP_LEARNING_ERA, compute_trend_summary

    at = at or utcnow()
    models = reg.models()
    if not models:
        raise InsufficientEvidence(f"no models in {reg.display}",
                                   hint="ingest models (an Epoch AI export, a models CSV)")
    notices: list[str] = []
    lines = []
    for line, label in compute.REGULATORY_LINES:
        c = compute.line_count(models, line, label)
        lines.append(LineSection(line=line, label=label, count=c.to_dict(),
                                 series=_series(models, line)))
    near = []
    for m in models:
        ps = {f"{line:.0e}": p for line, _ in compute.REGULATORY_LINES
              if (p := compute.p_above(m, line)) is not None}
        if ps and max(ps.values()) >= NEAR and m.compute_flop is not None:
            near.append(ModelLine(name=m.name, organization=m.organization,
                                  release_date=m.release_date, compute_flop=m.compute_flop,
                                  confidence=m.compute_confidence, spread=compute.spread_note(m),
                                  p_over=ps))
    near.sort(key=lambda r: -r.compute_flop)
    policies, levels = _levels(reg, models, at)
    data = IndustryData(generated_at=at, register_at=reg.display, tripwire_version=__version__,
                        n_models=len(models),
                        n_with_compute=sum(m.compute_flop is not None for m in models),
                        lines=lines, near=near, policies=policies, levels=levels,
                        notices=notices)
    if any(m.compute_confidence in compute.CONFIDENCE_FACTOR for m in models
           if m.compute_flop is not None):
        data.assumptions.append(compute.CONFIDENCE_ASSUMPTION)
    try:
        s = compute_trend_summary(models, frontier=True, n_boot=n_boot, seed=seed)
        data.growth = {**s["growth"], "n_models": s["fit"]["n_models"],
                       "first_date": s["fit"]["first_date"], "last_date": s["fit"]["last_date"],
                       "backtest": s["backtest"]}
        a = compute_trend_summary(models, frontier=False, n_boot=n_boot, seed=seed,
                                  backtest=False)
        data.growth_all = {**a["growth"], "n_models": a["fit"]["n_models"]}
        for line in FORECAST_LINES:
            c = compute_trend_summary(models, frontier=False, threshold=line, n_boot=n_boot,
                                      seed=seed, backtest=False)["crossing"]
            data.crossings.append({"threshold": line, **c})
    except InsufficientEvidence as e:
        notices.append(f"compute trend: {e.message}")
    for line, _ in compute.REGULATORY_LINES:
        first = fc.first_over(models, line)
        if first is None:
            continue
        for as_of in _backtest_dates(first[1]):
            try:
                bt = fc.crossing_backtest(models, line, as_of, n_boot=n_boot, seed=seed)
                bt_d = {**bt.to_dict(), "since": DEEP_LEARNING_ERA}
                data.backtests.append(bt_d)
            except InsufficientEvidence as e:
                notices.append(f"backtest of {line:g} as of {as_of}: {e.message}")
    calib = fc.crossing_calibration(models, n_boot=min(n_boot, 100), seed=seed)
    data.calibration = calib if calib["n"] else None
    return data


def render_industry(d: IndustryData, fmt: str) -> str:
    """The industry report as html, md or json."""
    if fmt == "json":
        return d.model_dump_json(indent=2) + "\n"
    if fmt == "md":
        return _markdown(d)
    if fmt == "html":
        return _html(d)
    raise InputError(f"unknown report format {fmt!r}", hint="html, md or json")


def _p(v: float | None) -> str:
    return "?" if v is None else f"{v:.2f}"


def _flop(v: float | None) -> str:
    return "" if v is None else f"{v:.3g}"


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    from tripwire.report.md import escape

    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(escape(str(c)) for c in r) + " |" for r in rows]
    return [*out, ""]


LONG_TABLE = 25
"""Tables longer than this many rows are folded (HTML `<details>`) in the report."""


class Section(BaseModel):
    """One section of the report: an anchor, a heading, its Markdown, whether to fold it."""

    id: str
    title: str
    markdown: str
    folded: bool = False


def _when(q: dict[str, Any], key: str, beyond: str = "beyond 100 years") -> str:
    v = q.get(key)
    return str(v) if v else beyond


def _summary(d: IndustryData) -> list[str]:
    """The few facts a reader needs first: counts over each line, who crossed first, when the
    next lines fall, the growth rate, how such forecasts have fared, and the assumptions."""
    out = [f"{d.n_models} models in the register, {d.n_with_compute} with a training compute "
           "figure.", ""]
    for s in d.lines:
        c = s.count
        first = next((m for m in sorted(d.near, key=lambda m: m.release_date or dt.date.max)
                      if m.compute_flop > s.line and m.release_date), None)
        out.append(f"- **Over {s.line:.0e} FLOP** ({s.label.split(':')[0]}): {c['point']} by "
                   f"point estimate, {c['expected']:.1f} expected (80 %: "
                   "{}-{})".format(*c["interval80"])
                   + (f"; {c['unknown']} of unknown compute not counted" if c["unknown"] else "")
                   + (f"; first: {first.name} ({first.release_date})" if first else "") + ".")
    for c in d.crossings:
        if "crossed_by" not in c:  # a line already crossed is in the counts above
            q = c["date_quantiles"]
            out.append(f"- **{c['threshold']:.0e} FLOP first crossed**: median "
                       f"{_when(q, '0.5')}, 80 % interval {_when(q, '0.1', '?')} to "
                       f"{_when(q, '0.9')}.")
    if d.growth:
        g = d.growth
        out.append(f"- **Frontier training compute grows {g['per_year']:.1f}x per year** (80 %: "
                   f"{g['interval80'][0]:.1f}-{g['interval80'][1]:.1f}); Epoch AI publishes "
                   "4-5x.")
    if d.calibration:
        c = d.calibration
        out.append(f"- **How such crossing forecasts fared**: over {c['n']} earlier forecasts "
                   f"the 80 % interval held the actual date {c['inside80']:.0%} of the time, "
                   f"the 95 % interval {c['inside95']:.0%}.")
    if d.assumptions:
        out += ["", "Assumptions: " + " ".join(f"({i}) {a}." for i, a in
                                                enumerate(d.assumptions, 1))]
    return [*out, ""]


def sections(d: IndustryData) -> list[Section]:
    """The report's sections in reading order: summary first, then the tables."""
    out = [Section(id="summary", title="Summary", markdown="\n".join(_summary(d)))]
    md = _table(["line", "over (point estimate)", "expected", "80 % interval",
                 "95 % interval", "unknown compute"],
                [[f"{s.line:.0e} FLOP ({s.label.split(':')[0]})", s.count["point"],
                  f"{s.count['expected']:.1f}",
                  "{}-{}".format(*s.count["interval80"]), "{}-{}".format(*s.count["interval95"]),
                  s.count["unknown"]] for s in d.lines])
    md += ["Expected counts sum each model's P(C > line) under its figure's spread (exact for a "
           "developer's disclosure; Epoch AI's confidence label otherwise, read as the "
           "assumption above); a model of unknown compute is not counted either way. The "
           "figure shows the counts over time."]
    out.append(Section(id="lines", title="Models over each compute line", markdown="\n".join(md)))
    md = _table(["model", "organization", "released", "compute (FLOP)", "confidence",
                 "P(C > 1e25)", "P(C > 1e26)"],
                [[m.name, m.organization or "", m.release_date or "", _flop(m.compute_flop),
                  m.confidence or "exact", _p(m.p_over.get("1e+25")),
                  _p(m.p_over.get("1e+26"))] for m in d.near])
    out.append(Section(id="near", title=f"Models over or near a line ({len(d.near)})",
                       markdown="\n".join(md), folded=len(d.near) > LONG_TABLE))
    md = []
    if d.growth:
        g = d.growth
        md += [f"Frontier (running maximum, {g['n_models']} models from {g['first_date']} to "
               f"{g['last_date']}): {g['per_year']:.2f}x per year (80 %: "
               f"{g['interval80'][0]:.2f}-{g['interval80'][1]:.2f}; 95 %: "
               f"{g['interval95'][0]:.2f}-{g['interval95'][1]:.2f})."]
        if d.growth_all:
            a = d.growth_all
            md += ["", f"All {a['n_models']} models since 2010: {a['per_year']:.2f}x per year "
                   f"(80 %: {a['interval80'][0]:.2f}-{a['interval80'][1]:.2f})."]
        md += ["", f"Published: {g['published']}."]
        if "coverage80" in g.get("backtest", {}):
            bt = g["backtest"]
            md += ["", f"The frontier trend's own backtest ({bt['n_cutoffs']} cutoffs): its 80 % "
                   f"intervals covered {bt['coverage80']:.0%} of later frontier models, its 95 % "
                   f"intervals {bt['coverage95']:.0%}. Where that is below the nominal level "
                   "the intervals are too narrow: they are not calibrated."]
    out.append(Section(id="growth", title="Growth of training compute",
                       markdown="\n".join(md) or "No trend could be fitted."))
    md = []
    for c in d.crossings:
        if "crossed_by" in c:
            md.append(f"- {c['threshold']:.0e} FLOP: already crossed by {c['crossed_by']} "
                      f"({c['date']}).")
        else:
            q = c["date_quantiles"]
            md.append(f"- {c['threshold']:.0e} FLOP: median {_when(q, '0.5')}; 80 % interval "
                      f"{_when(q, '0.1', '?')} to {_when(q, '0.9')}; 95 % "
                      f"{_when(q, '0.05', '?')} to {_when(q, '0.95')}.")
    md += ["", "The date of the first model over a line: models are released at the register's "
           "own rate, each landing around the all-models trend with its scatter (and the "
           "trend's growing error past the data), and none is over the line by the last "
           "release the register holds."]
    out.append(Section(id="crossings", title="When the next lines fall", markdown="\n".join(md)))
    md = _table(["line", "as of", "median", "80 % interval", "first over it", "when",
                 "percentile", "inside 80 %"],
                [[f"{b['threshold']:.0e}", b["as_of"],
                  b["forecast"]["date_quantiles"].get("0.5") or "",
                  f"{b['forecast']['date_quantiles'].get('0.1') or '?'} to "
                  f"{b['forecast']['date_quantiles'].get('0.9') or '?'}",
                  b["actual_model"] or (b["already"] or ["none yet"])[0],
                  b["actual_date"] or "", "" if b["pit"] is None else f"{b['pit']:.0%}",
                  {True: "yes", False: "no", None: ""}[b["inside80"]]]
                 for b in d.backtests])
    if d.calibration:
        c = d.calibration
        md += [f"Over every half-decade of compute first crossed since 2013 ({c['n']} forecasts "
               "made as of the end of each of the three years before the crossing), the 80 % "
               f"interval held the actual date {c['inside80']:.0%} of the time and the 95 % "
               f"interval {c['inside95']:.0%}; the actual date fell on average at the "
               f"{c['mean_percentile']:.0%} point of the forecast (50 % would be unbiased; "
               "higher means the lines fell later than forecast). The forecasts overlap, so "
               "these are indicative; below the nominal levels, the intervals are not "
               "calibrated."]
    out.append(Section(id="backtests", title="Backtests: the same forecast made earlier",
                       markdown="\n".join(md)))
    md = _table(["model", "compute (FLOP)", *d.policies],
                [[r.name, _flop(r.compute_flop),
                  *(f"{r.levels.get(p) or '-'}"
                    + (f" ({r.undecided[p]} undecided)" if r.undecided.get(p) else "")
                    for p in d.policies)] for r in d.levels])
    md += ["`-`: below every level; `undecided`: thresholds whose evidence is missing "
           "(insufficient), never a silent pass."]
    out.append(Section(id="policies",
                       title=f"Every model under every built-in policy ({len(d.levels)})",
                       markdown="\n".join(md), folded=len(d.levels) > LONG_TABLE))
    if d.notices:
        out.append(Section(id="notices", title="Notices",
                           markdown="\n".join(f"- {n}" for n in d.notices)))
    return out


def _markdown(d: IndustryData) -> str:
    out = [f"# {d.title}", "",
           f"Generated {d.generated_at:%Y-%m-%d %H:%M} UTC by tripwire {d.tripwire_version} "
           f"from `{d.register_at}`.", ""]
    for s in sections(d):
        out += [f"## {s.title}", "", s.markdown, ""]
    return "\n".join(out)


def line_figure(d: IndustryData) -> dict[str, Any]:
    """Step plot: models over each line over time, with the expected count and its band."""
    from tripwire.report.figures import _layout

    layout = _layout("Models over each compute line", "", "models", x_date=True, height=380)
    colours = ["#1f6feb", "#d1242f", "#8250df"]
    data: list[dict[str, Any]] = []
    for s, colour in zip(d.lines, itertools.cycle(colours), strict=False):
        xs = [str(p.date) for p in s.series]
        name = f"> {s.line:.0e} FLOP"
        data.append({"type": "scatter", "mode": "lines", "x": xs + xs[::-1],
                     "y": [p.hi80 for p in s.series] + [p.lo80 for p in s.series][::-1],
                     "line": {"shape": "hv", "width": 0}, "fill": "toself",
                     "fillcolor": colour + "22", "name": f"{name}: 80 % interval",
                     "hoverinfo": "skip"})
        data.append({"type": "scatter", "mode": "lines", "x": xs,
                     "y": [p.expected for p in s.series], "line": {"shape": "hv",
                                                                   "dash": "dot",
                                                                   "color": colour},
                     "name": f"{name}: expected"})
        data.append({"type": "scatter", "mode": "lines", "x": xs,
                     "y": [p.point for p in s.series],
                     "line": {"shape": "hv", "color": colour, "width": 2},
                     "name": f"{name}: point estimate"})
    return {"data": data, "layout": layout}


def _html(d: IndustryData) -> str:
    from markdown_it import MarkdownIt

    from tripwire.report import figures as figs
    from tripwire.report.html import Figure, environment, plotly_js, static_text

    fig = line_figure(d)
    figure = Figure(id="fig-lines", title=fig["layout"]["title"]["text"], json=figs.embed(fig))
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    parts = [(sec, md.render(sec.markdown)) for sec in sections(d)]
    return environment().get_template("industry.html.j2").render(
        d=d, sections=parts, fig=figure, css=static_text("tripwire.css"),
        figures_js=static_text("figures.js").replace("</script", "<\\/script"),
        plotly_js=plotly_js())
