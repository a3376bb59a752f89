"""Figure written by ``dkluq eos``: E(V) with the posterior band and the fitted EOS curves.

Built with :class:`matplotlib.figure.Figure` (no pyplot state) and saved atomically through
:func:`dkluq_cli.plots.figure.save` (format from the suffix, 150 dpi).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from dkluq_cli.plots.figure import fit_title, new_figure, save


def eos_plot(
    volumes: np.ndarray,
    mean: np.ndarray,
    band: tuple[np.ndarray, np.ndarray],
    *,
    curves: dict[str, Any],
    stats: dict[str, dict[str, Any]],
    eos_name: str,
    path: str | os.PathLike[str],
) -> Path:
    """E(V): predictive mean, 95 % band of the joint posterior samples, a few fitted sample
    curves and the EOS fitted to the mean, with the 95 % interval of V0 shaded.

    Args:
        volumes: Cell volumes along the line (n,), Å³.
        mean: Predictive mean energy (n,), eV.
        band: Central 95 % of the posterior samples, ``(lo, hi)`` (n,) each, eV.
        curves: ``{"volumes", "samples", "mean"}`` from :func:`dkluq_cli.analysis.eos_report.eos_curves`.
        stats: ``{"a0", "V0", "B0", ...}`` with ``mean``, ``std``, ``ci95`` (Å, Å³, GPa).
        eos_name: pymatgen's EOS name (``birch_murnaghan`` ...).
        path: Output image (``.png``, ``.svg`` or ``.pdf``).

    Returns:
        The path written.
    """
    fig, ax = new_figure(6.4, 4.6)
    ax.fill_between(volumes, *band, color="tab:blue", alpha=0.25, label="95 % posterior band")
    ax.plot(volumes, mean, "o", ms=3, color="tab:blue", label="posterior mean")
    vv = curves["volumes"]
    for k, curve in enumerate(curves["samples"]):
        ax.plot(
            vv,
            curve,
            color="grey",
            lw=0.5,
            alpha=0.5,
            label="EOS fits to samples" if k == 0 else None,
        )
    if curves["mean"] is not None:
        ax.plot(
            vv,
            curves["mean"],
            color="tab:red",
            lw=1.5,
            label=f"{eos_name.replace('_', '-')} fit to the mean",
        )
    v_lo, v_hi = stats["V0"]["ci95"]
    ax.axvspan(v_lo, v_hi, color="tab:orange", alpha=0.2, label="95 % interval of V0")
    ax.set_xlabel("cell volume V (Å³)")
    ax.set_ylabel("total energy E (eV)")
    a0, b0 = stats["a0"], stats["B0"]
    ax.set_title(
        fit_title(
            f"a0 = {a0['mean']:.4f} ± {a0['std']:.4f} Å, B0 = {b0['mean']:.0f} ± {b0['std']:.0f} GPa",
            6.4,
        ),
        fontsize=10,
    )
    ax.legend(fontsize=8)
    return save(fig, path)
