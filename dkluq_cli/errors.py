"""Errors the core raises for problems a user can fix.

Every expected failure (bad input file, missing column, impossible option) is a
:class:`DkluqError` carrying a one-line ``message`` and an optional ``hint``. The CLI turns it
into ``error: <message>`` / ``hint: <hint>`` on stderr and exit code 1; anything else is a bug
and exits 2.
"""

from __future__ import annotations


class DkluqError(Exception):
    """Base class of every error a user can act on.

    Args:
        message: One line saying what is wrong; names the file or option concerned.
        hint: Optional one line saying what to do about it.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(str(message).split())
        self.hint = " ".join(str(hint).split()) if hint else None

    def __str__(self) -> str:
        return self.message


class InputError(DkluqError):
    """An input path is missing, unreadable or not in a format dkluq understands."""


class TableError(DkluqError):
    """A table (CSV/Parquet) lacks columns, holds non-numeric or non-finite values, or is too small."""


class OutputError(DkluqError):
    """An output cannot be written: it exists (without ``--force``) or its folder is not writable."""


class ModelFileError(DkluqError):
    """A model file is missing, truncated, of another format version, or unsafe to load."""


class ModelInputMismatchError(DkluqError):
    """The input's features or units do not match the ones the model was trained on."""


class DeviceError(DkluqError):
    """The requested compute device is not available."""


class TrainingError(DkluqError):
    """Training failed numerically (e.g. a kernel matrix that stays non positive definite)."""


class VaspParseError(DkluqError):
    """A VASP file could not be read; ingest records this as a rejection reason."""


class PosteriorFitError(DkluqError):
    """A quantity fitted to posterior samples (an EOS, elastic constants) is not determined:
    too many of the per-sample fits failed, or the minimum lies outside the scanned range."""


def one_line(exc: BaseException | str) -> str:
    """An exception (its type, then its message) or a text on one line, white space collapsed:
    how a cause is quoted inside a one-line error or rejection reason."""
    text = " ".join(str(exc).split())
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text
