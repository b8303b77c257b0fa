"""Training compute, effective compute and training cost: pure functions, no storage.

Conventions: compute in FLOP, throughput in FLOP/s, time in hours, cost in US dollars.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tripwire.errors import InputError

if TYPE_CHECKING:
    from tripwire.model import Model

DEFAULT_UTILIZATION = 0.4
"""Model-FLOP utilisation assumed for hardware-time estimates. Large dense runs report 30-50 %:
PaLM 540B 46.2 % (Chowdhery et al. 2022, arXiv 2204.02311), Llama 3 405B 38-43 % in BF16
(Llama Team 2024, arXiv 2407.21783)."""


@dataclass(frozen=True)
class Accelerator:
    """One accelerator's dense peak throughput, with where the figure comes from."""

    name: str
    peak_flops: float
    """Dense (no structured sparsity) peak, FLOP/s, at `precision`."""
    precision: str
    source: str
    price_per_hour: float | None
    """Indicative on-demand cloud price per accelerator-hour, USD (None: no public list price
    we can cite; pass --price)."""
    price_source: str | None


ACCELERATORS: dict[str, Accelerator] = {
    a.name: a
    for a in [
        Accelerator(
            "V100",
            125e12,
            "fp16 tensor",
            "NVIDIA Tesla V100 datasheet (SXM2)",
            24.48 / 8,
            "AWS p3.16xlarge on-demand, us-east-1: $24.48/h for 8 GPUs",
        ),
        Accelerator(
            "A100",
            312e12,
            "bf16 dense",
            "NVIDIA A100 Tensor Core GPU datasheet (2020)",
            32.77 / 8,
            "AWS p4d.24xlarge on-demand, us-east-1: $32.77/h for 8 GPUs",
        ),
        Accelerator(
            "H100",
            989.4e12,
            "bf16 dense",
            "NVIDIA H100 Tensor Core GPU datasheet, SXM5 (1,979 TFLOP/s with sparsity)",
            98.32 / 8,
            "AWS p5.48xlarge on-demand, us-east-1, 2023 list: $98.32/h for 8 GPUs",
        ),
        Accelerator(
            "H200",
            989.4e12,
            "bf16 dense",
            "NVIDIA H200 Tensor Core GPU datasheet, SXM (same tensor cores as H100 SXM)",
            None,
            None,
        ),
        Accelerator(
            "B200",
            2.25e15,
            "bf16 dense",
            "NVIDIA HGX B200 datasheet (4.5 PFLOP/s BF16 with sparsity, per GPU)",
            None,
            None,
        ),
        Accelerator(
            "TPU v3", 123e12, "bf16", "Google Cloud TPU v3 documentation (per chip)", None, None
        ),
        Accelerator(
            "TPU v4",
            275e12,
            "bf16",
            "Google Cloud TPU v4 documentation (per chip)",
            3.22,
            "Google Cloud TPU pricing, v4 on-demand: $3.22 per chip-hour",
        ),
        Accelerator(
            "TPU v5p",
            459e12,
            "bf16",
            "Google Cloud TPU v5p documentation (per chip)",
            4.20,
            "Google Cloud TPU pricing, v5p on-demand: $4.20 per chip-hour",
        ),
        Accelerator("MI300X", 1307.4e12, "bf16 dense", "AMD Instinct MI300X datasheet", None, None),
    ]
}

_PATTERNS = [  # (regex over a normalised hardware name, accelerator key)
    (r"\bb200\b", "B200"),
    (r"\bh200\b", "H200"),
    (r"\bh100\b", "H100"),
    (r"\ba100\b", "A100"),
    (r"\bv100\b", "V100"),
    (r"mi300x", "MI300X"),
    (r"tpu ?v5p", "TPU v5p"),
    (r"tpu ?v4", "TPU v4"),
    (r"tpu ?v3", "TPU v3"),
]

REGULATORY_LINES: list[tuple[float, str]] = [
    (1e25, "EU AI Act: GPAI model with systemic risk presumed (Art. 51(2))"),
    (1e26, "California SB 53: frontier model (training compute > 10^26 FLOP)"),
]
"""Training-compute lines drawn in regulation, FLOP."""


def accelerator(name: str) -> Accelerator:
    """Find an accelerator by its short name or a vendor's full name (e.g. Epoch AI's
    `NVIDIA H100 SXM5 80GB`); an unknown one lists what is known."""
    key = name.strip()
    if key in ACCELERATORS:
        return ACCELERATORS[key]
    low = key.lower().replace("-", " ")
    for pattern, k in _PATTERNS:
        if re.search(pattern, low):
            return ACCELERATORS[k]
    raise InputError(f"unknown accelerator {name!r}", hint="known: " + ", ".join(ACCELERATORS))


