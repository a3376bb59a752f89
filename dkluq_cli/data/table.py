"""The lattice table: column names, units, validated reading and atomic writing.

A table has one row per structure. Lattice parameters follow pymatgen's
``Lattice.from_parameters`` convention: lengths ``a, b, c`` in Å and angles ``alpha, beta,
gamma`` in degrees. Energies are in eV (``energy_eV``) or eV/atom (``energy_per_atom_eV``).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dkluq_cli.data.output import atomic_write
from dkluq_cli.errors import InputError, TableError

if TYPE_CHECKING:
    import pandas as pd

LATTICE_COLUMNS: tuple[str, ...] = ("a", "b", "c", "alpha", "beta", "gamma")
"""The six lattice parameters, in this order everywhere."""

UNITS: dict[str, str] = {
    "a": "Å",
    "b": "Å",
    "c": "Å",
    "alpha": "deg",
    "beta": "deg",
    "gamma": "deg",
    "volume": "Å^3",
    "energy_eV": "eV",
    "energy_per_atom_eV": "eV/atom",
}
"""Units of the columns dkluq knows; other columns are unitless to dkluq."""


def unit_of(column: str) -> str:
    """Return the unit of a column name (``""`` if unknown).

    Args:
        column: Column name, e.g. ``"a"`` or ``"energy_eV"``.

    Returns:
        The unit string, e.g. ``"Å"``; names ending in ``_eV`` are eV.
    """
    if column in UNITS:
        return UNITS[column]
    if column.endswith("_per_atom_eV"):
        return "eV/atom"
    if column.endswith("_eV"):
        return "eV"
    return ""


@dataclass(frozen=True)
class TableUnits:
    """The units of a model's feature columns and of its target (:func:`unit_of` of each)."""

    features: tuple[str, ...]
    target: str

    @classmethod
    def of(cls, features: Sequence[str], target: str) -> TableUnits:
        """The units of these columns."""
        return cls(tuple(unit_of(f) for f in features), unit_of(target))

    @classmethod
    def unitless(cls, n_features: int) -> TableUnits:
        """No units (a bare array handed to :func:`dkluq_cli.training.train.train`)."""
        return cls(("",) * n_features, "")


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV or Parquet table into a DataFrame, with clear errors.

    Args:
        path: ``.csv`` (any other suffix is read as CSV) or ``.parquet`` file.

    Returns:
        The table.

    Raises:
        InputError: The path is missing, a folder, unreadable, or not a parseable table.
        TableError: The table has no rows.
    """
    import pandas as pd

    src = Path(path)
    if not src.exists():
        raise InputError(f"input {src} does not exist", hint="check the path")
    if src.is_dir():
        raise InputError(f"input {src} is a folder, not a table", hint="give a .csv file")
    if not src.is_file():  # a FIFO or device would block or stream forever
        raise InputError(f"input {src} is not a regular file", hint="give a .csv file")
    if not os.access(src, os.R_OK):
        raise InputError(f"input {src} is not readable (permission denied)")
    try:
        if src.suffix.lower() == ".parquet":
            df = pd.read_parquet(src)
        else:
            df = pd.read_csv(src, comment=None, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise TableError(f"table {src} is empty") from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"table {src} is not UTF-8 text (byte {exc.start})", hint="save it as UTF-8 CSV"
        ) from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot parse table {src}: {first}") from exc
    except Exception as exc:  # pyarrow raises its own types for corrupt Parquet
        raise InputError(f"cannot parse table {src}: {type(exc).__name__}: {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    dup = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dup:
        raise TableError(
            f"table {src} has duplicated column name(s): {', '.join(map(repr, dup))}",
            hint="rename or drop the extra columns",
        )
    if len(df) == 0:
        raise TableError(f"table {src} has no rows")
    return df


def require_columns(
    df: pd.DataFrame, columns: Sequence[str], *, source: str | os.PathLike[str] = "table"
) -> None:
    """Raise a :class:`TableError` naming every missing column (with near matches).

    Args:
        df: The table.
        columns: Required column names.
        source: File name used in the message.
    """
    missing = [c for c in columns if c not in df.columns]
    if not missing:
        return
    raise TableError(
        f"{source}: missing column(s) {', '.join(missing)}", hint=column_hint(df, missing)
    )


def column_hint(df: pd.DataFrame, missing: Sequence[str]) -> str:
    """``did you mean 'energy_eV' for 'energy_per_atom_eV'?`` for the missing names that have a
    close match among the table's columns, else the columns it has."""
    present = [str(c) for c in df.columns]
    near = {m: difflib.get_close_matches(m, present, n=1) for m in missing}
    pairs = [f"{n[0]!r} for {m!r}" for m, n in near.items() if n]
    if pairs:
        return "did you mean " + ", ".join(pairs) + "?"
    return f"columns present: {', '.join(present)}"


def numeric_block(
    df: pd.DataFrame, columns: Sequence[str], *, source: str | os.PathLike[str] = "table"
):  # -> numpy.ndarray
    """Return ``df[columns]`` as a float64 array, rejecting non-numeric or non-finite cells.

    Args:
        df: The table.
        columns: Columns to extract, in order.
        source: File name used in messages.

    Returns:
        Array of shape ``(len(df), len(columns))``.

    Raises:
        TableError: A column is missing, or a cell is empty, a string, NaN or infinite; the
            message names the column and the first offending row (1-based data row).
    """
    import numpy as np
    import pandas as pd

    require_columns(df, columns, source=source)
    out = np.empty((len(df), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        series = df[col]
        if isinstance(series, pd.DataFrame):
            raise TableError(f"{source}: column name {col!r} appears more than once")
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            cell = series.iloc[i]
            shown = repr(cell.item() if hasattr(cell, "item") else cell)[:60]
            raise TableError(
                f"{source}: column {col!r} has {int(bad.sum())} non-numeric or non-finite value(s),"
                f" first at data row {i + 1} ({shown})",
                hint="fix or drop those rows",
            )
        out[:, j] = values
    return out


def write_table(df: pd.DataFrame, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write a table atomically: Parquet when the name ends ``.parquet``, else CSV.

    Args:
        df: The table.
        path: Destination.
        force: Replace an existing file.

    Returns:
        The destination path.
    """
    dest = Path(path)
    with atomic_write(dest, force=force) as tmp:
        if dest.suffix.lower() == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, lineterminator="\n")
    return dest
