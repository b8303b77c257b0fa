"""CSV readers: models, evaluation results and loss observations in tripwire's own columns,
and Epoch AI's model-database export with its column names as exported.

The kind of table is told from its header. Every bad cell is an InputError naming the file,
the line, the column, the value and what would fix it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from tripwire import compute
from tripwire.errors import InputError
from tripwire.ingest.batch import Batch, PlannedRun, ResultTable
from tripwire.model import (
    Benchmark,
    ComputeMethod,
    EvalResult,
    LossObservation,
    Model,
    Variant,
    trusted,
)

csv.field_size_limit(16 * 1024 * 1024)

MODEL_COLUMNS = {
    "name": "name",
    "model": "name",
    "organization": "organization",
    "org": "organization",
    "release_date": "release_date",
    "date": "release_date",
    "params": "params",
    "parameters": "params",
    "tokens": "tokens",
    "compute": "compute_flop",
    "compute_flop": "compute_flop",
    "multiplier": "multiplier",
    "family": "family",
    "parent": "parent",
    "variant": "variant",
    "source": "source",
    "cost_usd": "cost_usd",
    "status": "status",
    "start": "start",
    "planned_start": "start",
    "planned_date": "start",
}
MODEL_STATUSES = ("planned", "trained", "released")
"""A models-table row's `status`: a `planned` run is recorded as an intention, not a model;
the others (and a blank) are models."""
EVAL_COLUMNS = {
    "model": "model",
    "benchmark": "benchmark",
    "metric": "metric",
    "value": "value",
    "score": "value",
    "stderr": "stderr",
    "samples": "samples",
    "source": "source",
    "variant": "variant",
    "date": "created_at",
    "created_at": "created_at",
}
LOSS_COLUMNS = {
    "model": "model",
    "run": "model",
    "params": "params",
    "params_n": "params",
    "model size": "params",
    "tokens": "tokens",
    "tokens_d": "tokens",
    "compute": "compute_flop",
    "compute_flop": "compute_flop",
    "flops_c": "compute_flop",
    "training flop": "compute_flop",
    "loss": "loss",
    "source": "source",
}
EPOCH_COLUMNS = {
    "Model": "name",
    "Organization": "organization",
    "Publication date": "release_date",
    "Last modified": "last_modified",
    "Parameters": "params",
    "Training compute (FLOP)": "compute_flop",
    "Training dataset size (datapoints)": "tokens",
    "Training dataset size": "tokens",
    "Confidence": "confidence",
    "Training compute cost (2023 USD)": "cost_usd",
    "Base model": "parent",
    "Finetune compute (FLOP)": "finetune_flop",
    "Training hardware": "hardware",
    "Hardware quantity": "hw_count",
    "Training time (hours)": "hw_hours",
    "Hardware utilization": "hw_util",
    "Hardware utilization (MFU)": "hw_util",
    "Domain": "domain",
    "Training compute estimation method": "method",
    "Link": "link",
    "Reference": "reference",
}
# Epoch columns we recognise and deliberately do not store (notes, bibliographic fields).
EPOCH_KNOWN = {
    "Organization categorization",
    "Country (from Organization)",
    "Authors",
    "Citations",
    "Notability criteria",
    "Notability criteria notes",
    "Parameters notes",
    "Training compute notes",
    "Training dataset",
    "Training dataset notes",
    "Dataset size notes",
    "Epochs",
    "Training time notes",
    "Compute cost notes",
    "Abstract",
    "Finetune compute (FLOP)",
    "Finetune compute notes",
    "Batch size",
    "Batch size notes",
    "Model accessibility",
    "Training code accessibility",
    "Inference code accessibility",
    "Accessibility notes",
    "Frontier model",
    "Training power draw (W)",
    "Country",
    "Model version",
    "ECI Score",
    "Release date",
    "Model name",
    "Description",
    "Display name",
    # Frontier AI Models and Large-scale AI Models exports
    "System",
    "Task",
    "Code accessibility",
    "Dataset accessibility",
    "Organization categorization (from Organization)",
    "Country (of organization)",
    "Training data center",
    "Training chip-hours",
    "Utilization notes",
    "Estimated over 1e25 FLOP",
    "Maybe over 1e25 FLOP",
    "Power per GPU",
    "Base model compute",
    "API prices",
    "Numerical format",
    "FLOP/$",
    "Hardware release date",
    "Post-training compute (FLOP)",
    "Post-training compute notes",
    "Model versions (benchmarks)",
    "Hardware utilization (HFU)",
    "Training compute cost (cloud)",
    "Training compute cost (upfront)",
    "Training dataset size (total)",
    "Open model weights?",
}
_EPOCH_BLANK = {"nan", "NaN", "NA", "N/A", "n/a", "None"}
"""Cells Epoch's pandas-written exports use for a missing value."""

