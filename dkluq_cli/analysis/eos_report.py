"""The files and figure data of ``dkluq eos``: the line, the per-sample fits and E(V) curves.

``eos_line.csv`` (the line, the predictive mean ± σ and the samples' 95 % band), ``eos_samples.csv``
(one row per fitted posterior sample) and ``eos.json`` (:meth:`EosResult.report`) from an
:class:`~dkluq_cli.analysis.eos.EosResult`; :func:`eos_curves` computes the curves the figure draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dkluq_cli.analysis.eos import EosResult
from dkluq_cli.analysis.lattice_model import LATTICE_FEATURES
from dkluq_cli.data.output import write_json
from dkluq_cli.data.table import write_table


def line_frame(res: EosResult):  # -> pandas.DataFrame
    """``eos_line.csv``: the line, predictive mean ± σ and the 95 % band of the samples."""
    import pandas as pd

    lo, hi = res.sample_band()
    df = pd.DataFrame(res.params, columns=list(LATTICE_FEATURES))
    df.insert(0, "scale", res.scales)
    df["volume"] = res.volumes
    df["energy_mean_eV"] = res.mean
    df["energy_std_eV"] = res.std
    df["energy_sample_lo95_eV"] = lo
    df["energy_sample_hi95_eV"] = hi
    if res.curve is not None:
        df["energy_eos_fit_eV"] = np.asarray(res.curve.func(res.volumes), dtype=float)
    return df


def samples_frame(res: EosResult):  # -> pandas.DataFrame
    """``eos_samples.csv``: one row per fitted posterior sample."""
    import pandas as pd

    return pd.DataFrame(
        {
            "a0_A": res.values("a0"),
            "V0_A3": res.values("V0"),
            "B0_GPa": res.values("B0"),
            "B1": res.values("B1"),
            "E0_eV": res.values("E0"),
        }
    )


def eos_curves(res: EosResult, n_curves: int = 30, points: int = 200) -> dict[str, Any]:
    """E(V) curves for the figure: the EOS refitted to a few random posterior samples, and the
    fit to the mean, on a fine volume grid.

    Args:
        res: The analysis.
        n_curves: Samples drawn at random (seed 0); those whose fit fails are left out.
        points: Volumes of the grid between the line's smallest and largest.

    Returns:
        ``{"volumes": (points,) Å³, "samples": (≤ n_curves, points) eV, "mean": (points,) eV
        or None when the fit to the mean failed}``.
    """
    from pymatgen.analysis.eos import EOS

    vv = np.linspace(res.volumes.min(), res.volumes.max(), points)
    rng = np.random.default_rng(0)
    shown = rng.choice(len(res.samples), size=min(n_curves, len(res.samples)), replace=False)
    eos = EOS(eos_name=res.eos)
    curves = []
    for i in shown:
        try:
            curve = eos.fit(res.volumes, res.samples[i])
        except Exception:  # noqa: BLE001 - a failed sample fit is simply not drawn
            continue
        curves.append(np.asarray(curve.func(vv), dtype=float))
    return {
        "volumes": vv,
        "samples": np.array(curves).reshape(len(curves), points),
        "mean": None if res.curve is None else np.asarray(res.curve.func(vv), dtype=float),
    }


def write_eos(res: EosResult, out_dir: Path) -> list[Path]:
    """Write ``eos.json``, ``eos_line.csv`` and ``eos_samples.csv`` atomically.

    Args:
        res: The analysis.
        out_dir: Prepared output folder (:func:`dkluq_cli.data.output.prepare_output_dir`).

    Returns:
        The paths written.
    """

    return [
        write_json(out_dir / "eos.json", res.report()),
        write_table(line_frame(res), out_dir / "eos_line.csv", force=True),
        write_table(samples_frame(res), out_dir / "eos_samples.csv", force=True),
    ]
