"""``dkluq ingest``: VASP run trees → lattice-parameter and energy table."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from dkluq_cli.cli.common import command, echo_result, err_console, show_progress

PROGRESS_ABOVE = 36
"""Draw a progress bar only for trees with more runs than this."""


class EnergyKind(str, Enum):
    """Which VASP energy to tabulate."""

    sigma0 = "sigma0"
    free = "free"


@command
def ingest_cmd(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Run folders, trees of them, or single files.", readable=False),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Table to write (.csv or .parquet); also writes <stem>.extxyz and <stem>.rejected.csv.",
        ),
    ] = Path("table.csv"),
    energy: Annotated[
        EnergyKind,
        typer.Option(
            "--energy",
            help="sigma0: energy(sigma→0) [default]; free: free energy TOTEN. Recorded in the energy_kind column.",
        ),
    ] = EnergyKind.sigma0,
    include_unconverged: Annotated[
        bool,
        typer.Option(
            "--include-unconverged",
            help="Keep electronically/ionically unconverged runs (flagged in converged_* columns).",
        ),
    ] = False,
    workers: Annotated[
        Optional[int],
        typer.Option(
            "--workers", "-j", min=1, help="Parallel worker processes [default: all cores]."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
) -> None:
    """Read VASP runs (vasprun.xml, OUTCAR, OSZICAR, CONTCAR) into one table of a, b, c, α, β, γ and energy."""
    from dkluq_cli.errors import InputError
    from dkluq_cli.ingest import NothingAcceptedError, check_outputs, ingest, write_outputs

    for p in paths:
        if not p.exists() and not p.is_symlink():
            raise InputError(f"input path {p} does not exist", hint="check the path")
    out_paths = check_outputs(output, force=force)

    console = err_console()
    bar: dict = {}

    def progress(done: int, total: int) -> None:
        if total <= PROGRESS_ABOVE or not show_progress():
            return
        if "p" not in bar:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            bar["p"] = Progress(
                TextColumn("reading runs"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            bar["p"].start()
            bar["t"] = bar["p"].add_task("runs", total=total)
        bar["p"].update(bar["t"], completed=done)

    try:
        result = ingest(
            paths,
            energy_kind=energy.value,
            include_unconverged=include_unconverged,
            workers=workers,
            progress=progress,
        )
    finally:
        if "p" in bar:
            bar["p"].stop()

    if not result.rows and not result.rejected:
        where = ", ".join(str(p) for p in paths)
        raise InputError(
            f"no VASP output files found under {where}",
            hint="looked for vasprun.xml, OUTCAR, OSZICAR, CONTCAR and POSCAR (also .gz/.bz2/.xz)",
        )
    _summary(console, result)
    try:
        write_outputs(result, out_paths, force=force)
    except NothingAcceptedError:
        echo_result(f"wrote {out_paths.rejected}: 0 accepted, {len(result.rejected)} rejected")
        raise
    echo_result(
        f"wrote {out_paths.table}: {len(result.rows)} accepted, {len(result.rejected)} rejected"
        f" ({out_paths.extxyz}, {out_paths.rejected})"
    )


def _summary(console, result) -> None:  # rich Console, IngestResult
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="dkluq ingest", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("what")
    table.add_column("runs", justify="right")
    table.add_row("accepted", f"energy kind {result.energy_kind}", str(len(result.rows)))
    for category, n in sorted(result.rejected_by_category.items()):
        table.add_row("rejected", escape(category), str(n))
    for formula, n in sorted(result.compositions.items()):
        table.add_row("composition", escape(formula), str(n))
    if show_progress():  # i.e. not --quiet
        console.print(table)
    for line in result.warnings:
        console.print(f"[bold yellow]warning:[/] {escape(line)}")
