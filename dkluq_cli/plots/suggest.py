"""Figure written by ``dkluq suggest``: where the candidates lie and how σ falls along the batch.

Built with :class:`matplotlib.figure.Figure` (no pyplot state) and saved atomically through
:func:`dkluq_cli.plots.train._save` (format from the suffix, 150 dpi).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dkluq_cli.lattice import cell_volume
from dkluq_cli.plots.train import _new_figure, _save

if TYPE_CHECKING:
    from dkluq_cli.suggest import Suggestion


def suggest_plot(sug: Suggestion, path: str | os.PathLike[str], unit: str = "eV") -> Path:
    """Two panels: (left) pool and candidates in cell volume vs predictive σ; (right) σ of each
    candidate before new data and given the candidates ranked above it, against rank.

    Args:
        sug: The suggestion.
        path: Output image (``.png``, ``.svg`` or ``.pdf``).
        unit: Target unit for the σ axes.

    Returns:
        The path written.
    """
    fig, (ax1, ax2) = _new_figure(10.0, 4.2, ncols=2)
    if len(sug.pool_params):
        ax1.scatter(
            cell_volume(sug.pool_params),
            sug.pool_std,
            s=3,
            color="lightgrey",
            label="candidate pool",
        )
    ax1.scatter(
        cell_volume(sug.params), sug.std, s=18, color="tab:red", label=f"chosen ({sug.strategy})"
    )
    ax1.set_xlabel("cell volume V (Å³)")
    ax1.set_ylabel(f"predictive σ ({unit})")
    ax1.legend(fontsize=8)
    rank = np.arange(1, len(sug.params) + 1)
    ax2.plot(rank, sug.std, "o-", ms=3, label="σ before new data")
    ax2.plot(rank, sug.std_given_previous, "s-", ms=3, label="σ given the higher-ranked picks")
    ax2.set_xlabel("rank")
    ax2.set_ylabel(f"predictive σ ({unit})")
    ax2.legend(fontsize=8)
    return _save(fig, path)