EXAMPLES = {
    "params": "7e9",
    "tokens": "2e12",
    "compute_flop": "3.8e25",
    "multiplier": "1",
    "cost_usd": "1e8",
    "value": "0.62",
    "stderr": "0.01",
    "samples": "1319",
    "chance": "0.25",
    "loss": "2.31",
    "hw_count": "1024",
    "hw_hours": "720",
    "hw_util": "0.4",
}


class Table:
    """A decoded CSV: its header and its rows, each with the line number it starts on."""

    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.names: dict[tuple[str, int], str] = {}
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise InputError(
                f"not UTF-8 text (bad byte at offset {e.start})",
                source=path,
                hint="save the file as UTF-8 CSV",
            ) from None
        if "\x00" in text:
            line = text.count("\n", 0, text.index("\x00")) + 1
            raise InputError(
                "contains a NUL byte; this is not a text CSV", source=path, where=str(line)
            )
        first = text.split("\n", 1)[0]
        self.delimiter = max([",", ";", "\t"], key=first.count) if first.strip() else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter, strict=True)
        try:
            self.header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputError(
                "the file is empty", source=path, hint="a CSV needs a header row and data rows"
            ) from None
        except csv.Error as e:
            raise InputError(f"cannot read the header: {e}", source=path, where="1") from None
        if not any(self.header):
            raise InputError("the header row is empty", source=path, where="1")
        dup = sorted({h for h in self.header if h and self.header.count(h) > 1})
        if dup:
            raise InputError(
                f"column {dup[0]!r} appears more than once",
                source=path,
                where="1",
                hint="give each column one header",
            )
        self.rows: list[tuple[int, list[str]]] = []
        if '"' not in text and text.count("\r") == text.count("\r\n"):
            # No quoting and no bare CR: each record is one physical line, so its line number
            # is its position, and the C reader can run without per-row bookkeeping.
            self.rows = [
                (i, row)
                for i, row in enumerate(reader, start=2)
                if len(row) > 1 or (row and row[0].strip())
            ]
            return
        start = 2
        try:
            for row in reader:
                if len(row) > 1 or (row and row[0].strip()):
                    self.rows.append((start, row))
                start = reader.line_num + 1
        except csv.Error as e:
            raise InputError(f"malformed CSV: {e}", source=path, where=str(start)) from None

    def records(
        self, columns: dict[str, str], *, case: bool = False
    ) -> Iterator[tuple[int, dict[str, str]]]:
        """Rows as {field: text} for the columns we know; row length errors say where."""
        index = {}
        for i, h in enumerate(self.header):
            key = h if case else h.lower()
            if key in columns:
                index[columns[key]] = i
        width = len(self.header)
        for line, row in self.rows:
            if len(row) > width and any(c.strip() for c in row[width:]):
                raise InputError(
                    f"{len(row)} cells but the header has {width} columns",
                    source=self.path,
                    where=str(line),
                    hint="quote values that contain the delimiter",
                )
            yield line, {f: (row[i].strip() if i < len(row) else "") for f, i in index.items()}


def _column(field: str, table: Table, columns: dict[str, str]) -> str:
    """The header a field was read from, as the user wrote it (for messages)."""
    key = (field, id(columns))
    name = table.names.get(key)
    if name is None:
        name = next(
            (h for h in table.header if columns.get(h, columns.get(h.lower())) == field), field
        )
        table.names[key] = name
    return name


def number(
    text: str, *, path: str, line: int, column: str, field: str, negative: bool = False
) -> float | None:
    """A cell as a finite float (None if blank); anything else is an error that says where."""
    if text == "":
        return None
    example = EXAMPLES.get(field, "7e9")
    try:
        v = float(text.replace("_", ""))
    except ValueError:
        raise InputError(
            f"column {column!r}: {text[:60]!r} is not a number",
            source=path,
            where=str(line),
            hint=f"write e.g. {example}",
        ) from None
    if not math.isfinite(v):
        raise InputError(
            f"column {column!r}: {text[:60]!r} is not a finite number",
            source=path,
            where=str(line),
            hint=f"write e.g. {example}",
        )
    if v < 0 and not negative:
        raise InputError(
            f"column {column!r}: {text[:60]!r} is negative",
            source=path,
            where=str(line),
            hint=f"write a positive number, e.g. {example}",
        )
    return v


def date(text: str, *, path: str, line: int, column: str) -> dt.date | None:
    """YYYY-MM-DD (or YYYY-MM, YYYY; a time part is dropped)."""
    if text == "":
        return None
    s = text.strip()[:10]
    try:
        if re.fullmatch(r"\d{4}", s):
            return dt.date(int(s), 1, 1)
        if re.fullmatch(r"\d{4}-\d{2}", s):
            return dt.date(int(s[:4]), int(s[5:7]), 1)
        return dt.date.fromisoformat(s)
    except ValueError:
        raise InputError(
            f"column {column!r}: {text[:60]!r} is not a date",
            source=path,
            where=str(line),
            hint="write YYYY-MM-DD, e.g. 2024-07-23",
        ) from None


