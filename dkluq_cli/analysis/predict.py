"""Predictions with uncertainty for new structures (the core of ``dkluq predict``).

Inputs (:func:`load_inputs`) are a table (CSV/Parquet) holding the model's feature columns, a
VASP run tree or output file (ingested on the fly, so the energies it holds are compared), or
structures: any file ASE or pymatgen reads (POSCAR/CONTCAR, CIF, ingest's extxyz ...), a folder
of them, or in memory (pymatgen ``Structure``, ASE ``Atoms``), each row named in a
``structure`` column. Output columns, for a target ``energy_eV``:
``energy_mean_eV``, ``energy_std_eV`` (calibrated σ), ``energy_lo95_eV``, ``energy_hi95_eV``,
``in_domain`` and ``domain_reason`` (empty when in domain); and, when the input carries the
target, ``energy_error_eV`` (mean − true) and ``energy_z`` (error / σ).

Composition is part of the domain: rows whose ``formula`` (a structure's, or a table's column)
is not the model's are refused (:func:`check_compositions`), unless the caller opts in, and then
flagged out of domain with the reason.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.analysis.lattice_model import domain_check, feature_ranges, trained_formula
from dkluq_cli.crystal.structure_io import (
    NamedStructure,
    as_structure,
    is_structure_name,
    read_structures,
    structure_files,
    structure_names,
)
from dkluq_cli.data.table import numeric_block, read_table, require_columns
from dkluq_cli.errors import DkluqError, InputError, ModelInputMismatchError
from dkluq_cli.ingest.pipeline import ingest
from dkluq_cli.uq.metrics import Z_95, regression_metrics

if TYPE_CHECKING:
    import pandas as pd

    from dkluq_cli.model.surrogate import Surrogate

logger = logging.getLogger(__name__)


def output_columns(target: str) -> dict[str, str]:
    """Names of the prediction columns for a target column name.

    ``energy_eV`` → ``energy_mean_eV`` ...; ``energy_per_atom_eV`` → ``energy_per_atom_mean_eV``;
    a target without a unit suffix ``y`` → ``y_mean`` ...
    """
    base, unit = (target[:-3], "_eV") if target.endswith("_eV") else (target, "")
    return {
        "mean": f"{base}_mean{unit}",
        "std": f"{base}_std{unit}",
        "lo95": f"{base}_lo95{unit}",
        "hi95": f"{base}_hi95{unit}",
        "error": f"{base}_error{unit}",
        "z": f"{base}_z",
    }


#: Suffixes read as tables; any other file is read as structures.
TABLE_SUFFIXES = (".csv", ".parquet", ".tsv")
#: Name prefixes of VASP output files: a file or folder holding them is ingested.
VASP_OUTPUTS = ("vasprun.xml", "OUTCAR", "OSZICAR")


def structure_frame(structures: list[NamedStructure]) -> pd.DataFrame:
    """One row per structure: ``structure`` (its name), the lattice parameters, volume, formula,
    n_atoms, and the scalar information its file gave (an extxyz frame's energy ...)."""
    import pandas as pd

    rows = []
    for item in structures:
        lat, st = item.structure.lattice, item.structure
        row = {"structure": item.name, **{k: v for k, v in item.info.items() if k != "structure"}}
        row.update(
            a=lat.a,
            b=lat.b,
            c=lat.c,
            alpha=lat.alpha,
            beta=lat.beta,
            gamma=lat.gamma,
            volume=lat.volume,
            formula=st.composition.reduced_formula,
            n_atoms=len(st),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def frame_of(inputs: Any) -> tuple[pd.DataFrame, str]:
    """Whatever ``predict`` was given, as a table and a name for messages.

    Args:
        inputs: A DataFrame, a path (table, structure file, folder, VASP tree), or a pymatgen
            ``Structure`` / ASE ``Atoms`` or a list of them.

    Raises:
        InputError: Missing, unreadable, or not a table nor structures.
    """
    import pandas as pd

    if isinstance(inputs, pd.DataFrame):
        return inputs, "DataFrame"
    if isinstance(inputs, str | Path):
        return load_inputs(Path(inputs)), str(inputs)
    items = list(inputs) if isinstance(inputs, list | tuple) else [inputs]
    named = [
        NamedStructure(name, as_structure(obj))
        for name, obj in zip(structure_names(items), items, strict=True)
    ]
    if not named:
        raise InputError("no structures given")
    return structure_frame(named), "structures"


def load_inputs(path: Path) -> pd.DataFrame:
    """Read a file or folder given to ``dkluq predict`` into a table.

    Raises:
        InputError: Missing or unreadable input.
    """
    if not path.exists():
        raise InputError(f"input {path} does not exist", hint="check the path")
    if path.is_dir():
        if _holds_vasp_outputs(path) or not structure_files(path):
            return _ingest_tree(path)
        return structure_frame(read_structures(path))
    if not path.is_file():  # a FIFO or device would block or stream forever
        raise InputError(f"input {path} is not a regular file")
    if path.suffix.lower() in TABLE_SUFFIXES:
        return read_table(path)
    if path.name.startswith(VASP_OUTPUTS):
        return _ingest_tree(path)
    try:
        return structure_frame(read_structures(path))
    except InputError:
        if is_structure_name(path):
            raise
        table = _table_or_none(path)  # a table under another suffix (data.txt)
        if table is None:
            raise
        return table


def _holds_vasp_outputs(folder: Path) -> bool:
    """Whether a VASP output file (:data:`VASP_OUTPUTS`) lies under ``folder``."""
    return any(
        any(n.startswith(VASP_OUTPUTS) for n in names) for _root, _dirs, names in os.walk(folder)
    )


def _table_or_none(path: Path) -> pd.DataFrame | None:
    """``path`` read as a table with at least two columns, else None."""
    try:
        table = read_table(path)
    except DkluqError:
        return None
    return table if table.shape[1] >= 2 else None


def _ingest_tree(path: Path) -> pd.DataFrame:
    """Ingest a VASP tree on the fly (converged runs only); rejected runs are logged."""
    import pandas as pd

    result = ingest([path], workers=1)
    for rej in result.rejected:
        logger.warning("skipped %s: %s", rej["run"], rej["reason"])
    if not result.rows:
        raise InputError(
            f"no usable VASP run found under {path} ({len(result.rejected)} rejected)",
            hint=f"run `dkluq ingest {path}` to see the reasons",
        )
    return pd.DataFrame(result.rows)


def check_units(x: np.ndarray, surrogate: Surrogate, source: str) -> None:
    """Refuse inputs whose typical values are far outside the training range (wrong units).

    A feature whose median lies below half the training minimum or above twice the training
    maximum is taken as a unit mismatch (e.g. nm or bohr for Å, radians for degrees).
    """
    ranges = feature_ranges(surrogate)
    if not ranges:
        return
    med = np.median(x, axis=0)
    bad = []
    for f, m, u in zip(surrogate.features, med, surrogate.feature_units, strict=True):
        a, b = ranges[f]
        if (a > 0 and m < 0.5 * a) or (b > 0 and m > 2.0 * b):
            bad.append(f"{f} (median {m:.4g}, trained on {a:.4g}–{b:.4g} {u})")
    if bad:
        raise ModelInputMismatchError(
            f"{source}: values look like different units from the model's: {'; '.join(bad)}",
            hint="convert to the model's units (lengths in Å, angles in degrees)",
        )


def reduced_formula(formula: str) -> str:
    """A formula in pymatgen's reduced form (``Sr2Ti2O6`` → ``SrTiO3``); unparsable text as given."""
    from pymatgen.core import Composition

    try:
        return Composition(str(formula)).reduced_formula
    except (ValueError, KeyError, TypeError):
        return str(formula).strip()


def other_compositions(surrogate: Surrogate, df: pd.DataFrame) -> np.ndarray:
    """Boolean (n,): rows whose ``formula`` differs from the model's (all False when either is
    unknown)."""
    trained = trained_formula(surrogate)
    if not trained or "formula" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    known = reduced_formula(trained)
    cache: dict[str, str] = {}
    out = np.zeros(len(df), dtype=bool)
    for i, f in enumerate(df["formula"].to_numpy()):
        if f is None or (isinstance(f, float) and np.isnan(f)) or not str(f).strip():
            continue
        key = str(f)
        if key not in cache:
            cache[key] = reduced_formula(key)
        out[i] = cache[key] != known
    return out


def check_compositions(
    surrogate: Surrogate, df: pd.DataFrame, source: str, allow: bool = False
) -> np.ndarray:
    """Refuse rows of another composition than the model's, or (``allow``) return them.

    Returns:
        Boolean (n,): the rows of another composition (all False when the table or the model
        names none).

    Raises:
        ModelInputMismatchError: Such rows exist and ``allow`` is False.
    """
    other = other_compositions(surrogate, df)
    if other.any() and not allow:
        found = sorted({reduced_formula(f) for f in df.loc[other, "formula"]})
        shown = ", ".join(found[:3]) + (" ..." if len(found) > 3 else "")
        what = (
            f"holds {shown} ({int(other.sum())} of {len(df)} rows)"
            if len(df) > 1
            else f"is {shown}"
        )
        raise ModelInputMismatchError(
            f"{source} {what} but the model was trained on "
            f"{reduced_formula(trained_formula(surrogate) or '')}",
            hint="use a model of that composition, or --allow-other-compositions to predict "
            "anyway (flagged out of domain)",
        )
    return other


def predict_frame(
    surrogate: Surrogate,
    df: pd.DataFrame,
    source: str = "input",
    batch_size: int = 8192,
    allow_other_compositions: bool = False,
) -> pd.DataFrame:
    """Add prediction columns to a copy of ``df``.

    Args:
        surrogate: The trained model.
        df: Table holding the model's feature columns (other columns pass through).
        source: Name used in error messages.
        batch_size: Rows per forward pass.
        allow_other_compositions: Predict rows whose ``formula`` is not the model's (flagged
            out of domain) instead of refusing them.

    Returns:
        The table with mean, σ, 95 % bounds, ``in_domain``, ``domain_reason`` and (if the
        target is present) error columns, all in target units.

    Raises:
        ModelInputMismatchError: Missing feature columns, values in other units, or rows of
            another composition (without ``allow_other_compositions``).
    """
    try:
        require_columns(df, surrogate.features, source=source)
    except Exception as exc:
        missing = [f for f in surrogate.features if f not in df.columns]
        raise ModelInputMismatchError(
            f"{source} lacks the model's feature column(s) {', '.join(missing)}",
            hint=f"the model was trained on {', '.join(surrogate.features)}",
        ) from exc
    other = check_compositions(surrogate, df, source, allow_other_compositions)
    x = numeric_block(df, surrogate.features, source=source)
    check_units(x, surrogate, source)
    mean, std = surrogate.predict(x, batch_size=batch_size)
    cols = output_columns(surrogate.target)
    out = df.copy()
    out[cols["mean"]] = mean
    out[cols["std"]] = std
    out[cols["lo95"]] = mean - Z_95 * std
    out[cols["hi95"]] = mean + Z_95 * std
    check = domain_check(surrogate, x, std)
    if other.any():
        trained = reduced_formula(trained_formula(surrogate) or "")
        formulas = df["formula"].to_numpy()
        check.exclude(
            other,
            lambda i: f"composition {reduced_formula(formulas[i])}, model trained on {trained}",
        )
    out["in_domain"] = check.flags
    out["domain_reason"] = check.reasons
    if surrogate.target in df.columns:
        import pandas as pd

        truth = pd.to_numeric(df[surrogate.target], errors="coerce").to_numpy(float)
        out[cols["error"]] = mean - truth
        out[cols["z"]] = (mean - truth) / std
    return out


def summarise(out: pd.DataFrame, target: str) -> dict[str, Any]:
    """Counts and, when the truth is known, the error metrics of a prediction table
    (``n_compared``: the rows with a finite value in the target column; metrics from two)."""
    cols = output_columns(target)
    summary: dict[str, Any] = {
        "n": len(out),
        "n_in_domain": int(out["in_domain"].sum()),
        "mean_std": float(out[cols["std"]].mean()),
    }
    if cols["error"] in out.columns:
        ok = np.isfinite(out[cols["error"]].to_numpy(float))
        summary["n_compared"] = int(ok.sum())
        if ok.sum() >= 2:
            truth = out.loc[ok, cols["mean"]].to_numpy(float) - out.loc[ok, cols["error"]].to_numpy(
                float
            )
            summary["metrics"] = regression_metrics(
                truth,
                out.loc[ok, cols["mean"]].to_numpy(float),
                out.loc[ok, cols["std"]].to_numpy(float),
            )
    return summary


__all__ = [
    "check_compositions",
    "frame_of",
    "load_inputs",
    "output_columns",
    "predict_frame",
    "reduced_formula",
    "structure_frame",
    "summarise",
]
