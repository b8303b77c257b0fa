"""Plotly figure specifications (plain dicts) for the report and the dashboard.

Figures are data: a surface embeds each as JSON and plotly.js draws it, so the HTML report and
the dashboard show the same plots. Hover labels show the model (or run) and its value. Names
come from files, so they are entity-escaped before plotly.js sees them: plotly renders a small
subset of HTML in labels, and a model named `<b>x</b>` must show as typed.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from tripwire.report.changes import ChangesSection
from tripwire.report.data import (
    Band,
    CapabilitySection,
    ForecastCalibration,
    Point,
    ScalingSection,
    TrendSection,
)

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
INK, MUTED, GRID = "#1f2933", "#6b7785", "#e6e9ee"
BLUE, BLUE_80, BLUE_95 = "#2563eb", "rgba(37,99,235,0.28)", "rgba(37,99,235,0.12)"
POINT, FOCUS = "#52606d", "#d9480f"
THRESHOLD_COLOURS = ("#c92a2a", "#7048e8", "#0b7285", "#e67700", "#5c940d", "#a61e4d")
REG_LINE = "#868e96"
BAD = "#c92a2a"
STATUS_COLOURS = {"calibrated": BLUE, "failed": BAD, "not calibrated": "#e67700"}


def label(text: str) -> str:
    """A name made safe for plotly's label markup: shown exactly as typed."""
    return html.escape(text, quote=True)


def _layout(title: str, x_title: str, y_title: str, *, log_x: bool = False,
            x_date: bool = False, height: int = 380) -> dict[str, Any]:
    xaxis: dict[str, Any] = {"title": {"text": x_title}, "gridcolor": GRID, "zeroline": False,
                             "linecolor": "#c9ced6", "ticks": "outside"}
    if log_x:
        xaxis.update(type="log", exponentformat="power", dtick=1)
    if x_date:
        xaxis.update(type="date")
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "font": {"family": FONT, "size": 12, "color": INK},
        "height": height,
        "margin": {"l": 64, "r": 20, "t": 48, "b": 56},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hovermode": "closest",
        "xaxis": xaxis,
        "yaxis": {"title": {"text": y_title}, "gridcolor": GRID, "zeroline": False,
                  "linecolor": "#c9ced6", "ticks": "outside"},
        "legend": {"orientation": "h", "y": -0.22, "x": 0, "font": {"size": 11}},
        "shapes": [],
        "annotations": [],
    }


def _band_traces(band: Band, *, name: str, hover_x: str, hover_y: str,
                 qualifier: str = "") -> list[dict[str, Any]]:
    """The 95 % and 80 % bands and the central line; `qualifier` is added to the bands'
    legend names (" (not calibrated)")."""
    x = band.x
    return [
        {"type": "scatter", "mode": "lines", "x": x, "y": band.hi95, "line": {"width": 0},
         "hoverinfo": "skip", "showlegend": False},
        {"type": "scatter", "mode": "lines", "x": x, "y": band.lo95, "line": {"width": 0},
         "fill": "tonexty", "fillcolor": BLUE_95, "name": f"95 % interval{qualifier}",
         "hoverinfo": "skip"},
        {"type": "scatter", "mode": "lines", "x": x, "y": band.hi80, "line": {"width": 0},
         "hoverinfo": "skip", "showlegend": False},
        {"type": "scatter", "mode": "lines", "x": x, "y": band.lo80, "line": {"width": 0},
         "fill": "tonexty", "fillcolor": BLUE_80, "name": f"80 % interval{qualifier}",
         "hoverinfo": "skip"},
        {"type": "scatter", "mode": "lines", "x": x, "y": band.y, "name": name,
         "line": {"color": BLUE, "width": 2.2},
         "hovertemplate": f"{name}<br>{hover_x}<br>{hover_y}<extra></extra>"},
    ]