def variant(text: str, *, path: str, line: int, column: str) -> Variant | None:
    s = text.strip().lower()
    if s == "":
        return None
    if s in ("pre", "pre-mitigation", "pre_mitigation", "helpful-only", "helpful_only"):
        return Variant.PRE
    if s in ("post", "post-mitigation", "post_mitigation"):
        return Variant.POST
    raise InputError(
        f"column {column!r}: {text[:60]!r} is not a variant",
        source=path,
        where=str(line),
        hint="write pre-mitigation or post-mitigation",
    )


def _value(v: Variant | None) -> str | None:
    """The stored form of an enum (results built without validation keep plain strings)."""
    return v.value if v is not None else None


def benchmark_id(name: str) -> str:
    """A benchmark id: lower case, runs of spaces, hyphens and dots as one underscore."""
    return re.sub(r"[\s\-.]+", "_", name.strip().lower()).strip("_")


def _unknown(table: Table, known: set[str], case: bool = False) -> list[str]:
    extra = [h for h in table.header if h and (h if case else h.lower()) not in known]
    return [f"unknown columns ignored: {', '.join(extra)}"] if extra else []


def _require(table: Table, fields: list[str], columns: dict[str, str], what: str) -> None:
    have = {columns.get(h, columns.get(h.lower())) for h in table.header}
    missing = [f for f in fields if f not in have]
    if missing:
        raise InputError(
            f"{what} CSV lacks column(s): {', '.join(missing)}",
            source=table.path,
            where="1",
            hint=f"header was: {', '.join(table.header)}",
        )


def _text(v: str) -> str | None:
    return v if v != "" else None


def _check_duplicates(models: list[Model], lines: list[int], path: str) -> None:
    seen: dict[str, tuple[Model, int]] = {}
    for m, line in zip(models, lines, strict=True):
        if m.name in seen and seen[m.name][0] != m:
            raise InputError(
                f"model {m.name!r} appears twice with different values "
                f"(lines {seen[m.name][1]} and {line})",
                source=path,
                where=str(line),
                hint="keep one row per model",
            )
        seen[m.name] = (m, line)


def _status(r: dict[str, str], table: Table, line: int) -> tuple[bool, dt.date | None]:
    """(planned?, start date) of a models-table row, checked: a planned row needs its start
    and its compute; only a planned row has a start."""
    status = r.get("status", "").strip().lower()
    col = _column("status", table, MODEL_COLUMNS)
    if status and status not in MODEL_STATUSES:
        raise InputError(f"column {col!r}: {r['status'][:60]!r} is not a status",
                         source=table.path, where=str(line),
                         hint=f"write one of {', '.join(MODEL_STATUSES)}, or leave it empty")
    scol = _column("start", table, MODEL_COLUMNS)
    start = date(r.get("start", ""), path=table.path, line=line, column=scol)
    planned = status == "planned"
    if planned and start is None:
        raise InputError(f"column {scol!r}: a planned run needs the date it starts",
                         source=table.path, where=str(line),
                         hint="write YYYY-MM-DD in a 'start' column")
    if not planned and start is not None:
        raise InputError(f"column {scol!r}: only a planned run has a start date",
                         source=table.path, where=str(line),
                         hint=f"write planned in {col!r}, or leave {scol!r} empty")
    return planned, start


def read_models(table: Table, batch: Batch) -> None:
    """tripwire's models table: name, organization, release_date, params, tokens, compute,
    multiplier, family, parent, variant, source (and optionally cost_usd); a row whose
    `status` is `planned`, with its `start` date and planned compute, is a planned run."""
    _require(table, ["name"], MODEL_COLUMNS, "models")
    batch.warnings += _unknown(table, set(MODEL_COLUMNS))
    lines = []
    for line, r in table.records(MODEL_COLUMNS):
        if not r.get("name"):
            raise InputError(
                "column 'name' is empty",
                source=table.path,
                where=str(line),
                hint="every model needs a name",
            )
        planned, start = _status(r, table, line)
        num = {
            f: number(
                r.get(f, ""),
                path=table.path,
                line=line,
                column=_column(f, table, MODEL_COLUMNS),
                field=f,
            )
            for f in ("params", "tokens", "compute_flop", "multiplier", "cost_usd")
        }
        if num["multiplier"] == 0:
            raise InputError(
                f"column {_column('multiplier', table, MODEL_COLUMNS)!r}: multiplier is 0",
                source=table.path,
                where=str(line),
                hint="write 1 when no algorithmic multiplier is declared",
            )
        m = Model(
            name=r["name"],
            organization=_text(r.get("organization", "")),
            family=_text(r.get("family", "")),
            parent=_text(r.get("parent", "")),
            source=_text(r.get("source", "")),
            release_date=date(
                r.get("release_date", ""),
                path=table.path,
                line=line,
                column=_column("release_date", table, MODEL_COLUMNS),
            ),
            variant=variant(
                r.get("variant", ""),
                path=table.path,
                line=line,
                column=_column("variant", table, MODEL_COLUMNS),
            ),
            params=num["params"],
            tokens=num["tokens"],
            compute_flop=num["compute_flop"],
            multiplier=num["multiplier"] if num["multiplier"] is not None else 1.0,
            cost_usd=num["cost_usd"],
        )
        m = compute.with_estimates(m)
        if planned:
            assert start is not None
            if not m.compute_flop:
                raise InputError(
                    f"column {_column('compute_flop', table, MODEL_COLUMNS)!r}: a planned run "
                    "needs its planned training compute", source=table.path, where=str(line),
                    hint="write the planned FLOP in 'compute' (or params and tokens)")
            batch.planned.append(PlannedRun(m, start, line))
            continue
        batch.models.append(m)
        lines.append(line)
    _check_duplicates(batch.models, lines, table.path)
    _check_duplicates([p.model for p in batch.planned], [p.line for p in batch.planned],
                      table.path)
    batch.model_lines = lines


