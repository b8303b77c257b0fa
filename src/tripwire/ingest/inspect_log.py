"""Reader for UK AISI Inspect evaluation logs, both the `.eval` zip and the `.json` format.

Logs are parsed by Inspect's own reader (`inspect_ai.log.read_eval_log`, header only unless
per-sample scores are wanted), so every log format version Inspect has written stays readable
(`.eval` members are zstd-compressed in recent versions, which Python's `zipfile` cannot read).
inspect_ai is an optional extra: `pip install 'tripwire[inspect]'`.

Mapping:
- task -> benchmark: id `benchmark_id(task)` (package prefix dropped, lowercased:
  `inspect_evals/mmlu_0_shot` -> `mmlu_0_shot`), the dataset name and size; the task name as
  written is kept in `EvalResult.original_benchmark`.
- model -> `EvalResult.model` without Inspect's provider prefix (`openai/gpt-4o` -> `gpt-4o`,
  `hf/EleutherAI/pythia-1.4b` -> `EleutherAI/pythia-1.4b`): the provider names the API that
  served the model, not the model; the name as written is kept in `original_model`.
- each scorer's metrics -> one EvalResult per metric, `metric` = `<scorer>/<metric>`
  (`match/accuracy`); the `stderr` (or `bootstrap_stderr`) metric becomes the stderr of the
  scorer's `accuracy` or `mean` row rather than a row of its own.
- `eval.created` -> `created_at` (UTC); a log whose status is not `success` is skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

from tripwire.errors import InputError, one_line
from tripwire.ingest.batch import Batch
from tripwire.ingest.lmeval import benchmark_id
from tripwire.model import Benchmark, EvalResult, SampleScore

__all__ = ["KIND", "model_name", "read_inspect", "sniff_inspect"]

KIND = "inspect"
SOURCE = "inspect_ai"
INSTALL_HINT = "reading Inspect logs needs inspect_ai: pip install 'tripwire[inspect]'"

# Metrics that estimate the uncertainty of another metric rather than a score.
_STDERR_METRICS = ("stderr", "bootstrap_stderr")
# Metrics whose uncertainty Inspect's stderr metrics estimate (the mean of sample scores).
_MEAN_METRICS = ("accuracy", "mean")
# Inspect's default value_to_float for string scores (inspect_ai.scorer.value_to_float).
_STRING_SCORES = {
    "c": 1.0,
    "i": 0.0,
    "p": 0.5,
    "n": 0.0,
    "yes": 1.0,
    "no": 0.0,
    "true": 1.0,
    "false": 0.0,
}
_JSON_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"version"\s*:\s*\d+\s*,\s*"status"\s*:')
# Names of members Inspect writes into an .eval zip (the first member's name is in the head).
_EVAL_MEMBERS = (b"_journal/", b"header.json", b"summaries.json", b"reductions.json", b"samples/")


def sniff_inspect(head: bytes, path: Path | None = None) -> bool:
    """True when the first bytes of a file look like an Inspect log.

    `.eval`: a zip whose first member is one Inspect writes (`_journal/start.json`,
    `header.json`, `samples/...`). `.json`: Inspect writes `version` then `status` first; a
    re-saved log is recognised by its `eval` object with a `task` beside a `status`.
    """
    if head.startswith(b"PK\x03\x04"):
        if len(head) >= 30:
            name_len = int.from_bytes(head[26:28], "little")
            name = head[30 : 30 + name_len]
            if any(name.startswith(m) for m in _EVAL_MEMBERS):
                return True
        return path is not None and path.suffix.lower() == ".eval"
    if _JSON_HEAD.match(head):
        return True
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"{") and b'"eval"' in head and b'"status"' in head and b'"task"' in head


def model_name(model: str) -> str:
    """The model without Inspect's provider prefix (`openai/gpt-4o` -> `gpt-4o`)."""
    provider, sep, rest = model.partition("/")
    return rest if sep and rest else model


def _inspect_log() -> Any:
    try:
        import inspect_ai.log as log_module
    except ImportError:
        return None
    return log_module


