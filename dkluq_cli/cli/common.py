"""Shared CLI plumbing: global options, consoles, logging and the error convention.

Expected failures (:class:`~dkluq_cli.errors.DkluqError`) print ``error: <message>`` and
``hint: <hint>`` on stderr and exit 1; anything unexpected prints the same one-line form and
exits 2. The stack is printed only with the global ``--traceback`` option. Progress and logs go
to stderr; stdout carries only results.
"""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import typer

from dkluq_cli.errors import DkluqError

F = TypeVar("F", bound=Callable[..., Any])


class Device(str, Enum):
    """``--device`` choices of every command that runs the model."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


@dataclass
class GlobalState:
    """Options given before the subcommand."""

    verbose: int = 0
    quiet: bool = False
    traceback: bool = False


state = GlobalState()


def err_console():  # -> rich.console.Console
    """A rich console on the *current* stderr (created per call so test runners can capture it)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


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


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def report_error(err: BaseException, *, unexpected: bool) -> None:
    """Print the one-line error (and hint) on stderr; the stack only under ``--traceback``."""
    from rich.markup import escape

    console = err_console()
    if state.traceback:
        console.print(escape("".join(traceback.format_exception(err))), style="dim")
    if unexpected:
        msg = f"{type(err).__name__}: {_one_line(str(err))}" if str(err) else type(err).__name__
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