def read_epoch(table: Table, batch: Batch) -> None:
    """Epoch AI's model database as exported (Notable / Large-scale AI Models, ECI).

    Training compute is taken as given; where it is blank it is estimated from hardware-time
    (quantity x hours x peak x utilisation) or, for language models, from 6·N·D.
    """
    cols = dict(EPOCH_COLUMNS)
    if "Model version" in table.header and "Model" not in table.header:
        cols["Model version"] = "name"  # the Epoch Capabilities Index export
        cols["Release date"] = "release_date"
    if "System" in table.header and "Model" not in table.header:
        cols["System"] = "name"  # exports before 2024 name the model `System`
    batch.warnings += _unknown(table, set(cols) | EPOCH_KNOWN, case=True)
    lines = []
    unlabelled = 0
    finetuned: list[tuple[Model, float, str]] = []
    edited: list[dt.date] = []
    for line, r in table.records(cols, case=True):
        r = {k: ("" if v in _EPOCH_BLANK else v) for k, v in r.items()}
        r["name"] = " ".join(r.get("name", "").split())  # stray spaces and newlines in names
        if r.get("parent"):
            r["parent"] = " ".join(r["parent"].split())
        if not r.get("name"):
            raise InputError(
                "column 'Model' is empty",
                source=table.path,
                where=str(line),
                hint="every row needs a model name",
            )
        num = {
            f: number(
                r.get(f, ""),
                path=table.path,
                line=line,
                column=_column(f, table, {k: v for k, v in cols.items()}),
                field=f,
            )
            for f in (
                "params",
                "tokens",
                "compute_flop",
                "cost_usd",
                "hw_count",
                "hw_hours",
                "hw_util",
                "finetune_flop",
            )
        }
        m = Model(
            name=r["name"],
            organization=_text(r.get("organization", "")),
            release_date=date(
                r.get("release_date", ""), path=table.path, line=line, column="Publication date"
            ),
            params=num["params"],
            tokens=num["tokens"],
            compute_flop=num["compute_flop"],
            cost_usd=num["cost_usd"],
            parent=_text(r.get("parent", "")),
            source=f"Epoch AI, {Path(table.path).name}"
            + (f"; {r['reference']}" if r.get("reference") else ""),
        )
        if m.compute_flop is not None:
            m.compute_method = ComputeMethod.GIVEN
            method = {x.strip() for x in r.get("method", "").split(",")}
            if method != {"Reported"}:  # a developer's own disclosure stays exact
                m.compute_confidence = _confidence(r, table, line, cols)
                if m.compute_confidence is None:
                    unlabelled += 1
                    m.compute_confidence = "Unknown"
        elif r.get("hardware") and num["hw_count"] and num["hw_hours"]:
            try:
                util = num["hw_util"] if num["hw_util"] and num["hw_util"] <= 1 else None
                m.compute_flop = compute.compute_from_hardware(
                    r["hardware"],
                    num["hw_count"],
                    num["hw_hours"],
                    util or compute.DEFAULT_UTILIZATION,
                )
                m.compute_method = ComputeMethod.HARDWARE
            except InputError:
                pass  # hardware we have no peak figure for: leave C unknown
        if m.compute_flop is None and "language" in r.get("domain", "Language").lower():
            m = compute.with_estimates(m)
        if r.get("last_modified"):
            d = date(r["last_modified"], path=table.path, line=line, column="Last modified")
            if d is not None:
                edited.append(d)
        batch.models.append(m)
        lines.append(line)
        if num["finetune_flop"] is not None:
            finetuned.append((m, num["finetune_flop"], r.get("parent", "")))
    _epoch_ledger(batch, finetuned)
    batch.export_date, batch.export_basis = export_date(
        table.path, edited, [m.release_date for m in batch.models if m.release_date])
    if unlabelled:
        batch.warnings.append(
            f"{unlabelled} compute figure(s) have no Confidence: judged as Unknown (the widest "
            "assumed spread)")
    _check_duplicates(batch.models, lines, table.path)
    batch.model_lines = lines


