"""Evaluation logs of two model versions, written in the real file formats: lm-evaluation-harness
v0.4 output (`results_<ts>.json` and `samples_<task>_<ts>.jsonl`, as `--log_samples` writes
them) and Inspect `.eval` logs (written by Inspect's own `write_eval_log`), with per-item scores
chosen by the test. Used by the diff tests and benchmarks/bench_diff.py."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TS = "2025-06-01T10-00-00.000000"


def versions(n: int = 1000, right: int = 700, down: int = 40, up: int = 10,
             seed: int = 0) -> tuple[list[float], list[float]]:
    """A's 0/1 scores on n items, and B's: the same but `down` right items wrong and `up`
    wrong items right."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a = np.zeros(n)
    a[rng.choice(n, right, replace=False)] = 1
    b = a.copy()
    b[rng.choice(np.flatnonzero(a == 1), down, replace=False)] = 0
    b[rng.choice(np.flatnonzero(a == 0), up, replace=False)] = 1
    return a.tolist(), b.tolist()


def _stderr(xs: Sequence[float]) -> float:
    n = len(xs)
    m = sum(xs) / n
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1) / n)


def write_lmeval(root: Path, model: str, tasks: Mapping[str, Sequence[float]], *,
                 ts: str = TS, n_shot: int = 0, metric: str = "acc",
                 doc_ids: Mapping[str, Sequence[int]] | None = None) -> Path:
    """lm-eval output for `model`: per task the per-doc `metric` values given, the results
    file with their mean and lm-eval's stderr (sample sd / sqrt n). Returns the results file."""
    folder = root / model.replace("/", "__")
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for task, xs in tasks.items():
        ids = list(doc_ids[task]) if doc_ids and task in doc_ids else list(range(len(xs)))
        results[task] = {"alias": task, f"{metric},none": sum(xs) / len(xs),
                         f"{metric}_stderr,none": _stderr(xs)}
        lines = []
        for doc_id, x in zip(ids, xs, strict=True):
            doc = {"question": f"item {doc_id} of {task}", "answer": "A"}
            text = json.dumps(doc)
            lines.append(json.dumps({
                "doc_id": doc_id, "doc": doc, "target": "A",
                "arguments": {"gen_args_0": {"arg_0": f"Q{doc_id}", "arg_1": " A"}},
                "resps": [[["-0.5", x == 1.0]]], "filtered_resps": [["-0.5", x == 1.0]],
                "filter": "none", "metrics": [metric],
                "doc_hash": hashlib.sha256(text.encode()).hexdigest(),
                "prompt_hash": hashlib.sha256(f"Q{doc_id}".encode()).hexdigest(),
                "target_hash": hashlib.sha256(b"A").hexdigest(), metric: x}))
        (folder / f"samples_{task}_{ts}.jsonl").write_text("\n".join(lines) + "\n")
    doc = {
        "results": results, "group_subtasks": {t: [] for t in tasks},
        "configs": {t: {"task": t, "output_type": "multiple_choice", "num_fewshot": n_shot,
                        "metric_list": [{"metric": metric, "aggregation": "mean",
                                         "higher_is_better": True}]} for t in tasks},
        "versions": {t: 1.0 for t in tasks}, "n-shot": {t: n_shot for t in tasks},
        "higher_is_better": {t: {metric: True} for t in tasks},
        "n-samples": {t: {"original": len(xs), "effective": len(xs)} for t, xs in tasks.items()},
        "config": {"model": "hf", "model_args": f"pretrained={model}", "batch_size": 1},
        "git_hash": "59170e85", "date": 1748772000.0, "model_name": model,
        "model_name_sanitized": model.replace("/", "__"),
    }
    path = folder / f"results_{ts}.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


_TEMPLATE: dict[str, Any] = {}


def _inspect_template(workdir: Path) -> Any:
    """A real Inspect log (Inspect's mock model, one sample, two epochs), made once."""
    if "log" in _TEMPLATE:
        return _TEMPLATE["log"]
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import MemoryDataset, Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import match
    from inspect_ai.solver import generate

    out = ModelOutput.from_content(model="mockllm/model", content="4")
    out.usage = ModelUsage(input_tokens=12, output_tokens=1, total_tokens=13)
    model = get_model("mockllm/model", custom_outputs=[out, out], memoize=False)
    task = Task(dataset=MemoryDataset([Sample(id=1, input="What is 2+2?", target="4")],
                                      name="arith_data"),
                solver=generate(), scorer=match(), name="arith")
    logs = inspect_eval(task, model=model, log_dir=str(workdir / "template"), epochs=2,
                        display="none", fail_on_error=True)
    _TEMPLATE["log"] = logs[0]
    return logs[0]


def write_inspect(path: Path, model: str, scores: Sequence[Sequence[bool]], *,
                  workdir: Path, task: str = "arith") -> Path:
    """An Inspect `.eval` log of `model` on `task`: `scores[e][i]` is whether sample i + 1 was
    right in epoch e + 1 (match scorer, C/I), written by Inspect's writer."""
    from inspect_ai.log import write_eval_log

    tpl = _inspect_template(workdir)
    log = tpl.model_copy(deep=True)
    log.eval.model = model
    log.eval.task = task
    log.eval.config.epochs = len(scores)
    sample = tpl.samples[0]
    samples = []
    flat = []
    for e, row in enumerate(scores, 1):
        for i, right in enumerate(row, 1):
            s = sample.model_copy(deep=True)
            s.id, s.epoch = i, e
            s.scores["match"] = s.scores["match"].model_copy(update={"value": "C" if right
                                                                     else "I"})
            samples.append(s)
            flat.append(1.0 if right else 0.0)
    per_sample = [sum(float(scores[e][i]) for e in range(len(scores))) / len(scores)
                  for i in range(len(scores[0]))]
    log.samples = samples
    m = log.results.scores[0].metrics
    m["accuracy"].value = sum(per_sample) / len(per_sample)
    m["stderr"].value = _stderr(per_sample)
    log.results.total_samples = log.results.completed_samples = len(per_sample)
    log.results.scores[0].scored_samples = len(per_sample)
    log.eval.dataset.samples = len(per_sample)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_eval_log(log, str(path), format="eval")
    return path
