"""The Markdown report: the decisions and figures' numbers as text, for a pull request or a
board pack. Names from files are escaped so they cannot add markup, links or table cells."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from tripwire.report.data import DeterminationView, ReportData
from tripwire.report.html import count_or, flop, num, prob, short, when

__all__ = ["escape", "render_markdown"]

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def code(text: Any) -> str:
    """Text as an inline code span (no escapes inside; backticks cannot end it early)."""
    s = " ".join(("" if text is None else str(text)).split()).replace("`", "'")
    return f"`{s}`"


def escape(text: Any) -> str:
    """Text shown literally in Markdown (and in a table cell): HTML-significant characters as
    entities, Markdown punctuation backslash-escaped, line breaks as spaces."""
    s = "" if text is None else str(text)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _SPECIAL.sub(r"\\\1", s)
    return " ".join(s.split())


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out + [""]


def _actions(d: DeterminationView) -> str:
    allowed = [f"{a} allowed" for a in d.allowed_actions]
    blocked = [f"**{a} blocked**" for a in d.blocked_actions]
    return ", ".join(allowed + blocked) or "none"


def _missing(d: DeterminationView) -> str:
    seen: list[str] = []
    for names in d.missing_safeguards.values():
        seen += [s for s in names if s not in seen]
    return ", ".join(escape(s) for s in seen) or "none"


def _calibration(d: ReportData) -> list[str]:
    """How far to trust each forecast: its backtest's verdict and reliability diagrams as
    numbers (empirical coverage of the central 10 % ... 90 % intervals; predicted threshold
    probabilities against how often the level was reached)."""
    shown = [c for c in d.capabilities if c.available and c.calibration is not None]
    if not shown:
        return []
    out = ["### How far to trust each forecast", "",
           "Each forecast made again from the smaller models only (walk-forward backtest) and "
           "checked against the larger ones. A calibrated forecast's central 10 %, 20 %, ..., "
           "90 % intervals hold that share of the later models, and its probabilities come "
           "true as often as they say.", ""]
    rows = []
    for c in shown:
        cal = c.calibration
        if cal is None:
            continue
        cover = " · ".join(prob(r.get("empirical")) for r in cal.reliability)
        probs = " · ".join(f"{prob(r.get('mean_predicted'))} → {prob(r.get('observed'))} "
                           f"({r.get('n')})" for r in cal.probability_reliability)
        rows.append([escape(c.benchmark), escape(cal.text), cal.n_predictions or "",
                     cover, probs])
    out += _table(["benchmark", "verdict", "later models",
                   "held by the central 10 % · 20 % · … · 90 % intervals",
                   "P(score ≥ level): predicted → observed (predictions)"], rows)
    return out


def _determination(d: DeterminationView) -> list[str]:
    lines = [f"#### {escape(d.policy_title or d.policy)}: "
             f"{escape(d.level) if d.level else 'below every level'}", "",
             f"Policy {code(d.policy)} {escape(d.policy_version)} (sha256 "
             f"`{short(d.policy_sha256)}`), judged {when(d.at)}. "
             + (f"Last recorded: entry {d.recorded.seq} (`{short(d.recorded.hash)}`), "
                f"{when(d.recorded.at)}, level {escape(d.recorded.level or 'none')}"
                + ("" if d.recorded.same_level else " (**differs from now**)")
                + (" (**stale: its evidence changed since**)"
                   if d.recorded.same_evidence is False else "") + "."
                if d.recorded is not None else "Not in the record."),
             f"Actions: {_actions(d)}. Missing safeguards: {_missing(d)}.", ""]
    rows = []
    for t in d.thresholds:
        ev = "; ".join(
            f"{escape(e.benchmark or e.quantity or e.kind)}"
            + (f" = {num(e.value)}" if e.value is not None else "")
            + (f" (`{short(e.source_sha256)}`)" if e.source_sha256 else "")
            for e in t.evidence) or "none"
        rows.append([escape(t.id), escape(t.level), t.state, prob(t.probability),
                     escape(t.reason or ""), ev])
    if rows:
        lines += _table(["threshold", "level", "state", "P", "why", "evidence"], rows)
    for n in d.notes:
        lines.append(f"> {escape(n)}")
    if d.notes:
        lines.append("")
    return lines


def render_markdown(d: ReportData) -> str:
    """The report as GitHub-flavoured Markdown."""
    out = [f"# {escape(d.title)}", "",
           f"Generated {when(d.generated_at)} by tripwire {d.tripwire_version} from "
           f"{code(d.register_at)}. "
           + ("Record: **verifies**." if d.record.ok else
              f"Record: **does not verify**: {escape(d.record.failure or d.record.reason)}."),
           "", " · ".join(f"{n} {escape(k)}" for k, n in d.counts.items()), ""]
    focus = [m for m in d.models if m.name in set(d.focus)]
    out += ["## Levels", ""]
    pols = [p.name for p in d.policies]
    out += _table(["model", *[escape(p) for p in pols]],
                  [[escape(m.name), *[
                      (escape(m.levels.get(p)) if m.levels.get(p) else "—")
                      + (" ✗" if any(x.policy == p and x.blocked_actions
                                    for x in d.determinations_for(m.name)) else "")
                      for p in pols]] for m in focus])
    out += ["✗: an action is blocked (a required safeguard is not attested, or the evidence is "
            "insufficient).", ""]
    out += ["## Models", ""]
    out += _table(["model", "released", "parameters", "compute (FLOP)", "effective",
                   "compute lines passed", "P(C > 1e25)", "P(C > 1e26)"],
                  [[escape(m.name), m.release_date or "", count_or(m.params, ""),
                    flop(m.compute_flop) + (" (est.)" if m.compute_estimated else "")
                    + (f" ({escape(m.compute_confidence)})" if m.compute_confidence else ""),
                    flop(m.effective_compute_flop),
                    ", ".join(escape(x.split(":")[0]) for x in m.regulatory_lines),
                    *(f"{p:.2f}" if (p := (m.p_over or {}).get(k)) is not None else "?"
                      for k in ("1e+25", "1e+26"))]
                   for m in focus])
    if d.scope == "model":
        out += ["## Determinations", ""]
        for m in focus:
            out += [f"### {escape(m.name)}", ""]
            for det in d.determinations_for(m.name):
                out += _determination(det)
        out += ["## Evaluation results", ""]
        out += _table(["model", "benchmark", "metric", "value", "stderr", "samples", "sha256"],
                      [[escape(r.model), escape(r.benchmark), escape(r.metric), num(r.value),
                        num(r.stderr), r.samples or "", f"`{short(r.source_sha256)}`"]
                       for r in d.results])
    if d.changes:
        out += ["## What changed", ""]
        for ch in d.changes:
            out += [f"{escape(ch.model)} against {escape(ch.baseline)} ({escape(ch.how)}), "
                    f"{len(ch.compared)} benchmark metrics tested, surviving FDR {ch.fdr:g}: "
                    f"{len(ch.regressions)} regressions, {len(ch.improvements)} improvements.", ""]
            out += _table(["benchmark", "metric", escape(ch.baseline), escape(ch.model), "change",
                           "interval", "test", "q", "verdict"],
                          [[escape(r.benchmark), escape(r.metric), num(r.value_a),
                            num(r.value_b), num(r.delta),
                            f"{num(r.low)} – {num(r.high)}" if r.low is not None else "",
                            escape(r.test), num(r.q_value), escape(r.verdict)]
                           for r in ch.significant])
    out += ["## Capability forecasts", ""]
    rows = []
    for c in d.capabilities:
        if not c.available:
            rows.append([escape(c.benchmark), c.n_models, "", "", "", escape(c.reason or "")])
            continue
        cal = c.calibration
        flag = (f"**{escape(cal.text.split(':')[0])}**; "
                if cal is not None and cal.status != "calibrated" else "")
        if not c.thresholds:
            rows.append([escape(c.benchmark), c.n_models, "", "", "",
                         flag + f"midpoint 10^{num(c.params.get('midpoint_log10_flop'))} FLOP, "
                         f"ceiling {num(c.ceiling)}"])
        for t in c.thresholds:
            q = t.crossing_quantiles
            rows.append([escape(c.benchmark), c.n_models,
                         f"≥ {num(t.value)} ({escape(t.label)})",
                         flop(q.get("0.5")) or "never",
                         f"{flop(q.get('0.1')) or 'never'} – {flop(q.get('0.9')) or 'never'}",
                         flag + ("; ".join(f"{escape(p['model'])} ×4: P = "
                                           f"{prob(p['probability'])}" for p in t.planned)
                                 or escape(t.reason or ""))])
    out += _table(["benchmark", "models", "threshold", "median crossing (FLOP)", "80 % range",
                   "note"], rows)
    out += _calibration(d)
    s = d.scaling
    out += ["## Scaling law", ""]
    if s.available:
        out += [f"`{s.law}` fitted to {s.n_points} runs ({s.n_boot} bootstrap resamples); "
                f"fitted compute range {flop(s.fitted_range[0]) if s.fitted_range else ''} to "
                f"{flop(s.fitted_range[1]) if s.fitted_range else ''} FLOP.", ""]
        out += _table(["parameter", "estimate", "95 % interval"],
                      [[escape(p.name), num(p.estimate), f"{num(p.lo95)} – {num(p.hi95)}"]
                       for p in s.params + s.chinchilla])
        out += [f"> {escape(w)}" for w in s.warnings] + ([""] if s.warnings else [])
    else:
        out += [f"No scaling law: {escape(s.reason)}", ""]
    out += ["## Time trends", ""]
    out += _table(["benchmark", "models", "odds doubling time (days)", "95 % interval"],
                  [[escape(t.benchmark), t.n_models, num(t.doubling_days),
                    f"{num(t.doubling_95[0])} – {num(t.doubling_95[1])}" if t.doubling_95
                    else escape(t.reason or "")] for t in d.trends])
    out += ["## Backtests", ""]
    out += _table(["benchmark", "cutoffs", "mean abs. error", "80 % coverage", "95 % coverage"],
                  [[escape(b.benchmark), b.n_cutoffs or "", num(b.mae), prob(b.coverage80),
                    prob(b.coverage95)] if b.available else
                   [escape(b.benchmark), "", "", "", escape(b.reason or "")]
                   for b in d.backtests])
    out += ["## Anomaly flags", ""]
    out += (_table(["model", "benchmark", "score", "expected", "z"],
                   [[escape(a.model), escape(a.benchmark), num(a.score), num(a.expected),
                     num(a.z)] for a in d.anomalies]) if d.anomalies
            else ["No score is flagged.", ""])
    out += ["## Obligations", "",
            "Deadlines a recorded crossing, planned run or incident started, overdue first; an "
            "attestation of the safeguard meets them (`tripwire obligations`).", ""]
    out += (_table(["due", "days left", "status", "model", "policy", "safeguard", "within",
                    "started by", "clause", "met by", "evidence"],
                   [[o.due, f"{o.days_left:g}",
                     f"**{o.status}**" if o.status == "overdue" else o.status,
                     escape(o.model), escape(o.policy), escape(o.safeguard), escape(o.within),
                     escape(o.event), escape(o.source or ""), escape(o.met_by or ""),
                     escape(o.evidence or "")] for o in d.obligations])
            if d.obligations else ["No deadline is running.", ""])
    r = d.record
    out += ["## The record", ""]
    if r.available:
        out += [("The record **verifies**" if r.ok else f"The record **does not verify**: "
                 f"{escape(r.failure)}") + f": {r.entries} entries, root `{r.root_hash or '—'}`.",
                ""]
        if r.last_head:
            h = r.last_head
            out += [f"Last signed tree head: size {h['tree_size']}, {escape(h['timestamp'])}, "
                    f"root `{h['root_hash']}`, key `{short(h['key_id'])}`.", ""]
        else:
            out += ["No signed tree head yet (`tripwire checkpoint`).", ""]
    else:
        out += [f"The record could not be read: {escape(r.reason)}", ""]
    if d.notices:
        out += ["## What could not be shown", ""]
        out += [f"- {escape(n.section)}: {escape(n.message)}" for n in d.notices] + [""]
    return "\n".join(out)
