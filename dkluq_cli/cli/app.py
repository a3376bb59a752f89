"""The ``dkluq`` Typer app: global options and subcommand registration.

Subcommand modules are imported here, but each imports torch/gpytorch/pymatgen only inside its
function body, so ``dkluq --help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from dkluq_cli import __version__
from dkluq_cli.cli import elastic, eos, ingest, predict, scan, suggest, train
from dkluq_cli.cli.common import DkluqCommand, DkluqGroup, state

app = typer.Typer(
    name="dkluq",
    cls=DkluqGroup,
    help=(
        "Learn DFT total energy over lattice parameters (a, b, c, α, β, γ) with deep kernel "
        "learning, and say with every prediction how far to trust it."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dkluq {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="More log output (repeatable).")
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Only warnings and errors; no progress bars.")
    ] = False,
    show_traceback: Annotated[
        bool, typer.Option("--traceback", "-T", help="Show the full stack on errors.")
    ] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """Global options, given before the subcommand."""
    del version
    if verbose and quiet:
        raise typer.BadParameter("-v and -q exclude each other", param_hint="-v/-q")
    state.verbose = verbose
    state.quiet = quiet
    state.traceback = show_traceback


app.command("ingest", cls=DkluqCommand)(ingest.ingest_cmd)
app.command("train", cls=DkluqCommand)(train.train_cmd)
app.command("predict", cls=DkluqCommand)(predict.predict_cmd)
app.command("scan", cls=DkluqCommand)(scan.scan_cmd)
app.command("suggest", cls=DkluqCommand)(suggest.suggest_cmd)
app.command("eos", cls=DkluqCommand)(eos.eos_cmd)
app.command("elastic", cls=DkluqCommand)(elastic.elastic_cmd)


def main() -> None:
    """Console-script entry point."""
    app()
