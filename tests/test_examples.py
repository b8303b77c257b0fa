"""The bundled example tables (`tripwire/examples/*.csv`): they parse, every row names its source,
names join across files, values are in range, and every figure taken from Epoch AI, Ruan et al.
2024 or Epoch's Chinchilla extraction equals the figure in those files (read in place from
`<repo>/../shared/data`; those checks skip when the folder is absent)."""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from importlib import resources
from pathlib import Path

import pytest

EXAMPLES = resources.files("tripwire") / "examples"
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

MODEL_COLUMNS = [
    "name",
    "organization",
    "release_date",
    "params",
    "tokens",
    "compute",
    "multiplier",
    "family",
    "parent",
    "variant",
    "source",
]
EVAL_COLUMNS = ["model", "benchmark", "metric", "value", "stderr", "samples", "source"]
LOSS_COLUMNS = ["model", "params", "tokens", "compute", "loss", "source"]

# Items in the split the Open LLM Leaderboard v1 harness scores for each benchmark.
SPLIT_SIZE = {
    "mmlu": 14042,
    "arc_challenge": 1172,
    "hellaswag": 10042,
    "winogrande": 1267,
    "truthfulqa": 817,
    "gsm8k": 1319,
}
METRICS = {"acc", "acc_norm", "mc2"}
E_NOTATION = re.compile(r"^[1-9](\.\d*[1-9])?e\d+$")

EPOCH_NOTABLE_FILE = "Epoch AI Notable AI Models 2025-02-24"
EPOCH_ECI_FILE = "Epoch AI Capabilities Index 2026-03-09"
OBSSCALING_FILE = "base_llm_benchmark_eval.csv"