def _point_traces(points: list[Point], *, hover_x: str, hover_y: str, name: str
                  ) -> list[dict[str, Any]]:
    out = []
    for focus in (False, True):
        pts = [p for p in points if p.highlight == focus]
        if not pts:
            continue
        out.append({
            "type": "scatter", "mode": "markers" if not focus else "markers+text",
            "name": "model in focus" if focus else name,
            "x": [p.x for p in pts], "y": [p.y for p in pts],
            "customdata": [label(p.label) for p in pts],
            "text": [label(p.label) for p in pts] if focus else None,
            "textposition": "top left",
            "textfont": {"color": FOCUS, "size": 12},
            "marker": {"color": FOCUS if focus else POINT, "size": 11 if focus else 7,
                       "opacity": 1 if focus else 0.8,
                       "line": {"color": "white", "width": 1}},
            "hovertemplate": f"<b>%{{customdata}}</b><br>{hover_x}<br>{hover_y}<extra></extra>",
        })
    return out


def _vline(layout: dict[str, Any], x: float | str, text: str, colour: str, *,
           dash: str = "dot", hover: str | None = None) -> None:
    """A vertical line across the plot, labelled just above the plotting area."""
    layout["shapes"].append({"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x,
                             "y0": 0, "y1": 1, "line": {"color": colour, "width": 1.2,
                                                         "dash": dash}})
    note: dict[str, Any] = {"xref": "x", "yref": "paper", "x": x, "y": 1, "text": text,
                            "showarrow": False, "xanchor": "center", "yanchor": "bottom",
                            "font": {"size": 10, "color": colour}}
    if hover:
        note["hovertext"] = hover
    layout["annotations"].append(note)


def _log_span(values: list[float]) -> tuple[float, float] | None:
    vals = [v for v in values if v and v > 0 and math.isfinite(v)]
    return (min(vals), max(vals)) if vals else None


def scaling_figure(s: ScalingSection) -> dict[str, Any]:
    """Loss against training compute: the runs, the fitted law and its prediction bands, with
    the extrapolation beyond the fitted range shaded."""
    layout = _layout("Loss scaling law: " + s.law, "training compute (FLOP)",
                     "final loss (nats/token)", log_x=True)
    data: list[dict[str, Any]] = []
    hx, hy = "compute %{x:.3e} FLOP", "loss %{y:.3f}"
    if s.curve is not None:
        data += _band_traces(s.curve, name="fitted law", hover_x=hx, hover_y=hy)
    data += _point_traces(s.points, hover_x=hx, hover_y=hy, name="training runs")
    if s.fitted_range is not None and s.curve is not None:
        hi = s.fitted_range[1]
        end = max(float(v) for v in s.curve.x)  # type: ignore[arg-type]
        layout["shapes"].append({"type": "rect", "xref": "x", "yref": "paper", "x0": hi,
                                 "x1": end, "y0": 0, "y1": 1, "fillcolor": "#f1f3f5",
                                 "line": {"width": 0}, "layer": "below"})
        layout["annotations"].append({"xref": "x", "yref": "paper", "x": math.log10(hi),
                                      "y": 0.98, "text": " extrapolation →", "showarrow": False,
                                      "xanchor": "left", "font": {"size": 11, "color": MUTED}})
        if s.extrapolation_limit_oom:
            limit = hi * 10 ** s.extrapolation_limit_oom
            if limit < end:
                _vline(layout, limit, f"{s.extrapolation_limit_oom:g} orders out", MUTED)
    _log_x_annotations(layout)
    return {"data": data, "layout": layout}


def _log_x_annotations(layout: dict[str, Any]) -> None:
    """Annotations on a log x axis take log10 positions; shapes take data values."""
    for a in layout["annotations"]:
        if a.get("xref") == "x" and isinstance(a["x"], float) and a["x"] > 1000:
            a["x"] = math.log10(a["x"])


