"""Shared CLI plumbing: the options every command shares, consoles, logging and the error convention.

Options are declared here once, as ``Annotated`` aliases, with one name each (``--plots/
--no-plots`` everywhere); their choices come from the core module that owns them
(:func:`owned_choices`), and a bad value is refused once, here at the edge.

Expected failures (:class:`~dkluq_cli.errors.DkluqError`) and bad option values print ``error:
<message>`` and ``hint: <hint>`` on stderr and exit 1; anything unexpected prints the same
one-line form and exits 2. The stack is printed only with the global ``--traceback`` option.
Progress and logs go to stderr; stdout carries only results.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import logging
import sys
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from dkluq_cli.errors import DkluqError, one_line
from dkluq_cli.model.device import DEVICES
from dkluq_cli.plots.figure import FORMATS

if TYPE_CHECKING:
    from dkluq_cli.data.output import StagedFolder

F = TypeVar("F", bound=Callable[..., Any])


def owned_choices(module: str, name: str) -> tuple[str, ...]:
    """The choices a core module defines as ``name`` (a tuple of strings, or a dict keyed by
    them), read from the module's source.

    Importing the owner would pull torch or numpy into ``dkluq --help``; reading its source
    keeps one list, in the module that implements the choices.

    Raises:
        LookupError: The module defines no such literal.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise LookupError(f"no module {module}")
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if not any(isinstance(t, ast.Name) and t.id == name for t in targets):
            continue
        value = getattr(node, "value", None)
        if isinstance(value, ast.Dict):
            return tuple(str(ast.literal_eval(k)) for k in value.keys if k is not None)
        if value is not None:
            return tuple(str(v) for v in ast.literal_eval(value))
    raise LookupError(f"{module} defines no literal {name}")


def one_of(choices: tuple[str, ...]) -> Any:
    """The ``Literal`` type of ``choices`` (Typer shows and checks them)."""
    return Literal[choices]  # type: ignore[valid-type]


@dataclass
class GlobalState:
    """Options given before the subcommand."""

    verbose: int = 0
    quiet: bool = False
    traceback: bool = False


state = GlobalState()


class BadValue(typer.BadParameter):
    """A bad option value, with a hint (raised by the checks of the options below)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def format_message(self) -> str:
        return self.message  # the core's message names the option itself


def edge_check(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A Typer callback running a core check on the value; a ``DkluqError`` it raises becomes
    a bad option value (one ``error:`` line, exit 1)."""

    def callback(value: Any) -> Any:
        if value is None:
            return value
        try:
            check(value)
        except DkluqError as exc:
            raise BadValue(exc.message, exc.hint or "") from None
        return value

    return callback


def _lattice_range(value: tuple[float, float]) -> None:
    from dkluq_cli.analysis.grids import check_lattice_range

    check_lattice_range(value)


def _lattice_range_option(what: str) -> Any:
    return typer.Option(
        "--lattice-range", metavar="LO HI", callback=edge_check(_lattice_range), help=what
    )


# --- options shared by several commands, one declaration each --------------------------------

ModelPath = Annotated[
    Path,
    typer.Argument(help="model.pt from `dkluq train` (or its run folder).", readable=False),
]
Device = Annotated[one_of(DEVICES), typer.Option(help="Compute device.")]
Plots = Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the figures.")]
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace an existing output (what this command wrote there before is removed).",
    ),
]
Seed = Annotated[int, typer.Option(help="Random seed.")]
BatchSize = Annotated[int, typer.Option(min=1, help="Structures per forward pass.")]
Reference = Annotated[
    Optional[Path],
    typer.Option(
        help="Structure file (POSCAR, CIF, ...) of the reference crystal; default: the "
        "model's stored one, else the centre of the training domain.",
        readable=False,
    ),
]
FigureFormat = Annotated[one_of(FORMATS), typer.Option("--format", help="Figure format.")]
EosName = Annotated[
    one_of(owned_choices("dkluq_cli.analysis.eos", "EOS_NAMES")),
    typer.Option("--eos", help="Equation of state (fitted by pymatgen)."),
]
Strategy = Annotated[
    one_of(owned_choices("dkluq_cli.analysis.suggest", "STRATEGIES")),
    typer.Option(
        help="batch: greedy max. variance conditioned on earlier picks (high σ and diverse); "
        "max-std: the N largest σ; random: uniform in the box."
    ),
]
ScanRange = Annotated[
    tuple[float, float],
    _lattice_range_option(
        "Relative factors for lengths and angles alike (0.9 1.1 = ±10 %; 0.8 1.2 reaches "
        "beyond a ±10 % training set)."
    ),
]
EosRange = Annotated[
    tuple[float, float],
    _lattice_range_option(
        "Scale factors of a, b, c along the isotropic line. The default ±6 % in length "
        "(±18 % in volume) is the usual window of an EOS fit; scan and suggest default to "
        "±10 %, the extent of a typical training set."
    ),
]
BoxRange = Annotated[
    Optional[tuple[float, float]],
    _lattice_range_option(
        "Box: every lattice parameter in [LO, HI] × the reference value (default 0.9 1.1; "
        "0.95 1.05 with --for elastic|eos, where runs near the cell teach most)."
    ),
]
SuggestFor = Annotated[
    one_of(owned_choices("dkluq_cli.analysis.targeted", "TARGETS")),
    typer.Option(
        "--for",
        help="What the runs should teach: energy (σ of the energy), elastic (the components of "
        "C) or eos (a0 and B0): picks that shrink that posterior variance.",
    ),
]