def _positive(name: str, value: float) -> float:
    if value is None or not math.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def compute_6nd(params: float, tokens: float) -> float:
    """Training compute of a dense transformer, C = 6·N·D FLOP (Kaplan et al. 2020,
    arXiv 2001.08361: ~2 FLOP per parameter per token forward, ~4 backward)."""
    return 6.0 * _positive("params", params) * _positive("tokens", tokens)


def compute_from_hardware(
    accelerator_name: str, count: float, hours: float, utilization: float = DEFAULT_UTILIZATION
) -> float:
    """C = accelerators x hours x 3600 x peak FLOP/s x utilisation."""
    acc = accelerator(accelerator_name)
    u = _positive("utilization", utilization)
    if u > 1:
        raise InputError(f"utilization is a fraction of peak (0-1], got {u}")
    return _positive("count", count) * _positive("hours", hours) * 3600.0 * acc.peak_flops * u


def effective_compute(compute_flop: float, multiplier: float = 1.0) -> float:
    """Effective compute = physical compute x declared algorithmic multiplier."""
    return _positive("compute", compute_flop) * _positive("multiplier", multiplier)


def training_cost(
    accelerator_name: str, count: float, hours: float, price_per_hour: float | None = None
) -> float:
    """Cost = accelerator-hours x price per accelerator-hour, USD (default: the cited list
    price of that accelerator)."""
    acc = accelerator(accelerator_name)
    price = price_per_hour if price_per_hour is not None else acc.price_per_hour
    if price is None:
        raise InputError(
            f"no cited default price for {acc.name}", hint="pass --price USD per accelerator-hour"
        )
    return _positive("count", count) * _positive("hours", hours) * _positive("price", price)


def with_estimates(model: Model) -> Model:
    """The model with C filled in from 6·N·D when the source gave none (marked estimated)."""
    from tripwire.model import ComputeMethod  # the data types (pydantic) only when used

    if model.compute_flop is None and model.params and model.tokens:
        return model.model_copy(
            update=dict(
                compute_flop=compute_6nd(model.params, model.tokens),
                compute_method=ComputeMethod.SIX_N_D.value,
            )
        )
    if model.compute_flop is not None and model.compute_method is None:
        return model.model_copy(update=dict(compute_method=ComputeMethod.GIVEN.value))
    return model


ESTIMATE_SIGMA_LN = math.log(2.0)
"""Log-normal sigma of a compute (or cost) figure tripwire estimated itself (6ND,
hardware-time): a factor of 2 is one standard deviation."""

CONFIDENCE_FACTOR: dict[str, float] = {"Confident": 3.0, "Likely": 10.0, "Speculative": 30.0}
"""Epoch AI's confidence labels read as the factor within which the true figure lies
(Confident 3x, Likely 10x, Speculative 30x). This is tripwire's ASSUMPTION, not Epoch's
definition: Epoch's documentation (epoch.ai/data/ai-models-documentation/estimation, which
announces "the metadata on estimate confidence") was looked for, but no numeric meaning of the
labels could be read from it or from any copy of it, Epoch's repositories or its exports (the
exports carry the label only). See docs/policies.md, "How a threshold is judged"."""
CONFIDENCE_COVERAGE = 0.9
"""Probability that the true figure lies within the label's factor of the estimate (also
assumed)."""
CONFIDENCE_ASSUMPTION = (
    "Epoch AI's Confidence labels are read as the true compute lying within 3x (Confident), "
    "10x (Likely) or 30x (Speculative) of the figure with probability 0.9: tripwire's "
    "assumption, as Epoch publishes no numeric meaning for them that tripwire could find")
"""Said wherever a labelled figure's spread is used."""
CONFIDENCE_LABELS = (*CONFIDENCE_FACTOR, "Unknown")
_Z_COVERAGE = 1.6448536269514722  # standard normal quantile at 0.5 + CONFIDENCE_COVERAGE / 2


def confidence_label(text: str) -> str | None:
    """Epoch's label for a Confidence cell (case and spaces ignored); None when it is not one
    of Confident, Likely, Speculative, Unknown."""
    key = text.strip().lower()
    return next((c for c in CONFIDENCE_LABELS if c.lower() == key), None)


def compute_sigma_ln(model: Model) -> float:
    """Log-normal sigma of the model's training compute (0: the figure is exact).

    A source's confidence label sets it: the label's factor k holds the true figure with
    probability CONFIDENCE_COVERAGE, so sigma = ln k / z (an assumption: CONFIDENCE_FACTOR).
    An `Unknown` label gets the widest spread (Speculative). Without a label, a figure the
    source gave is exact and one tripwire estimated (6ND, hardware-time) has sigma = ln 2."""
    label = model.compute_confidence
    if label:
        k = CONFIDENCE_FACTOR.get(label, CONFIDENCE_FACTOR["Speculative"])
        return math.log(k) / _Z_COVERAGE
    return ESTIMATE_SIGMA_LN if model.compute_estimated else 0.0


