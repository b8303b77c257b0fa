"""The HTML report: every figure inlined, plotly.js either inlined (one self-contained file)
or loaded from `plotly-<version>.min.js` beside the report (written once for every report in
the folder; plotly.js is about 4.8 MB, most of a report's size).

Opened from disk it makes no network request (its Content-Security-Policy forbids any; a
linked report may load scripts only from its own location, `'self'`), so it can be archived
with a decision or read on an air-gapped machine. Text from files (model and task names) is
escaped by Jinja2's autoescape; figure JSON is escaped for a script data block.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import PurePath
from typing import Any

import jinja2

from tripwire import compute
from tripwire.report import figures as figs
from tripwire.report.data import ReportData

__all__ = ["environment", "plotly_file_name", "plotly_js", "plotly_version", "render_html",
           "static_text"]


def static_text(name: str) -> str:
    """A file from the report's static folder (stylesheet, figure renderer)."""
    return (resources.files("tripwire.report") / "static" / name).read_text(encoding="utf-8")


@cache
def plotly_source() -> str:
    """plotly.js exactly as shipped with the plotly package (no CDN, no network)."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


@cache
def plotly_js() -> str:
    """plotly.js made safe to inline in a `<script>` element."""
    return plotly_source().replace("</script", "<\\/script")


def plotly_version() -> str:
    """The version of the plotly.js the plotly package ships."""
    from plotly.offline import get_plotlyjs_version

    return str(get_plotlyjs_version())


def plotly_file_name() -> str:
    """The file a linked report loads plotly.js from, beside it: `plotly-<version>.min.js`."""
    return f"plotly-{plotly_version()}.min.js"


# ------------------------------------------------------------------------------ filters


def num(v: Any) -> str:
    """A compact number: 4 significant digits, scientific when very large or small."""
    if v is None or isinstance(v, bool):
        return "" if v is None else str(v)
    if isinstance(v, str):
        return v
    f = float(v)
    if not math.isfinite(f):
        return "never" if f > 0 else ""
    if f != 0 and (abs(f) >= 1e5 or abs(f) < 1e-3):
        return sci(f)
    if f == int(f) and abs(f) < 1e5:
        return str(int(f))
    return f"{f:.4g}"


def sci(f: float, digits: int = 3) -> str:
    """1.92e21 as `1.92e21` (no plus sign, no zero padding)."""
    mant, exp = f"{f:.{digits - 1}e}".split("e")
    mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
    return f"{mant}e{int(exp)}"


def flop(v: Any) -> str:
    """A FLOP figure, with the digits it takes to show which side of each regulatory line it
    is on (1.001e25, not 1e25)."""
    if v is None:
        return ""
    f = float(v)
    return sci(f, compute.digits_beside(f)) if math.isfinite(f) and f > 0 else ""


def flop_or(v: Any, default: str) -> str:
    return flop(v) or default


def count_or(v: Any, default: str) -> str:
    """A count with a scale word: 1.75e11 -> 175B, 3e11 -> 300B."""
    if v is None:
        return default
    f = float(v)
    if not math.isfinite(f):
        return default
    for scale, word in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(f) >= scale:
            return f"{f / scale:.3g}{word}"
    return f"{f:.4g}" if f != int(f) else str(int(f))


def prob(v: Any) -> str:
    if v is None:
        return ""
    f = float(v)
    if not math.isfinite(f):
        return ""
    if 0 < f < 0.001:
        return "< 0.1 %"
    if 0.999 < f < 1:
        return "> 99.9 %"
    return f"{100 * f:.1f} %"


def short(v: Any, n: int = 12) -> str:
    return "" if not v else str(v)[:n]


def when(v: Any) -> str:
    """A time as `2025-01-31 12:00 UTC`."""
    if v is None:
        return ""
    if isinstance(v, str):
        try:
            v = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return v
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC)
        return v.strftime("%Y-%m-%d %H:%M UTC")
    return str(v)


def basename(v: Any) -> str:
    return PurePath(str(v)).name if v else ""


def anchor(name: str) -> str:
    """An element id for a name from a file: readable where possible, always unique and safe."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:40] or "model"
    return f"m-{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def whole(v: Any) -> str:
    """An integer with thousands separators (14042 -> 14,042)."""
    return "" if v is None else f"{int(v):,}"


