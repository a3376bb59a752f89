"""``dkluq train``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dkluq_cli.cli.common import command
from dkluq_cli.errors import DkluqError, InputError


@command
def train_cmd(
    path: Annotated[Path, typer.Argument(help="Input.")],
) -> None:
    """Not implemented yet."""
    if not path.exists():
        raise InputError(f"input path {path} does not exist", hint="check the path")
    raise DkluqError("dkluq train is not implemented yet")