def _format(path: Path, data: bytes) -> str:
    if data.startswith(b"PK"):
        return "eval"
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "json"
    if b"\x00" in data[:8192] or path.suffix.lower() == ".eval":
        raise InputError(
            "not an Inspect log: neither an .eval zip nor JSON (a binary file?)", source=str(path)
        )
    raise InputError(
        "not an Inspect log: it does not start with a JSON object", source=str(path), where="line 1"
    )


def _read(path: Path, data: bytes, fmt: str, header_only: bool) -> Any:
    """inspect_ai's reader over the bytes, its failures as one-line InputErrors."""
    from pydantic import ValidationError

    log_module = _inspect_log()
    if log_module is None:
        raise InputError(INSTALL_HINT, source=str(path))
    if fmt == "json" and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a BOM (an editor's save); Inspect's JSON parser refuses it
    try:
        return log_module.read_eval_log(io.BytesIO(data), header_only=header_only, format=fmt)
    except ValidationError as e:
        errs = e.errors()
        err = errs[0]
        where = one_line(".".join(str(p) for p in err["loc"])) or None
        more = f" (and {len(errs) - 1} more problems)" if len(errs) > 1 else ""
        raise InputError(
            f"not an Inspect log: {one_line(err['msg'].lower())}{more}", source=str(path),
            where=where,
        ) from None
    except (zipfile.BadZipFile, zlib.error):
        raise InputError(
            "not a readable .eval zip (truncated or corrupt)", source=str(path)
        ) from None
    except KeyError as e:
        detail = e.args[0] if e.args else e
        raise InputError(f"zip is not an Inspect .eval log ({detail})", source=str(path)) from None
    except ValueError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        m = re.search(r"at line (\d+) column (\d+)", msg)
        if m:
            reason = msg[: m.start()].strip() or "malformed"
            raise InputError(
                f"invalid JSON: {reason}",
                source=str(path),
                where=f"line {m.group(1)} column {m.group(2)}",
            ) from None
        raise InputError(f"Inspect could not read this log: {msg}", source=str(path)) from None
    except Exception as e:  # noqa: BLE001  (any fault of Inspect's parser on these bytes)
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        raise InputError(
            f"Inspect could not read this log: {type(e).__name__}: {msg}".rstrip(": "),
            source=str(path),
        ) from None


def _created(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        created = value
    elif isinstance(value, str) and value:
        try:
            created = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return created.astimezone(dt.UTC)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _sample_score(value: Any) -> tuple[float | None, str | None]:
    """(score, raw) of one sample's score value, by Inspect's default value_to_float mapping:
    numbers as they are, booleans 1/0, `C`/`I`/`P`/`N` 1/0/0.5/0, yes/no, numeric strings;
    anything else keeps only its text."""
    if isinstance(value, bool):
        return float(value), None
    num = _number(value)
    if num is not None:
        return num, None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _STRING_SCORES:
            return _STRING_SCORES[text.lower()], value
        try:
            f = float(text)
        except ValueError:
            return None, value
        return (f if math.isfinite(f) else None), value
    return None, None if value is None else str(value)


def read_inspect(
    path: Path, data: bytes, *, samples: bool = False, sha256: str | None = None
) -> Batch:
    """One Inspect log (`.eval` or `.json`) as a Batch: the task as a benchmark, one result
    per scorer metric with its stderr, and with `samples` each sample's score per epoch."""
    path = path if isinstance(path, Path) else Path(path)
    if not data or data.isspace():
        raise InputError("the file is empty", source=str(path))
    fmt = _format(path, data)
    log = _read(path, data, fmt, header_only=not samples)
    batch = Batch(
        path=str(path),
        kind=KIND,
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    spec = log.eval
    status = str(log.status)
    if status != "success":
        reason = f"log status is {status!r}, not 'success'"
        if log.error is not None and getattr(log.error, "message", None):
            reason += f" ({str(log.error.message).splitlines()[0][:200]})"
        batch.skipped = reason
        return batch
    scores = list(log.results.scores) if log.results is not None else []
    if not scores:
        batch.skipped = (
            "the log holds no aggregate scores (results.scores is empty; "
            "score it with `inspect score` first)"
        )
        return batch
    task = spec.task
    bid = benchmark_id(task)
    original_model = spec.model
    model = model_name(original_model)
    created = _created(spec.created)
    n_total = log.results.completed_samples if log.results is not None else None
    dataset = spec.dataset
    base_extra: dict[str, Any] = {"task_id": spec.task_id, "run_id": spec.run_id}
    if spec.task_version not in (None, 0, "0"):
        base_extra["task_version"] = spec.task_version
    if spec.config is not None and spec.config.epochs:
        base_extra["epochs"] = spec.config.epochs
    if spec.task_args:
        base_extra["task_args"] = spec.task_args
    first_metric: str | None = None
    sample_rows: dict[str, int] = {}
    for score in scores:
        metrics = dict(score.metrics or {})
        stderr = next((_number(metrics[k].value) for k in _STDERR_METRICS if k in metrics), None)
        values = {k: m for k, m in metrics.items() if k not in _STDERR_METRICS}
        takes_stderr = next(
            (k for k in _MEAN_METRICS if k in values),
            next(iter(values)) if len(values) == 1 else None,
        )
        for key, metric in values.items():
            v = _number(metric.value)
            if v is None:
                batch.warnings.append(
                    f"{score.name}/{key}: {metric.value!r} is not a number; not stored"
                )
                continue
            name = f"{score.name}/{key}"
            first_metric = first_metric or name
            extra = dict(base_extra, scorer=score.scorer)
            if score.reducer:
                extra["reducer"] = score.reducer
            if score.params:
                extra["scorer_params"] = score.params
            if key == takes_stderr:
                sample_rows.setdefault(score.name, len(batch.results))
            batch.results.append(
                EvalResult(
                    model=model,
                    benchmark=bid,
                    metric=name,
                    value=v,
                    stderr=stderr if key == takes_stderr else None,
                    samples=score.scored_samples if score.scored_samples is not None else n_total,
                    source_file=str(path),
                    source_sha256=batch.sha256,
                    created_at=created,
                    original_model=original_model,
                    original_benchmark=task,
                    extra=extra,
                )
            )
    if not batch.results:
        batch.skipped = "the log's metrics hold no numeric values"
        return batch
    eval_id = getattr(spec, "eval_id", None)
    if eval_id:  # one run, one set of scores: the same whether saved as .eval or as .json
        ident = [eval_id, model, task] + [
            [r.metric, r.value, r.stderr, r.samples] for r in batch.results
        ]
        batch.run_key = hashlib.sha256(json.dumps(ident).encode()).hexdigest()
    batch.benchmarks.append(
        Benchmark(
            id=bid,
            name=task,
            metric=first_metric,
            dataset=(dataset.name or dataset.location) if dataset is not None else None,
            samples=dataset.samples if dataset is not None else None,
            source=SOURCE,
        )
    )
    if samples:
        _attach_samples(log, scores, sample_rows, batch)
    return batch


def _attach_samples(log: Any, scores: list[Any], rows: dict[str, int], batch: Batch) -> None:
    """Each sample's score (per epoch) under the result row of its scorer.

    A scorer whose value is a dict (several named scores) gives one EvalScore per key; the
    sample's value for that score is the entry under the key.
    """
    by_name = {s.name: s for s in scores}
    for name, index in rows.items():
        scorer = by_name[name].scorer
        out: list[SampleScore] = []
        for sample in log.samples or []:
            found = (sample.scores or {}).get(name)
            if found is None and name != scorer:
                found = (sample.scores or {}).get(scorer)
            if found is None:
                continue
            value = found.value
            if isinstance(value, dict):
                value = value.get(name)
            score, raw = _sample_score(value)
            out.append(
                SampleScore(
                    sample_id=str(sample.id), epoch=int(sample.epoch or 1), score=score, raw=raw
                )
            )
        if out:
            batch.samples[index] = out
        elif log.samples:
            batch.warnings.append(f"no per-sample scores for scorer {name!r} in the log")
