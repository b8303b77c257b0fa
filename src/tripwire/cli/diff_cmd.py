"""`tripwire diff`: two versions of a model compared on every benchmark both have, with the
paired test where per-sample scores allow it, false-discovery control, and a CI gate.

Exit codes: 0 no surviving regression (or no --fail-on-regression); 1 with
--fail-on-regression, a significant regression survives (on a --watch benchmark when given);
2 usage or input error; 3 the models share no benchmark with comparable, testable scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tripwire.cli.app import DbOpt, JsonOpt, app, fmt, info, print_json, stdout, warn


def _pct(v: float | None) -> str:
    return "" if v is None else fmt(v)


def _signed(v: float | None) -> str:
    if v is None:
        return ""
    return ("+" if v > 0 else "") + fmt(v)


def _p(v: float | None) -> str:
    if v is None:
        return ""
    return "<1e-16" if v < 1e-16 else f"{v:.2g}"


def _test_name(row: Any) -> str:
    ch = row.change
    if ch is None:
        return ""
    if ch.method == "paired-clustered":
        return f"paired, {ch.clusters} clusters"
    return {"mcnemar-exact": "paired McNemar", "paired-t": "paired t",
            "unpaired-stderr": "UNPAIRED (stderr)",
            "unpaired-binomial": "UNPAIRED (binomial)"}.get(ch.method, ch.method)


def _print(d: Any, *, items: bool) -> None:
    from rich.table import Table

    title = (f"{d.model_b} vs {d.model_a} "
             f"({'baseline: ' + d.baseline if d.baseline != 'given' else 'B vs A'}; "
             f"change = B - A; FDR q = {d.fdr:g}"
             + (f"; min effect {d.min_effect:g}" if d.min_effect else "") + ")")
    if not d.rows:
        info(f"{title}: no benchmark and metric in common")
        _print_rest(d, items=items)
        return
    table = Table(title=title)
    for c in ("benchmark", "metric", "A", "B", "change", f"{d.level:.0%} interval", "test",
              "items", "p", "q", "effect", "verdict"):
        table.add_column(c, overflow="fold")
    for r in d.rows:
        ch = r.change
        interval = (f"[{fmt(ch.low)}, {fmt(ch.high)}]"
                    if ch is not None and ch.low is not None else "")
        effect = (f"{ch.effect_kind.split('_')[1]} {ch.effect_size:+.2f}"
                  if ch is not None and ch.effect_size is not None and ch.effect_kind else "")
        n = ""
        if r.items is not None:
            n = str(r.items.matched)
            if r.items.only_a or r.items.only_b:
                n += f" (+{r.items.only_a} A only, {r.items.only_b} B only)"
        verdict = r.verdict if r.status == "compared" else f"{r.verdict}: {r.reason}"
        metric = r.metric + (f" [{r.filter}]" if r.filter not in (None, "none") else "")
        table.add_row(r.benchmark, metric, _pct(r.value_a), _pct(r.value_b),
                      _signed(ch.delta if ch is not None else None), interval, _test_name(r), n,
                      _p(ch.p_value if ch is not None else None), _p(r.q_value), effect, verdict)
    stdout.print(table, markup=False)
    _print_rest(d, items=items)


def _print_rest(d: Any, *, items: bool) -> None:
    regs, imps = d.regressions, d.improvements
    for name, rows in (("regression", regs), ("improvement", imps)):
        if rows:
            many = len(rows) != 1
            stdout.print(f"{len(rows)} {name}{'s' if many else ''} survive{'' if many else 's'} "
                         f"FDR {d.fdr:g}: " + "; ".join(
                f"{r.label} {_signed(r.change.delta)} (q = {_p(r.q_value)})" for r in rows),
                markup=False)
        else:
            stdout.print(f"no {name}s survive FDR {d.fdr:g}", markup=False)
    if items:
        for r in d.rows:
            if not r.moved:
                continue
            for key, what in (("worse", "got worse"), ("better", "got better"),
                              ("only_a", f"only in {d.model_a}"),
                              ("only_b", f"only in {d.model_b}")):
                ids = r.moved.get(key) or []
                if ids:
                    stdout.print(f"{r.label}: {len(ids)} items {what}: " + ", ".join(ids),
                                 markup=False)
    for r in d.rows:
        for note in r.notes:
            info(f"{r.label}: {note}")
    if d.only_a:
        info(f"only {d.model_a} has: " + ", ".join(d.only_a))
    if d.only_b:
        info(f"only {d.model_b} has: " + ", ".join(d.only_b))
    for note in d.notes:
        info(note)
    if d.policy is not None:
        _print_policy(d)


def _print_policy(d: Any) -> None:
    from rich.table import Table

    pol = d.policy
    table = Table(title=f"policy {pol['policy']} {pol['version']}: level "
                        f"{pol['level_a'] or 'none'} -> {pol['level_b'] or 'none'}")
    for c in ("threshold", "level", "score", "bar", f"{d.model_a}", "to go",
              f"{d.model_b}", "to go ", "P(crossed)", "change"):
        table.add_column(c, overflow="fold")
    for t in pol["thresholds"]:
        p = f"{_pct(t['p_a'])} -> {_pct(t['p_b'])}" if (t["p_a"], t["p_b"]) != (None, None) \
            else f"{t['state_a']} -> {t['state_b']}"
        bars = t["bars"] or [None]
        for i, bar in enumerate(bars):
            first = i == 0
            table.add_row(
                t["threshold"] if first else "", t["level"] if first else "",
                f"{bar['evidence']} {bar['op']}" if bar else "", fmt(bar["bar"]) if bar else "",
                _pct(bar["value_a"]) if bar else "", _pct(bar["to_go_a"]) if bar else "",
                _pct(bar["value_b"]) if bar else "", _pct(bar["to_go_b"]) if bar else "",
                p if first else "", _signed(t["p_change"]) if first else "")
    stdout.print(table, markup=False)
    for w in pol["warnings"]:
        warn(w)


def _read_clusters(path: Path) -> dict[tuple[str | None, str], str]:
    """(benchmark or None, sample id) -> cluster, from a CSV with a header row naming
    `sample_id` and `cluster` (and optionally `benchmark`)."""
    import csv

    from tripwire.errors import InputError

    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InputError(f"cannot read the clusters file: {e.strerror}", source=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("the clusters file is not UTF-8 text", source=str(path)) from None
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip() for f in reader.fieldnames or []]
    missing = [c for c in ("sample_id", "cluster") if c not in fields]
    if missing:
        raise InputError(f"no {' or '.join(missing)} column", source=str(path), where="line 1",
                         hint="the header must name sample_id and cluster "
                              "(and optionally benchmark)")
    out: dict[tuple[str | None, str], str] = {}
    for n, row in enumerate(reader, 2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        sid, label = row.get("sample_id", ""), row.get("cluster", "")
        if not sid or not label:
            raise InputError("empty sample_id or cluster", source=str(path), where=f"line {n}")
        out[(row.get("benchmark") or None, sid)] = label
    if not out:
        raise InputError("the clusters file holds no rows", source=str(path))
    return out


@app.command("diff")
def diff_cmd(
    model: Annotated[str, typer.Argument(
        help="The baseline model A; with no second model, the model to compare with its "
             "parent (or the previous release in its family).")],
    other: Annotated[str | None, typer.Argument(
        help="The new model B (compared with A).", show_default=False)] = None,
    fdr: Annotated[float, typer.Option(
        "--fdr", help="False discovery rate across all benchmarks (Benjamini-Hochberg).")
    ] = 0.05,
    min_effect: Annotated[float, typer.Option(
        "--min-effect", help="Ignore changes smaller than this, in the metric's units "
                             "(0.02 = 2 points of accuracy).")] = 0.0,
    fail_on_regression: Annotated[bool, typer.Option(
        "--fail-on-regression", help="Exit 1 when a significant regression survives.")
    ] = False,
    watch: Annotated[list[str] | None, typer.Option(
        "--watch", metavar="BENCHMARK",
        help="Only regressions on these benchmarks fail (repeatable).")] = None,
    benchmark: Annotated[list[str] | None, typer.Option(
        "--benchmark", "-b", help="Compare only these benchmarks (repeatable).")] = None,
    items: Annotated[bool, typer.Option(
        "--items", help="List the ids of items that got worse or better, and those scored "
                        "for one model only.")] = False,
    cluster_by: Annotated[str | None, typer.Option(
        "--cluster-by", metavar="REGEX",
        help="Items whose sample ids give the same first group (or match) of REGEX are one "
             "cluster (cluster-robust standard errors); epochs of a sample always are.")
    ] = None,
    clusters: Annotated[Path | None, typer.Option(
        "--clusters", metavar="CSV",
        help="Declared clusters: a CSV with columns sample_id and cluster (and optionally "
             "benchmark); items of one cluster are not independent.")] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", "-p", help="Also show each model's distance to every score bar of this "
                               "policy and the change in P(crossed).")] = None,
    map_: Annotated[list[str] | None, typer.Option(
        "--map", metavar="NAME=BENCHMARK",
        help="Map a policy's named evidence to a register benchmark (repeatable).")] = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write a forest plot of the changes with their intervals "
                       "(.png, .svg or .pdf).")] = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Compare two model versions on every benchmark and metric both have: the change with
    its interval, a paired test on per-sample scores (McNemar for 0/1 scores, paired t
    otherwise, clustered when items come in groups) or an unpaired one from aggregates,
    and Benjamini-Hochberg control of false discoveries. For CI, --fail-on-regression exits
    1 on a surviving regression, 3 when nothing is comparable."""
    from tripwire.diff import diff_models
    from tripwire.errors import InputError
    from tripwire.register import close_names, open_register

    if plot is not None:
        from tripwire.plots import check_figure_path

        check_figure_path(plot)
    mapping: dict[str, str] = {}
    if map_:
        from tripwire.cli.policy_cmds import _pairs

        mapping = _pairs(map_, "--map")
    declared = _read_clusters(clusters) if clusters is not None else None
    reg = open_register(db)
    try:
        a, b = (None, model) if other is None else (model, other)
        known = {bm.id for bm in reg.benchmarks()}
        for name in list(watch or []) + list(benchmark or []):
            if name not in known:
                raise InputError(f"no benchmark {name!r} in the register",
                                 hint=close_names(name, sorted(known)))
        d = diff_models(reg, b, a, fdr=fdr, min_effect=min_effect, items=items,
                        cluster_by=cluster_by, clusters=declared, benchmarks=benchmark,
                        policy=policy,
                        mapping=mapping)
    finally:
        reg.close()
    code, reason = d.gate(watch or ())
    if plot is not None:
        from tripwire.plots_diff import plot_diff

        plot_diff(d, plot)
    if json:
        out = d.to_dict()
        out["gate"] = {"exit_code": code if fail_on_regression or code == 3 else 0,
                       "reason": reason}
        print_json(out)
    else:
        _print(d, items=items)
    if plot is not None:
        info(f"forest plot written to {plot}")
    if code == 3:
        typer.echo(f"insufficient evidence: {reason}", err=True)
        raise typer.Exit(3)
    if fail_on_regression:
        typer.echo(("FAIL: " if code else "ok: ") + reason, err=True)
        raise typer.Exit(code)
