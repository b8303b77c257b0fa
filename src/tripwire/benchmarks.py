"""What tripwire knows about common benchmarks before any file says so: chance level (the
sigmoid floor), ceiling and test-set size. A benchmark not listed here is registered bare
(chance unknown), and forecasts over it say that the floor is missing.

Sizes are the test splits as the standard harnesses evaluate them (lm-evaluation-harness task
configs; the papers cited).
"""

from __future__ import annotations

from tripwire.model import Benchmark

_KNOWN: dict[str, dict] = {
    "mmlu": dict(
        name="MMLU",
        chance=0.25,
        samples=14042,
        source="Hendrycks et al. 2021 (arXiv 2009.03300); 4-way multiple choice",
    ),
    "mmlu_pro": dict(
        name="MMLU-Pro",
        chance=0.10,
        samples=12032,
        source="Wang et al. 2024 (arXiv 2406.01574); 10-way multiple choice",
    ),
    "arc_challenge": dict(
        name="ARC-Challenge",
        chance=0.25,
        samples=1172,
        source="Clark et al. 2018 (arXiv 1803.05457)",
    ),
    "arc_easy": dict(
        name="ARC-Easy", chance=0.25, samples=2376, source="Clark et al. 2018 (arXiv 1803.05457)"
    ),
    "hellaswag": dict(
        name="HellaSwag",
        chance=0.25,
        samples=10042,
        source="Zellers et al. 2019 (arXiv 1905.07830); validation split",
    ),
    "winogrande": dict(
        name="WinoGrande",
        chance=0.5,
        samples=1267,
        source="Sakaguchi et al. 2019 (arXiv 1907.10641); dev split",
    ),
    "gsm8k": dict(
        name="GSM8K",
        chance=0.0,
        samples=1319,
        source="Cobbe et al. 2021 (arXiv 2110.14168); free-form answers",
    ),
    "humaneval": dict(
        name="HumanEval",
        chance=0.0,
        samples=164,
        source="Chen et al. 2021 (arXiv 2107.03374); pass@1",
    ),
    "gpqa_diamond": dict(
        name="GPQA Diamond",
        chance=0.25,
        samples=198,
        source="Rein et al. 2023 (arXiv 2311.12022); 4-way multiple choice",
    ),
    "piqa": dict(
        name="PIQA",
        chance=0.5,
        samples=1838,
        source="Bisk et al. 2020 (arXiv 1911.11641); validation split",
    ),
    "sciq": dict(name="SciQ", chance=0.25, samples=1000, source="Welbl et al. 2017"),
    "lambada_openai": dict(
        name="LAMBADA (OpenAI)",
        chance=0.0,
        samples=5153,
        source="Paperno et al. 2016; OpenAI preprocessing",
    ),
    "truthfulqa": dict(
        name="TruthfulQA (MC2)",
        chance=None,
        samples=817,
        source="Lin et al. 2022 (arXiv 2109.07958)",
    ),
    "swe_bench_verified": dict(
        name="SWE-bench Verified",
        chance=0.0,
        samples=500,
        source="Jimenez et al. 2024; OpenAI 2024 (Verified subset)",
    ),
}


def lookup(bid: str) -> Benchmark:
    """The catalogue's metadata for `bid`, or a bare benchmark (chance unknown)."""
    meta = _KNOWN.get(bid)
    if meta is None:
        return Benchmark(id=bid, name=bid)
    return Benchmark(id=bid, ceiling=1.0, **meta)


def known() -> list[Benchmark]:
    """Every benchmark in the catalogue."""
    return [lookup(b) for b in sorted(_KNOWN)]
