"""Reports: what the register, the fits, the forecasts, the determinations and the record say,
as HTML (plotly.js written once beside the reports, or inlined in one self-contained file),
Markdown, or JSON.

    from tripwire.report import gather_report, write_report
    data = gather_report(reg, models=["GPT-3 175B (davinci)"], policies=["eu-ai-act-gpai"])
    write_report(data, "html", "reports/")      # -> reports/gpt-3-175b-davinci.html
                                                #    (+ reports/plotly-<version>.min.js)

`gather_report` collects everything a report shows from the library (the surfaces decide
nothing); `render_html`, `render_markdown` and `render_json` turn it into text.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from tripwire.errors import InputError
from tripwire.report.data import REPORT_VERSION, ReportData, gather_report
from tripwire.report.html import plotly_file_name, plotly_source, render_html
from tripwire.report.json import render_json
from tripwire.report.md import render_markdown

__all__ = [
    "FORMATS",
    "REPORT_VERSION",
    "ReportData",
    "gather_report",
    "render",
    "render_html",
    "render_json",
    "render_markdown",
    "safe_child",
    "write_report",
    "write_text",
]

FORMATS = {"html": (render_html, ".html"), "md": (render_markdown, ".md"),
           "json": (render_json, ".json")}


def render(data: ReportData, fmt: str) -> str:
    """The report in `fmt` (html, md or json)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown report format {fmt!r}", hint="html, md or json")
    return FORMATS[fmt][0](data)


def file_name(text: str, suffix: str) -> str:
    """A file name made from a model name: letters, digits, `.`, `-` and `_` only, never a
    path, never hidden (`../../x` -> `x`)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-_")[:80] or "report"
    return stem + suffix


def safe_child(folder: str | Path, name: str) -> Path:
    """`folder/name`, refusing any name that would land outside `folder` (separators, `..`,
    absolute paths, or a symbolic link that points out of it)."""
    base = Path(folder).resolve()
    if not base.is_dir():
        raise InputError("the output folder does not exist", source=str(folder))
    if not name or name != Path(name).name or name in (".", ".."):
        raise InputError(f"{name!r} is not a plain file name", source=str(folder),
                         hint="report files are written inside the folder given")
    path = (base / name).resolve()
    if path.parent != base:
        raise InputError(f"{name!r} would be written outside the folder", source=str(folder))
    return path


def write_report(data: ReportData, fmt: str, output: str | Path, *,
                 self_contained: bool = False) -> Path:
    """Render and write the report; return the file written.

    `output` is a file path, or a folder: an existing one, or a path ending in `/`, which is
    created with its parents if missing. The file in a folder is named after the model in focus
    (`all-models` for every model) and always lands inside it. The file is written whole or not
    at all (a temporary file renamed into place).
    An HTML report loads plotly.js from `plotly-<version>.min.js` beside it, written there
    first unless the same file is already there; `self_contained` inlines it instead.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown report format {fmt!r}", hint="html, md or json")
    stem = data.focus[0] if data.scope == "model" and len(data.focus) == 1 else "all-models"
    suffix = FORMATS[fmt][1]
    if fmt != "html" or self_contained:
        return write_text(render(data, fmt), output, stem, suffix)
    path = output_path(output, stem, suffix)
    name = plotly_file_name()
    _write_once(path.parent / name, plotly_source().encode("utf-8"))
    return write_text(render_html(data, plotly_src=name), path, stem, suffix)


def write_text(text: str, output: str | Path, stem: str, suffix: str) -> Path:
    """Write a rendered report to `output` (a file, or a folder: then `stem` + `suffix` inside
    it), whole or not at all; return the file written."""
    path = output_path(output, stem, suffix)
    _write_atomic(path, text.encode("utf-8"), suffix)
    return path


def output_path(output: str | Path, stem: str, suffix: str) -> Path:
    """The file a report goes to: `output`, or `stem` + `suffix` inside the folder `output`."""
    out = Path(output)
    if out.is_dir() or str(output).endswith(("/", os.sep)):
        if not out.is_dir():
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise InputError(f"cannot create the output folder: {e.strerror}",
                                 source=str(output),
                                 hint="give a folder you may write to, or a file path") from None
        return safe_child(out, file_name(stem, suffix))
    if not out.parent.resolve().is_dir():
        raise InputError(f"cannot write the report: the folder {out.parent} does not exist",
                         source=str(output))
    return out.resolve()


def _write_once(path: Path, body: bytes) -> None:
    """Write `body` to `path` unless the file there already holds exactly these bytes."""
    try:
        if path.stat().st_size == len(body) and \
                hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(body).digest():
            return
    except OSError:
        pass
    _write_atomic(path, body, path.suffix)


def _write_atomic(path: Path, body: bytes, suffix: str) -> None:
    """Write a file whole or not at all (a temporary file renamed into place)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tripwire-report-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write the report: {e.strerror}", source=str(path)) from None