def exp10(v: Any) -> float | None:
    return None if v is None or not math.isfinite(float(v)) else 10.0 ** float(v)


def dec(v: Any, digits: int = 2) -> str:
    return "" if v is None else f"{float(v):.{digits}g}"


def odds_per_decade(slope: Any) -> str:
    """A logistic slope per decade of compute as the factor the odds grow by (e^slope)."""
    return "" if slope is None else f"{math.exp(float(slope)):.3g}"


def state_counts(thresholds: Iterable[Any]) -> list[tuple[str, int]]:
    order = ("crossed", "likely", "possible", "alert", "insufficient", "clear")
    counts: dict[str, int] = {}
    for t in thresholds:
        counts[t.state] = counts.get(t.state, 0) + 1
    return [(s, counts[s]) for s in order if s in counts]


FILTERS = {"num": num, "flop": flop, "flop_or": flop_or, "count_or": count_or, "prob": prob,
           "short": short, "when": when, "basename": basename, "anchor": anchor,
           "state_counts": state_counts, "exp10": exp10, "whole": whole, "dec": dec,
           "odds_per_decade": odds_per_decade}


def environment(extra_folders: Iterable[str] = ()) -> jinja2.Environment:
    """The Jinja2 environment for the report's templates (and the dashboard's, given its
    folders): autoescape on for every template, undefined names are errors."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(list(extra_folders))] \
        if extra_folders else []
    loaders.append(jinja2.PackageLoader("tripwire.report", "templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(FILTERS)
    return env


# ------------------------------------------------------------------------------ figures


class Figure(dict):  # type: ignore[type-arg]
    """A figure ready for a page: element id, title and escaped JSON."""


def figure(fig_id: str, spec: dict[str, Any] | None) -> Figure | None:
    if spec is None:
        return None
    title = spec["layout"].get("title", {}).get("text", "")
    return Figure(id=fig_id, title=title, json=figs.embed(spec))


def report_figures(d: ReportData) -> dict[str, Any]:
    """Every figure the report shows, keyed by section and benchmark."""
    out: dict[str, Any] = {"capability": {}, "crossing": {}, "reliability": {}, "trend": {},
                           "scaling": None, "changes": {}}
    for i, c in enumerate(d.capabilities):
        if c.available:
            out["capability"][c.benchmark] = figure(f"fig-cap-{i}",
                                                    figs.capability_figure(c,
                                                                           d.regulatory_lines))
            out["crossing"][c.benchmark] = figure(f"fig-cross-{i}", figs.crossing_figure(c))
            out["reliability"][c.benchmark] = figure(f"fig-rel-{i}",
                                                     figs.reliability_figure(c))
    for i, t in enumerate(d.trends):
        if t.available:
            out["trend"][t.benchmark] = figure(f"fig-trend-{i}", figs.trend_figure(t))
    if d.scaling.available:
        out["scaling"] = figure("fig-scaling", figs.scaling_figure(d.scaling))
    out["changes"] = {c.model: figure(f"fig-changes-{i}", figs.forest_figure(c))
                      for i, c in enumerate(d.changes)}
    return out


def render_html(d: ReportData, *, plotly_src: str | None = None) -> str:
    """The report as one HTML document: self-contained (plotly.js inlined), or with
    `plotly_src` the relative URL of plotly.js beside it (`plotly_file_name()`), which the
    caller writes there (`tripwire.report.write_report` does)."""
    if plotly_src is not None and not re.fullmatch(r"[A-Za-z0-9._-]+", plotly_src):
        raise ValueError(f"plotly_src must be a plain file name beside the report: {plotly_src!r}")
    env = environment()
    return env.get_template("report.html.j2").render(
        d=d, single=d.scope == "model" and len(d.focus) == 1, figs=report_figures(d),
        css=static_text("tripwire.css"),
        figures_js=static_text("figures.js").replace("</script", "<\\/script"),
        plotly_js=plotly_js() if plotly_src is None else None, plotly_src=plotly_src)
