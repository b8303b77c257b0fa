"""A model's compute ledger: the parts its training compute is made of, counted as each law
counts them. Pure functions, no storage.

An entry is one part of the training (pre-training, fine-tuning including RL, generation of
non-public synthetic data, weights merged or initialised from other models, other
modifications), with how it was counted (`given`, `hardware`: chips x hours x 3600 x peak FLOP/s
x utilisation, `architecture`: 6 x parameters x tokens), its inputs, its uncertainty, the
regimes that count it and its source. The Commission's guidelines on general-purpose AI models
(C(2025) 5045, Annex A) accept any method accurate within +/-30 %, name those two, and count
all operations alike whatever their precision; see docs/ledger.md.

The cumulative total of a regime is the sum of the entries it counts. Each entry's figure is
log-normal (exact when given without an uncertainty); the sum is matched to one log-normal by
its first two moments (Fenton-Wilkinson), which is what P(total > line) is judged on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tripwire import compute

COMPONENTS = ("pre-training", "fine-tuning", "synthetic-data", "merged-weights", "other")
"""What a ledger entry counts (fine-tuning includes reinforcement learning)."""
METHODS = ("given", "hardware", "architecture")
REGIMES = {"eu": "EU AI Act (Art. 51(2), cumulative compute)",
           "sb53": "California SB 53 (frontier model, > 10^26 operations)",
           "raise": "New York RAISE Act (frontier model, > 10^26 operations)"}
"""Regimes a ledger entry can be counted under, by the id used in the `counts` column."""
REGIME_OF_SOURCE = {"eu-ai-act": "eu", "sb53": "sb53", "sb1047": "sb53", "ny-gbl-44b": "raise"}
"""A policy's `encodes` source id -> the regime whose count it judges."""
LINES: dict[str, list[tuple[float, str]]] = {
    "eu": [(1e23, "EU indicative GPAI criterion (guidelines: > 10^23 FLOP)"),
           (1e25, "EU systemic-risk presumption (Art. 51(2): > 10^25 FLOP)")],
    "sb53": [(1e26, "SB 53 frontier model (> 10^26 operations)")],
    "raise": [(1e26, "RAISE frontier model (> 10^26 operations)")],
}
ESTIMATE_REL_ERROR = 0.3
"""Default uncertainty of a hardware or architecture estimate: the +/-30 % accuracy the
Commission's guidelines accept, read as a 90 % interval. An assumption, not calibrated."""
DISAGREE = 0.3
"""Both methods computed for one entry disagree when they differ by more than 30 %."""
_Z90 = 1.6448536269514722


@dataclass(frozen=True)
class Entry:
    """One part of a model's training compute."""

    model: str
    component: str
    method: str
    flop: float
    """The part's compute, FLOP (from the inputs when `method` is not `given`)."""
    source: str
    params: float | None = None
    tokens: float | None = None
    accelerator: str | None = None
    chips: float | None = None
    hours: float | None = None
    utilization: float | None = None
    uncertainty: float | None = None
    """Relative error at 90 % (0.3: within +/-30 %); None: exact for `given`, else
    ESTIMATE_REL_ERROR."""
    counts: tuple[str, ...] = tuple(REGIMES)
    """Regimes that count this part."""
    id: int | None = None
    file: str | None = None

    @property
    def sigma_ln(self) -> float:
        """Log-normal sigma of the figure."""
        u = self.uncertainty
        if u is None:
            u = 0.0 if self.method == "given" else ESTIMATE_REL_ERROR
        return math.log1p(u) / _Z90 if u > 0 else 0.0

    def estimates(self) -> dict[str, float]:
        """The figure by every method its inputs allow: `architecture` (6ND), `hardware`."""
        out: dict[str, float] = {}
        if self.params and self.tokens:
            out["architecture"] = compute.compute_6nd(self.params, self.tokens)
        if self.accelerator and self.chips and self.hours:
            out["hardware"] = compute.compute_from_hardware(
                self.accelerator, self.chips, self.hours,
                self.utilization or compute.DEFAULT_UTILIZATION)
        return out

    def disagreement(self) -> float | None:
        """|hardware / architecture - 1| where both can be computed, else None."""
        est = self.estimates()
        if len(est) < 2:
            return None
        return abs(est["hardware"] / est["architecture"] - 1.0)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("model", "component", "method", "flop", "params",
                                            "tokens", "accelerator", "chips", "hours",
                                            "utilization", "uncertainty", "source")}
        d["counts"] = list(self.counts)
        est = self.estimates() if self.method != "given" or self.params else {}
        d["architecture_flop"] = est.get("architecture")
        d["hardware_flop"] = est.get("hardware")
        d["disagreement"] = self.disagreement()
        return d


