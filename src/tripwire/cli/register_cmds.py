"""Register commands: init, ingest, alias, models, evals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tripwire.cli.app import DbOpt, JsonOpt, app, info, make_app, print_json, render, stderr, warn
from tripwire.errors import InputError, TripwireError

if TYPE_CHECKING:
    from tripwire.register import IngestOutcome


@app.command()
def init(db: DbOpt = None) -> None:
    """Create the register, or upgrade an existing one in place (nothing is recreated)."""
    from tripwire.register import head_revision, open_register

    reg = open_register(db, create=True)
    info(f"register ready at {reg.display} (schema {head_revision()})")


def _export_date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of-export {text!r} is not a date",
                         hint="write YYYY-MM-DD, e.g. 2025-02-24") from None


@app.command("ingest")
def ingest_cmd(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files or folders (walked recursively), or object-store prefixes "
            "(s3://bucket/prefix/, gs://, az://: needs tripwire[s3] or the store's fsspec "
            "package; S3 credentials and endpoint from the AWS_* variables or AWS_PROFILE).",
        ),
    ],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Skip detection: csv, models-csv, evals-csv, loss-csv, epoch-csv, "
            "inspect, lm-eval, lm-eval-samples.",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Attribute every result to this register model.")
    ] = None,
    samples: Annotated[
        bool,
        typer.Option(
            "--samples",
            help="Store per-sample scores (an .eval object in a store is then downloaded "
            "whole, not only its header).",
        ),
    ] = False,
    update: Annotated[
        bool,
        typer.Option("--update", help="Replace stored model fields that the file contradicts."),
    ] = False,
    keep_going: Annotated[
        bool,
        typer.Option("--keep-going", help="Go on past files that fail (exit code is still 2)."),
    ] = False,
    new_models: Annotated[
        bool,
        typer.Option(
            "--new-models",
            help="Let eval-results tables create the models they name that are not registered "
            "(without compute); by default such a name is an error, as it is usually a typo.",
        ),
    ] = False,
    as_of_export: Annotated[
        str | None,
        typer.Option(
            "--as-of-export",
            help="YYYY-MM-DD: the date of the Epoch AI exports ingested (their figures are "
            "current unless a later-dated export's are). Without it: the latest 'Last "
            "modified' cell, else a date in the file name, else the latest publication date.",
        ),
    ] = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Read model tables, eval results, loss points and eval logs into the register.

    Each file is stored whole or not at all; the same bytes twice are stored once. A store
    prefix is listed once; an object whose ETag and size match what is stored is not
    downloaded. Model tables are stored first; a results table may name only models
    registered, in the same ingest, or aliased (or any, with --new-models); logs create the
    models they name."""
    from rich import filesize
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from tripwire import ingest
    from tripwire.register import open_register

    reg = open_register(db)
    files = ingest.collect(paths)
    sizes = {id(f): f.size for f in files if not isinstance(f, Path)}
    outcomes: list[IngestOutcome] = []
    failures: list[tuple[str, str]] = []
    progress = Progress(
        TextColumn("ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[bytes]}"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=stderr,
        transient=True,
        disable=len(files) < 5 or json,
    )
    total_bytes = sum(sizes.values())
    done_bytes = 0

    def shown_bytes() -> str:
        if not sizes:
            return ""
        return f"{filesize.decimal(done_bytes)}/{filesize.decimal(total_bytes)}"

    with progress:
        task = progress.add_task("", total=len(files), bytes=shown_bytes())

        def step(f: ingest.Source) -> None:
            nonlocal done_bytes
            done_bytes += sizes.get(id(f), 0)
            progress.update(task, description=f.name[:40], advance=1, bytes=shown_bytes())

        for f, out in reg.ingest_paths(files, format=format, samples=samples, update=update,
                                       model_override=model, keep_going=keep_going,
                                       progress=step, new_models=new_models,
                                       as_of_export=_export_date(as_of_export)):
            if isinstance(out, TripwireError):
                failures.append((str(f), str(out)))
            else:
                outcomes.append(out)
    for o in outcomes:
        if o.export_date is not None and o.status == "stored":
            info(f"{o.path}: export dated {o.export_date} ({o.export_basis})")
        if o.planned:
            info(f"{o.path}: {o.planned} planned run{'s' if o.planned > 1 else ''} recorded "
                 "(run `tripwire obligations` for the deadlines they start)")
        for w in o.warnings:
            warn(f"{o.path}: {w}")
        if o.status == "unchanged":
            added = f"added {o.samples} per-sample scores" if o.samples else "nothing added"
            why = o.reason or f"same sha256 {o.sha256[:12]}"
            info(f"{o.path}: already in the register ({why}); {added}")
        elif o.status == "skipped":
            warn(f"{o.path}: skipped: {o.reason}")
    for _, msg in failures:
        typer.echo(f"error: {msg}", err=True)
    summary = dict(
        files=len(files),
        stored=sum(o.status == "stored" for o in outcomes),
        unchanged=sum(o.status == "unchanged" for o in outcomes),
        skipped=sum(o.status == "skipped" for o in outcomes),
        failed=len(failures),
        models=sum(o.models for o in outcomes),
        results=sum(o.results for o in outcomes),
        loss_points=sum(o.loss for o in outcomes),
        samples=sum(o.samples for o in outcomes),
        planned=sum(o.planned for o in outcomes),
    )
    if json:
        print_json(
            dict(
                summary=summary,
                files=[
                    dict(
                        path=o.path,
                        kind=o.kind,
                        sha256=o.sha256,
                        status=o.status,
                        version=o.version,
                        models=o.models,
                        results=o.results,
                        loss_points=o.loss,
                        samples=o.samples,
                        planned=o.planned,
                        warnings=o.warnings,
                        reason=o.reason,
                        export_date=o.export_date,
                        export_basis=o.export_basis,
                    )
                    for o in outcomes
                ],
                failures=[dict(path=p, error=m) for p, m in failures],
            )
        )
    else:
        typer.echo(
            "ingest: "
            + ", ".join(
                f"{v} {k.replace('_', ' ')}"
                for k, v in summary.items()
                if v or k in ("files", "failed")
            )
        )
    if failures:
        if not keep_going and len(outcomes) + len(failures) < len(files):
            info(
                f"stopped at the first failure; {len(files) - len(outcomes) - len(failures)} "
                "file(s) not read (use --keep-going to go on)"
            )
        raise typer.Exit(2)


alias_app = make_app("Map names as written in logs to register models and benchmarks.")
app.add_typer(alias_app, name="alias")


@alias_app.command("add")
def alias_add(
    name: Annotated[str, typer.Argument(help="The name as logs write it.")],
    target: Annotated[str, typer.Argument(help="The register model (or benchmark) it means.")],
    benchmark: Annotated[bool, typer.Option("--benchmark", help="Alias a benchmark.")] = False,
    db: DbOpt = None,
) -> None:
    """Add an alias: NAME (as in a log) means TARGET (as in the register)."""
    from tripwire.register import open_register

    reg = open_register(db)
    reg.add_alias("benchmark" if benchmark else "model", name, target)
    info(f"{name} -> {target}")


@alias_app.command("list")
def alias_list(db: DbOpt = None, json: JsonOpt = False) -> None:
    """List aliases."""
    from tripwire.register import open_register

    render(
        open_register(db).aliases(),
        as_json=json,
        title="aliases",
        columns=["kind", "alias", "target"],
    )


def model_rows(models: list) -> list[dict]:
    """Models as table rows: compute, how it was obtained, effective compute, lines passed."""
    from tripwire import compute

    return [
        dict(
            name=m.name,
            organization=m.organization,
            release_date=m.release_date,
            params=m.params,
            tokens=m.tokens,
            compute_flop=m.compute_flop,
            compute_method=m.compute_method,
            compute_confidence=m.compute_confidence,
            compute_spread=compute.spread_note(m) if m.compute_flop else None,
            estimated=m.compute_estimated if m.compute_flop else None,
            multiplier=m.multiplier,
            effective_compute_flop=m.effective_compute_flop,
            cost_usd=m.cost_usd,
            family=m.family,
            parent=m.parent,
            variant=m.variant,
            regulatory_lines=[label for _, label in compute.lines_passed(m.compute_flop)],
            p_over={f"{line:.0e}": compute.p_above(m, line) for line, _ in
                    compute.REGULATORY_LINES} if m.compute_flop else None,
            lines=" ".join(f"> {line:.0e}" for line, _ in compute.lines_passed(m.compute_flop)),
        )
        for m in models
    ]


def count_lines(models: list) -> list[str]:
    """One sentence per regulatory line: models over it by point estimate and in expectation."""
    from tripwire import compute

    out = []
    for line, label in compute.REGULATORY_LINES:
        c = compute.line_count(models, line, label)
        out.append(
            f"over {line:.0e} FLOP: {c.point} by point estimate; expected {c.expected:.1f} "
            f"(80 % interval {c.interval80[0]}-{c.interval80[1]}, 95 % "
            f"{c.interval95[0]}-{c.interval95[1]}) from each figure's spread"
            + (f"; {c.unknown} of unknown compute not counted" if c.unknown else ""))
    if any(m.compute_confidence in compute.CONFIDENCE_FACTOR for m in models
           if m.compute_flop is not None):
        out.append(f"assumption: {compute.CONFIDENCE_ASSUMPTION}")
    return out


@app.command()
def models(
    diff: Annotated[
        tuple[str, str] | None,
        typer.Option("--diff", help="Two ingested files (path, file name or sha256 prefix), "
                     "e.g. two exports of a database: show what figures changed between them "
                     "(two dated exports: from the earlier-dated to the later-dated).",
                     show_default=False),
    ] = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """List registered models with compute (and how sure its source is), release date, the
    compute lines they pass and P(C > line) for each; then the count over each line by point
    estimate beside the expected count and its interval."""
    from tripwire import compute
    from tripwire.register import open_register

    reg = open_register(db)
    if diff is not None:
        d = reg.figure_diff(*diff)
        if json:
            print_json(d)
            return
        def dated(which: str) -> str:
            return d[which] + (f" (export of {d[which + '_export_date']})"
                               if d[which + "_export_date"] else "")

        info(f"{dated('old')} -> {dated('new')}: {len(d['changed'])} changed figure(s), "
             f"{len(d['only_old'])} model(s) only in the first, {len(d['only_new'])} only in "
             "the second")
        render(d["changed"], title="changed figures", columns=["model", "field", "old", "new"])
        return
    ms = reg.models()
    rows = model_rows(ms)
    if json:
        print_json([{k: v for k, v in r.items() if k != "lines"} for r in rows])
        for text in count_lines(ms):
            info(text)
        return
    for r in rows:
        c = r["compute_flop"]
        r["C (FLOP)"] = c and (
            f"{c:.{compute.digits_beside(c)}g}" + (" (est.)" if r["estimated"] else "")
        )
        r["conf."] = r["compute_confidence"]
        if (e := r["effective_compute_flop"]) is not None:
            r["effective_compute_flop"] = f"{e:.{compute.digits_beside(e)}g}"
        for line, _ in compute.REGULATORY_LINES:
            p = (r["p_over"] or {}).get(f"{line:.0e}")
            r[f"P>{line:.0e}"] = "?" if p is None else f"{p:.2f}"
    render(
        rows,
        title="models",
        columns=[
            "name",
            "organization",
            "release_date",
            "params",
            "tokens",
            "C (FLOP)",
            "conf.",
            *(f"P>{line:.0e}" for line, _ in compute.REGULATORY_LINES),
            "effective_compute_flop",
            "cost_usd",
            "lines",
        ],
    )
    for text in count_lines(ms):
        info(text)


@app.command()
def evals(
    model: Annotated[str | None, typer.Option("--model", help="Only this model.")] = None,
    benchmark: Annotated[str | None, typer.Option("--benchmark", help="Only this one.")] = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """List evaluation results with their uncertainty and source file."""
    from tripwire.register import open_register

    res = open_register(db).results(model=model, benchmark=benchmark)
    if json:
        print_json(res)
        return
    rows = [
        dict(
            id=r.id,
            model=r.model,
            benchmark=r.benchmark,
            metric=r.metric,
            value=r.value,
            stderr=r.stderr,
            samples=r.samples,
            file=Path(r.source_file).name if r.source_file else None,
            sha256=(r.source_sha256 or "")[:12],
        )
        for r in res
    ]
    render(rows, title="evaluation results")


@app.command()
def demo(
    folder: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo's register and outputs.")
    ] = Path("tripwire-demo"),
    db: Annotated[
        str | None, typer.Option("--db", help="Use this register instead of a fresh file in --dir.")
    ] = None,
    n_boot: Annotated[
        int, typer.Option("--n-boot", max=100_000,
                          help="Bootstrap resamples per fit in the report.")
    ] = 200,
    industry: Annotated[
        bool, typer.Option("--industry", help="Run the industry view instead: Epoch AI's "
                           "notable-models export from ../shared/data when it is there (the "
                           "bundled example models otherwise) and the industry report.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Run the whole loop on the bundled public data: register, ingest, fit, forecast, assess
    under the built-in policies, gate, record, verify; write the HTML report and print its path."""
    from tripwire.demo import DEMO_THRESHOLDS, run_demo

    if n_boot < 10:
        raise TripwireError(f"--n-boot {n_boot} is too few for intervals (use 10 or more)")
    if industry:
        _industry_demo(folder, db, n_boot, json)
        return
    with stderr.status("running the demo: ingest, fit, forecast, assess, gate, record, verify"):
        run = run_demo(folder, db, n_boot=n_boot)
    models = model_rows(run.register.models())
    data = run.report
    levels: dict[str, dict[str, int]] = {}
    for a in run.assessments:
        d = a.determination
        per = levels.setdefault(d.policy, {})
        per[d.level or "below every level"] = per.get(d.level or "below every level", 0) + 1
    if json:
        print_json(
            dict(
                folder=run.folder,
                register=run.register.display,
                ingested=[
                    dict(
                        path=o.path,
                        status=o.status,
                        models=o.models,
                        results=o.results,
                        loss_points=o.loss,
                    )
                    for o in run.ingested
                ],
                models=[{k: v for k, v in r.items() if k != "lines"} for r in models],
                scaling=data.scaling.model_dump(mode="json", include={
                    "available", "reason", "law", "n_points", "params", "fitted_range"}),
                forecasts=[
                    dict(benchmark=c.benchmark, available=c.available, reason=c.reason,
                         thresholds=[t.model_dump(mode="json", exclude={"cdf"})
                                     for t in c.thresholds])
                    for c in data.capabilities
                ],
                levels=levels,
                determinations_recorded=len(run.assessments),
                gates=[g.to_dict() for g in run.gates],
                checkpoint=run.checkpoint.to_dict(),
                verify=run.verify.to_dict(),
                report=run.report_path,
            )
        )
        return
    info(f"register: {run.register.display}")
    for o in run.ingested:
        info(
            f"ingested {Path(o.path).name}: {o.models} models, {o.results} results, "
            f"{o.loss} loss points"
        )
    s = data.scaling
    if s.available:
        params = ", ".join(f"{p.name} = {p.estimate:.3g}" for p in s.params if p.estimate)
        info(f"fit: the compute law {s.law} on {s.n_points} training runs: {params}")
        chin = {p.name: p.estimate for p in s.chinchilla}
        info("  (loss against training compute, the axis of the compute lines and the "
             "forecasts; `tripwire fit` fits the Chinchilla law L(N, D) = E + A/N^alpha + "
             "B/D^beta by default"
             + (f", whose E is {chin['E']:.3g} on these runs" if chin.get("E") else "")
             + "; `tripwire fit --law compute` fits this one)")
    else:
        info(f"fit: no scaling law ({s.reason})")
    for c in data.capabilities:
        for t in c.thresholds:
            if c.available and t.available and t.label == "asked for":
                q = t.crossing_quantiles
                med = q.get("0.5")
                info(f"forecast: {c.benchmark} reaches {t.value:g} at a median "
                     + (f"{med:.2g} FLOP" if med else "never")
                     + " of effective compute"
                     + (f" (80 % range {q['0.1']:.2g} to {q['0.9']:.2g})"
                        if q.get("0.1") and q.get("0.9") else ""))
    asked = ", ".join(f"{b} {v:g}" for b, vs in DEMO_THRESHOLDS.items() for v in vs)
    info(f"  (illustrative thresholds: {asked})")
    for policy, counts in levels.items():
        shown = ", ".join(f"{n} {lv}" for lv, n in sorted(counts.items(), key=lambda x: -x[1]))
        info(f"assess: {policy}: {shown}")
    for g in run.gates:
        d = g.assessment.determination
        verdict = "allowed" if g.allowed else ("blocked" if g.exit_code == 1 else "insufficient")
        info(f"gate: {g.action} {d.model} under {d.policy}: {verdict} (exit {g.exit_code}): "
             + (g.reasons[0] if g.reasons else ""))
    head = run.checkpoint
    info(f"record: {run.verify.entries} entries; checkpoint signed at size {head.tree_size} "
         f"with {run.key.name if run.key else 'the key'} (root {head.root_hash[:16]})")
    info("verify: " + ("the record verifies" if run.verify.ok
                       else f"the record does NOT verify: {run.verify.failure}"))
    over = {
        line: sum(1 for r in models if r["compute_flop"] and r["compute_flop"] > line)
        for line in (1e25, 1e26)
    }
    info(
        f"{over[1e25]} of {len(models)} models exceed 1e25 FLOP (EU AI Act), "
        f"{over[1e26]} exceed 1e26 FLOP (California SB 53)"
    )
    info("report (open it in a browser; it works offline):")
    typer.echo(str(run.report_path))


def _industry_demo(folder: Path, db: str | None, n_boot: int, json: bool) -> None:
    from tripwire.demo import run_industry_demo

    with stderr.status("running the industry demo: ingest, counts, levels, trends, backtests"):
        run = run_industry_demo(folder, db, n_boot=n_boot)
    d = run.data
    out = {"source": str(run.source), "register": run.register.display,
           "models": d.n_models, "with_compute": d.n_with_compute,
           "lines": [s.count for s in d.lines],
           "growth_per_year": d.growth["per_year"] if d.growth else None,
           "crossings": [{k: c.get(k) for k in ("threshold", "crossed_by", "date",
                                                "date_quantiles")} for c in d.crossings],
           "reports": {k: str(v) for k, v in run.paths.items()}}
    if json:
        print_json(out)
        return
    info(f"industry view of {d.n_models} models ({d.n_with_compute} with compute) from "
         f"{run.source}")
    for text in count_lines(run.register.models()):
        info(text)
    for p in run.paths.values():
        typer.echo(str(p))
