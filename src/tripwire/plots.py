"""Figures for scaling-law fits: the data, the fitted law and its extrapolation band.

Uses matplotlib's object API (``Figure``) without pyplot, so nothing global changes and no
display is needed; the file type follows the suffix (.png, .svg or .pdf).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from tripwire.errors import InputError
from tripwire.fit import ChinchillaLaw, ComputeLaw, ExtrapolationWarning

__all__ = ["check_figure_path", "plot_fit"]

FORMATS = (".png", ".svg", ".pdf")
_BAND95, _BAND80 = "#c6dbef", "#6baed6"


def _budget_axis(law: ChinchillaLaw | ComputeLaw, targets: Sequence[float]) -> np.ndarray:
    lo, hi = law.compute_range_
    top = max([hi * 10.0, *(t * 2.0 for t in targets)])
    return np.logspace(np.log10(lo), np.log10(top), 160)


def _mark_targets(ax, targets: Sequence[float]) -> None:  # noqa: ANN001
    for i, t in enumerate(targets):
        ax.axvline(t, color="#cb181d", lw=1, ls="--", label="target compute" if i == 0 else None)


def _shade_extrapolation(ax, law: ChinchillaLaw | ComputeLaw, xmax: float) -> None:  # noqa: ANN001
    hi = law.compute_range_[1]
    ax.axvspan(hi, xmax, color="#f0f0f0", zorder=0, label="beyond the fitted range")
    limit = hi * 10 ** law.extrapolation_limit
    if limit < xmax:
        ax.axvline(limit, color="#999999", lw=0.8, ls=":",
                   label=f"{law.extrapolation_limit:g} orders of magnitude out")


def check_figure_path(path: str | Path) -> Path:
    """The figure path, if its type is supported and its folder exists (else InputError)."""
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise InputError(f"cannot write a {p.suffix or 'suffix-less'} figure",
                         source=str(p), hint="use a .png, .svg or .pdf file name")
    if not p.parent.is_dir():
        raise InputError(f"the folder {p.parent} does not exist", source=str(p))
    return p


def plot_fit(law: ChinchillaLaw | ComputeLaw, path: str | Path, *, loss: ArrayLike,
             compute: ArrayLike | None = None, params: ArrayLike | None = None,
             tokens: ArrayLike | None = None, targets: Sequence[float] = ()) -> Path:
    """Save a figure of a fitted law: observed runs, the fit, and its 80 %/95 % bands.

    For the Chinchilla law, the left panel shows loss against compute with the compute-optimal
    frontier and the right panel the compute-optimal N and D; for the compute law, one panel
    shows loss against compute. ``targets`` (FLOP) are marked. Returns the written path.
    """
    p = check_figure_path(path)
    y = np.asarray(loss, dtype=float)
    if isinstance(law, ChinchillaLaw):
        if params is None or tokens is None:
            raise InputError("a Chinchilla plot needs the runs' params and tokens")
        n, d = np.asarray(params, dtype=float), np.asarray(tokens, dtype=float)
        c = np.asarray(compute, dtype=float) if compute is not None else 6.0 * n * d
        fig = _chinchilla_figure(law, n, d, c, y, targets)
    else:
        if compute is None:
            raise InputError("a compute-law plot needs the runs' compute")
        fig = _compute_figure(law, np.asarray(compute, dtype=float), y, targets)
    try:
        fig.savefig(p, dpi=150, bbox_inches="tight")
    except OSError as e:
        raise InputError(f"cannot write the figure: {e.strerror}", source=str(p)) from None
    return p


def _chinchilla_figure(law: ChinchillaLaw, n: np.ndarray, d: np.ndarray, c: np.ndarray,
                       y: np.ndarray, targets: Sequence[float]) -> Figure:
    grid = _budget_axis(law, targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        alloc = law.allocate(grid)
    fig = Figure(figsize=(11, 4.4))
    ax, ax2 = fig.subplots(1, 2)
    sc = ax.scatter(c, y, c=np.log10(n), cmap="viridis", s=14, edgecolors="none", zorder=3)
    fig.colorbar(sc, ax=ax, label="log10 parameters N")
    q = alloc.loss
    ax.fill_between(grid, q["lo95"], q["hi95"], color=_BAND95, label="95 % prediction", zorder=1)
    ax.fill_between(grid, q["lo80"], q["hi80"], color=_BAND80, label="80 % prediction", zorder=2)
    ax.plot(grid, q["estimate"], color="#08306b", lw=1.6, label="fit, compute-optimal", zorder=4)
    _shade_extrapolation(ax, law, grid[-1])
    _mark_targets(ax, targets)
    ax.set(xscale="log", xlabel="training compute C (FLOP)", ylabel="loss",
           title="Chinchilla law: L(N, D) = E + A/N^α + B/D^β")
    ax.legend(fontsize=7, loc="upper right")
    for name, qd, color in (("N (parameters)", alloc.params, "#08519c"),
                            ("D (tokens)", alloc.tokens, "#a63603")):
        ax2.fill_between(grid, qd["lo95"], qd["hi95"], color=color, alpha=0.15)
        ax2.fill_between(grid, qd["lo80"], qd["hi80"], color=color, alpha=0.3)
        ax2.plot(grid, qd["estimate"], color=color, lw=1.6, label=f"optimal {name}")
    ax2.scatter(c, n, s=6, color="#08519c", alpha=0.35, label="runs: N")
    ax2.scatter(c, d, s=6, color="#a63603", alpha=0.35, label="runs: D")
    _shade_extrapolation(ax2, law, grid[-1])
    _mark_targets(ax2, targets)
    ax2.set(xscale="log", yscale="log", xlabel="training compute C (FLOP)",
            title="compute-optimal allocation (C = 6ND), 80 %/95 % bands")
    ax2.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def _compute_figure(law: ComputeLaw, c: np.ndarray, y: np.ndarray,
                    targets: Sequence[float]) -> Figure:
    grid = _budget_axis(law, targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        pred = law.predict(grid)
    fig = Figure(figsize=(6.5, 4.4))
    ax = fig.subplots()
    ax.fill_between(grid, pred.lo95, pred.hi95, color=_BAND95, label="95 % prediction", zorder=1)
    ax.fill_between(grid, pred.lo80, pred.hi80, color=_BAND80, label="80 % prediction", zorder=2)
    ax.plot(grid, pred.loss, color="#08306b", lw=1.6, label="fit", zorder=4)
    ax.scatter(c, y, s=14, color="black", zorder=3, label="runs")
    _shade_extrapolation(ax, law, grid[-1])
    _mark_targets(ax, targets)
    form = "E + A·C^-α" if law.irreducible else "A·C^-α"
    ax.set(xscale="log", xlabel="training compute C (FLOP)", ylabel="loss",
           title=f"compute law: L(C) = {form}")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig
