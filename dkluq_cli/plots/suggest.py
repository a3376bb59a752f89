"""Figure written by ``dkluq suggest``: where the candidates lie and how σ falls along the batch.

Built with :class:`matplotlib.figure.Figure` (no pyplot state) and saved atomically through
:func:`dkluq_cli.plots.figure.save` (format from the suffix, 150 dpi).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dkluq_cli.plots.figure import new_figure, save


def suggest_plot(
    volume: np.ndarray,
    std: np.ndarray,
    std_given_previous: np.ndarray,
    *,
    pool_volume: np.ndarray,
    pool_std: np.ndarray,
    strategy: str,
    path: str | os.PathLike[str],
    unit: str = "eV",
) -> Path:
    """Two panels: (left) pool and candidates in cell volume vs predictive σ; (right) σ of each
    candidate before new data and given the candidates ranked above it, against rank.

    Args:
        volume: Cell volume of each candidate in rank order (Å³).
        std: Predictive σ of each candidate before new data (``unit``).
        std_given_previous: σ of each candidate given the higher-ranked ones (``unit``).
        pool_volume: Cell volumes of the candidate pool (Å³; empty for ``random``).
        pool_std: Predictive σ on the pool (``unit``).
        strategy: The strategy that chose the candidates (legend).
        path: Output image (``.png``, ``.svg`` or ``.pdf``).
        unit: Target unit for the σ axes.

    Returns:
        The path written.
    """
    fig, (ax1, ax2) = new_figure(10.0, 4.2, ncols=2)
    if len(pool_volume):
        ax1.scatter(pool_volume, pool_std, s=3, color="lightgrey", label="candidate pool")
    ax1.scatter(volume, std, s=18, color="tab:red", label=f"chosen ({strategy})")
    ax1.set_xlabel("cell volume V (Å³)")
    ax1.set_ylabel(f"predictive σ ({unit})")
    ax1.legend(fontsize=8)
    rank = np.arange(1, len(volume) + 1)
    ax2.plot(rank, std, "o-", ms=3, label="σ before new data")
    ax2.plot(rank, std_given_previous, "s-", ms=3, label="σ given the higher-ranked picks")
    ax2.set_xlabel("rank")
    ax2.set_ylabel(f"predictive σ ({unit})")
    ax2.legend(fontsize=8)
    return save(fig, path)