def capability_figure(c: CapabilitySection, regulatory_lines: list[tuple[float, str]]
                      ) -> dict[str, Any]:
    """Score against effective compute: the models, the fitted sigmoid with its prediction
    bands, the thresholds the policies name, and the regulatory compute lines."""
    metric = f" ({c.metric})" if c.metric else ""
    layout = _layout(f"{label(c.benchmark)}{label(metric)}: score against effective compute",
                     "effective training compute (FLOP)", "score", log_x=True)
    hx, hy = "effective compute %{x:.3e} FLOP", "score %{y:.3f}"
    data: list[dict[str, Any]] = []
    cal = c.calibration
    if c.curve is not None:
        qualifier = {"failed": " (failed its backtest)",
                     "not calibrated": " (not calibrated)"}.get(cal.status if cal else "", "")
        data += _band_traces(c.curve, name="forecast", hover_x=hx, hover_y=hy,
                             qualifier=qualifier)
    if cal is not None and cal.status != "calibrated":
        layout["annotations"].append({
            "xref": "paper", "yref": "paper", "x": 0.01, "y": 0.99, "xanchor": "left",
            "yanchor": "top", "showarrow": False, "align": "left",
            "text": "<b>" + ("intervals failed their backtest" if cal.status == "failed"
                             else "not calibrated: too few models for a backtest") + "</b>",
            "hovertext": label(cal.text), "bgcolor": "rgba(255,255,255,0.85)",
            "bordercolor": STATUS_COLOURS[cal.status], "borderwidth": 1,
            "font": {"size": 11, "color": STATUS_COLOURS[cal.status]}})
    data += _point_traces(c.points, hover_x=hx, hover_y=hy, name="models")
    span = _log_span([float(x) for x in (c.curve.x if c.curve else [p.x for p in c.points])])
    if c.floor is not None and span:
        layout["shapes"].append({"type": "line", "xref": "paper", "yref": "y", "x0": 0,
                                 "x1": 1, "y0": c.floor, "y1": c.floor,
                                 "line": {"color": "#adb5bd", "width": 1, "dash": "dash"}})
        layout["annotations"].append({"xref": "paper", "yref": "y", "x": 1, "y": c.floor,
                                      "text": "chance", "showarrow": False, "xanchor": "right",
                                      "yanchor": "bottom", "font": {"size": 10,
                                                                     "color": MUTED}})
    for i, t in enumerate(_distinct(c)):
        colour = THRESHOLD_COLOURS[i % len(THRESHOLD_COLOURS)]
        layout["shapes"].append({"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1,
                                 "y0": t.value, "y1": t.value,
                                 "line": {"color": colour, "width": 1.5, "dash": "dash"}})
        layout["annotations"].append({"xref": "paper", "yref": "y", "x": 0.01, "y": t.value,
                                      "text": f"{label(t.label)}: {t.value:g}",
                                      "showarrow": False, "xanchor": "left",
                                      "yanchor": "bottom", "font": {"size": 10,
                                                                     "color": colour}})
    if span:
        for value, text in regulatory_lines:
            if span[0] <= value <= span[1]:
                _vline(layout, value, _short_line(value, text), REG_LINE, hover=label(text))
    _pad_y(layout, [p.y for p in c.points] + [t.value for t in c.thresholds]
           + ([c.floor] if c.floor is not None else [])
           + ([v for v in c.curve.hi95 + c.curve.lo95 if v is not None] if c.curve else []))
    _log_x_annotations(layout)
    return {"data": data, "layout": layout}


def _pad_y(layout: dict[str, Any], values: list[float]) -> None:
    """Fix the y range with room above the highest point for its label."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    layout["yaxis"]["range"] = [lo - 0.04 * span, hi + 0.12 * span]


def _distinct(c: CapabilitySection) -> list[Any]:
    seen: dict[float, Any] = {}
    for t in c.thresholds:
        if t.value not in seen:
            seen[t.value] = t
    return list(seen.values())


def _short_line(value: float, text: str) -> str:
    """`EU AI Act 10^25` as plotly markup: the law's short name and the power of ten."""
    name = label(text.split(":")[0])
    exp = math.log10(value)
    return f"{name} 10<sup>{exp:.0f}</sup>" if exp == round(exp) else f"{name} {value:.2g}"


