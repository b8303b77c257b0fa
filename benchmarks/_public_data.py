"""Loaders for the public datasets in ``<repo>/../shared/data`` used by the calibration
benchmark: benchmark scores with training compute, Chinchilla runs, METR time horizons.

Each capability series is a dict ``{"name", "chance", "compute", "scores"}``. Chance levels
come from the dataset's own metadata (Gadre et al.'s ``Random baseline``) or from the benchmark
papers (tripwire's catalogue); a benchmark whose chance level neither states gets floor 0,
the lowest score possible.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

# chance levels of the obsscaling columns (4-way: 0.25; 2-way: 0.5; free-form: 0)
_OBS_CHANCE = {"MMLU": 0.25, "ARC-C": 0.25, "HellaSwag": 0.25, "Winograd": 0.5,
               "XWinograd": 0.5, "GSM8K": 0.0, "HumanEval": 0.0, "TruthfulQA": 0.0,
               "leaderboard_gpqa": 0.25, "leaderboard_mmlu_pro": 0.1}
_OLL_CHANCE = {"ARC(25-shot)": 0.25, "HellaSwag(10-shot)": 0.25, "MMLU(5-shot)": 0.25,
               "TruthfulQA(0-shot)": 0.0}
_PYTHIA_CHANCE = {"lambada_openai": 0.0, "piqa": 0.5, "winogrande": 0.5, "wsc": 0.5,
                  "arc_easy": 0.25, "arc_challenge": 0.25, "sciq": 0.25, "logiqa": 0.25,
                  "mmlu": 0.25}
_PYTHIA_PARAMS = {"70m": 70_426_624, "160m": 162_322_944, "410m": 405_334_016,
                  "1b": 1_011_781_632, "1.4b": 1_414_647_808, "2.8b": 2_775_208_960,
                  "6.9b": 6_857_302_016, "12b": 11_846_072_320}
_TOKENS_PER_STEP = 2_097_152


def available() -> bool:
    return DATA.is_dir()


def _series(name: str, chance: float, compute: np.ndarray, scores: np.ndarray) -> dict:
    ok = np.isfinite(compute) & (compute > 0) & np.isfinite(scores)
    return {"name": name, "chance": float(chance), "compute": compute[ok].astype(float),
            "scores": scores[ok].astype(float)}


def obsscaling() -> list[dict]:
    base = pd.read_csv(DATA / "obsscaling" / "base_llm_benchmark_eval.csv")
    flops = dict(zip(base["Model"], base["FLOPs (1E21)"] * 1e21, strict=True))
    out = []
    for col in ("MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd",
                "HumanEval"):
        out.append(_series(f"obsscaling/{col}", _OBS_CHANCE[col],
                           base["FLOPs (1E21)"].to_numpy() * 1e21, base[col].to_numpy()))
    for fname, prefix in (("base_llm_leaderboard_v2_eval.csv", "obsscaling-v2"),
                          ("base_llm_emergent_capability_eval.csv", "obsscaling-emergent")):
        d = pd.read_csv(DATA / "obsscaling" / fname)
        c = d["Model"].map(flops).to_numpy(dtype=float)
        for col in d.columns[1:]:
            if col.endswith("_bleu"):
                continue  # BLEU is not a proportion
            out.append(_series(f"{prefix}/{col}", _OBS_CHANCE.get(col, 0.0), c,
                               d[col].to_numpy(dtype=float)))
    return out


def open_llm_leaderboard() -> list[dict]:
    """The leaderboard has no compute; models whose compute obsscaling gives are kept."""
    base = pd.read_csv(DATA / "obsscaling" / "base_llm_benchmark_eval.csv")
    flops = dict(zip(base["Model"], base["FLOPs (1E21)"] * 1e21, strict=True))
    d = pd.read_csv(DATA / "open_llm_leaderboard" / "open_llm_leaderboard_2023-09-04.csv",
                    encoding="utf-8-sig")
    c = d["Model"].map(flops).to_numpy(dtype=float)
    return [_series(f"open_llm_leaderboard/{col}", ch, c, d[col].to_numpy(dtype=float) / 100)
            for col, ch in _OLL_CHANCE.items()]


def gadre() -> list[dict]:
    meta = pd.read_csv(DATA / "gadre2024_overtraining" / "eval_metadata.csv")
    chance = dict(zip(meta["Eval Task"], meta["Random baseline"] / 100.0, strict=True))
    d = pd.read_csv(DATA / "gadre2024_overtraining" / "models_loss_and_downstream.csv")
    c = d["flops_6ND"].to_numpy(dtype=float)
    return [_series(f"gadre/{col[4:]}", float(chance.get(col[4:], 0.0)), c,
                    d[col].to_numpy(dtype=float))
            for col in d.columns if col.startswith("acc_")]


def pythia() -> list[dict]:
    """Final checkpoints of all 16 models and the training trajectories of three: compute
    = 6 N (tokens seen), N the total parameter count."""
    rows: list[dict] = []
    for f in sorted((DATA / "pythia" / "pythia-v1").glob("*/zero-shot/*.json")):
        m = re.match(r"pythia-([0-9.]+[mb])", f.parts[-3])
        step = re.search(r"step(\d+)", f.name)
        if not m or not step or int(step.group(1)) == 0:
            continue
        n = _PYTHIA_PARAMS[m.group(1)]
        res = json.loads(f.read_text())["results"]
        row = {"compute": 6.0 * n * int(step.group(1)) * _TOKENS_PER_STEP}
        for task in _PYTHIA_CHANCE:
            if task in res:
                row[task] = res[task]["acc"]
        mmlu = [v["acc"] for k, v in res.items() if k.startswith("hendrycksTest-")]
        if mmlu:
            row["mmlu"] = float(np.mean(mmlu))
        rows.append(row)
    d = pd.DataFrame(rows)
    return [_series(f"pythia/{t}", ch, d["compute"].to_numpy(), d[t].to_numpy(dtype=float))
            for t, ch in _PYTHIA_CHANCE.items() if t in d]


def capability_series(min_models: int = 20) -> list[dict]:
    """Every benchmark of the four collections with at least `min_models` scored models."""
    out = obsscaling() + open_llm_leaderboard() + gadre() + pythia()
    return [s for s in out if s["scores"].size >= min_models]


def chinchilla(epoch: bool) -> pd.DataFrame:
    """Epoch's extraction of Hoffmann et al.'s runs: all 245, or the 240 Epoch fitted (the
    five highest-loss runs left out, Besiroglu et al. 2024)."""
    df = pd.read_csv(DATA / "epoch_chinchilla" / "chinchilla_fig4_N_D_C_loss.csv")
    if epoch:
        df = df[df.loss < np.sort(df.loss.to_numpy())[-5]].reset_index(drop=True)
    return df


def metr(version: str) -> pd.DataFrame:
    name = {"1.0": "time_horizons_v1.0.csv", "1.1": "time_horizons_v1.1_2026-03-03.csv"}[version]
    return pd.read_csv(DATA / "metr" / name)
