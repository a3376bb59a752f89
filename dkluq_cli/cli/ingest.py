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
            "--workers",
            "-j",
            min=1,
            help="Parallel worker processes (also the workers of --scheduler dask).",
            show_default="all cores",
        ),
    ] = None,
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            help="Re-read only new or changed runs; reuse the others from <stem>.ingest.jsonl.gz (which every ingest writes next to the table). Same files as a fresh ingest.",
        ),
    ] = False,
    scheduler: Annotated[
        str,
        typer.Option(
            "--scheduler",
            help="processes [default]: a local process pool; dask: a local Dask cluster of -j workers; tcp://HOST:PORT: a running Dask scheduler (e.g. from dask-jobqueue). Same table either way.",
        ),
    ] = "processes",
    cross_check: Annotated[
        bool,
        typer.Option(
            "--cross-check",
            help="Compare pymatgen's reading of every vasprun.xml, CONTCAR and POSCAR with ASE's (slower; by default only PSTRESS runs are; OUTCARs always are, ASE giving their structure).",
        ),
    ] = False,
    formula: Annotated[
        Optional[str],
        typer.Option(
            "--formula",
            help="Keep the runs of this composition only (e.g. SrTiO3; any multiple of it); the others are rejected with category 'composition'.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
) -> None:
    """Read VASP runs (vasprun.xml, OUTCAR, OSZICAR, CONTCAR) into one table of a, b, c, α, β, γ and energy."""
    from dkluq_cli.errors import InputError
    from dkluq_cli.ingest.pipeline import NothingAcceptedError, check_outputs, ingest, write_outputs

    for p in paths:
        if not p.exists() and not p.is_symlink():
            raise InputError(f"input path {p} does not exist", hint="check the path")
    out_paths = check_outputs(output, force=force, update=update)

    console = err_console()
    bar = _Bar(console)
    try:
        result = ingest(
            paths,
            energy_kind=energy.value,
            include_unconverged=include_unconverged,
            workers=workers,
            progress=bar.update,
            scheduler=scheduler,
            cross_check=cross_check,
            reuse=out_paths.sidecar if update else None,
            formula=formula,
        )
    finally:
        bar.stop()

    try:
        if not result.n_rows and not result.n_rejected:
            where = ", ".join(str(p) for p in paths)
            raise InputError(
                f"no VASP output files found under {where}",
                hint="looked for vasprun.xml, OUTCAR, OSZICAR, CONTCAR and POSCAR (also .gz/.bz2/.xz)",
            )
        _summary(console, result, update)
        try:
            write_outputs(result, out_paths, force=force)
        except NothingAcceptedError:
            echo_result(f"wrote {out_paths.rejected}: 0 accepted, {result.n_rejected} rejected")
            raise
        echo_result(
            f"wrote {out_paths.table}: {result.n_rows} accepted, {result.n_rejected} rejected"
            f" ({out_paths.extxyz}, {out_paths.rejected})"
        )
        if show_progress():  # i.e. not --quiet, like the summary
            _reference_line(console, result, out_paths)
    finally:
        result.close()


class _Bar:
    """A rich progress bar (runs done of runs found, runs/s), drawn for long walks only."""

    def __init__(self, console) -> None:  # rich Console
        self.console = console
        self.progress = None
        self.task = None

    def update(self, done: int, found: int) -> None:
        if self.progress is None:
            if found <= PROGRESS_ABOVE or not show_progress():
                return
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("reading runs"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
                auto_refresh=False,  # no drawing thread: worker processes may be forked later
            )
            self.progress.start()
            self.task = self.progress.add_task("runs", total=found, rate="")
        speed = self.progress.tasks[0].speed
        rate = f"{speed:,.0f} runs/s" if speed else ""
        self.progress.update(self.task, completed=done, total=found, rate=rate)
        self.progress.refresh()

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _reference_line(console, result, out_paths) -> None:
    """Which reference crystal ``train`` will use, and where it was written."""
    from rich.markup import escape

    if result.parent_line is None:
        console.print(
            "reference crystal: none written (the accepted runs mix compositions); dkluq train "
            "rebuilds each composition's parent crystal from the .extxyz, or takes --reference"
        )
        return
    console.print(
        f"reference crystal: {escape(result.parent_line)} → {escape(str(out_paths.reference))}"
        " (dkluq train uses it; --reference POSCAR overrides)"
    )


def _summary(console, result, update: bool) -> None:  # rich Console, IngestResult
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="dkluq ingest", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("what")
    table.add_column("runs", justify="right")
    table.add_row("accepted", f"energy kind {result.energy_kind}", str(result.n_rows))
    for category, n in sorted(result.rejected_by_category.items()):
        table.add_row("rejected", escape(category), str(n))
    for formula, n in sorted(result.compositions.items()):
        table.add_row("composition", escape(formula), str(n))
    if update:
        table.add_row("update", "reused (files unchanged)", str(result.stats.reused))
        table.add_row("update", "read (new or changed)", str(result.stats.read))
    if show_progress():  # i.e. not --quiet
        console.print(table)
    for line in result.warnings:
        console.print(f"[bold yellow]warning:[/] {escape(line)}")
