"""Real evaluation logs made here, offline: a tiny Inspect task run with Inspect's mock model
(both log formats, a two-epoch run and a failed run), and a tiny lm-evaluation-harness group
run with lm-eval's `dummy` model over a local JSON dataset (results and samples files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# What the mock model answers to "What is k+k?" for k = 2..6; targets are 4, 6, 8, 10, 12.
MOCK_ANSWERS = ["4", "6", "9", "8", "10"]
MOCK_TARGETS = [str(2 * k) for k in range(2, 7)]


@dataclass
class InspectLogs:
    eval: Path
    json: Path
    epochs: Path
    failed: Path


def _inspect_task(name: str = "tiny_arith"):  # type: ignore[no-untyped-def]
    from inspect_ai import Task
    from inspect_ai.dataset import MemoryDataset, Sample
    from inspect_ai.scorer import includes, match
    from inspect_ai.solver import generate

    dataset = MemoryDataset(
        [
            Sample(id=i + 1, input=f"What is {k}+{k}?", target=t)
            for i, (k, t) in enumerate(zip(range(2, 7), MOCK_TARGETS, strict=True))
        ],
        name="tiny_arith_data",
    )
    return Task(dataset=dataset, solver=generate(), scorer=[match(), includes()], name=name)


def _mock_model(answers: list[str]):  # type: ignore[no-untyped-def]
    """Inspect's mock model with explicit token usage (tiktoken cannot download offline)."""
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    outputs = []
    for a in answers:
        out = ModelOutput.from_content(model="mockllm/model", content=a)
        out.usage = ModelUsage(input_tokens=12, output_tokens=1, total_tokens=13)
        outputs.append(out)
    return get_model("mockllm/model", custom_outputs=outputs, memoize=False)


@pytest.fixture(scope="session")
def inspect_logs(tmp_path_factory: pytest.TempPathFactory) -> InspectLogs:
    """Real Inspect logs written by `inspect_ai.eval` with the mock model."""
    pytest.importorskip("inspect_ai", reason="inspect_ai not installed (tripwire[inspect])")
    from inspect_ai import eval as inspect_eval

    out = tmp_path_factory.mktemp("inspect_logs")
    made: dict[str, Path] = {}
    runs = [
        ("eval", "eval", 1, MOCK_ANSWERS),
        ("json", "json", 1, MOCK_ANSWERS),
        ("epochs", "eval", 2, MOCK_ANSWERS * 2),
        ("failed", "eval", 1, MOCK_ANSWERS[:2]),
    ]  # the mock runs out of answers: an error
    for key, fmt, epochs, answers in runs:
        log_dir = out / key
        logs = inspect_eval(
            _inspect_task(),
            model=_mock_model(answers),
            log_dir=str(log_dir),
            log_format=fmt,
            epochs=epochs,
            display="none",
            max_samples=1,
            fail_on_error=True,
        )
        made[key] = Path(logs[0].location)
    return InspectLogs(**made)


@dataclass
class LmEvalRun:
    results: Path
    samples: dict[str, Path]
    """task -> samples_<task>_<timestamp>.jsonl"""
    folder: Path


_TASKS = {
    # Literal choices: the reader can tell chance (1/4).
    "tiny_add.yaml": """task: tiny_add
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}/add.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}\\nA. {{{{options[0]}}}}\\nB. {{{{options[1]}}}}\\nC. {{{{options[2]}}}}\\nD. {{{{options[3]}}}}\\nAnswer:"
doc_to_target: answer
doc_to_choice: ["A", "B", "C", "D"]
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 2.0
""",
    # Choices from a template: chance cannot be told from the results file.
    "tiny_mul.yaml": """task: tiny_mul
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}/mul.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_target: answer
doc_to_choice: "{{{{options}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
""",
    "tiny_arith.yaml": """group: tiny_arith
task:
  - tiny_add
  - tiny_mul
aggregate_metric_list:
  - metric: acc
    aggregation: mean
    weight_by_size: true
metadata:
  version: 1.0
""",
}


# What `lm_eval run --model dummy --tasks tiny_arith --include_path T --output_path O
# --log_samples` does, with the task index limited to T (indexing lm-eval's ~10,000 built-in
# task files takes most of a CLI run's time).
_LMEVAL_RUN = """
import sys
from lm_eval import simple_evaluate
from lm_eval.loggers import EvaluationTracker
from lm_eval.tasks import TaskManager
tasks, out = sys.argv[1], sys.argv[2]
tracker = EvaluationTracker(output_path=out)
results = simple_evaluate(model="dummy", tasks=["tiny_arith"], log_samples=True,
                          evaluation_tracker=tracker,
                          task_manager=TaskManager(include_path=tasks, include_defaults=False))
samples = results.pop("samples")
tracker.save_results_aggregated(results=results, samples=samples)
for name in results["configs"]:
    tracker.save_results_samples(task_name=name, samples=samples[name])
"""


@pytest.fixture(scope="session")
def lmeval_run(tmp_path_factory: pytest.TempPathFactory) -> LmEvalRun:
    """Real lm-eval output: the `dummy` model on a local two-task group, offline."""
    pytest.importorskip("lm_eval", reason="lm_eval not installed (pip install lm_eval)")
    root = tmp_path_factory.mktemp("lmeval")
    data, tasks, out = root / "data", root / "tasks", root / "out"
    data.mkdir()
    tasks.mkdir()
    with open(data / "add.jsonl", "w", encoding="utf-8") as f:
        for i in range(12):
            opts = [str(2 * i + d) for d in (0, 1, -1, 2)]
            f.write(json.dumps({"question": f"{i}+{i}=?", "options": opts, "answer": 0}) + "\n")
    with open(data / "mul.jsonl", "w", encoding="utf-8") as f:
        for i in range(7):
            opts = [str(i * 3), str(i * 3 + 1), str(i * 3 + 2)]
            f.write(json.dumps({"question": f"{i}*3=?", "options": opts, "answer": 0}) + "\n")
    for name, text in _TASKS.items():
        (tasks / name).write_text(text.format(data=data), encoding="utf-8")
    env = dict(
        os.environ,
        HF_DATASETS_OFFLINE="1",
        HF_HUB_OFFLINE="1",
        HF_HOME=str(root / "hf"),
        HF_DATASETS_CACHE=str(root / "hf" / "datasets"),
        TOKENIZERS_PARALLELISM="false",
    )
    proc = subprocess.run(
        [sys.executable, "-c", _LMEVAL_RUN, str(tasks), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"lm_eval run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    results = sorted(out.rglob("results_*.json"))
    assert len(results) == 1, f"expected one results file under {out}, found {results}"
    samples = {
        p.name.removeprefix("samples_").rsplit("_", 1)[0]: p
        for p in results[0].parent.glob("samples_*.jsonl")
    }
    return LmEvalRun(results=results[0], samples=samples, folder=results[0].parent)