def reliability_figure(c: CapabilitySection) -> dict[str, Any] | None:
    """How far to trust the forecast: its backtest's reliability diagrams side by side, the
    nominal against the empirical coverage of central intervals (10 % ... 90 %), and the
    predicted P(score >= level) against how often it happened (point size: predictions in
    the bin). On the diagonal is calibrated; below it, over-confident. None without a
    backtest that judged anything."""
    cal: ForecastCalibration | None = c.calibration
    if cal is None or not (cal.reliability or cal.probability_reliability):
        return None
    layout = _layout(f"{label(c.benchmark)}: how far to trust the forecast (backtest, "
                     f"{cal.n_predictions} later models)", "nominal coverage of the interval",
                     "share of later models inside", height=330)
    layout["xaxis"].update(domain=[0, 0.44], range=[0, 1], tickformat=".0%")
    layout["yaxis"].update(range=[0, 1.02], tickformat=".0%")
    layout["xaxis2"] = {**layout["xaxis"], "domain": [0.56, 1], "anchor": "y2",
                        "title": {"text": "predicted P(score ≥ level)"}}
    layout["yaxis2"] = {**layout["yaxis"], "anchor": "x2",
                        "title": {"text": "observed frequency"}}
    layout["showlegend"] = False
    colour = STATUS_COLOURS.get(cal.status, BLUE)
    data: list[dict[str, Any]] = []
    for ax in ("", "2"):
        data.append({"type": "scatter", "mode": "lines", "x": [0, 1], "y": [0, 1],
                     "xaxis": f"x{ax}", "yaxis": f"y{ax}", "hoverinfo": "skip",
                     "line": {"color": "#adb5bd", "width": 1, "dash": "dash"}})
    rel = [r for r in cal.reliability if r.get("empirical") is not None]
    if rel:
        data.append({"type": "scatter", "mode": "lines+markers", "name": "intervals",
                     "x": [r["nominal"] for r in rel], "y": [r["empirical"] for r in rel],
                     "line": {"color": colour, "width": 2.2}, "marker": {"size": 7},
                     "hovertemplate": "central %{x:.0%} interval<br>held %{y:.0%} of the "
                                      "later models<extra></extra>"})
    pr = [r for r in cal.probability_reliability if r.get("observed") is not None]
    if pr:
        biggest = max(int(r["n"] or 0) for r in pr) or 1
        data.append({"type": "scatter", "mode": "lines+markers", "name": "probabilities",
                     "xaxis": "x2", "yaxis": "y2",
                     "x": [r["mean_predicted"] for r in pr], "y": [r["observed"] for r in pr],
                     "customdata": [int(r["n"] or 0) for r in pr],
                     "line": {"color": colour, "width": 1.2},
                     "marker": {"color": colour, "size": [6 + 12 * (int(r["n"] or 0) / biggest)
                                                          ** 0.5 for r in pr]},
                     "hovertemplate": "predicted %{x:.0%}<br>happened %{y:.0%} of "
                                      "%{customdata} times<extra></extra>"})
    for x, text in ((0.22, "intervals"), (0.78, "threshold probabilities")):
        layout["annotations"].append({"xref": "paper", "yref": "paper", "x": x, "y": 1.0,
                                      "xanchor": "center", "yanchor": "bottom",
                                      "showarrow": False, "text": text,
                                      "font": {"size": 11, "color": MUTED}})
    return {"data": data, "layout": layout}


