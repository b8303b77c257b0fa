"""A model's compute account, read from the register: its ledger, the cumulative total each
regime counts with P(total > line) for every line, both estimation methods side by side, and the
one-third test against its parent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tripwire import compute, ledger

if TYPE_CHECKING:
    from tripwire.model import Model
    from tripwire.register import Register


@dataclass
class Account:
    """Everything `tripwire compute MODEL` shows."""

    model: str
    entries: list[ledger.Entry]
    totals: list[dict[str, Any]]
    modifier: ledger.ModifierTest | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "ledger": [e.to_dict() for e in self.entries],
                "totals": self.totals,
                "modifier": self.modifier.to_dict() if self.modifier else None,
                "warnings": self.warnings}


def entries_of(m: Model, recorded: list[ledger.Entry],
               lineage: ledger.Lineage | None = None) -> list[ledger.Entry]:
    """The model's ledger with what it was built on standing in where it has no pre-training
    entry: its parent's compute, else the register's figure (`ledger.with_base`)."""
    return ledger.with_base(recorded, m.name, m.compute_flop, compute.compute_sigma_ln(m),
                            m.source, lineage)


def _orgs(m: Model) -> set[str]:
    return {o.strip().lower() for o in (m.organization or "").split(",") if o.strip()}


def lineage(reg: Register, m: Model, recorded: list[ledger.Entry] | None = None,
            _seen: frozenset[str] = frozenset()) -> ledger.Lineage | None:
    """What `m` was built on, for a model with a `parent` and a ledger of its own (None
    otherwise): the parent's entries (its own parent's compute included, up to a cycle) and
    whether the modification is downstream (another organisation)."""
    from tripwire.errors import TripwireError

    if not m.parent:
        return None
    if recorded is None:
        recorded = reg.ledger(m.name).get(m.name, [])
    if not recorded:
        return None
    # Without the parent's figure, the model's own pre-training (or merged-weights) entries
    # are the original's compute as its ledger records it.
    fallback = tuple(e for e in recorded if e.component in ledger.BASE_COMPONENTS)
    try:
        p = reg.get_model(m.parent)
    except TripwireError:
        return ledger.Lineage(m.parent, fallback, True, f"{m.parent} is not in the register: "
                              "its provider is taken to be another organisation")
    seen = _seen | {m.name}
    own = reg.ledger(p.name).get(p.name, [])
    up = lineage(reg, p, own, seen) if p.name not in seen and p.parent not in seen else None
    parent_entries = tuple(entries_of(p, own, up)) or fallback
    mine, theirs = _orgs(m), _orgs(p)
    if mine and theirs and mine & theirs:
        why = (f"{m.name} and {p.name} share an organisation ({', '.join(sorted(mine & theirs))})"
               ": part of the original model's lifecycle, no one-third test")
        return ledger.Lineage(p.name, parent_entries, False, why)
    why = (f"{m.name} ({', '.join(sorted(mine))}) modifies {p.name} ({', '.join(sorted(theirs))})"
           if mine and theirs else f"the organisation of {m.name if not mine else p.name} is "
           "not recorded: the modification is taken as downstream")
    return ledger.Lineage(p.name, parent_entries, True, why)


def modifier(m: Model, recorded: list[ledger.Entry], lin: ledger.Lineage | None,
             parent_systemic: bool | None = None) -> ledger.ModifierTest | None:
    """The one-third test of a downstream modification with compute of its own (None when
    the model is not one)."""
    if lin is None or not lin.downstream:
        return None
    own = [e for e in recorded if e.component in ledger.MODIFICATION_COMPONENTS]
    if not own:
        return None
    mod = ledger.cumulative(own, "eu")
    base = ledger.cumulative(lin.parent_entries, "eu") if lin.parent_entries else None
    return ledger.modifier_test(
        m.name, lin.parent, mod.flop, base.flop if base and base.flop > 0 else None,
        parent_systemic=parent_systemic, modification_sigma=mod.sigma_ln,
        parent_sigma=base.sigma_ln if base else 0.0)


def account(reg: Register, name: str) -> Account:
    """The compute account of one register model."""
    m = reg.get_model(name)
    recorded = reg.ledger(m.name).get(m.name, [])
    lin = lineage(reg, m, recorded)
    entries = entries_of(m, recorded, lin)
    warnings = []
    if not recorded:
        warnings.append("no compute ledger recorded: the register's training compute is "
                        "taken as the whole (ingest a ledger CSV to count the parts)")
    if lin is not None:
        if lin.parent_entries and not any(e.component in ledger.BASE_COMPONENTS
                                          for e in recorded):
            warnings.append(f"no pre-training entry: {lin.parent}'s compute counts as the "
                            "weights it was initialised from (guidelines, Annex A.1)")
        elif not lin.parent_entries:
            warnings.append(f"{lin.parent}'s compute is unknown: the cumulative total counts "
                            "this model's own entries only")
        if not lin.downstream:
            warnings.append(lin.why)
    for e in entries:
        d = e.disagreement()
        if d is not None and d > ledger.DISAGREE:
            est = e.estimates()
            warnings.append(
                f"{e.component} ({e.source}): hardware {est['hardware']:.3g} and architecture "
                f"{est['architecture']:.3g} FLOP differ by {d:.0%}, beyond the +/-30 % the "
                "Commission's guidelines accept")
    totals = []
    for regime, lines in ledger.LINES.items():
        t = ledger.cumulative(entries, regime)
        row: dict[str, Any] = {"regime": regime, "counts": ledger.REGIMES[regime],
                               "total_flop": t.flop, "entries": t.entries,
                               "sigma_ln": t.sigma_ln, "excluded": t.excluded}
        row["lines"] = [{"line": line, "label": label, "p_above": t.p_above(line)}
                        for line, label in lines]
        totals.append(row)
    return Account(m.name, entries, totals, modifier(m, recorded, lin), warnings)
