"""Report and dashboard commands: report, serve."""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import Annotated

import typer

from tripwire.cli.app import DbOpt, app, info, warn
from tripwire.errors import InputError

FORMATS = ("html", "md", "json")


def parse_thresholds(items: list[str] | None) -> dict[str, list[float]]:
    """`--threshold mmlu=0.8` (repeatable) as benchmark -> values."""
    out: dict[str, list[float]] = {}
    for item in items or []:
        bench, sep, value = item.partition("=")
        if not sep or not bench.strip():
            raise InputError(f"--threshold {item!r} is not BENCHMARK=SCORE",
                             hint="e.g. --threshold mmlu=0.8")
        try:
            v = float(value)
        except ValueError:
            raise InputError(f"--threshold {item!r}: {value!r} is not a number") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise InputError(f"--threshold {item!r}: the score must be a finite number")
        out.setdefault(bench.strip(), []).append(v)
    return out


@app.command()
def report(
    model: Annotated[str | None, typer.Argument(help="The model the report is about.",
                                                show_default=False)] = None,
    all_models: Annotated[bool, typer.Option("--all", help="Report on every model.")] = False,
    industry: Annotated[bool, typer.Option(
        "--industry", help="The industry view: every model against the regulatory compute "
        "lines (counts over time, expected counts, P(C > line)) and under every built-in "
        "policy, compute growth, when the next lines fall, and backtests.")] = False,
    format: Annotated[str, typer.Option("--format", help="html, md or json.")] = "html",
    output: Annotated[str, typer.Option(
        "--output", "-o",
        help="File to write, or a folder (the file is named after the model), or - for "
             "stdout.")] = ".",
    policy: Annotated[list[str] | None, typer.Option(
        "--policy", help="Judge under this policy (name or file; repeatable; default: every "
                         "built-in).", show_default=False)] = None,
    threshold: Annotated[list[str] | None, typer.Option(
        "--threshold", help="Also forecast when BENCHMARK reaches SCORE (BENCHMARK=SCORE, "
                            "repeatable).", show_default=False)] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", max=100_000,
                                                help="Bootstrap resamples per fit.")] = 200,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the bootstrap.")] = 0,
    self_contained: Annotated[bool, typer.Option(
        "--self-contained", help="HTML: inline plotly.js (about 4.8 MB) to make one file to mail "
        "or archive, instead of loading it from plotly-<version>.min.js written beside the "
        "report.")] = False,
    db: DbOpt = None,
) -> None:
    """Write a report: levels under each policy with the evidence, scaling-law fit, capability
    forecasts, trends, backtests, anomaly flags and the record's status.

    HTML draws interactive plots and makes no network request: plotly.js is written once beside
    the reports (plotly-<version>.min.js), or inlined with --self-contained (always so on
    stdout); Markdown suits a pull request or a board pack; JSON is for machines."""
    from tripwire.register import open_register
    from tripwire.report import FORMATS as KNOWN
    from tripwire.report import gather_report, render, write_report

    if format not in KNOWN:
        raise InputError(f"unknown format {format!r}", hint="html, md or json")
    if industry:
        if model is not None or all_models:
            raise InputError("--industry covers every model", hint="drop MODEL and --all")
        _industry(format, output, n_boot=n_boot, seed=seed, db=db)
        return
    if (model is None) == (not all_models):
        raise InputError("name one MODEL or pass --all", hint="tripwire report gpt2-xl, or "
                                                               "tripwire report --all")
    if n_boot < 10:
        raise InputError(f"--n-boot {n_boot} is too few for intervals", hint="use 10 or more")
    reg = open_register(db)
    data = gather_report(reg, models=None if all_models else [model or ""], policies=policy,
                         thresholds=parse_thresholds(threshold), n_boot=n_boot, seed=seed)
    if output == "-":
        sys.stdout.write(render(data, format))
        return
    path = write_report(data, format, output, self_contained=self_contained)
    for n in data.notices:
        warn(f"{n.section}: {n.message}")
    typer.echo(str(path))


def _industry(fmt: str, output: str, *, n_boot: int, seed: int, db: str | None) -> None:
    from tripwire.register import open_register
    from tripwire.report import write_text
    from tripwire.report.industry import gather_industry, render_industry

    reg = open_register(db)
    try:
        data = gather_industry(reg, n_boot=max(n_boot, 10), seed=seed)
    finally:
        reg.close()
    text = render_industry(data, fmt)
    if output == "-":
        sys.stdout.write(text)
        return
    path = write_text(text, output, "industry", "." + ("md" if fmt == "md" else fmt))
    for n in data.notices:
        warn(n)
    typer.echo(str(path))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    private: Annotated[bool, typer.Option(
        "--private", envvar="TRIPWIRE_PRIVATE",
        help="Reads need the token too (default: reads are open, writes need it).")] = False,
    max_upload_mb: Annotated[float, typer.Option(
        "--max-upload-mb", help="Largest request body accepted (413 above it).")] = 50.0,
    threshold: Annotated[list[str] | None, typer.Option(
        "--threshold", help="Also forecast when BENCHMARK reaches SCORE (BENCHMARK=SCORE, "
                            "repeatable).", show_default=False)] = None,
    db: DbOpt = None,
) -> None:
    """Serve the dashboard: models, evaluations, forecasts, policies, determinations and the
    record, with a JSON API (/openapi.json). Writes (upload a log, attest) need
    TRIPWIRE_TOKEN as a bearer token."""
    from tripwire.register import open_register
    from tripwire.web import serve as run_server

    if not 0 < port < 65536:
        raise InputError(f"--port {port} is not a port number (1-65535)")
    if not (max_upload_mb > 0 and max_upload_mb < float("inf")):
        raise InputError("--max-upload-mb must be positive and finite")
    thresholds = parse_thresholds(threshold)
    token = os.environ.get("TRIPWIRE_TOKEN") or None
    if private and token is None:
        raise InputError("reads can only be closed with a token",
                         hint="set TRIPWIRE_TOKEN, or serve without --private")
    if token is not None and len(token) < 16:
        warn("TRIPWIRE_TOKEN is shorter than 16 characters; use a long random token "
             "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    if not _loopback(host):
        warn(f"listening on {host}: anyone who can reach it can "
             + ("log in with the token" if private else "read the register")
             + "; put it behind TLS")
    reg = open_register(db)
    info(f"tripwire dashboard on http://{host}:{port}/ over {reg.display} "
         + ("(writes need TRIPWIRE_TOKEN)" if token else "(read-only: TRIPWIRE_TOKEN is not set)"))
    run_server(register=reg, host=host, port=port, token=token, private=private,
               max_body=int(max_upload_mb * 1024 * 1024), thresholds=thresholds)