_NAME_DATES = (  # (pattern over a file name, group order): dates an export's name carries
    (r"(?<!\d)(\d{4})[-_.](\d{2})[-_.](\d{2})(?!\d)", "ymd"),
    (r"(?<!\d)(\d{2})[-_.](\d{2})[-_.](\d{4})(?!\d)", "dmy"),
    (r"(?<!\d)(20\d{2})(\d{2})(\d{2})(?!\d)", "ymd"),
)


def name_date(path: str) -> dt.date | None:
    """The date a file's name carries (2025-02-24, 20250224, or day first as 24_02_2025;
    None when there is none or it is ambiguous, e.g. 03_04_2025)."""
    name = Path(path).name
    for pattern, order in _NAME_DATES:
        for g in re.findall(pattern, name):
            y, mo, d = (g if order == "ymd" else (g[2], g[1], g[0]))
            if order == "dmy" and int(g[0]) <= 12 and g[0] != g[1]:
                continue  # 03_04_2025: day or month first?
            try:
                return dt.date(int(y), int(mo), int(d))
            except ValueError:
                continue
    return None


def export_date(path: str, edited: list[dt.date],
                published: list[dt.date]) -> tuple[dt.date | None, str | None]:
    """The date of an Epoch AI export and what it rests on. The files carry no export date
    of their own: the latest `Last modified` cell where the export has that column (the
    Airtable views do), else a date in the file name, else the latest publication date in
    the file (the export is at least that recent). `ingest --as-of-export DATE` overrides."""
    if edited:
        return max(edited), "latest 'Last modified' in the file"
    named = name_date(path)
    if named is not None:
        return named, "the date in the file name"
    if published:
        return max(published), ("latest publication date in the file (the export is at least "
                                "that recent; ingest --as-of-export DATE to state it)")
    return None, None


def _epoch_ledger(batch: Batch, finetuned: list[tuple[Model, float, str]]) -> None:
    """Ledger entries for Epoch rows with a `Finetune compute (FLOP)`: fine-tuning, and
    pre-training as the rest of `Training compute (FLOP)`, which Epoch documents as the total
    including pretrained base models. Where the training figure is no larger than the
    fine-tuning one it cannot include the base model: the base models' figures from the same
    file stand for pre-training, and without them the row gets no ledger (a warning says so)."""
    from tripwire import ledger

    if not finetuned:
        return
    by_name = {m.name: m for m in batch.models}
    source = f"Epoch AI, {Path(batch.path).name}"
    sigma = {m.name: compute.compute_sigma_ln(m) for m, _, _ in finetuned}
    skipped = []
    for m, ft, parents in finetuned:
        u = math.expm1(sigma[m.name] * 1.6448536269514722) if sigma[m.name] else None
        pre: float | None = None
        what = "Training compute (FLOP) less Finetune compute (FLOP)"
        if m.compute_flop is not None and m.compute_flop > ft * (1 + 1e-3):
            pre = m.compute_flop - ft
        else:
            bases = [by_name.get(" ".join(p.split())) for p in parents.split(",") if p.strip()]
            if bases and all(b is not None and b.compute_flop for b in bases):
                pre = sum(b.compute_flop for b in bases if b is not None and b.compute_flop)
                what = "Training compute (FLOP) of " + parents.strip()
        if pre is None:
            skipped.append(m.name)
            continue
        batch.ledger.append(ledger.Entry(model=m.name, component="pre-training",
                                         method="given", flop=pre, uncertainty=u,
                                         source=f"{source}: {what}", file=batch.path))
        batch.ledger.append(ledger.Entry(model=m.name, component="fine-tuning", method="given",
                                         flop=ft, uncertainty=u,
                                         source=f"{source}: Finetune compute (FLOP)",
                                         file=batch.path))
    if skipped:
        batch.warnings.append(
            f"{len(skipped)} model(s) with a Finetune compute whose training compute does not "
            "include the base model's and whose base model is not in the file: no compute "
            "ledger (" + ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "") + ")")


def _confidence(r: dict[str, str], table: Table, line: int, cols: dict[str, str]) -> str | None:
    """Epoch's Confidence label of a row's compute figure (None when blank); any other word
    is an error naming the cell."""
    text = r.get("confidence", "")
    if not text:
        return None
    label = compute.confidence_label(text)
    if label is None:
        raise InputError(
            f"column {_column('confidence', table, cols)!r}: {text[:60]!r} is not one of "
            f"Epoch AI's confidence labels",
            source=table.path,
            where=str(line),
            hint="write " + ", ".join(compute.CONFIDENCE_LABELS) + " (or leave it blank)",
        )
    return label