# models.csv name -> (row key in the source file, fields taken from it)
EPOCH_NOTABLE = {
    "gpt2-xl": ("GPT-2 (1.5B)", ("compute", "release_date")),
    "T5-11B": ("T5-11B", ("params", "compute", "release_date")),
    "GPT-3 175B (davinci)": ("GPT-3 175B (davinci)", ("params", "compute", "release_date")),
    "Megatron-Turing NLG 530B": ("Megatron-Turing NLG 530B", ("params", "compute", "release_date")),
    "Gopher (280B)": ("Gopher (280B)", ("params", "compute", "release_date")),
    "gpt-neox-20b": ("GPT-NeoX-20B", ("params", "compute", "release_date")),
    "Chinchilla": ("Chinchilla", ("params", "compute", "release_date")),
    "PaLM (540B)": ("PaLM (540B)", ("params", "compute", "release_date")),
    "opt-1.3b": ("OPT-175B", ("release_date",)),
    "opt-13b": ("OPT-175B", ("release_date",)),
    "opt-175b": ("OPT-175B", ("params", "compute", "release_date")),
    "bloom": ("BLOOM-176B", ("params", "compute", "release_date")),
    "llama-65b": ("LLaMA-65B", ("params", "compute", "release_date")),
    "falcon-40b": ("Falcon-40B", ("params", "compute", "release_date")),
    "Llama-2-7b": ("Llama 2-7B", ("compute", "release_date")),
    "Llama-2-70b": ("Llama 2-70B", ("params", "compute", "release_date")),
    "Claude 2": ("Claude 2", ("compute", "release_date")),
    "GPT-4": ("GPT-4", ("compute", "release_date")),
    "falcon-180B": ("Falcon-180B", ("params", "compute", "release_date")),
    "Yi-34B": ("Yi-34B", ("params", "compute", "release_date")),
    "GPT-4 Turbo": ("GPT-4 Turbo", ("compute", "release_date")),
    "Inflection-2": ("Inflection-2", ("compute", "release_date")),
    "Qwen-72B": ("Qwen-72B", ("params", "compute", "release_date")),
    "Gemini 1.0 Ultra": ("Gemini 1.0 Ultra", ("compute", "release_date")),
    "Mixtral-8x7B-v0.1": ("Mixtral 8x7B", ("params", "release_date")),
    "Gemini 1.5 Pro": ("Gemini 1.5 Pro", ("compute", "release_date")),
    "Claude 3 Opus": ("Claude 3 Opus", ("compute", "release_date")),
    "Meta-Llama-3-70B": ("Llama 3-70B", ("params", "compute", "release_date")),
    "GPT-4o": ("GPT-4o", ("compute", "release_date")),
    "Qwen2-72B": ("Qwen2-72B", ("params", "compute", "release_date")),
    "Nemotron-4 340B": ("Nemotron-4 340B", ("params", "compute", "release_date")),
    "Claude 3.5 Sonnet": ("Claude 3.5 Sonnet", ("compute", "release_date")),
    "Llama-3.1-405B": ("Llama 3.1-405B", ("params", "compute", "release_date")),
    "Mistral Large 2": ("Mistral Large 2", ("params", "compute", "release_date")),
    "Grok-2": ("Grok-2", ("compute", "release_date")),
    "Qwen2.5-72B": ("Qwen2.5-72B", ("params", "compute", "release_date")),
    "DeepSeek-V3": ("DeepSeek-V3", ("params", "compute", "release_date")),
    "DeepSeek-R1": ("DeepSeek-R1", ("params", "compute", "release_date")),
    "Grok-3": ("Grok-3", ("compute", "release_date")),
}
EPOCH_ECI = {
    "falcon-7b": ("falcon-7b", ("compute", "release_date")),
    "mpt-7b": ("mpt-7b", ("compute", "release_date")),
    "Llama-2-13b": ("Llama-2-13b", ("compute", "release_date")),
    "Mistral-7B-v0.1": ("Mistral-7B-v0.1", ("release_date",)),
    "Qwen-7B": ("Qwen-7B", ("compute", "release_date")),
    "Qwen-14B": ("Qwen-14B", ("compute", "release_date")),
    "deepseek-llm-67b-base": ("deepseek-llm-67b-chat", ("release_date",)),
    "Mixtral-8x7B-v0.1": ("Mixtral-8x7B-v0.1", ("compute",)),
    "phi-2": ("phi-2", ("compute", "release_date")),
    "gemma-7b": ("gemma-7b", ("compute", "release_date")),
    "Meta-Llama-3-8B": ("Meta-Llama-3-8B", ("compute", "release_date")),
    "gemma-2-27b": ("gemma-2-27b-it", ("release_date",)),
}
OBSSCALING = {
    "gpt2-xl": ("openai-community/gpt2-xl", ("params",)),
    "gpt-neox-20b": ("EleutherAI/gpt-neox-20b", ("tokens",)),
    "opt-1.3b": ("facebook/opt-1.3b", ("params", "tokens", "compute")),
    "opt-13b": ("facebook/opt-13b", ("params", "tokens", "compute")),
    "bloom": ("bigscience/bloom", ("tokens",)),
    "llama-65b": ("huggyllama/llama-65b", ("tokens",)),
    "falcon-40b": ("tiiuae/falcon-40b", ("tokens",)),
    "falcon-7b": ("tiiuae/falcon-7b", ("params", "tokens")),
    "mpt-7b": ("mosaicml/mpt-7b", ("params", "tokens")),
    "Llama-2-7b": ("meta-llama/Llama-2-7b-hf", ("params", "tokens")),
    "Llama-2-13b": ("meta-llama/Llama-2-13b-hf", ("params", "tokens")),
    "Llama-2-70b": ("meta-llama/Llama-2-70b-hf", ("tokens",)),
    "falcon-180B": ("tiiuae/falcon-180B", ("tokens",)),
    "Mistral-7B-v0.1": ("mistralai/Mistral-7B-v0.1", ("params",)),
    "Qwen-7B": ("Qwen/Qwen-7B", ("params", "tokens")),
    "Qwen-14B": ("Qwen/Qwen-14B", ("params", "tokens")),
    "Yi-34B": ("01-ai/Yi-34B", ("tokens",)),
    "deepseek-llm-67b-base": ("deepseek-ai/deepseek-llm-67b-base", ("params", "tokens", "compute")),
    "Qwen-72B": ("Qwen/Qwen-72B", ("tokens",)),
    "phi-2": ("microsoft/phi-2", ("params", "tokens")),
    "gemma-7b": ("google/gemma-7b", ("tokens",)),
    "Meta-Llama-3-8B": ("meta-llama/Meta-Llama-3-8B", ("params", "tokens")),
    "Meta-Llama-3-70B": ("meta-llama/Meta-Llama-3-70B", ("tokens",)),
    "gemma-2-27b": ("google/gemma-2-27b", ("params", "tokens", "compute")),
}
OBS_UNIT = {
    "params": ("Model Size (B)", 1e9),
    "tokens": ("Pretraining Data Size (T)", 1e12),
    "compute": ("FLOPs (1E21)", 1e21),
}
# Rows of Ruan et al.'s benchmark table behind each model's scores in evals.csv.
EVAL_ROW = (
    {name: key for name, (key, _) in OBSSCALING.items()}
    | {
        "Llama-3.1-405B": "meta-llama/Meta-Llama-3.1-405B-FP8",
        "Mixtral-8x7B-v0.1": "mistralai/Mixtral-8x7B-v0.1",
        "Qwen2-72B": "Qwen/Qwen2-72B",
    }
    | {
        f"pythia-{s}-deduped": f"EleutherAI/pythia-{s}-deduped"
        for s in ("70m", "160m", "410m", "1b", "1.4b", "2.8b", "6.9b", "12b")
    }
)
OBS_BENCH_COLUMN = {
    "mmlu": "MMLU",
    "arc_challenge": "ARC-C",
    "hellaswag": "HellaSwag",
    "winogrande": "Winograd",
    "truthfulqa": "TruthfulQA",
    "gsm8k": "GSM8K",
}
# GPT-4's scores come from Ruan et al.'s instruct table (GPT-4 Technical Report, Table 2).
GPT4_ROW = "gpt-4-0314"
INSTRUCT_BENCH_COLUMN = OBS_BENCH_COLUMN | {"winogrande": "Winogrande"}
PYTHIA_TOKENS = 143_000 * 2_097_152


