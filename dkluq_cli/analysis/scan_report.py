"""What a scan found, and the files ``dkluq scan`` writes.

:func:`summarise` gives the numbers of the CLI summary and ``scan_summary.json``: σ at the
reference against σ at the ends of every 1-D and the isotropic scan, the isotropic energy
minimum (:func:`iso_minimum`) and row counts per output file. :func:`write_scan` writes the
tables and the summary; the figures are drawn by the CLI (:mod:`dkluq_cli.plots.scan`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.analysis.grids import ISO_NAME
from dkluq_cli.crystal.lattice import cell_volume
from dkluq_cli.data.output import write_text
from dkluq_cli.data.table import write_table

if TYPE_CHECKING:
    from dkluq_cli.analysis.scan import ScanResult


def iso_minimum(result: ScanResult) -> dict[str, Any] | None:
    """The isotropic scan's energy minimum, refined by a parabola through the lowest 3 points.

    Returns:
        ``{"a", "b", "c"`` (Å), ``"scale"``, ``"volume_A3"``, ``"energy"``, ``"std"`` (target
        units, σ at the nearest grid point), ``"at_edge"`` (the lowest grid point is an end of
        the scan: the true minimum may lie outside), ``"in_domain"}``; None without valid rows.
    """
    df = result.scan_iso[result.scan_iso["valid_cell"]]
    if len(df) == 0:
        return None
    mean = df[result.columns["mean"]].to_numpy(float)
    s = df["scale"].to_numpy(float)
    k = int(np.nanargmin(mean))
    at_edge = k in (0, len(df) - 1)
    s_min, e_min = float(s[k]), float(mean[k])
    if not at_edge:
        x3, y3 = s[k - 1 : k + 2], mean[k - 1 : k + 2]
        c2, c1, c0 = np.polyfit(x3, y3, 2)
        if c2 > 0:
            s_min = float(np.clip(-c1 / (2 * c2), x3[0], x3[-1]))
            e_min = float(np.polyval([c2, c1, c0], s_min))
    ref = result.centre.params
    abc = ref[:3] * s_min
    params = np.concatenate([abc, ref[3:]])
    return {
        "a": float(abc[0]),
        "b": float(abc[1]),
        "c": float(abc[2]),
        "scale": s_min,
        "volume_A3": float(cell_volume(params[None, :])[0]),
        "energy": e_min,
        "std": float(df[result.columns["std"]].iloc[k]),
        "at_edge": at_edge,
        "in_domain": bool(df["in_domain"].iloc[k]),
    }


def edge_sigmas(result: ScanResult) -> dict[str, tuple[float, float]]:
    """σ at the two ends (first and last valid point) of each 1-D scan and the isotropic scan.

    Returns:
        ``{scan name: (σ at lo, σ at hi)}`` in target units.
    """
    out: dict[str, tuple[float, float]] = {}
    std = result.columns["std"]
    for name, df in [*result.scan_1d.groupby("scan", sort=False), (ISO_NAME, result.scan_iso)]:
        ok = df[df["valid_cell"]]
        if len(ok):
            out[str(name)] = (float(ok[std].iloc[0]), float(ok[std].iloc[-1]))
    return out


def summarise(result: ScanResult) -> dict[str, Any]:
    """Numbers for the CLI summary and for tests: σ at the reference vs the scan edges,
    the isotropic minimum, and row counts.

    Returns:
        ``reference`` (params and how chosen), ``std_reference``, ``edge_std`` (per scan),
        ``edge_ratio_min`` / ``edge_ratio_median`` (edge σ ÷ reference σ over all 1-D and
        isotropic ends), ``iso_minimum``, ``rows`` / ``rows_outside_domain`` /
        ``rows_invalid`` per output file, ``n_structures``, ``predict_seconds``,
        ``structures_per_s``.
    """
    s_ref = result.centre_prediction["std"]
    edges = edge_sigmas(result)
    flat = np.array([v for pair in edges.values() for v in pair], dtype=float)
    ratios = flat / s_ref if s_ref > 0 else np.full_like(flat, np.inf)
    rows, outside, invalid = {}, {}, {}
    for fname, df in result.tables().items():
        rows[fname] = len(df)
        outside[fname] = int((~df["in_domain"].astype(bool)).sum())
        invalid[fname] = int((~df["valid_cell"].astype(bool)).sum())
    return {
        "reference": {**result.centre.as_dict(), "chosen": result.centre.description},
        "lattice_range": list(result.lattice_range),
        "target": result.target,
        "target_unit": result.target_unit,
        "mean_reference": result.centre_prediction["mean"],
        "std_reference": s_ref,
        "reference_in_domain": result.centre_prediction["in_domain"],
        "edge_std": {k: list(v) for k, v in edges.items()},
        "edge_ratio_min": float(np.min(ratios)) if len(ratios) else None,
        "edge_ratio_median": float(np.median(ratios)) if len(ratios) else None,
        "iso_minimum": iso_minimum(result),
        "rows": rows,
        "rows_outside_domain": outside,
        "rows_invalid": invalid,
        "n_structures": result.n_structures,
        "predict_seconds": result.predict_seconds,
        "structures_per_s": result.n_structures / result.predict_seconds
        if result.predict_seconds > 0
        else None,
        "device": result.device,
    }


def write_scan(result: ScanResult, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the CSVs and ``scan_summary.json``.

    Files: ``scan_1d.csv``, ``scan_iso.csv``, ``scan_2d_<p>_<q>.csv``, ``scan_summary.json``.
    Existing files of those names in ``out_dir`` are replaced (the caller checks the folder
    with :func:`dkluq_cli.data.output.prepare_output_dir`).

    Args:
        result: From :func:`dkluq_cli.analysis.scan.run_scan`.
        out_dir: Existing folder.

    Returns:
        The paths written.
    """
    import json

    out = Path(out_dir)
    files = [write_table(df, out / name, force=True) for name, df in result.tables().items()]
    summary = summarise(result)
    files.append(
        write_text(out / "scan_summary.json", json.dumps(summary, indent=2) + "\n", force=True)
    )
    return files


__all__ = ["edge_sigmas", "iso_minimum", "summarise", "write_scan"]