def read_evals(table: Table, batch: Batch) -> None:
    """Evaluation results: model, benchmark, metric, value, stderr, samples (+ source,
    variant, date)."""
    _require(table, ["model", "benchmark", "value"], EVAL_COLUMNS, "eval-results")
    batch.warnings += _unknown(table, set(EVAL_COLUMNS))
    col = {f: _column(f, table, EVAL_COLUMNS) for f in set(EVAL_COLUMNS.values())}
    path = table.path
    bench_ids: dict[str, str] = {}
    if _read_evals_fast(table, batch, bench_ids):
        batch.result_lines = [line for line, _ in table.rows]
        return
    for line, r in table.records(EVAL_COLUMNS):
        for f in ("model", "benchmark"):
            if not r.get(f):
                raise InputError(f"column {f!r} is empty", source=path, where=str(line))
        value = number(
            r["value"], path=path, line=line, column=col["value"], field="value", negative=True
        )
        if value is None:
            raise InputError(
                f"column {col['value']!r} is empty",
                source=path,
                where=str(line),
                hint="write the score, e.g. 0.62",
            )
        stderr = number(
            r.get("stderr", ""), path=path, line=line, column=col["stderr"], field="stderr"
        )
        samples = number(
            r.get("samples", ""), path=path, line=line, column=col["samples"], field="samples"
        )
        if samples is not None and (samples != int(samples) or samples < 1):
            raise InputError(
                f"column {col['samples']!r}: {r['samples']!r} is not a count",
                source=path,
                where=str(line),
                hint="write e.g. 1319",
            )
        created = date(r.get("created_at", ""), path=path, line=line, column=col["created_at"])
        bench = r["benchmark"]
        bid = bench_ids.get(bench)
        if bid is None:
            bid = bench_ids[bench] = benchmark_id(bench)
        # Every field was validated above: no second validation pass.
        batch.result_lines.append(line)
        batch.results.append(
            trusted(
                EvalResult,
                model=r["model"],
                benchmark=bid,
                original_benchmark=bench,
                metric=r.get("metric") or "accuracy",
                value=value,
                stderr=stderr,
                samples=int(samples) if samples is not None else None,
                variant=_value(
                    variant(r.get("variant", ""), path=path, line=line, column=col["variant"])
                ),
                created_at=dt.datetime(created.year, created.month, created.day, tzinfo=dt.UTC)
                if created
                else None,
                extra={"source": r["source"]} if r.get("source") else {},
            )
        )


def _read_evals_fast(table: Table, batch: Batch, bench_ids: dict[str, str]) -> bool:
    """The common case of a large results table (model, benchmark, metric, value, stderr,
    samples and nothing else), read column by column into a ResultTable. Any cell the fast
    path does not accept returns False, so the careful reader can name the cell and the fix."""
    index = {EVAL_COLUMNS.get(h.lower()): i for i, h in enumerate(table.header)}
    if set(index) - {"model", "benchmark", "metric", "value", "stderr", "samples"}:
        return False
    rows = [row for _, row in table.rows]
    width = len(table.header)
    if any(len(row) != width for row in rows):
        return False

    def column(i: int | None) -> list[str]:
        return [row[i].strip() for row in rows] if i is not None else [""] * len(rows)

    models, benches = column(index["model"]), column(index["benchmark"])
    if not all(models) or not all(benches):
        return False
    try:
        values = [float(x) for x in column(index["value"])]
        stderrs = [float(x) if x else None for x in column(index.get("stderr"))]
        samples = [int(x) if x else None for x in column(index.get("samples"))]
    except ValueError:
        return False
    if not all(math.isfinite(v) for v in values):
        return False
    if not all(math.isfinite(x) and x >= 0 for x in stderrs if x is not None):
        return False
    if any(n is not None and n < 1 for n in samples):
        return False
    for b in set(benches):
        if b not in bench_ids:
            bench_ids[b] = benchmark_id(b)
    batch.table = ResultTable(
        model=models,
        benchmark=[bench_ids[b] for b in benches],
        original_benchmark=benches,
        metric=[m or "accuracy" for m in column(index.get("metric"))],
        value=values,
        stderr=stderrs,
        samples=samples,
    )
    return True


def read_loss(table: Table, batch: Batch) -> None:
    """Loss observations: model, params, tokens, compute, loss (compute optional; tokens may
    be derived as C / 6N, as Epoch's Chinchilla extraction does)."""
    _require(table, ["params", "loss"], LOSS_COLUMNS, "loss")
    batch.warnings += _unknown(table, set(LOSS_COLUMNS) | {"x", "y", "color", "hex_color"})
    for line, r in table.records(LOSS_COLUMNS):
        col = lambda f: _column(f, table, LOSS_COLUMNS)  # noqa: E731
        num = {
            f: number(r.get(f, ""), path=table.path, line=line, column=col(f), field=f)
            for f in ("params", "tokens", "compute_flop", "loss")
        }
        for f in ("params", "loss"):
            if not num[f]:
                raise InputError(
                    f"column {col(f)!r} is empty or zero",
                    source=table.path,
                    where=str(line),
                    hint=f"write e.g. {EXAMPLES[f]}",
                )
        params, loss = num["params"], num["loss"]
        assert params is not None and loss is not None  # checked just above
        if not num["tokens"]:
            if not num["compute_flop"]:
                raise InputError(
                    "neither tokens nor compute is given",
                    source=table.path,
                    where=str(line),
                    hint="give tokens (e.g. 2e10) or compute",
                )
            num["tokens"] = num["compute_flop"] / (6 * params)
        tokens = num["tokens"]
        assert tokens is not None
        batch.loss.append(
            LossObservation(
                model=_text(r.get("model", "")),
                params=params,
                tokens=tokens,
                compute_flop=num["compute_flop"] or compute.compute_6nd(params, tokens),
                loss=loss,
                source=_text(r.get("source", "")),
            )
        )


