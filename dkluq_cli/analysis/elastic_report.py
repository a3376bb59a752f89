"""What ``dkluq elastic`` writes and compares: ``elastic.json``, ``elastic.csv`` and ``eos``'s B0.

``elastic.json`` is :meth:`dkluq_cli.analysis.elastic.ElasticResult.report`; ``elastic.csv`` has
one row per component and modulus. B0 comes from :func:`dkluq_cli.analysis.eos.eos_analysis` with
its defaults, so it is the number ``dkluq eos`` prints, to set beside B_VRH.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dkluq_cli.analysis.elastic import ElasticResult
from dkluq_cli.analysis.eos import eos_analysis
from dkluq_cli.data.output import write_json
from dkluq_cli.data.table import write_table
from dkluq_cli.errors import DkluqError
from dkluq_cli.model.surrogate import Surrogate


def eos_bulk_modulus(
    surrogate: Surrogate, centre: np.ndarray, n_atoms: int | None
) -> tuple[dict[str, Any] | None, str]:
    """``dkluq eos``'s B0 with its defaults, for beside B_Hill: ``(stats, "")`` or
    ``(None, why not)``."""
    try:
        res = eos_analysis(surrogate, centre, n_atoms=n_atoms)
    except DkluqError as err:
        return None, err.message
    return res.stats()["B0"], ""


def elastic_frame(res: ElasticResult):  # -> pandas.DataFrame
    """``elastic.csv``: one row per component and modulus (GPa): mean, σ, 95 % interval."""
    import pandas as pd

    stats = {**res.components(), **res.moduli()}
    return pd.DataFrame(
        [
            {
                "quantity": name,
                "mean_GPa": s["mean"],
                "std_GPa": s["std"],
                "lo95_GPa": s["ci95"][0],
                "hi95_GPa": s["ci95"][1],
            }
            for name, s in stats.items()
        ]
    )


def write_elastic(res: ElasticResult, out_dir: Path) -> list[Path]:
    """Write ``elastic.json`` and ``elastic.csv`` atomically into a prepared folder (files of
    those names are replaced)."""
    return [
        write_json(out_dir / "elastic.json", res.report()),
        write_table(elastic_frame(res), out_dir / "elastic.csv", force=True),
    ]


__all__ = ["elastic_frame", "eos_bulk_modulus", "write_elastic"]
