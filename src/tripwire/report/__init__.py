"""Reports: what the register, the fits, the forecasts, the determinations and the record say,
as one self-contained HTML file, Markdown, or JSON.

    from tripwire.report import gather_report, write_report
    data = gather_report(reg, models=["GPT-3 175B (davinci)"], policies=["eu-ai-act-gpai"])
    write_report(data, "html", "reports/")      # -> reports/gpt-3-175b-davinci.html

`gather_report` collects everything a report shows from the library (the surfaces decide
nothing); `render_html`, `render_markdown` and `render_json` turn it into text.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from tripwire.errors import InputError
from tripwire.report.data import REPORT_VERSION, ReportData, gather_report
from tripwire.report.html import render_html
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


def write_report(data: ReportData, fmt: str, output: str | Path) -> Path:
    """Render and write the report; return the file written.

    `output` is a file path, or a folder: an existing one, or a path ending in `/`, which is
    created with its parents if missing. The file in a folder is named after the model in focus
    (`all-models` for every model) and always lands inside it. The file is written whole or not
    at all (a temporary file renamed into place).
    """
    text = render(data, fmt)
    suffix = FORMATS[fmt][1]
    out = Path(output)
    if out.is_dir() or str(output).endswith(("/", os.sep)):
        if not out.is_dir():
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise InputError(f"cannot create the output folder: {e.strerror}",
                                 source=str(output),
                                 hint="give a folder you may write to, or a file path") from None
        stem = data.focus[0] if data.scope == "model" and len(data.focus) == 1 else "all-models"
        path = safe_child(out, file_name(stem, suffix))
    else:
        if not out.parent.resolve().is_dir():
            raise InputError(f"cannot write the report: the folder {out.parent} does not exist",
                             source=str(output))
        path = out.resolve()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tripwire-report-", suffix=suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write the report: {e.strerror}", source=str(path)) from None
    return path
