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


def entries_of(m: Model, recorded: list[ledger.Entry]) -> list[ledger.Entry]:
    """The model's ledger with the register's figure standing in for pre-training."""
    return ledger.with_register_figure(recorded, m.name, m.compute_flop,
                                       compute.compute_sigma_ln(m), m.source)


def account(reg: Register, name: str) -> Account:
    """The compute account of one register model."""
    m = reg.get_model(name)
    recorded = reg.ledger(m.name).get(m.name, [])
    entries = entries_of(m, recorded)
    warnings = []
    if not recorded:
        warnings.append("no compute ledger recorded: the register's training compute is "
                        "taken as the whole (ingest a ledger CSV to count the parts)")
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
    modifier = None
    own = [e for e in recorded if e.component != "pre-training"]
    if m.parent and own:
        parent_flop = None
        try:
            p = reg.get_model(m.parent)
            pe = entries_of(p, reg.ledger(p.name).get(p.name, []))
            parent_flop = ledger.cumulative(pe, "eu").flop or None
        except Exception:  # noqa: BLE001 - an unregistered parent: the guidelines' fallback
            parent_flop = None
        mod_flop = ledger.cumulative(own, "eu").flop
        modifier = ledger.modifier_test(m.name, m.parent, mod_flop, parent_flop)
    return Account(m.name, entries, totals, modifier, warnings)
