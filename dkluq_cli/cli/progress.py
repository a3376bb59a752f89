"""What a long command is doing, drawn on stderr from the core's plain callbacks.

The core reports each step with a one-line message (``status("fitting the exact GP on 85
rows")``) and, for training epochs, a count; :class:`Steps` draws the current step with a
spinner and the time spent on it, and a bar when the step has a count. Nothing is drawn under
``--quiet``, and the line disappears when the command ends (its summary follows).
"""

from __future__ import annotations

from typing import Any

from dkluq_cli.cli.common import err_console, show_progress


class Steps:
    """A status line (and bar) for one command; call it with each step's message.

    Use as a context manager; the drawing starts at the first message, so an input error
    before any step is printed bare.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.progress: Any = None
        self.task: Any = None
        self.message = ""

    def _start(self) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn(f"[bold]{self.label}[/]"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(),
            console=err_console(),
            transient=True,
        )
        self.progress.start()

    def __call__(self, message: str) -> None:
        """Start a new step (a new message resets the clock)."""
        if not show_progress():
            return
        if self.progress is None:
            self._start()
        if message == self.message and self.task is not None:
            return
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.message = message
        self.task = self.progress.add_task(message, total=None, count="")

    def count(self, message: str, done: int, total: int, info: str = "") -> None:
        """Report ``done`` of ``total`` within the step ``message`` (drawn as a bar)."""
        self(message)
        if self.task is not None:
            counted = f"{done}/{total}" + (f"  {info}" if info else "")
            self.progress.update(self.task, completed=done, total=total, count=counted)

    def close(self) -> None:
        """Remove the line."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