def flop_of(method: str, flop: float | None, *, params: float | None = None,
            tokens: float | None = None, accelerator: str | None = None,
            chips: float | None = None, hours: float | None = None,
            utilization: float | None = None) -> float:
    """An entry's figure: `flop` when given, else computed from the method's inputs
    (InputError naming what is missing or wrong)."""
    from tripwire.errors import InputError

    if flop is not None:
        if not math.isfinite(flop) or flop < 0:
            raise InputError(f"flop must be a non-negative finite number, got {flop!r}")
        return float(flop)
    if method == "architecture":
        if params is None or tokens is None:
            raise InputError("an architecture entry without flop needs params and tokens")
        return compute.compute_6nd(params, tokens)
    if method == "hardware":
        if accelerator is None or chips is None or hours is None:
            raise InputError("a hardware entry without flop needs accelerator, chips and hours")
        c = compute.compute_from_hardware(accelerator, chips, hours,
                                          compute.DEFAULT_UTILIZATION if utilization is None
                                          else utilization)
        if not math.isfinite(c):
            raise InputError("the hardware inputs do not multiply to a finite FLOP count")
        return c
    raise InputError("a given entry needs its flop")


def regime_of(encodes: str | None, name: str | None = None) -> str | None:
    """The regime a policy judges (by the source it encodes, else its name); None: every
    entry counts."""
    for key in (encodes, name):
        if key in REGIME_OF_SOURCE:
            return REGIME_OF_SOURCE[key]
        if key in REGIMES:
            return key
    return None


@dataclass(frozen=True)
class Total:
    """The cumulative compute one regime counts: point figure and log-normal spread."""

    regime: str | None
    flop: float
    sigma_ln: float
    entries: int
    excluded: list[str] = field(default_factory=list)
    """Entries not counted under this regime (component and source), for the record."""

    def p_above(self, line: float) -> float:
        """P(total > line) under the matched log-normal (0 or 1 when exact)."""
        if self.flop <= 0:
            return 0.0
        if self.sigma_ln == 0:
            return 1.0 if self.flop > line else 0.0
        mu = math.log(self.flop)  # median of the matched distribution (see cumulative)
        return 0.5 * math.erfc((math.log(line) - mu) / (self.sigma_ln * math.sqrt(2.0)))


def cumulative(entries: Iterable[Entry], regime: str | None = None) -> Total:
    """The total `regime` counts (every entry for None), with its spread.

    The point figure is the sum of the entries' figures (medians). The spread is the
    Fenton-Wilkinson match of the sum of independent log-normals: mean M = sum c e^(s^2/2),
    variance V = sum c^2 e^(s^2)(e^(s^2) - 1), sigma^2 = ln(1 + V/M^2); the total's median is
    taken as the point figure (conservative toward the line when the spread is small)."""
    total = 0.0
    mean = 0.0
    var = 0.0
    n = 0
    excluded = []
    for e in entries:
        if regime is not None and regime not in e.counts:
            excluded.append(f"{e.component} ({e.source})")
            continue
        n += 1
        total += e.flop
        s2 = e.sigma_ln ** 2
        mean += e.flop * math.exp(s2 / 2)
        var += e.flop ** 2 * math.exp(s2) * math.expm1(s2)
    sigma = math.sqrt(math.log1p(var / mean ** 2)) if mean > 0 and var > 0 else 0.0
    return Total(regime, total, sigma, n, excluded)


MODIFICATION_COMPONENTS = ("fine-tuning", "synthetic-data", "other")
"""Components that are "training compute used for the modification" in the one-third test
(pre-training and weights merged from other models are not)."""
BASE_COMPONENTS = ("pre-training", "merged-weights")
"""Components that say what a model was built on: with neither, a modified model's ledger
takes its parent's compute (see `with_base`)."""


@dataclass(frozen=True)
class Lineage:
    """What a model with a `parent` was built on, for the one-third test and the cumulative
    total (read from the register by `tripwire.accounts.lineage`)."""

    parent: str
    parent_entries: tuple[Entry, ...] = ()
    """The parent's ledger (its register figure standing in); empty: its compute is unknown."""
    downstream: bool = True
    """The modification is by an actor other than the parent's provider (organisations that
    differ, or are not both known); False: the same organisation, so part of the original
    model's lifecycle (guidelines, Section 2.2) and no one-third test."""
    why: str = ""
    """Why `downstream` is what it is."""