def _read(name: str) -> tuple[list[str], list[dict[str, str]]]:
    with (EXAMPLES / name).open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _num(text: str) -> float | None:
    return float(text) if text.strip() else None


def _close(a: float | None, b: float, rel: float = 1e-6) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=rel)


@pytest.fixture(scope="module")
def models() -> dict[str, dict[str, str]]:
    header, rows = _read("models.csv")
    assert header == MODEL_COLUMNS
    by_name = {r["name"]: r for r in rows}
    assert len(by_name) == len(rows), "duplicate model names in models.csv"
    return by_name


@pytest.fixture(scope="module")
def evals() -> list[dict[str, str]]:
    header, rows = _read("evals.csv")
    assert header == EVAL_COLUMNS
    return rows


@pytest.fixture(scope="module")
def losses() -> list[dict[str, str]]:
    header, rows = _read("loss.csv")
    assert header == LOSS_COLUMNS
    return rows


@pytest.fixture(scope="module")
def shared_data() -> Path:
    if not DATA.is_dir():
        pytest.skip(
            f"shared public data not found at {DATA.resolve()}: source cross-checks need it"
        )
    return DATA


def _csv_rows(path: Path, key: str, encoding: str = "utf-8") -> dict[str, dict[str, str]]:
    with path.open(encoding=encoding, newline="") as f:
        out: dict[str, dict[str, str]] = {}
        for r in csv.DictReader(f):
            out.setdefault(r[key].strip(), r)
        return out


# ---------------------------------------------------------------- structure, no data needed


def test_models_rows_are_complete_and_well_formed(models: dict[str, dict[str, str]]) -> None:
    assert len(models) >= 35
    for name, r in models.items():
        assert r["source"].strip(), f"{name}: no source"
        assert r["organization"].strip() and r["family"].strip(), name
        assert r["family"] == r["family"].lower(), name
        date = dt.date.fromisoformat(r["release_date"])
        assert dt.date(2019, 1, 1) <= date <= dt.date(2025, 12, 31), name
        for col in ("params", "tokens", "compute"):
            if r[col]:
                assert E_NOTATION.match(r[col]), f"{name}.{col} = {r[col]!r} is not e-notation"
                assert float(r[col]) > 0
        assert float(r["multiplier"]) == 1.0, name
        assert r["parent"] == "" or r["parent"] in models, f"{name}: unknown parent {r['parent']}"
        assert r["variant"] in ("", "pre-mitigation", "post-mitigation"), name


