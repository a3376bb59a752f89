"""The 2-D maps of ``dkluq scan``: mean and σ heatmaps of two lattice parameters, the training
range outlined (white dashes), the edge of ``in_domain`` dotted in cyan, the reference a white
cross; impossible cells left blank."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.data.table import LATTICE_COLUMNS
from dkluq_cli.plots.figure import fit_title, format_of, new_figure, save
from dkluq_cli.plots.scan_style import LABELS, SYMBOL, target_label, unit_of

if TYPE_CHECKING:
    from dkluq_cli.analysis.scan import ScanResult


def _map_arrays(result: ScanResult, pair: tuple[str, str]) -> dict[str, np.ndarray]:
    """The 2-D map of ``pair`` as (n_q × n_p) arrays (rows: second parameter)."""
    p, q = pair
    df = result.maps[pair]
    n = round(float(np.sqrt(len(df))))

    def grid(col: str) -> np.ndarray:
        return df[col].to_numpy(float).reshape(n, n).T

    return {
        "x": df[p].to_numpy(float).reshape(n, n)[:, 0],
        "y": df[q].to_numpy(float).reshape(n, n)[0, :],
        "mean": grid(result.columns["mean"]),
        "std": grid(result.columns["std"]),
        "inside": grid("in_domain"),
    }


def draw_map(
    fig: Any, ax_mean: Any, ax_std: Any, result: ScanResult, pair: tuple[str, str]
) -> None:
    """The mean and σ heatmaps of ``pair`` on two axes of ``fig``."""
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    p, q = pair
    arr = _map_arrays(result, pair)
    unit = unit_of(result)
    mean = np.ma.masked_invalid(arr["mean"])
    std = np.ma.masked_invalid(arr["std"])
    m1 = ax_mean.pcolormesh(arr["x"], arr["y"], mean, shading="nearest", cmap="viridis")
    fig.colorbar(m1, ax=ax_mean, label=f"{target_label(result)} mean ({unit})")
    positive = std.compressed()
    norm = (
        LogNorm(vmin=positive.min(), vmax=positive.max())
        if positive.size and positive.min() > 0 and positive.max() > positive.min()
        else None
    )
    m2 = ax_std.pcolormesh(arr["x"], arr["y"], std, shading="nearest", cmap="magma", norm=norm)
    fig.colorbar(m2, ax=ax_std, label=f"σ ({unit})")
    ip, iq = LATTICE_COLUMNS.index(p), LATTICE_COLUMNS.index(q)
    for ax in (ax_mean, ax_std):
        if p in result.training_range and q in result.training_range:
            (x0, x1), (y0, y1) = result.training_range[p], result.training_range[q]
            ax.add_patch(
                Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="white", lw=1.5, ls="--")
            )
        inside = arr["inside"]
        if 0 < np.nanmean(inside) < 1:
            ax.contour(
                arr["x"],
                arr["y"],
                inside,
                levels=[0.5],
                colors="cyan",
                linewidths=1.0,
                linestyles=":",
            )
        ax.plot([result.centre.params[ip]], [result.centre.params[iq]], "w+", ms=10, mew=1.5)
        ax.set_xlabel(LABELS[p])
        ax.set_ylabel(LABELS[q])
    ax_mean.set_title(f"mean: {SYMBOL[p]} vs {SYMBOL[q]}")
    ax_std.set_title(f"σ: {SYMBOL[p]} vs {SYMBOL[q]}")


def plot_2d(result: ScanResult, pair: tuple[str, str], path: str | os.PathLike[str]) -> Path:
    """Mean and σ heatmaps of a 2-D map side by side.

    The training range is outlined (white dashes), the boundary of ``in_domain`` is drawn in
    cyan dots, the reference is a white cross; impossible cells are left blank.

    Args:
        result: The scan.
        pair: Which map, e.g. ``("a", "alpha")``.
        path: Output file.

    Returns:
        ``path`` as a :class:`Path`.
    """
    format_of(Path(path))
    fig, (ax_mean, ax_std) = new_figure(12.0, 4.8, ncols=2)
    draw_map(fig, ax_mean, ax_std, result, pair)
    others = [k for k in LATTICE_COLUMNS if k not in pair]
    held = ", ".join(f"{SYMBOL[k]} = {result.centre.as_dict()[k]:.4g}" for k in others)
    fig.suptitle(
        fit_title(
            f"2-D map ×{result.lattice_range[0]:g}–{result.lattice_range[1]:g}; held: {held}", 12.0
        )
    )
    return save(fig, path)