def crossing_figure(c: CapabilitySection) -> dict[str, Any] | None:
    """The crossing distributions: P(a model at each effective compute reaches a threshold)."""
    lines = [t for t in _distinct(c) if t.cdf and c.curve is not None]
    if not lines or c.curve is None:
        return None
    layout = _layout(f"{label(c.benchmark)}: when a model reaches each threshold",
                     "effective training compute (FLOP)", "P(reached)", log_x=True,
                     height=300)
    layout["yaxis"].update(range=[0, 1.02], tickformat=".0%")
    layout["showlegend"] = True
    layout["legend"]["y"] = -0.34
    layout["margin"]["b"] = 76
    data = []
    for i, t in enumerate(lines):
        colour = THRESHOLD_COLOURS[i % len(THRESHOLD_COLOURS)]
        name = f"score ≥ {t.value:g} ({label(t.label)})"
        data.append({"type": "scatter", "mode": "lines", "x": c.curve.x, "y": t.cdf,
                     "name": name, "line": {"color": colour, "width": 2},
                     "customdata": [name] * len(t.cdf),
                     "hovertemplate": "%{customdata}<br>compute %{x:.3e} FLOP<br>"
                                      "P = %{y:.1%}<extra></extra>"})
        med = t.crossing_quantiles.get("0.5")
        if med:
            _vline(layout, med, f"median {_sci(med)}", colour, dash="dash")
    _log_x_annotations(layout)
    return {"data": data, "layout": layout}


def trend_figure(t: TrendSection) -> dict[str, Any]:
    """Score against release date with the fitted trend."""
    layout = _layout(f"{label(t.benchmark)}: score against release date", "", "score",
                     x_date=True, height=320)
    hx, hy = "released %{x|%Y-%m-%d}", "score %{y:.3f}"
    data: list[dict[str, Any]] = []
    if t.curve is not None:
        data += _band_traces(t.curve, name="trend", hover_x=hx, hover_y=hy)
    data += _point_traces(t.points, hover_x=hx, hover_y=hy, name="models")
    return {"data": data, "layout": layout}


def _sci(v: float) -> str:
    mant, exp = f"{v:.1e}".split("e")
    return f"{mant}e{int(exp)}"


VERDICT_COLOURS = {"regression": "#c92a2a", "improvement": "#2b8a3e",
                   "below min effect": "#e67700", "no change": POINT}


def forest_figure(s: ChangesSection) -> dict[str, Any] | None:
    """Forest plot of what changed: each tested benchmark's change with its interval, oriented
    so that right is better, coloured by verdict; None when nothing was tested."""
    rows = [r for r in s.compared if r.delta is not None]
    if not rows:
        return None
    traces = []
    for verdict, colour in VERDICT_COLOURS.items():
        group = [r for r in rows if r.verdict == verdict]
        if not group:
            continue
        xs, minus, plus, ys, text = [], [], [], [], []
        for r in group:
            sign = 1.0 if r.higher_is_better else -1.0
            x = sign * (r.delta or 0.0)
            ends = [sign * v for v in (r.low, r.high) if v is not None] or [x]
            xs.append(x)
            minus.append(x - min(ends))
            plus.append(max(ends) - x)
            ys.append(label(f"{r.label} ({'paired' if r.paired else 'unpaired'})"))
            q = f"{r.q_value:.2g}" if r.q_value is not None else "-"
            text.append(label(f"{r.label}: {r.value_a:.4g} -> {r.value_b:.4g}, q = {q}"))
        traces.append({
            "type": "scatter", "mode": "markers", "name": verdict, "x": xs, "y": ys,
            "text": text, "hovertemplate": "%{text}<extra></extra>",
            "marker": {"color": colour, "size": 8},
            "error_x": {"type": "data", "symmetric": False, "array": plus,
                        "arrayminus": minus, "color": colour, "thickness": 1.6, "width": 0},
        })
    layout = _layout(label(f"What changed: {s.model} vs {s.baseline}"),
                     f"change, oriented so + is better ({s.level:.0%} interval)", "",
                     height=150 + 28 * len(rows))
    layout["xaxis"].update(zeroline=True, zerolinecolor=INK, zerolinewidth=1, rangemode="tozero")
    layout["yaxis"].update(automargin=True, autorange="reversed")
    layout["margin"]["l"] = 10
    return {"data": traces, "layout": layout}


def embed(fig: dict[str, Any]) -> str:
    """Figure JSON safe inside a `<script type="application/json">` element (no `</script>`,
    no HTML-significant characters)."""
    text = json.dumps(fig, separators=(",", ":"), allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