def test_models_span_the_compute_range_and_threshold_lines(
    models: dict[str, dict[str, str]],
) -> None:
    def physical(r: dict[str, str]) -> float | None:
        if r["compute"]:
            return float(r["compute"])
        if r["params"] and r["tokens"]:
            return 6 * float(r["params"]) * float(r["tokens"])
        return None

    compute = {n: physical(r) for n, r in models.items()}
    known = [c for c in compute.values() if c is not None]
    assert min(known) <= 2e20 and max(known) >= 4e26
    assert sum(c >= 1e25 for c in known) >= 10
    assert sum(c >= 1e26 for c in known) >= 1
    estimated = [n for n, r in models.items() if not r["compute"] and r["params"] and r["tokens"]]
    assert len(estimated) >= 3
    years = {models[n]["release_date"][:4] for n in models}
    assert {"2019", "2025"} <= years


def test_evals_join_models_and_are_in_range(
    evals: list[dict[str, str]], models: dict[str, dict[str, str]]
) -> None:
    seen = set()
    for i, r in enumerate(evals, start=2):
        where = f"evals.csv:{i}"
        assert r["model"] in models, f"{where}: model {r['model']!r} not in models.csv"
        assert r["benchmark"] in SPLIT_SIZE, where
        assert r["metric"] in METRICS, where
        assert 0.0 <= float(r["value"]) <= 1.0, where
        assert r["stderr"] == "" or float(r["stderr"]) >= 0, where
        assert r["samples"] == "" or int(r["samples"]) == SPLIT_SIZE[r["benchmark"]], where
        assert r["source"].strip(), where
        key = (r["model"], r["benchmark"], r["metric"])
        assert key not in seen, f"{where}: duplicate {key}"
        seen.add(key)
    assert len({r["model"] for r in evals}) >= 25


def test_loss_points_are_consistent_and_spread(losses: list[dict[str, str]]) -> None:
    assert len(losses) >= 90
    assert len({r["model"] for r in losses}) == len(losses)
    sizes = set()
    for r in losses:
        n, d, c, loss = (float(r[k]) for k in ("params", "tokens", "compute", "loss"))
        assert _close(c, 6 * n * d), r["model"]
        assert 1.5 < loss < 10, r["model"]
        assert r["source"].strip(), r["model"]
        sizes.add(round(math.log10(n), 2))
    assert len(sizes) >= 30
    assert max(sizes) - min(sizes) >= 2  # at least a hundredfold range of N


# ---------------------------------------------------------------- against the public files


def test_every_dataset_citation_is_in_the_check_mapping(models: dict[str, dict[str, str]]) -> None:
    """A row whose source cites Epoch or Ruan et al. must be checked below, and vice versa."""
    for label, mapping in (
        (EPOCH_NOTABLE_FILE, EPOCH_NOTABLE),
        (EPOCH_ECI_FILE, EPOCH_ECI),
        (OBSSCALING_FILE, OBSSCALING),
    ):
        cited = {}
        for name, r in models.items():
            m = re.search(re.escape(label) + r" \('([^']+)'\)", r["source"])
            if m:
                cited[name] = m.group(1)
        assert cited == {n: key for n, (key, _) in mapping.items()}, label


def test_models_match_epoch_notable_export(
    models: dict[str, dict[str, str]], shared_data: Path
) -> None:
    epoch = _csv_rows(shared_data / "epoch_ai" / "notable_ai_models_2025-02-24.csv", "Model")
    column = {"params": "Parameters", "compute": "Training compute (FLOP)"}
    for name, (key, fields) in EPOCH_NOTABLE.items():
        src, row = epoch[key], models[name]
        for f in fields:
            if f == "release_date":
                assert row[f] == src["Publication date"], name
            else:
                assert _close(_num(row[f]), float(src[column[f]])), f"{name}.{f}"


def test_models_match_epoch_capabilities_index(
    models: dict[str, dict[str, str]], shared_data: Path
) -> None:
    eci = _csv_rows(
        shared_data / "epoch_ai" / "epoch_capabilities_index_2026-03-09.csv", "Model version"
    )
    for name, (key, fields) in EPOCH_ECI.items():
        src, row = eci[key], models[name]
        for f in fields:
            if f == "release_date":
                assert row[f] == src["Release date"], name
            else:
                assert _close(_num(row[f]), float(src["Training compute (FLOP)"])), f"{name}.{f}"


