"""The "what changed" part of a report and of the dashboard's model page: a model compared with
its parent (or the previous release in its family) by `tripwire.diff`, as plain rows for the
templates (the forest plot is `figures.forest_figure`)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from tripwire.errors import InputError
from tripwire.model import Model
from tripwire.register import Register

__all__ = ["ChangeRow", "ChangesSection", "changes_section"]


class ChangeRow(BaseModel):
    """One benchmark and metric compared (a row of `tripwire diff`)."""

    label: str
    benchmark: str
    metric: str
    value_a: float
    value_b: float
    delta: float | None = None
    low: float | None = None
    high: float | None = None
    higher_is_better: bool = True
    test: str | None = None
    """The method of `tripwire.compare` (`mcnemar-exact`, `paired-t`, ...)."""
    paired: bool = False
    p_value: float | None = None
    q_value: float | None = None
    verdict: str
    reason: str | None = None
    effect_size: float | None = None
    effect_kind: str | None = None


class ChangesSection(BaseModel):
    """What changed between one model and its baseline."""

    model: str
    baseline: str
    how: str
    """`parent`, `family` (previous release of its family) or `given`."""
    fdr: float
    level: float
    rows: list[ChangeRow] = Field(default_factory=list)
    regressions: list[str] = Field(default_factory=list)
    improvements: list[str] = Field(default_factory=list)
    only_model: list[str] = Field(default_factory=list)
    only_baseline: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def compared(self) -> list[ChangeRow]:
        return [r for r in self.rows if r.test is not None and r.p_value is not None]

    @property
    def significant(self) -> list[ChangeRow]:
        return [r for r in self.rows if r.verdict in ("regression", "improvement")]


def changes_section(reg: Register, model: str, baseline: str | None = None, *,
                    fdr: float = 0.05, models: Sequence[Model] | None = None
                    ) -> ChangesSection | None:
    """`model` against `baseline` (default: its parent or previous release); None when it has
    neither. `models` passes the register's models when the caller has them."""
    from tripwire.diff import baseline_for, diff_models

    how = "given"
    if baseline is None:
        try:
            base, how = baseline_for(reg, model, models=models)
        except InputError as e:
            if str(e).startswith("nothing to compare"):
                return None
            raise
        baseline = base.name
    d = diff_models(reg, model, baseline, fdr=fdr)
    d.baseline = how
    rows = []
    for r in d.rows:
        ch = r.change
        rows.append(ChangeRow(
            label=r.label, benchmark=r.benchmark, metric=r.metric, value_a=r.value_a,
            value_b=r.value_b, delta=ch.delta if ch else None, low=ch.low if ch else None,
            high=ch.high if ch else None, higher_is_better=r.higher_is_better,
            test=ch.method if ch else None, paired=bool(ch and ch.paired),
            p_value=ch.p_value if ch else None, q_value=r.q_value, verdict=r.verdict,
            reason=r.reason, effect_size=ch.effect_size if ch else None,
            effect_kind=ch.effect_kind if ch else None))
    notes = list(d.notes) + [f"{r.label}: {n}" for r in d.rows for n in r.notes]
    return ChangesSection(model=d.model_b, baseline=d.model_a, how=d.baseline, fdr=d.fdr,
                          level=d.level, rows=rows,
                          regressions=[r.label for r in d.regressions],
                          improvements=[r.label for r in d.improvements],
                          only_model=d.only_b, only_baseline=d.only_a, notes=notes)