def spread_note(model: Model) -> str:
    """How the model's compute figure is judged, in words."""
    label = model.compute_confidence
    if label in CONFIDENCE_FACTOR:
        return (f"source confidence {label}: log-normal, within {CONFIDENCE_FACTOR[label]:g}x "
                f"with probability {CONFIDENCE_COVERAGE:.0%} (assumed reading of the label)")
    if label:
        return (f"source confidence {label}: judged with the widest assumed spread "
                f"({CONFIDENCE_FACTOR['Speculative']:g}x at {CONFIDENCE_COVERAGE:.0%})")
    if model.compute_estimated:
        return (f"estimated ({model.compute_method}): log-normal with a factor of 2 as one "
                "standard deviation")
    return "given by the source: exact"


def p_above(model: Model, line: float, *, effective: bool = False) -> float | None:
    """P(training compute > line) under the figure's spread; None when compute is unknown
    (an unknown figure is never counted as under a line)."""
    c = model.effective_compute_flop if effective else model.compute_flop
    if c is None or c <= 0:
        return None
    sigma = compute_sigma_ln(model)
    if sigma == 0:
        return 1.0 if c > line else 0.0
    return 0.5 * math.erfc((math.log(line) - math.log(c)) / (sigma * math.sqrt(2.0)))


def digits_beside(value: float, lines: Iterable[float] | None = None, digits: int = 3) -> int:
    """Significant digits to print `value` with, at least `digits`, so that the printed figure
    sits on the same side of every line (default: the regulatory lines) as the value does:
    Inflection-2's 1.001e25 FLOP beside the "greater than 10^25" line needs four (1.001e25),
    since 1e25 would read as on the line, not over it."""
    marks = [line for line, _ in REGULATORY_LINES] if lines is None else list(lines)
    if not math.isfinite(value):
        return digits
    for d in range(digits, 18):
        shown = float(f"{value:.{d - 1}e}")
        if all((shown > m) == (value > m) and (shown < m) == (value < m) for m in marks):
            return d
    return 17


def lines_passed(compute_flop: float | None) -> list[tuple[float, str]]:
    """The regulatory compute lines a training run at `compute_flop` exceeds (both texts say
    "greater than")."""
    if compute_flop is None:
        return []
    return [(line, label) for line, label in REGULATORY_LINES if compute_flop > line]


@dataclass(frozen=True)
class LineCount:
    """How many models are over one compute line: by point estimate, and in expectation with
    an interval from the per-model probabilities (Poisson-binomial, models independent)."""

    line: float
    label: str
    point: int
    """Models whose compute figure is over the line."""
    expected: float
    """Sum of P(C > line) over models with a compute figure."""
    interval80: tuple[int, int]
    interval95: tuple[int, int]
    unknown: int
    """Models without a compute figure: not counted either way."""

    def to_dict(self) -> dict[str, object]:
        return dict(line=self.line, label=self.label, point=self.point,
                    expected=self.expected, interval80=list(self.interval80),
                    interval95=list(self.interval95), unknown=self.unknown)


def count_distribution(probs: list[float]) -> list[float]:
    """P(exactly k of the events happen), k = 0..n, for independent events (exact DP)."""
    import numpy as np

    dist = np.zeros(len(probs) + 1)
    dist[0] = 1.0
    n = 0
    for p in probs:
        if p <= 0.0:
            continue
        if p >= 1.0:
            dist[1:n + 2] = dist[:n + 1].copy()
            dist[0] = 0.0
        else:
            dist[1:n + 2] = dist[1:n + 2] * (1 - p) + dist[:n + 1] * p
            dist[0] *= 1 - p
        n += 1
    return [float(x) for x in dist]


def _count_quantile(cdf: list[float], q: float) -> int:
    return next((k for k, c in enumerate(cdf) if c >= q - 1e-12), len(cdf) - 1)


def line_count(models: list[Model], line: float, label: str = "", *,
               effective: bool = False) -> LineCount:
    """Models over `line`: point count, expected count and its 80/95 % intervals."""
    import itertools

    probs = [p for m in models if (p := p_above(m, line, effective=effective)) is not None]
    point = sum(1 for m in models
                if (c := (m.effective_compute_flop if effective else m.compute_flop)) is not None
                and c > line)
    cdf = list(itertools.accumulate(count_distribution(probs)))
    return LineCount(
        line=line, label=label, point=point, expected=float(sum(probs)),
        interval80=(_count_quantile(cdf, 0.1), _count_quantile(cdf, 0.9)),
        interval95=(_count_quantile(cdf, 0.025), _count_quantile(cdf, 0.975)),
        unknown=len(models) - len(probs))