def output_folder(command: str) -> Any:
    """The ``-o/--output`` option of a command that writes a folder."""
    return typer.Option(
        "-o",
        "--output",
        help=f"Output folder (default: {command}/ in the model's run folder, replaced on every "
        "rerun; a folder given here that exists needs --force).",
        readable=False,
        show_default=False,
    )


def default_output(model: Path, command: str) -> Path:
    """Where a command writes by default: ``<run>/<command>/`` next to ``model.pt`` (a model file
    of another name gets ``<stem>-<command>/`` beside it)."""
    if model.is_dir():
        return model / command
    if model.name == "model.pt":
        return model.parent / command
    return model.parent / f"{model.stem}-{command}"


def claim_output(
    model: Path, output: Path | None, command: str, *, force: bool
) -> AbstractContextManager[StagedFolder]:
    """The command's output folder, staged (:func:`dkluq_cli.data.output.command_output`): ``-o``
    when given (an existing, non-empty one needs ``--force``), else :func:`default_output`,
    the command's own folder, whose previous output a rerun replaces."""
    from dkluq_cli.data.output import command_output

    folder = output if output is not None else default_output(model, command)
    return command_output(folder, command, force=force, owned=output is None)


# --- the error convention ---------------------------------------------------------------------


def _bare_flags(params: list[Any]) -> list[Any]:
    """The parameters, flags given an empty metavar: a flag takes no value, so help shows no
    "<bool>" beside it."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class DkluqCommand(TyperCommand):
    """A ``dkluq`` subcommand (flags shown without a value type)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _bare_flags(super().get_params(ctx))


class DkluqGroup(TyperGroup):
    """The ``dkluq`` group: a bad option value is one ``error:`` line and exit 1, like every other
    error a user can fix (Typer would draw a usage panel and exit 2)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.BadParameter as exc:
            if type(exc).__name__ == "MissingParameter":  # a usage problem: Typer's panel helps
                raise
            configure_logging()
            sub = ctx.invoked_subcommand
            hint = getattr(exc, "hint", "") or f"see dkluq {sub + ' ' if sub else ''}--help"
            message = exc.format_message().replace("Value error, ", "")
            report_error(DkluqError(message, hint=hint), unexpected=False)
            raise typer.Exit(code=1) from None

    def get_params(self, ctx: Any) -> list[Any]:
        return _bare_flags(super().get_params(ctx))


def err_console():  # -> rich.console.Console
    """A rich console on the *current* stderr (created per call so test runners can capture it)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_table(table: Any) -> None:
    """Print a rich table on stderr at its natural width: cut to the terminal only on a terminal
    (a log file or pipe gets every column whole)."""
    from rich.measure import Measurement

    console = err_console()
    if not console.is_terminal:
        wide = console.options.update_width(10_000)
        console.width = max(console.width, Measurement.get(console, wide, table).maximum)
    console.print(table)


def configure_logging() -> None:
    """Route the ``dkluq_cli`` logger to stderr at the level the global options ask for."""
    from rich.logging import RichHandler

    level = logging.INFO
    if state.verbose:
        level = logging.DEBUG
    elif state.quiet:
        level = logging.WARNING
    logger = logging.getLogger("dkluq_cli")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = RichHandler(console=err_console(), show_time=False, show_path=False, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def show_progress() -> bool:
    """Whether to draw progress bars (not with ``--quiet``)."""
    return not state.quiet


def report_error(err: BaseException, *, unexpected: bool) -> None:
    """Print the one-line error (and hint) on stderr; the stack only under ``--traceback``."""
    from rich.markup import escape

    console = err_console()
    if state.traceback:
        console.print(escape("".join(traceback.format_exception(err))), style="dim")
    if unexpected:
        msg = one_line(err)
        console.print(f"[bold red]error:[/] {escape(msg)}")
        if not state.traceback:
            console.print(
                "[dim]hint: this is a bug in dkluq or an input it does not expect; "
                "rerun with --traceback for the stack and report it[/]"
            )
        return
    assert isinstance(err, DkluqError)
    console.print(f"[bold red]error:[/] {escape(err.message)}")
    if err.hint:
        console.print(f"[dim]hint: {escape(err.hint)}[/]")


def command(fn: F) -> F:
    """Wrap a subcommand with the logging set-up and the error convention."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        configure_logging()
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except DkluqError as err:
            report_error(err, unexpected=False)
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            err_console().print("[bold red]error:[/] interrupted")
            raise typer.Exit(code=130) from None
        except Exception as err:  # noqa: BLE001 - the one place unexpected errors are reported
            report_error(err, unexpected=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def echo_result(text: str) -> None:
    """Print a result line on stdout."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
