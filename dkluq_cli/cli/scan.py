"""``dkluq scan``: the energy landscape around a reference crystal, with σ, in and beyond the
training domain."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from dkluq_cli.cli.common import Device, command, echo_result, err_console


class Format(str, Enum):
    png = "png"
    svg = "svg"
    pdf = "pdf"


def _check_range(value: Optional[tuple[float, float]]) -> Optional[tuple[float, float]]:
    from dkluq_cli.analysis.grids import lattice_range_problem

    problem = None if value is None else lattice_range_problem(*value)
    if problem:
        raise typer.BadParameter(problem)
    return value


def _check_pairs(values: Optional[list[str]]) -> Optional[list[str]]:
    from dkluq_cli.crystal.lattice import parse_pair
    from dkluq_cli.errors import DkluqError

    for v in values or []:
        try:
            parse_pair(v)
        except DkluqError as exc:
            raise typer.BadParameter(exc.message + (f" ({exc.hint})" if exc.hint else "")) from None
    return values


@command
def scan_cmd(
    model: Annotated[
        Path,
        typer.Argument(help="model.pt from `dkluq train` (or its run folder).", readable=False),
    ],
    lattice_range: Annotated[
        tuple[float, float],
        typer.Option(
            "--lattice-range",
            metavar="LO HI",
            callback=_check_range,
            help="Relative factors for lengths and angles alike (0.9 1.1 = ±10 %; 0.8 1.2 reaches "
            "beyond a ±10 % training set).",
        ),
    ] = (0.9, 1.1),
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
            callback=_check_pairs,
            help="2-D map of two parameters, e.g. a,alpha (repeatable; default a,alpha).",
        ),
    ] = None,
    reference: Annotated[
        Optional[Path],
        typer.Option(
            "--reference",
            help="POSCAR/CONTCAR whose lattice parameters are the reference.",
            readable=False,
        ),
    ] = None,
    at: Annotated[
        Optional[str],
        typer.Option(
            "--at",
            help="Reference values, e.g. a=3.914,alpha=90 (Å, degrees); overrides single "
            "parameters of the reference.",
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Figure format.")] = Format.png,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the figures.")] = True,
    device: Annotated[Device, typer.Option(help="Compute device.")] = Device.auto,
    batch_size: Annotated[int, typer.Option(min=1, help="Grid points per forward pass.")] = 8192,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "-o", "--output", help="Output folder (default scan_<model stem>).", readable=False
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty output folder.")
    ] = False,
) -> None:
    """Scan energy ± σ around a reference crystal: six 1-D scans, the isotropic (equation-of-state)
    line and 2-D maps, each flagged in/out of the training domain.

    The reference is --reference POSCAR, else the model's stored reference structure, else the
    centre of the training domain; --at overrides single values. Writes scan_1d.csv,
    scan_iso.csv, scan_2d_<p>_<q>.csv, scan_summary.json and figures into the output folder,
    whose path is the only line on stdout.
    """
    from dkluq_cli.analysis.centre import choose_centre
    from dkluq_cli.analysis.lattice_model import load_lattice_model
    from dkluq_cli.analysis.scan import DEFAULT_PAIR, run_scan
    from dkluq_cli.analysis.scan_report import summarise, write_scan
    from dkluq_cli.crystal.lattice import parse_pair
    from dkluq_cli.data.output import prepare_output_dir

    stem = model.parent.name if model.name == "model.pt" else model.stem
    out_dir = output if output is not None else Path(f"scan_{stem}")
    pairs = [parse_pair(p) for p in pair] if pair else [DEFAULT_PAIR]
    surrogate = load_lattice_model(model, device.value, "scan")
    ref = choose_centre(surrogate, reference, at)
    prepare_output_dir(out_dir, force=force)
    result = run_scan(
        surrogate,
        ref,
        lattice_range=lattice_range,
        points=points,
        points_2d=points_2d,
        pairs=pairs,
        batch_size=batch_size,
    )
    write_scan(result, out_dir)
    summary = summarise(result)
    if plots:
        from dkluq_cli.plots.scan import scan_figures

        scan_figures(result, summary["iso_minimum"], out_dir, fmt.value)
    _print_summary(summary)
    echo_result(str(out_dir))


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
