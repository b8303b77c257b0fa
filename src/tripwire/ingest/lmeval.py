"""Readers for EleutherAI lm-evaluation-harness output: `results_*.json` and
`samples_<task>_<timestamp>.jsonl`.

Two results layouts are read:

- v0.4 (lm-eval >= 0.4): `results`, `groups`, `group_subtasks`, `configs`, `versions`, `n-shot`,
  `n-samples`, `higher_is_better`, `config` (with `model_args`, `model_num_parameters`),
  `model_name`, `date`. Metric keys are `name,filter` pairs (`acc,none`) with `_stderr`
  companions (`acc_stderr,none`). Group results (`mmlu`, `mmlu_stem`) and subtask results are
  both kept; `group_subtasks` gives each benchmark its parent.
- v0.3 (as in EleutherAI's Pythia evals): `results`, `versions`, `config`; plain metric keys
  (`acc`, `acc_stderr`); the model only in `config.model_args`
  (`pretrained=EleutherAI/pythia-v1.1-12b,revision=step143000`).

Naming (see `benchmark_id` and `model_name`): benchmark ids are the task name, lowercased,
without any package prefix; a model is the name lm-eval would give it (`model_name`, else the
`pretrained`/`model`/`path`/`engine` argument), with `@revision` appended when a revision other
than `main` was evaluated, so that training checkpoints stay distinct models.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import orjson

from tripwire.errors import InputError
from tripwire.ingest.batch import Batch, ResultTable
from tripwire.model import Benchmark, EvalResult, SampleScore

__all__ = [
    "KIND_RESULTS",
    "KIND_SAMPLES",
    "benchmark_id",
    "model_name",
    "read_lmeval_results",
    "read_lmeval_samples",
    "sniff_lmeval",
    "sniff_lmeval_samples",
]

KIND_RESULTS = "lm-eval"
KIND_SAMPLES = "lm-eval-samples"
SOURCE = "lm-evaluation-harness"

# Keys of a task's result object that are not metrics.
_NOT_METRICS = {"alias", "name", "sample_len", "sample_count", "samples", "group", "task"}
# Metrics lm-eval registers as lower-is-better; v0.3 files do not say so themselves.
_LOWER_IS_BETTER = {
    "ppl",
    "perplexity",
    "word_perplexity",
    "byte_perplexity",
    "bits_per_byte",
    "ter",
    "brier_score",
}
# Metrics whose lm-eval aggregation is the mean of the per-sample values, so a samples file
# alone gives the task score (others, e.g. perplexity, f1, mcc, bleu, aggregate otherwise).
_MEAN_METRICS = {"acc", "acc_norm", "acc_mutual_info", "exact_match", "mc1", "mc2"}
# Arguments lm-eval's EvaluationTracker takes the model name from, in its order.
_NAME_ARGS = ("peft", "delta", "pretrained", "model", "path", "engine")

_RESULTS_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"results"\s*:\s*\{')
_SORTED_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"config"\s*:\s*\{')
_SAMPLES_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"doc_id"\s*:')
_SPACES = re.compile(r"\s+")
_SAMPLES_NAME = re.compile(r"\Asamples_(?P<task>.+)_(?P<ts>\d{4}-\d\d-\d\dT[\d.-]+)\.jsonl\Z")
_RESULTS_NAME = re.compile(r"results_(?P<ts>\d{4}-\d\d-\d\dT[\d.-]+)\.json\Z")


# -- naming --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def benchmark_id(task: str) -> str:
    """A register benchmark id from a harness task name.

    The package or registry prefix is dropped (`inspect_evals/mmlu_0_shot` -> `mmlu_0_shot`),
    the rest lowercased with runs of whitespace as `_` (`hendrycksTest-anatomy` ->
    `hendryckstest-anatomy`). Shot counts and variants in the name are kept: 0-shot and
    5-shot MMLU are different measurements. Cross-harness identities (`mmlu` vs
    `mmlu_0_shot`) are the alias table's job, not a guess made here.
    """
    name = task.strip().rsplit("/", 1)[-1].strip()
    return _SPACES.sub("_", name).lower() or task


def _parse_model_args(args: Any) -> dict[str, str]:
    """`pretrained=x,revision=y` (or an already parsed dict) as a dict of strings."""
    if isinstance(args, Mapping):
        return {str(k): str(v) for k, v in args.items() if v is not None}
    out: dict[str, str] = {}
    if isinstance(args, str):
        for part in args.split(","):
            key, sep, value = part.partition("=")
            if sep and key.strip():
                out[key.strip()] = value.strip()
    return out


def model_name(
    config: Mapping[str, Any], top_name: str | None = None, *, source: str | None = None
) -> tuple[str, str | None]:
    """(model name, revision) as lm-eval names the model, from `model_name` or `model_args`.

    The revision (`revision=step143000`, or v0.4's `config.model_revision`) is appended as
    `name@revision` unless it is `main`: Pythia's 154 checkpoints of one run are distinct
    models with distinct training tokens.
    """
    args = _parse_model_args(config.get("model_args"))
    name = next((args[k] for k in _NAME_ARGS if args.get(k)), None)
    if top_name and not name:
        name = top_name
    if not name:
        kind = config.get("model")
        raise InputError(
            "no model name: `config.model_args` has none of "
            + ", ".join(_NAME_ARGS)
            + (f" (model type {kind!r})" if kind else ""),
            source=source,
            where="config.model_args",
            hint="pass --model NAME to say which model this is",
        )
    revision = args.get("revision") or config.get("model_revision")
    if isinstance(revision, str) and revision and revision != "main":
        return f"{name}@{revision}", revision
    return name, None


# -- detection -----------------------------------------------------------------------------------


def sniff_lmeval(head: bytes, path: Path | None = None) -> bool:
    """True when the first bytes of a file look like an lm-eval results JSON.

    lm-eval writes `results` first (v0.3 and v0.4); a re-saved file with sorted keys starts
    with `config`, whose `model_args` is lm-eval's own field.
    """
    if _RESULTS_HEAD.match(head):
        return True
    return bool(_SORTED_HEAD.match(head)) and b'"model_args"' in head


def sniff_lmeval_samples(head: bytes, path: Path | None = None) -> bool:
    """True when the first bytes look like an lm-eval samples JSONL (lines open with doc_id)."""
    if _SAMPLES_HEAD.match(head):
        return True
    return (
        path is not None
        and _SAMPLES_NAME.match(path.name) is not None
        and head.lstrip().startswith(b"{")
    )


# -- the results file schema ---------------------------------------------------------------------


@dataclass
class _NSamples:
    original: int | None = None
    effective: int | None = None


@dataclass
class _ResultsFile:
    """The parts of an lm-eval results file tripwire reads (v0.3 files have only the first
    three; unknown keys are ignored so later lm-eval versions stay readable).

    Checked by hand (`from_json`) rather than by a validating model: a file holds a hundred
    task objects and the check would cost a quarter of reading it."""

    results: dict[str, dict[str, Any]]
    versions: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_subtasks: dict[str, list[str]] = field(default_factory=dict)
    n_shot: dict[str, Any] = field(default_factory=dict)
    n_samples: dict[str, _NSamples] = field(default_factory=dict)
    higher_is_better: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_name: str | None = None
    date: float | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any], source: str) -> _ResultsFile:
        """The file's parts, each checked for the type tripwire reads it as; an InputError
        naming the key (`results.asdiv`) otherwise. A missing or null part is empty."""

        def fail(where: str, what: str) -> NoReturn:
            raise InputError(f"not an lm-eval results file: {what}", source=source, where=where)

        def obj(key: str) -> dict[str, Any]:
            value = raw.get(key)
            if value is None:
                return {}
            if type(value) is not dict:
                fail(key, f"expected an object, found {_json_type(value)}")
            return value

        def objects(key: str) -> dict[str, dict[str, Any]]:
            value = obj(key)
            for name, item in value.items():
                if type(item) is not dict:
                    fail(f"{key}.{name}", f"expected an object, found {_json_type(item)}")
            return value

        doc = cls(
            results=objects("results"),
            versions=obj("versions"),
            config=obj("config"),
            configs=objects("configs"),
            groups=objects("groups"),
            higher_is_better=objects("higher_is_better"),
            n_shot=obj("n-shot"),
        )
        for group, subs in obj("group_subtasks").items():
            if type(subs) is not list or not all(type(s) is str for s in subs):
                fail(f"group_subtasks.{group}", "expected a list of task names")
        doc.group_subtasks = obj("group_subtasks")
        for task, ns in obj("n-samples").items():
            if type(ns) is not dict:
                fail(f"n-samples.{task}", f"expected an object, found {_json_type(ns)}")
            original, effective = ns.get("original"), ns.get("effective")
            if type(original) is not int and original is not None:
                original = _whole(original, f"n-samples.{task}.original", fail)
            if type(effective) is not int and effective is not None:
                effective = _whole(effective, f"n-samples.{task}.effective", fail)
            doc.n_samples[task] = _NSamples(original, effective)
        name = raw.get("model_name")
        if name is not None and type(name) is not str:
            fail("model_name", f"expected a string, found {_json_type(name)}")
        doc.model_name = name
        date = raw.get("date")
        if date is not None:
            if isinstance(date, str):
                try:
                    date = float(date)
                except ValueError:
                    fail("date", f"expected a Unix time, found {str(date)[:40]!r}")
            elif type(date) not in (int, float):
                fail("date", f"expected a Unix time, found {_json_type(date)}")
            doc.date = float(date)
        return doc


def _whole(value: Any, where: str, fail: Callable[[str, str], NoReturn]) -> int | None:
    """A count: a JSON integer (or an integral number or digit string, as lm-eval's older
    writers left them); None when absent."""
    if value is None or type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str and value.strip().isdigit():
        return int(value)
    fail(where, f"expected a whole number, found {value!r:.40}")


def _json_type(value: Any) -> str:
    """How JSON names the type of a parsed value, for messages."""
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


# -- shared helpers ------------------------------------------------------------------------------


def _text(path: Path, data: bytes) -> str:
    """The file as text, or an InputError saying it is empty or binary."""
    if not data or data.isspace():
        raise InputError("the file is empty", source=str(path))
    if b"\x00" in data[:8192]:
        raise InputError("is a binary file, not lm-eval JSON", source=str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            f"not UTF-8 text (bad byte at offset {e.start})", source=str(path)
        ) from None


def _load_json(path: Path, data: bytes | str, *, line: int | None = None) -> Any:
    """The parsed JSON: by orjson (three times the standard parser's speed), and where it
    refuses, by the standard parser, which also reads what Python's json module writes but
    JSON forbids (NaN, Infinity; lm-eval writes files with it) and names the line and column
    of a real error. Bytes orjson refuses are first checked for being text at all (`_text`)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    text = _text(path, data) if isinstance(data, bytes) else data
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        where = f"line {line}" if line is not None else f"line {e.lineno} column {e.colno}"
        raise InputError(f"invalid JSON: {e.msg}", source=str(path), where=where) from None


def _number(value: Any) -> float | None:
    """A finite float from a JSON number, else None (lm-eval writes "N/A" for missing ones)."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value)
    if kind is bool or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _sample_value(value: Any) -> float | None:
    """A per-sample metric value as a float (booleans count 1/0); None when not a scalar."""
    if isinstance(value, bool):
        return float(value)
    return _number(value)


def _metrics(task_result: Mapping[str, Any]) -> Iterator[tuple[str, str, str | None, Any, Any]]:
    """(key, metric, filter, value, stderr) for each metric of one task's result object."""
    for key, value in task_result.items():
        if key in _NOT_METRICS:
            continue
        name, sep, filt = key.partition(",")
        if name.endswith("_stderr"):
            continue
        if sep:
            yield key, name, filt, value, task_result.get(f"{name}_stderr,{filt}")
        else:
            yield key, name, None, value, task_result.get(f"{name}_stderr")


def _created(date: float | None) -> dt.datetime | None:
    if date is None or not math.isfinite(date):
        return None
    try:
        return dt.datetime.fromtimestamp(date, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _ts(path: Path, pattern: re.Pattern[str]) -> str | None:
    m = pattern.search(path.name)
    return m.group("ts") if m else None


# -- results -------------------------------------------------------------------------------------


def read_lmeval_results(
    path: Path, data: bytes, *, samples: bool = False, sha256: str | None = None
) -> Batch:
    """One lm-eval `results_*.json` (v0.4 or v0.3) as a Batch: a benchmark per task or group
    and a result per metric and filter, with stderr, sample count, shots and time.

    Results are read into columns (a ResultTable): a file holds a hundred or more of them and
    objects would cost several times the parse. Benchmark descriptions (chance level, dataset,
    size, parent group) are built only when the register asks for them, i.e. for benchmarks it
    does not hold yet. With `samples`, the per-sample scores in the
    `samples_<task>_<timestamp>.jsonl` files that lm-eval wrote beside it (same folder, same
    timestamp) are attached to their results.
    """
    path = path if isinstance(path, Path) else Path(path)
    raw = _load_json(path, data)
    if not isinstance(raw, dict):
        raise InputError(
            f"not an lm-eval results file: the top level is a {type(raw).__name__}, not an object",
            source=str(path),
        )
    if "results" not in raw:
        raise InputError(
            "not an lm-eval results file: no `results` object", source=str(path), where="results"
        )
    source = str(path)
    doc = _ResultsFile.from_json(raw, source)
    model, revision = model_name(doc.config, doc.model_name, source=source)
    batch = Batch(
        path=source,
        kind=KIND_RESULTS,
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    params = _number(doc.config.get("model_num_parameters"))
    file_extra = (revision, int(params) if params else None)
    results, group_subtasks, n_samples = doc.results, doc.group_subtasks, doc.n_samples
    groups = set(doc.groups) | {g for g, subs in group_subtasks.items() if subs}
    versions, n_shot, hib_all = doc.versions, doc.n_shot, doc.higher_is_better
    global_shots = doc.config.get("num_fewshot")
    tasks = results
    if any(g not in results for g in doc.groups):  # groups are in `results`, except in some 0.4.x
        tasks = dict(results)
        for group, res in doc.groups.items():
            tasks.setdefault(group, res)

    def n_effective(task: str, seen: frozenset[str] = frozenset()) -> int | None:
        ns = n_samples.get(task)
        if ns is not None and ns.effective is not None:
            return ns.effective
        subs = [s for s in group_subtasks.get(task, ()) if s not in seen and s != task]
        if not subs:
            n = tasks.get(task, {}).get("sample_len")
            return n if type(n) is int else None
        counts = [n_effective(s, seen | {task}) for s in subs]
        return None if any(c is None for c in counts) else sum(c for c in counts if c)

    rows: list[tuple[Any, ...]] = []
    row = rows.append
    extra_text: dict[tuple[Any, ...], dict[str, str]] = {}
    tasks_seen: list[tuple[str, str]] = []
    layouts = _LAYOUTS
    for task, res in tasks.items():
        bid = benchmark_id(task)
        if task in group_subtasks:
            shots = _shots(task, doc, global_shots)
            n_task = n_effective(task)
        else:
            shots = n_shot.get(task, global_shots)
            ns = n_samples.get(task)
            n_task = ns.effective if ns is not None else None
            if n_task is None:
                n = res.get("sample_len")
                n_task = n if type(n) is int else None
        if type(shots) is not int:
            shots = None
        # A result's extra depends on the task (shots, version, group) and the metric's
        # direction (the task's own `higher_is_better`, else lm-eval's default); the JSON text
        # is made once per metric and distinct combination.
        base = (shots, versions.get(task), task in versions, task in groups)
        hib = hib_all.get(task)
        try:
            texts = extra_text.setdefault((base, tuple(hib.items()) if hib else ()), {})
        except TypeError:  # a version or direction that is not a plain value
            texts = {}
        layout = tuple(res)
        specs = layouts.get(layout)
        if specs is None:
            specs = layouts[layout] = [(k, *sp) for k in layout if (sp := _key_spec(k))]
        per_key = res["sample_count"] if "sample_count" in res else None
        if type(per_key) is not dict:
            per_key = None
        for key, metric, filt, se_key in specs:
            value = res[key]
            # x - x is 0.0 for a finite float, NaN for NaN and the infinities
            v: float | None = value
            if type(value) is not float or value - value != 0.0:
                v = _number(value)
                if v is None:
                    if not isinstance(value, dict | list) and not (
                        isinstance(value, str) and value.strip() == "N/A"
                    ):
                        batch.warnings.append(
                            f"{task} {key}: {value!r} is not a number; not stored"
                        )
                    continue
            se = res.get(se_key)
            if type(se) is not float or se - se != 0.0:
                se = _number(se)
            text = texts.get(metric)
            if text is None:
                up = hib.get(metric) if hib else None
                higher = up if type(up) is bool else metric not in _LOWER_IS_BETTER
                text = texts[metric] = _extra_text(higher, base, file_extra)
            if per_key is not None and type(k := per_key.get(key)) is int and k > 0:
                row((bid, task, metric, v, se, k, filt, text))
            else:
                row((bid, task, metric, v, se, n_task, filt, text))
        tasks_seen.append((task, bid))
    n = len(rows)
    if n:
        bench, orig, metrics, values, stderrs, counts, filters, extras = map(
            list, zip(*rows, strict=True)
        )
        batch.table = ResultTable(
            model=[model] * n,
            benchmark=bench,
            original_benchmark=orig,
            metric=metrics,
            value=values,
            stderr=stderrs,
            samples=counts,
            filter=filters,
            extra=extras,
            created_at=_created(doc.date),
            source_file=source,
            source_sha256=batch.sha256,
        )
    batch.declare_later([bid for _, bid in tasks_seen], _Declaration(doc, tasks_seen, rows))
    if not n:
        batch.skipped = "the results file holds no numeric metrics"
        return batch
    if samples:
        index = {(r[1], r[2], r[6]): i for i, r in enumerate(rows)}
        _attach_sibling_samples(path, batch, index)
    return batch


_LAYOUTS: dict[tuple[str, ...], list[tuple[str, str, str | None, str]]] = {}
"""The keys of a task's result object, in order -> (key, metric, filter, stderr key) of each
metric among them. Tasks share a handful of layouts (`alias`, `acc,none`,
`acc_stderr,none`, ...), so each is worked out once per process."""


def _key_spec(key: str) -> tuple[str, str | None, str] | None:
    if key in _NOT_METRICS:
        return None
    name, sep, filt = key.partition(",")
    if name.endswith("_stderr"):
        return None
    if sep:
        return name, filt, f"{name}_stderr,{filt}"
    return name, None, f"{name}_stderr"


def _extra_text(higher: bool, base: tuple[Any, ...], file_extra: tuple[Any, ...]) -> str:
    try:
        return _extra_json_cached(higher, *base, *file_extra)
    except TypeError:  # a task version that is not a plain value
        return _extra_json(higher, *base, *file_extra)


def _extra_json(
    higher: bool,
    shots: int | None,
    version: Any,
    has_version: bool,
    group: bool,
    revision: str | None,
    params: int | None,
) -> str:
    """A result's `extra`, as the JSON text the register stores (keys sorted); the same few
    combinations recur across a folder of results files, so each is written once."""
    extra: dict[str, Any] = {"higher_is_better": higher}
    if shots is not None:
        extra["n_shot"] = shots
    if has_version:
        extra["task_version"] = version
    if group:
        extra["group"] = True
    if revision:
        extra["revision"] = revision
    if params:
        extra["model_num_parameters"] = params
    return json.dumps(extra, sort_keys=True)


_extra_json_cached = functools.lru_cache(maxsize=4096)(_extra_json)


@dataclass
class _Declaration:
    """The benchmarks a results file declares, built when first asked for (`_declare`).
    Pickled (a Batch sent to another process), it carries only what `_declare` reads: the
    first metric of each task and the config keys it looks at, not the whole file."""

    doc: _ResultsFile
    tasks: list[tuple[str, str]]
    rows: list[tuple[Any, ...]]

    def __call__(self) -> list[Benchmark]:
        return _declare(self.doc, self.tasks, self.rows)

    def __reduce__(self) -> tuple[Any, ...]:
        doc = self.doc
        firsts: dict[str, tuple[Any, ...]] = {}
        for r in self.rows:
            firsts.setdefault(r[1], (None, r[1], r[2]))
        trimmed = _ResultsFile(
            results={},
            configs={task: {k: cfg[k] for k in _CONFIG_KEYS if k in cfg}
                     for task, cfg in doc.configs.items()},
            group_subtasks=doc.group_subtasks,
            n_samples=doc.n_samples,
            higher_is_better=doc.higher_is_better,
        )
        return (_Declaration, (trimmed, self.tasks, list(firsts.values())))


_CONFIG_KEYS = ("doc_to_choice", "output_type", "dataset_path", "dataset_name")
"""The keys of a task's config that `_declare` reads (`_chance`, `_dataset`)."""


def _declare(
    doc: _ResultsFile, tasks: list[tuple[str, str]], rows: list[tuple[Any, ...]]
) -> list[Benchmark]:
    """The benchmarks of a results file, with what the file says of each: its first metric
    (of the rows read, `(bid, task, metric, ...)`) and direction, chance level, dataset, size
    and parent group."""
    firsts: dict[str, str] = {}
    for r in rows:
        firsts.setdefault(r[1], r[2])
    parent = {
        sub: group for group, subs in doc.group_subtasks.items() for sub in subs if sub != group
    }
    out = []
    for task, bid in tasks:
        first = firsts.get(task)
        up = doc.higher_is_better.get(task, {}).get(first) if first else None
        out.append(
            Benchmark(
                id=bid,
                name=task,
                metric=first,
                higher_is_better=up if isinstance(up, bool) else first not in _LOWER_IS_BETTER,
                chance=_chance(task, first, doc.configs, doc.group_subtasks),
                parent=benchmark_id(parent[task]) if task in parent else None,
                dataset=_dataset(doc.configs.get(task, {})),
                samples=_n_original(task, doc),
                source=SOURCE,
            )
        )
    return out


def _shots(
    task: str, doc: _ResultsFile, default: Any, seen: frozenset[str] = frozenset()
) -> int | None:
    """Few-shot count of a task (None where the file gives no whole number); a group's is its
    subtasks' when they agree (lm-eval writes 0 for a group even when every subtask ran
    5-shot)."""
    subs = [s for s in doc.group_subtasks.get(task, []) if s not in seen and s != task]
    if subs:
        counts = {_shots(s, doc, default, seen | {task}) for s in subs}
        if len(counts) == 1:
            return counts.pop()
    shots = doc.n_shot.get(task, default)
    return shots if type(shots) is int else None


def _dataset(cfg: Mapping[str, Any]) -> str | None:
    """`dataset_path` (`:dataset_name` when set), as the task config names its data."""
    dpath = cfg.get("dataset_path")
    if not isinstance(dpath, str) or not dpath:
        return None
    dname = cfg.get("dataset_name")
    return f"{dpath}:{dname}" if isinstance(dname, str) and dname else dpath


def _n_original(task: str, doc: _ResultsFile, seen: frozenset[str] = frozenset()) -> int | None:
    """Size of the task's evaluation set (before any `--limit`); a group's is its subtasks'."""
    ns = doc.n_samples.get(task)
    if ns is not None and ns.original is not None:
        return ns.original
    subs = [s for s in doc.group_subtasks.get(task, []) if s not in seen and s != task]
    if not subs:
        return None
    counts = [_n_original(s, doc, seen | {task}) for s in subs]
    return None if any(c is None for c in counts) else sum(c for c in counts if c)


def _chance(
    task: str,
    metric: str | None,
    configs: Mapping[str, Mapping[str, Any]],
    group_subtasks: Mapping[str, list[str]],
    seen: frozenset[str] = frozenset(),
) -> float | None:
    """Accuracy of uniform guessing for a multiple-choice task whose choices the config lists
    literally (1/k for k choices); a group's when all its subtasks share one. Otherwise None
    (choices built per document by a template cannot be counted from the file)."""
    if metric not in ("acc", "acc_norm"):
        return None
    cfg = configs.get(task)
    if cfg is not None:
        choices = cfg.get("doc_to_choice")
        if (
            cfg.get("output_type") == "multiple_choice"
            and isinstance(choices, list)
            and len(choices) > 1
        ):
            return 1.0 / len(choices)
        return None
    subs = [s for s in group_subtasks.get(task, []) if s not in seen and s != task]
    levels = {_chance(s, metric, configs, group_subtasks, seen | {task}) for s in subs}
    if len(levels) == 1:
        return levels.pop()
    return None


# -- samples -------------------------------------------------------------------------------------


def _sample_lines(path: Path, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    text = _text(path, data)
    # Lines end at "\n" only: str.splitlines would also break inside strings at U+2028,
    # U+2029 or U+0085, which lm-eval writes as they are (ensure_ascii=False).
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        obj = _load_json(path, line, line=n)
        if not isinstance(obj, dict) or "doc_id" not in obj:
            raise InputError(
                "not an lm-eval samples line: expected an object with `doc_id`",
                source=str(path),
                where=f"line {n}",
            )
        yield n, obj


def _sample_scores(
    path: Path,
    data: bytes,
) -> tuple[dict[tuple[str, str | None], list[SampleScore]], set[str]]:
    """(metric, filter) -> per-sample scores, and the metrics whose values are not scalars.

    Lines name their metrics in `metrics` (lm-eval >= 0.4.3) and their filter in `filter`;
    older lines carry the metric keys alone, found as the keys that are not lm-eval's fixed
    ones.
    """
    fixed = {
        "doc_id",
        "doc",
        "target",
        "arguments",
        "resps",
        "filtered_resps",
        "filter",
        "metrics",
        "doc_hash",
        "prompt_hash",
        "target_hash",
    }
    scores: dict[tuple[str, str | None], list[SampleScore]] = {}
    not_scalar: set[str] = set()
    for n, obj in _sample_lines(path, data):
        names = obj.get("metrics")
        if not isinstance(names, list):
            names = [k for k in obj if k not in fixed]
        elif not all(isinstance(k, str) for k in names):
            raise InputError(
                "`metrics` must list metric names", source=str(path), where=f"line {n}"
            )
        filt = obj.get("filter")
        sid = str(obj["doc_id"])
        for name in names:
            if name not in obj:
                continue
            value = _sample_value(obj[name])
            if value is None:
                not_scalar.add(name)
                continue
            scores.setdefault((name, filt if isinstance(filt, str) else None), []).append(
                SampleScore(sample_id=sid, epoch=1, score=value)
            )
    for name in not_scalar:
        for key in [k for k in scores if k[0] == name]:
            del scores[key]
    return scores, not_scalar


def _attach_sibling_samples(
    path: Path, batch: Batch, index: Mapping[tuple[str, str, str | None], int]
) -> None:
    ts = _ts(path, _RESULTS_NAME)
    if ts is None:
        batch.warnings.append(
            "per-sample scores not read: the file name has no lm-eval "
            "timestamp (results_<timestamp>.json) to find its samples files by"
        )
        return
    tasks = {t for t, _, _ in index}
    found = 0
    for spath in sorted(path.parent.glob(f"samples_*_{ts}.jsonl")):
        m = _SAMPLES_NAME.match(spath.name)
        if m is None or m.group("task") not in tasks:
            continue
        task = m.group("task")
        try:
            sdata = spath.read_bytes()
        except OSError as e:
            raise InputError(
                f"cannot read the samples file: {e.strerror}", source=str(spath)
            ) from None
        scores, not_scalar = _sample_scores(spath, sdata)
        found += 1
        for (metric, filt), rows in scores.items():
            i = index.get((task, metric, filt if filt is not None else "none"))
            if i is None:
                i = index.get((task, metric, filt))
            if i is not None:
                batch.samples[i] = rows
        for name in sorted(not_scalar):
            batch.warnings.append(
                f"{spath.name}: per-sample values of {name} are not scores "
                f"(a corpus-level metric); not stored"
            )
    if not found:
        batch.warnings.append(
            f"no samples_<task>_{ts}.jsonl beside the file; no per-sample "
            "scores stored (lm-eval writes them with --log_samples)"
        )


def read_lmeval_samples(
    path: Path, data: bytes, *, samples: bool = True, sha256: str | None = None
) -> Batch:
    """One lm-eval `samples_<task>_<timestamp>.jsonl` as a Batch.

    When the results file of the same run lies beside it, that file is the record of the
    run: this one is skipped (its scores are attached to those results by
    `read_lmeval_results(..., samples=True)`), so no result is stored twice. A samples file on
    its own gives one result per metric whose lm-eval aggregation is the mean (acc, acc_norm,
    exact_match, ...), with stderr = sample standard deviation / sqrt(n) as lm-eval computes
    it; the model is the folder name, which lm-eval's output layout makes the sanitised model
    name (`org__name`).
    """
    path = path if isinstance(path, Path) else Path(path)
    m = _SAMPLES_NAME.match(path.name)
    scores, not_scalar = _sample_scores(path, data)
    if m is None:
        raise InputError(
            "cannot tell the task: lm-eval names samples files samples_<task>_<timestamp>.jsonl",
            source=str(path),
            hint="keep the name lm-eval gave the file",
        )
    task, ts = m.group("task"), m.group("ts")
    batch = Batch(
        path=str(path),
        kind=KIND_SAMPLES,
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    for rpath in sorted(path.parent.glob(f"*results_{ts}.json")):
        batch.skipped = (
            f"per-sample scores of {rpath.name}; they are stored with it "
            "(ingest that file with --samples)"
        )
        return batch
    folder = path.parent.name
    if not folder:
        raise InputError(
            "no results file beside this samples file and no folder name to take the model from",
            source=str(path),
            hint="pass --model NAME",
        )
    model = folder.replace("__", "/")
    batch.warnings.append(
        f"no results_{ts}.json beside this file: model {model!r} taken from "
        "the folder name (use --model to override)"
    )
    bid = benchmark_id(task)
    first: str | None = None
    for (metric, filt), rows in sorted(scores.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        if metric not in _MEAN_METRICS:
            batch.warnings.append(
                f"{metric}: lm-eval does not aggregate it as a mean; its "
                "score needs the results file; not stored"
            )
            continue
        values = [s.score for s in rows if s.score is not None]
        n = len(values)
        mean = math.fsum(values) / n
        stderr = (
            math.sqrt(math.fsum((x - mean) ** 2 for x in values) / (n - 1) / n) if n > 1 else None
        )
        first = first or metric
        if samples:
            batch.samples[len(batch.results)] = rows
        batch.results.append(
            EvalResult(
                model=model,
                benchmark=bid,
                metric=metric,
                value=mean,
                stderr=stderr,
                samples=n,
                source_file=str(path),
                source_sha256=batch.sha256,
                original_model=model,
                original_benchmark=task,
                filter=filt or "none",
                extra={"higher_is_better": True, "from_samples": True},
            )
        )
    for name in sorted(not_scalar):
        batch.warnings.append(
            f"per-sample values of {name} are not scores (a corpus-level metric); not stored"
        )
    if not batch.results:
        batch.skipped = (
            "no metric in this samples file is a per-sample mean; ingest its results file instead"
        )
        return batch
    batch.benchmarks.append(Benchmark(id=bid, name=task, metric=first, samples=None, source=SOURCE))
    return batch
