"""Figure written by ``dkluq eos``: E(V) with the posterior band and the fitted EOS curves.

Built with :class:`matplotlib.figure.Figure` (no pyplot state) and saved atomically through
:func:`dkluq_cli.plots.train._save` (format from the suffix, 150 dpi).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dkluq_cli.plots.train import _new_figure, _save

if TYPE_CHECKING:
    from dkluq_cli.eos import EosResult


def eos_plot(res: EosResult, path: str | os.PathLike[str], n_curves: int = 30) -> Path:
    """E(V): predictive mean, 95 % band of the joint posterior samples, a few fitted sample
    curves and the EOS fitted to the mean, with the 95 % interval of V0 shaded.

    Args:
        res: The EOS analysis (volumes in Å³, energies in eV).
        path: Output image (``.png``, ``.svg`` or ``.pdf``).
        n_curves: Number of per-sample EOS curves drawn.

    Returns:
        The path written.
    """
    from pymatgen.analysis.eos import EOS

    fig, ax = _new_figure(6.4, 4.6)
    v = res.volumes
    vv = np.linspace(v.min(), v.max(), 200)
    lo, hi = np.percentile(res.samples, [2.5, 97.5], axis=0)
    ax.fill_between(v, lo, hi, color="tab:blue", alpha=0.25, label="95 % posterior band")
    ax.plot(v, res.mean, "o", ms=3, color="tab:blue", label="posterior mean")
    rng = np.random.default_rng(0)
    shown = rng.choice(len(res.samples), size=min(n_curves, len(res.samples)), replace=False)
    eos = EOS(eos_name=res.eos)
    for k, i in enumerate(shown):
        try:
            curve = eos.fit(v, res.samples[i])
        except Exception:  # noqa: BLE001 - a failed sample fit is simply not drawn
            continue
        ax.plot(
            vv,
            curve.func(vv),
            color="grey",
            lw=0.5,
            alpha=0.5,
            label="EOS fits to samples" if k == 0 else None,
        )
    if res.curve is not None:
        ax.plot(
            vv,
            res.curve.func(vv),
            color="tab:red",
            lw=1.5,
            label=f"{res.eos.replace('_', '-')} fit to the mean",
        )
    stats = res.stats()
    v_lo, v_hi = stats["V0"]["ci95"]
    ax.axvspan(v_lo, v_hi, color="tab:orange", alpha=0.2, label="95 % interval of V0")
    ax.set_xlabel("cell volume V (Å³)")
    ax.set_ylabel("total energy E (eV)")
    a0, b0 = stats["a0"], stats["B0"]
    ax.set_title(
        f"a0 = {a0['mean']:.4f} ± {a0['std']:.4f} Å, B0 = {b0['mean']:.0f} ± {b0['std']:.0f} GPa",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    return _save(fig, path)
