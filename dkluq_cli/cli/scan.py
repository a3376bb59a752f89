"""``dkluq scan``: the energy landscape around a reference crystal, with σ, in and beyond the
training domain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dkluq_cli.cli.common import (
    BatchSize,
    Device,
    FigureFormat,
    Force,
    ModelPath,
    Plots,
    Reference,
    ScanRange,
    claim_output,
    command,
    echo_result,
    edge_check,
    err_console,
    output_folder,
)


def _pairs(values: list[str]) -> None:
    from dkluq_cli.crystal.lattice import parse_pair

    for v in values:
        parse_pair(v)


def _at(value: str) -> None:
    from dkluq_cli.crystal.lattice import parse_at

    parse_at(value)


@command
def scan_cmd(
    model: ModelPath,
    lattice_range: ScanRange = (0.9, 1.1),
    points: Annotated[
        int, typer.Option(min=3, help="Points per axis of the 1-D and isotropic scans.")
    ] = 101,
    points_2d: Annotated[
        Optional[int],
        typer.Option("--points-2d", min=3, help="Points per axis of 2-D maps (default: --points)."),
    ] = None,
    pair: Annotated[
        Optional[list[str]],
        typer.Option(
            "--pair",
            callback=edge_check(_pairs),
            help="2-D map of two parameters, e.g. a,alpha (repeatable; default a,alpha).",
        ),
    ] = None,
    reference: Reference = None,
    at: Annotated[
        Optional[str],
        typer.Option(
            "--at",
            callback=edge_check(_at),
            help="Reference values, e.g. a=3.914,alpha=90 (Å, degrees); overrides single "
            "parameters of the reference.",
        ),
    ] = None,
    fmt: FigureFormat = "png",
    plots: Plots = True,
    device: Device = "auto",
    batch_size: BatchSize = 8192,
    output: Annotated[Optional[Path], output_folder("scan")] = None,
    force: Force = False,
) -> None:
    """Scan energy ± σ around a reference crystal: six 1-D scans, the isotropic (equation-of-state)
    line and 2-D maps, each flagged in/out of the training domain.

    The reference is --reference POSCAR, else the model's stored reference structure, else the
    centre of the training domain; --at overrides single values. Writes scan_1d.csv,
    scan_iso.csv, scan_2d_<p>_<q>.csv, scan_summary.json and figures into scan/ next to the
    model (replaced on every rerun) or -o DIR; the folder's path is the only line on stdout.
    """
    from dkluq_cli.analysis.scan import DEFAULT_PAIR
    from dkluq_cli.analysis.scan_report import summarise, write_scan
    from dkluq_cli.analysis.trained_model import load_model
    from dkluq_cli.cli.progress import Steps

    trained = load_model(model, device)
    claim = claim_output(model, output, "scan", force=force)
    with claim as out, Steps("scan") as steps:
        result = trained.scan(
            reference=reference,
            at=at,
            lattice_range=lattice_range,
            points=points,
            points_2d=points_2d,
            pairs=pair or [DEFAULT_PAIR],
            batch_size=batch_size,
            progress=steps,
        )
        steps("writing the tables")
        write_scan(result, out.staging)
        summary = summarise(result)
        if plots:
            from dkluq_cli.plots.scan import scan_figures

            steps("drawing the figures")
            scan_figures(result, summary["iso_minimum"], out.staging, fmt)
    _print_summary(summary)
    echo_result(str(out.folder))


def _print_summary(s: dict) -> None:
    """A few lines on stderr: reference, σ growth, isotropic minimum, domain counts."""
    from rich.markup import escape

    console = err_console()
    unit = s["target_unit"]
    ref = s["reference"]
    params = ", ".join(f"{k}={ref[k]:.4g}" for k in ("a", "b", "c", "alpha", "beta", "gamma"))
    console.print(escape(f"reference: {params} — {ref['chosen']}"))
    lo, hi = s["lattice_range"]
    console.print(
        f"σ at reference {s['std_reference']:.3g} {unit}"
        + ("" if s["reference_in_domain"] else " (reference outside the training domain)")
        + f"; at the ×{lo:g} / ×{hi:g} ends of the 1-D and isotropic scans "
        f"{s['edge_ratio_min']:.2g}–{max(max(v) for v in s['edge_std'].values()) / s['std_reference']:.2g}× that "
        f"(median {s['edge_ratio_median']:.2g}×)"
    )
    best = s["iso_minimum"]
    if best is not None:
        where = " at the edge of the scan: widen --lattice-range" if best["at_edge"] else ""
        console.print(
            f"isotropic minimum: a = {best['a']:.4f} Å (×{best['scale']:.4f}), "
            f"V = {best['volume_A3']:.3f} Å³, E = {best['energy']:.4f} ± {best['std']:.3g} {unit}{where}"
        )
    total = sum(s["rows"].values())
    outside = sum(s["rows_outside_domain"].values())
    invalid = sum(s["rows_invalid"].values())
    msg = f"{total:,} grid rows, {outside:,} outside the training domain (in_domain = false)"
    if invalid:
        msg += f", {invalid:,} impossible cells skipped (valid_cell = false)"
    console.print(
        msg + f"; {s['n_structures']:,} structures in {s['predict_seconds']:.2f} s on {s['device']}"
    )