def with_base(entries: Sequence[Entry], model_name: str, register_flop: float | None,
              register_sigma: float, source: str | None,
              lineage: Lineage | None = None) -> list[Entry]:
    """The ledger with what the model was built on standing in where it has no pre-training
    or merged-weights entry: for a model with a parent whose compute is known, the parent's
    entries as `merged-weights` (the guidelines' Annex A.1 counts the training compute of
    weights a model was initialised from in its cumulative compute), else the register's
    figure for the model as pre-training."""
    if (lineage is not None and lineage.parent_entries
            and not any(e.component in BASE_COMPONENTS for e in entries)):
        inherited = [replace(e, model=model_name, component="merged-weights", id=None,
                             source=f"{lineage.parent} {e.component} (initial weights): "
                                    f"{e.source}")
                     for e in lineage.parent_entries]
        return [*inherited, *entries]
    return with_register_figure(entries, model_name, register_flop, register_sigma, source)


def with_register_figure(entries: Sequence[Entry], model_name: str,
                         register_flop: float | None, register_sigma: float,
                         source: str | None) -> list[Entry]:
    """The ledger, with the register's training compute standing in as pre-training when the
    ledger has no pre-training entry (the figure a source gave for the whole model)."""
    if register_flop is None or any(e.component == "pre-training" for e in entries):
        return list(entries)
    u = math.expm1(register_sigma * _Z90) if register_sigma > 0 else None
    return [Entry(model=model_name, component="pre-training", method="given",
                  flop=register_flop, source=source or "register", uncertainty=u),
            *entries]


@dataclass(frozen=True)
class ModifierTest:
    """The guidelines' one-third test for a downstream modification (Section 3.2, points
    60-61), with the consequence for the modified model (Section 3.2.2)."""

    model: str
    parent: str
    modification_flop: float
    parent_flop: float | None
    threshold: float
    basis: str
    provider: bool
    """True: the modifier is presumed the provider of the modified model."""
    systemic_risk: bool
    """True: the modified model is presumed a GPAI model with systemic risk (the original was
    one, or the cumulative total with the parent's compute exceeds 10^25 FLOP)."""
    p_provider: float | None = None
    """P(modification > threshold) with both figures' spreads (None: not computed)."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


SYSTEMIC_LINE = 1e25
"""Art. 51(2): cumulative training compute above which high-impact capabilities are presumed."""
GPAI_LINE = 1e23
"""Guidelines point 17: training compute above which a generative model is indicatively GPAI."""
MODIFIER_SHARE = 1 / 3
"""Guidelines point 60: a modification using more than a third of the original's compute."""


def fallback_base(parent_systemic: bool) -> float:
    """Guidelines point 61: when the original's compute cannot be known or estimated, the
    third is taken of 10^25 FLOP (original with systemic risk) or of 10^23 FLOP (other GPAI)."""
    return SYSTEMIC_LINE if parent_systemic else GPAI_LINE


def share(modification: Total, base: Total | float) -> tuple[float, float]:
    """(median, log-normal sigma) of modification / base: a ratio of independent log-normals
    is log-normal, its sigma the root sum of squares; a float base is exact."""
    if isinstance(base, Total):
        return (modification.flop / base.flop,
                math.hypot(modification.sigma_ln, base.sigma_ln))
    return modification.flop / base, modification.sigma_ln


def modifier_test(model: str, parent: str, modification_flop: float,
                  parent_flop: float | None, *, parent_systemic: bool | None = None,
                  modification_sigma: float = 0.0, parent_sigma: float = 0.0
                  ) -> ModifierTest:
    """Guidelines points 60-61: a modifier becomes the provider when the modification's
    compute exceeds a third of the original model's training compute; when that is unknown,
    a third of 10^25 FLOP (original with systemic risk) or of 10^23 FLOP (other GPAI)."""
    if parent_flop is not None and parent_flop > 0:
        base = parent_flop
        basis = f"one third of {parent}'s training compute ({parent_flop:.3g} FLOP)"
        systemic_parent = parent_flop > SYSTEMIC_LINE if parent_systemic is None \
            else parent_systemic
        sigma = math.hypot(modification_sigma, parent_sigma)
    else:
        systemic_parent = bool(parent_systemic)
        base = fallback_base(systemic_parent)
        basis = (f"{parent}'s compute is unknown: one third of {base:.0e} FLOP "
                 f"({'systemic-risk' if systemic_parent else 'GPAI'} threshold)")
        sigma = modification_sigma
    threshold = base * MODIFIER_SHARE
    provider = modification_flop > threshold
    p = (0.5 * math.erfc(math.log(threshold / modification_flop) / (sigma * math.sqrt(2.0)))
         if sigma > 0 and modification_flop > 0 else float(provider))
    total = (parent_flop or 0.0) + modification_flop
    systemic = provider and (systemic_parent or total > SYSTEMIC_LINE)
    return ModifierTest(model, parent, modification_flop, parent_flop, threshold, basis,
                        provider, systemic, p)


def replace_counts(entry: Entry, counts: Iterable[str]) -> Entry:
    """The entry counted under `counts` instead."""
    return replace(entry, counts=tuple(counts))
