"""``dkluq ingest``: VASP run trees → lattice-parameter and energy table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dkluq_cli.cli.common import command
from dkluq_cli.errors import DkluqError, InputError


@command
def ingest_cmd(
    paths: Annotated[
        list[Path], typer.Argument(help="Run folders, trees of them, or single files.")
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Table to write (.csv or .parquet).")
    ] = Path("table.csv"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
) -> None:
    """Read VASP runs (vasprun.xml, OUTCAR, OSZICAR, CONTCAR) into one table of a, b, c, α, β, γ and energy."""
    for p in paths:
        if not p.exists():
            raise InputError(f"input path {p} does not exist", hint="check the path")
    del output, force
    raise DkluqError("dkluq ingest is not implemented yet")
