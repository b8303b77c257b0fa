"""The register the report, dashboard and browser tests share: the bundled public data plus
models whose names are hostile (markup, a path, Markdown table syntax)."""

from __future__ import annotations

from pathlib import Path

from tripwire import ingest
from tripwire.demo import run_demo
from tripwire.register import Register

HOSTILE = "<script>alert(1)</script>"
TRAVERSAL = "../../escaped"
PIPE = "a|b *c* [x](javascript:y)"
POLICIES = ["eu-ai-act-gpai", "ca-sb53"]
"""Two built-in policies keep the tests fast (every model is judged under each)."""
FOCUS = "Llama-3.1-405B"
FEW = "mmlu_pro"
"""A benchmark with too few models for a backtest: its forecast must say it is not calibrated.
MMLU-Pro scores of seven bundled models from Ruan et al. 2024's Open LLM Leaderboard v2 table
(obsscaling base_llm_leaderboard_v2_eval.csv, column leaderboard_mmlu_pro)."""
FEW_SCORES = {"phi-2": 0.26279920212765956, "falcon-7b": 0.11253324468085106,
               "Llama-2-7b": 0.18608710106382978, "Llama-2-70b": 0.37175864361702127,
               "Meta-Llama-3-8B": 0.32097739361702127, "Meta-Llama-3-70B": 0.4709109042553192,
               "Qwen2-72B": 0.5730551861702128}


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def build(folder: Path) -> Register:
    """A fresh register in `folder`: bundled models, results and loss points, plus three
    models with hostile names and a few results each, and MMLU-Pro scores of seven models."""
    reg = run_demo(folder, report=False).register
    models = folder / "hostile-models.csv"
    models.write_text(
        "name,organization,release_date,compute\n"
        f"{_csv_field(HOSTILE)},{_csv_field('<b>Evil</b> & Co')},2023-05-01,3e24\n"
        f"{_csv_field(TRAVERSAL)},,2022-01-01,1e23\n"
        f"{_csv_field(PIPE)},,2021-06-01,2e22\n", encoding="utf-8")
    evals = folder / "hostile-evals.csv"
    evals.write_text(
        "model,benchmark,metric,value,samples\n"
        f"{_csv_field(HOSTILE)},mmlu,acc,0.71,14042\n"
        f"{_csv_field(HOSTILE)},arc_challenge,acc_norm,0.62,1172\n"
        f"{_csv_field(TRAVERSAL)},mmlu,acc,0.45,14042\n"
        f"{_csv_field(PIPE)},mmlu,acc,0.30,14042\n", encoding="utf-8")
    few = folder / "mmlu-pro-evals.csv"
    source = ("Ruan et al. 2024 (arXiv 2405.10938) base_llm_leaderboard_v2_eval.csv, "
              "column leaderboard_mmlu_pro")
    few.write_text("model,benchmark,metric,value,samples,source\n" + "".join(
        f"{m},{FEW},acc,{v},12032,{_csv_field(source)}\n" for m, v in FEW_SCORES.items()),
        encoding="utf-8")
    for f in (models, evals, few):
        reg.ingest(ingest.read_file(f))
    return reg
