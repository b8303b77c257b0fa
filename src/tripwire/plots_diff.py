"""The forest plot of a model diff: each benchmark's change with its interval, oriented so that
right is better, coloured by verdict (surviving regression, improvement, neither).

Scores in [0, 1] and scores on other scales (perplexity, minutes) are drawn in separate panels,
since a change of 0.02 and a change of 2.0 share no axis. matplotlib's object API, no pyplot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from tripwire.errors import InputError
from tripwire.plots import check_figure_path

__all__ = ["forest_rows", "plot_diff"]

COLOURS = {"regression": "#cb181d", "improvement": "#238b45", "below min effect": "#fd8d3c",
           "no change": "#636363"}


def forest_rows(d: Any) -> list[dict[str, Any]]:
    """The compared rows as plot data: label, change, interval (all oriented: + is better),
    verdict, and whether the scores are fractions in [0, 1]."""
    out = []
    for r in d.compared:
        ch = r.change
        s = 1.0 if r.higher_is_better else -1.0
        lo, hi = (ch.low, ch.high) if ch.low is not None else (ch.delta, ch.delta)
        lo, hi = sorted((s * lo, s * hi))
        test = "paired" if ch.paired else "unpaired"
        out.append({"label": f"{r.label} ({test})", "change": s * ch.delta, "low": lo,
                    "high": hi, "verdict": r.verdict,
                    "fraction": 0.0 <= r.value_a <= 1.0 and 0.0 <= r.value_b <= 1.0})
    return out


def plot_diff(d: Any, path: str | Path) -> Path:
    """Save the forest plot of a `Diff` (.png, .svg or .pdf); returns the path."""
    p = check_figure_path(path)
    rows = forest_rows(d)
    if not rows:
        raise InputError("nothing to plot: no benchmark was compared")
    groups = [g for g in ([r for r in rows if r["fraction"]],
                          [r for r in rows if not r["fraction"]]) if g]
    height = 1.2 + 0.28 * len(rows) + 0.6 * len(groups)
    fig = Figure(figsize=(8.5, height))
    axes = fig.subplots(len(groups), 1, squeeze=False,
                        height_ratios=[len(g) + 1 for g in groups])[:, 0]
    for ax, group, name in zip(axes, groups, ("scores in [0, 1]", "other scales"), strict=False):
        ys = list(range(len(group)))[::-1]
        for y, r in zip(ys, group, strict=True):
            colour = COLOURS.get(r["verdict"], "#636363")
            ax.plot([r["low"], r["high"]], [y, y], color=colour, lw=1.6)
            ax.plot([r["change"]], [y], "o", color=colour, ms=4.5)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(ys)
        ax.set_yticklabels([r["label"] for r in group], fontsize=7)
        ax.set_ylim(-0.8, len(group) - 0.2)
        ax.set_xlabel(f"change, {name} (+ is better; {d.level:.0%} interval)")
        ax.grid(axis="x", color="#eeeeee")
    fig.suptitle(f"{d.model_b} vs {d.model_a}: red regression, green improvement "
                 f"(surviving FDR {d.fdr:g})", fontsize=9)
    fig.tight_layout()
    try:
        fig.savefig(p, dpi=150, bbox_inches="tight")
    except OSError as e:
        raise InputError(f"cannot write the figure: {e.strerror}", source=str(p)) from None
    return p