def test_models_match_obsscaling(models: dict[str, dict[str, str]], shared_data: Path) -> None:
    obs = _csv_rows(shared_data / "obsscaling" / OBSSCALING_FILE, "Model")
    for name, (key, fields) in OBSSCALING.items():
        for f in fields:
            column, unit = OBS_UNIT[f]
            assert _close(_num(models[name][f]), float(obs[key][column]) * unit), f"{name}.{f}"


def test_pythia_counts_match_the_documented_facts(
    models: dict[str, dict[str, str]], shared_data: Path
) -> None:
    facts = (shared_data / "SOURCES.md").read_text(encoding="utf-8")
    obs = _csv_rows(shared_data / "obsscaling" / OBSSCALING_FILE, "Model")
    pythia = {n: r for n, r in models.items() if r["family"] == "pythia"}
    assert len(pythia) == 8
    assert f"{PYTHIA_TOKENS:,}" in facts
    for name, r in pythia.items():
        n = int(float(r["params"]))
        assert f"{n:,}" in facts, f"{name}: {n:,} is not in SOURCES.md"
        assert float(r["tokens"]) == PYTHIA_TOKENS
        nominal = float(obs[f"EleutherAI/{name}"]["Model Size (B)"]) * 1e9
        assert abs(n / nominal - 1) < 0.03, name


def test_evals_match_their_source_tables(evals: list[dict[str, str]], shared_data: Path) -> None:
    obs = _csv_rows(shared_data / "obsscaling" / OBSSCALING_FILE, "Model")
    instruct = _csv_rows(shared_data / "obsscaling" / "instruct_llm_benchmark_eval.csv", "Model")
    for i, r in enumerate(evals, start=2):
        if r["model"] == "GPT-4":
            key, table, column = GPT4_ROW, instruct, INSTRUCT_BENCH_COLUMN[r["benchmark"]]
        else:
            key, table, column = EVAL_ROW[r["model"]], obs, OBS_BENCH_COLUMN[r["benchmark"]]
        assert f"'{key}'" in r["source"], f"evals.csv:{i}: source does not name {key}"
        assert math.isclose(float(r["value"]), float(table[key][column]), abs_tol=1e-12), (
            f"evals.csv:{i}"
        )


def test_evals_agree_with_open_llm_leaderboard_snapshot(
    evals: list[dict[str, str]], shared_data: Path
) -> None:
    """Ruan et al.'s scores equal the leaderboard's (rounded to 0.1 points) where both list them."""
    board: dict[str, list[dict[str, str]]] = {}
    path = shared_data / "open_llm_leaderboard" / "open_llm_leaderboard_2023-09-04.csv"
    with path.open(encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            board.setdefault(r["Model"], []).append(r)
    column = {
        "arc_challenge": "ARC(25-shot)",
        "hellaswag": "HellaSwag(10-shot)",
        "mmlu": "MMLU(5-shot)",
        "truthfulqa": "TruthfulQA(0-shot)",
    }
    re_evaluated = {"mpt-7b"}  # the snapshot holds a different run of this model
    scores: dict[str, dict[str, float]] = {}
    for r in evals:
        if r["benchmark"] in column and r["model"] != "GPT-4":
            scores.setdefault(r["model"], {})[r["benchmark"]] = float(r["value"]) * 100
    compared = 0
    for model, by_bench in scores.items():
        rows = board.get(EVAL_ROW[model], [])
        if not rows or model in re_evaluated:
            continue
        compared += 1
        assert any(
            all(abs(v - float(row[column[b]])) <= 0.06 for b, v in by_bench.items()) for row in rows
        ), model
    assert compared >= 15


def test_loss_matches_chinchilla_extraction(
    losses: list[dict[str, str]], shared_data: Path
) -> None:
    with (shared_data / "epoch_chinchilla" / "svg_extracted_data.csv").open(encoding="utf-8") as f:
        points = list(csv.DictReader(f))
    for r in losses:
        row = int(r["model"].removeprefix("chinchilla-run-"))
        p = points[row - 1]
        assert f"data row {row};" in r["source"], r["model"]
        assert _close(float(r["params"]), float(p["Model Size"])), r["model"]
        assert _close(float(r["compute"]), float(p["Training FLOP"])), r["model"]
        assert _close(float(r["loss"]), float(p["loss"])), r["model"]