LEDGER_COLUMNS = {c: c for c in ("model", "component", "method", "flop", "source", "params",
                                   "tokens", "accelerator", "chips", "hours", "utilization",
                                   "uncertainty", "counts")}
LEDGER_REQUIRED = ("model", "component", "method", "flop", "source")


def _ledger_error(table: Table, line: int, column: str, message: str, hint: str) -> InputError:
    return InputError(f"column {column!r}: {message}", source=table.path, where=str(line),
                      hint=hint)


def read_ledger(table: Table, batch: Batch) -> None:
    """A compute ledger: one row per part of a model's training compute (see
    tripwire.ledger). `flop` may be empty when the method's inputs give it."""
    from tripwire import ledger

    _require(table, list(LEDGER_REQUIRED), LEDGER_COLUMNS, "compute ledger")
    batch.warnings += _unknown(table, set(LEDGER_COLUMNS))
    for line, r in table.records(LEDGER_COLUMNS):
        col = {f: _column(f, table, LEDGER_COLUMNS) for f in LEDGER_COLUMNS}
        if not r.get("model"):
            raise _ledger_error(table, line, col["model"], "empty", "every entry names its model")
        comp = r.get("component", "").lower()
        if comp == "rl" or comp == "post-training":
            comp = "fine-tuning"
        if comp not in ledger.COMPONENTS:
            raise _ledger_error(table, line, col["component"],
                                f"{r.get('component', '')[:60]!r} is not a component",
                                "write one of " + ", ".join(ledger.COMPONENTS))
        method = r.get("method", "").lower()
        if method not in ledger.METHODS:
            raise _ledger_error(table, line, col["method"],
                                f"{r.get('method', '')[:60]!r} is not a method",
                                "write one of " + ", ".join(ledger.METHODS))
        if not r.get("source"):
            raise _ledger_error(table, line, col["source"], "empty",
                                "say where the figure comes from (a report, a run log)")
        num = {f: number(r.get(f, ""), path=table.path, line=line, column=col[f], field=f)
               for f in ("flop", "params", "tokens", "chips", "hours", "utilization",
                         "uncertainty")}
        if num["utilization"] is not None and not 0 < num["utilization"] <= 1:
            raise _ledger_error(table, line, col["utilization"],
                                f"{num['utilization']:g} is not a fraction of peak",
                                "write a number in (0, 1], e.g. 0.4")
        counts = tuple(ledger.REGIMES)
        text = r.get("counts", "").lower().replace(";", " ").replace(",", " ").split()
        if text:
            bad = [t for t in text if t not in (*ledger.REGIMES, "all", "none")]
            if bad:
                raise _ledger_error(table, line, col["counts"],
                                    f"{bad[0]!r} is not a regime",
                                    "write all, none or regimes among "
                                    + ", ".join(ledger.REGIMES))
            counts = (tuple(ledger.REGIMES) if "all" in text
                      else () if "none" in text else tuple(dict.fromkeys(text)))
        accel = _text(r.get("accelerator", ""))
        try:
            flop = ledger.flop_of(
                method, num["flop"], params=num["params"], tokens=num["tokens"],
                accelerator=accel, chips=num["chips"], hours=num["hours"],
                utilization=num["utilization"])
            if accel is not None:
                compute.accelerator(accel)
        except InputError as e:
            first = e.message.split()[0]
            which = ("accelerator" if e.message.startswith("unknown accelerator")
                     else "chips" if first == "count"
                     else first if first in LEDGER_COLUMNS else "flop")
            raise _ledger_error(table, line, col.get(which, which), e.message,
                                e.hint or "give flop, or the inputs of the method") from None
        batch.ledger.append(ledger.Entry(
            model=" ".join(r["model"].split()), component=comp, method=method, flop=flop,
            source=r["source"], params=num["params"], tokens=num["tokens"], accelerator=accel,
            chips=num["chips"], hours=num["hours"], utilization=num["utilization"],
            uncertainty=num["uncertainty"], counts=counts, file=table.path))


