"""Close names among many (tripwire.register.closest): the same answers as difflib's
`get_close_matches` over every name, for random and real model names."""

from __future__ import annotations

import csv
import difflib
import random
from pathlib import Path

import pytest

from tripwire.register.closest import SMALL, CloseNames


def _names(rng: random.Random, n: int) -> list[str]:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_./ABCDEFGHIJKé☃"
    stems = ["llama", "Llama-3", "gpt-4", "pythia-1.4b", "Qwen2", "mistral", "opt", "bloom"]
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            s = rng.choice(stems) + rng.choice(["", "-7b", "-70b", "-instruct", "-chat", "v2"])
            s = "".join(c if rng.random() > 0.1 else rng.choice(alphabet) for c in s)
        else:
            s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 25)))
        out.append(s)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_the_same_matches_as_difflib_over_every_name(seed: int) -> None:
    rng = random.Random(seed)
    names = _names(rng, 600)
    index = CloseNames(names)
    assert len(index.names) > SMALL
    for word in _names(rng, 150) + ["", "x", names[0], names[1].upper()]:
        for cutoff in (0.6, 0.3, 0.9):
            exclude = set(rng.sample(names, 5))
            want = difflib.get_close_matches(word, sorted(set(names) - exclude), n=3,
                                             cutoff=cutoff)
            assert index.closest(word, cutoff=cutoff, exclude=exclude) == want, (word, cutoff)


def test_the_same_matches_among_real_model_names(shared_data: Path) -> None:
    """Epoch AI's model names as the register, lm-eval's Hugging Face names as the queries."""
    path = shared_data / "epoch_ai" / "notable_ai_models_2025-02-24.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with path.open(newline="", encoding="utf-8") as f:
        registered = [r["Model"] for r in csv.DictReader(f) if r.get("Model")]
    index = CloseNames(registered)
    queries = ["meta-llama/Meta-Llama-3-8B-Instruct", "EleutherAI/pythia-1.4b-deduped",
               "mistralai/Mistral-7B-v0.1", "Qwen/Qwen2-72B", "gpt2-xl", "facebook/opt-6.7b",
               "bigscience/bloom-7b1", "state-spaces/mamba2-2.7b", "GPT 4o", "Claude 3 Opus"]
    found = 0
    for word in queries:
        got = index.closest(word)
        assert got == difflib.get_close_matches(word, sorted(set(registered)), n=3,
                                                cutoff=0.6), word
        found += bool(got)
    assert found >= 3  # e.g. Qwen/Qwen2-72B -> Qwen2-72B, GPT 4o -> GPT-4o
