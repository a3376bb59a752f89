"""What every dkluq figure shares: a fresh figure, the formats, the atomic save, titles that fit.

Figures are built with the object-oriented :class:`matplotlib.figure.Figure` API, so nothing
touches pyplot's global state, no GUI backend is needed and no figure is left open. The format
comes from the path's suffix (``.png``, ``.svg`` or ``.pdf``); raster output is 150 dpi; every
file goes through :func:`dkluq_cli.data.output.atomic_write` (temporary file in the same folder,
then rename; an existing file is replaced). matplotlib is imported only when a figure is made,
so the CLI can read :data:`FORMATS` for ``--format`` without it.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkluq_cli.data.output import atomic_write
from dkluq_cli.errors import OutputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Resolution of raster output (dots per inch).
DPI = 150
#: Formats a figure may be written in, by path suffix.
FORMATS = ("png", "svg", "pdf")
#: Characters per inch of figure width that a title of font size 10 may use before it wraps.
_CHARS_PER_INCH = 12.5


def new_figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, Any]:
    """A fresh figure not registered with pyplot, with ``ncols`` axes side by side."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def format_of(path: str | os.PathLike[str]) -> str:
    """The output format implied by the path's suffix.

    Raises:
        OutputError: The suffix is not one of :data:`FORMATS`.
    """
    dest = Path(path)
    fmt = dest.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise OutputError(
            f"cannot write figure {dest}: unknown format {dest.suffix or '(no suffix)'}",
            hint="use a .png, .svg or .pdf file name",
        )
    return fmt


def save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` atomically to ``path`` in the format its suffix names; return the path."""
    dest = Path(path)
    fmt = format_of(dest)
    with atomic_write(dest, force=True) as tmp:
        # the temporary name ends in .tmp, so the format must be given explicitly
        fig.savefig(tmp, format=fmt, dpi=DPI)
    return dest


def fit_title(text: str, width_inches: float, fontsize: float = 10.0) -> str:
    """``text`` broken into lines that fit a figure ``width_inches`` wide at ``fontsize``.

    matplotlib never wraps a title: a long one runs off the right edge of the image.
    """
    chars = max(20, int(width_inches * _CHARS_PER_INCH * 10.0 / fontsize))
    return "\n".join(textwrap.wrap(text, chars, break_long_words=False)) or text


__all__ = ["DPI", "FORMATS", "fit_title", "format_of", "new_figure", "save"]