BENCHMARK_COLUMNS = {
    "benchmark": "id",
    "chance": "chance",
    "name": "name",
    "ceiling": "ceiling",
    "samples": "samples",
    "higher_is_better": "higher_is_better",
    "metric": "metric",
    "source": "source",
}
_TRUTH = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def read_benchmarks(table: Table, batch: Batch) -> None:
    """Benchmark metadata: benchmark, chance (+ name, ceiling, samples, higher_is_better,
    metric, source). What a row says replaces what the register held for that benchmark."""
    _require(table, ["id", "chance"], BENCHMARK_COLUMNS, "benchmarks")
    batch.warnings += _unknown(table, set(BENCHMARK_COLUMNS))
    path = table.path
    seen: dict[str, int] = {}
    for line, r in table.records(BENCHMARK_COLUMNS):
        col = lambda f: _column(f, table, BENCHMARK_COLUMNS)  # noqa: E731
        bench = r.get("id", "")
        if not bench:
            raise InputError(f"column {col('id')!r} is empty", source=path, where=str(line))
        bid = benchmark_id(bench)
        if bid in seen:
            raise InputError(f"benchmark {bench!r} is listed twice (first on line {seen[bid]})",
                             source=path, where=str(line), hint="keep one row per benchmark")
        seen[bid] = line
        chance = number(r.get("chance", ""), path=path, line=line, column=col("chance"),
                        field="chance", negative=True)
        ceiling = number(r.get("ceiling", ""), path=path, line=line, column=col("ceiling"),
                         field="chance", negative=True)
        samples = number(r.get("samples", ""), path=path, line=line, column=col("samples"),
                         field="samples")
        if samples is not None and (samples != int(samples) or samples < 1):
            raise InputError(f"column {col('samples')!r}: {r['samples']!r} is not a count",
                             source=path, where=str(line), hint="write e.g. 1319")
        if chance is not None and ceiling is not None and not ceiling > chance:
            raise InputError(f"ceiling {ceiling:g} is not above the chance level {chance:g}",
                             source=path, where=str(line),
                             hint="the ceiling is the best attainable score")
        fields: dict[str, object] = {"id": bid, "chance": chance}
        hib = r.get("higher_is_better", "")
        if hib:
            if hib.strip().lower() not in _TRUTH:
                raise InputError(f"column {col('higher_is_better')!r}: {hib[:20]!r} is not "
                                 "true or false", source=path, where=str(line),
                                 hint="write true or false")
            fields["higher_is_better"] = _TRUTH[hib.strip().lower()]
        if ceiling is not None:
            fields["ceiling"] = ceiling
        if samples is not None:
            fields["samples"] = int(samples)
        for f in ("name", "metric", "source"):
            if r.get(f):
                fields[f] = r[f]
        batch.benchmarks.append(Benchmark(**fields))  # type: ignore[arg-type]


def csv_kind(header: list[str]) -> str | None:
    """Which table a header belongs to: ledger-csv, models-csv, evals-csv, loss-csv,
    epoch-csv, benchmarks-csv or None."""
    low = {h.lower() for h in header}
    if set(LEDGER_REQUIRED) <= low:
        return "ledger-csv"
    if {"benchmark", "chance"} <= low and not low & {"model", "value", "score"}:
        return "benchmarks-csv"
    if "loss" in low and low & {"params", "params_n", "model size"}:
        return "loss-csv"
    if {"model", "benchmark"} <= low and low & {"value", "score"}:
        return "evals-csv"
    if ("Model" in header or "Model version" in header or "System" in header) and (
        {"Training compute (FLOP)", "Publication date", "Parameters"} & set(header)
    ):
        return "epoch-csv"
    if "name" in low:
        return "models-csv"
    return None


READERS: dict[str, Callable[[Table, Batch], None]] = {
    "models-csv": read_models,
    "epoch-csv": read_epoch,
    "evals-csv": read_evals,
    "loss-csv": read_loss,
    "ledger-csv": read_ledger,
    "benchmarks-csv": read_benchmarks,
}


def read_csv(
    path: Path, data: bytes, *, kind: str | None = None, sha256: str = "", samples: bool = False
) -> Batch:
    """Read any of tripwire's CSV tables, telling the kind from the header."""
    table = Table(str(path), data)
    kind = kind if kind in READERS else csv_kind(table.header)
    if kind is None:
        raise InputError(
            "the header matches no known table",
            source=str(path),
            where="1",
            hint="models need `name`; eval results `model, benchmark, value`; loss points "
            "`params, tokens, loss`; benchmarks `benchmark, chance`; or an Epoch AI export "
            "(`Model`, `Parameters`, ...)",
        )
    batch = Batch(path=str(path), kind=kind, sha256=sha256, size=len(data))
    READERS[kind](table, batch)
    if not batch.count:
        raise InputError("the file has a header but no data rows", source=str(path))
    return batch


def read_loss_csv(path: str | Path) -> list[LossObservation]:
    """Loss observations from a CSV file (tripwire's columns or Chinchilla-style ones)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", source=str(p)) from None
    return read_csv(p, data, kind="loss-csv").loss
