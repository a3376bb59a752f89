"""Figure written by ``dkluq elastic``: the components with their intervals, and the energy along
each Voigt strain with its posterior band.

Built with :class:`matplotlib.figure.Figure` (no pyplot state) and saved atomically through
:func:`dkluq_cli.plots.figure.save` (format from the suffix, 150 dpi).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from dkluq_cli.plots.figure import fit_title, new_figure, save

#: Axis labels of the six Voigt strains.
VOIGT_LABELS = ("xx", "yy", "zz", "yz", "xz", "xy")


def elastic_plot(
    components: dict[str, dict[str, Any]],
    shown: list[str],
    lines: Any,
    *,
    tensor: np.ndarray,
    volume: float,
    path: str | os.PathLike[str],
    title: str = "",
) -> Path:
    """Two panels: the components ``shown`` (mean and 95 % interval, GPa), and ΔE along each
    Voigt strain axis (posterior mean, 95 % band of the joint draws, and ``½ V C_ii e²``).

    Args:
        components: ``{"C11": {"mean", "std", "ci95"}, …}`` (GPa).
        shown: The component names to draw, in order.
        lines: :class:`dkluq_cli.analysis.elastic.StrainLines` (``strains``, ``mean``, ``lo``,
            ``hi``; eV).
        tensor: ``C`` of the posterior mean (6, 6), GPa, for the quadratic curves.
        volume: The cell's volume (Å³).
        path: Output image (``.png``, ``.svg`` or ``.pdf``).
        title: Figure title.

    Returns:
        The path written.
    """
    fig, (ax_c, ax_e) = new_figure(11.0, 4.6, ncols=2)
    means = np.array([components[n]["mean"] for n in shown])
    lo = np.array([components[n]["ci95"][0] for n in shown])
    hi = np.array([components[n]["ci95"][1] for n in shown])
    pos = np.arange(len(shown))
    ax_c.errorbar(
        pos,
        means,
        yerr=[means - lo, hi - means],
        fmt="o",
        color="tab:blue",
        capsize=4,
        label="mean and 95 % interval",
    )
    ax_c.set_xticks(pos, shown)
    ax_c.set_ylabel("elastic constant (GPa)")
    ax_c.grid(axis="y", alpha=0.3)
    ax_c.legend(fontsize=8)
    gev = 1.0 / 160.21766208  # GPa → eV/Å³
    colours = [f"C{k}" for k in range(6)]
    strains = np.asarray(lines.strains)
    pct = 100.0 * strains
    for group in _coinciding(np.asarray(lines.mean), np.asarray(lines.hi) - np.asarray(lines.lo)):
        k = group[0]
        label = ", ".join(f"e_{VOIGT_LABELS[j]}" for j in group)
        ax_e.fill_between(pct, lines.lo[k], lines.hi[k], color=colours[k], alpha=0.2)
        ax_e.plot(pct, lines.mean[k], color=colours[k], lw=1.5, label=label)
        quad = 0.5 * volume * tensor[k, k] * gev * strains**2
        ax_e.plot(pct, quad, color=colours[k], lw=0.8, ls="--")
    ax_e.set_xlabel("Voigt strain (%; engineering shear)")
    ax_e.set_ylabel("ΔE (eV per cell)")
    ax_e.set_title("mean, 95 % band of the draws; dashed: ½ V C_ii e²", fontsize=9)
    ax_e.legend(fontsize=8, ncols=2)
    if title:
        fig.suptitle(fit_title(title, 11.0), fontsize=10)
    return save(fig, path)


def _coinciding(mean: np.ndarray, width: np.ndarray, rel: float = 1e-3) -> list[list[int]]:
    """The strain lines grouped by whether they look the same at the figure's size (a cubic
    crystal's e_xx, e_yy and e_zz), each group drawn and listed once."""
    scale = max(float(np.ptp(mean)), 1e-300)
    groups: list[list[int]] = []
    for k in range(len(mean)):
        for group in groups:
            j = group[0]
            same = np.abs(mean[k] - mean[j]).max() <= rel * scale
            if same and np.abs(width[k] - width[j]).max() <= rel * scale:
                group.append(k)
                break
        else:
            groups.append([k])
    return groups


__all__ = ["elastic_plot"]
