"""Structure files: the one reader of POSCAR/CONTCAR (and other files pymatgen reads), the
POSCAR writer, and the reference crystal read from them.

A :class:`~dkluq_cli.crystal.crystal.Crystal` is what ``--reference POSCAR`` reads
(:func:`read_poscar`) and what ``dkluq train`` takes from the ingest sidecar ``<table>.extxyz``
(:func:`reference_from_sidecar`).

Every POSCAR/CONTCAR is read by :func:`read_structure`: common breakages (empty, binary, not
UTF-8, atom counts that do not match the coordinates) are named in plain words before pymatgen
parses the file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.parent import ParentCrystal, parent_crystal
from dkluq_cli.data.output import write_text
from dkluq_cli.errors import InputError, TableError

if TYPE_CHECKING:
    from pymatgen.core import Structure

logger = logging.getLogger(__name__)

#: File-name prefixes of VASP structure files.
POSCAR_NAMES = ("POSCAR", "CONTCAR")


def is_poscar_name(path: Path) -> bool:
    """Whether a file looks like a POSCAR/CONTCAR by name (``POSCAR*``, ``CONTCAR*``, ``*.vasp``,
    ``*.poscar``)."""
    return path.name.startswith(POSCAR_NAMES) or path.suffix.lower() in (".vasp", ".poscar")


def poscar_problem(path: Path) -> str | None:
    """A plain-words cause for the common ways a POSCAR is broken, or None if it looks sound.

    Checks what pymatgen reports only as an index or decode error: empty, binary or non-UTF-8
    content, and atom counts that do not match the coordinate lines.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return f"not readable ({exc.strerror or exc})"
    if not raw.strip():
        return "empty file"
    if b"\0" in raw[:4096]:
        return "binary data, not a POSCAR text file"
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte {exc.start})"
    if len(lines) < 8:
        return f"only {len(lines)} line(s); a POSCAR needs at least 8"
    # counts are on line 6, or line 7 when line 6 holds the element symbols
    for idx in (5, 6):
        words = lines[idx].split()
        if words and all(w.isdigit() for w in words):
            counts = [int(w) for w in words]
            break
    else:
        return None  # leave unusual layouts to pymatgen
    start = idx + 1
    if start < len(lines) and lines[start].strip()[:1] in ("S", "s"):  # Selective dynamics
        start += 1
    coords = [ln for ln in lines[start + 1 :] if len(ln.split()) >= 3]
    n = sum(counts)
    if len(coords) < n:
        return f"atom counts {' '.join(words)} add up to {n} atoms but only {len(coords)} coordinate line(s) follow"
    return None


def read_structure(path: str | os.PathLike[str], what: str = "") -> Structure:
    """Read a POSCAR/CONTCAR (whatever its name) into a pymatgen structure.

    Only when that fails and the name does not look like a POSCAR (:func:`is_poscar_name`) is
    the file tried as another structure file pymatgen reads by its extension (e.g. ``.cif``).

    Args:
        path: The file.
        what: What the file is, for messages (``"reference"``; empty for an input).

    Returns:
        The structure.

    Raises:
        InputError: The file is missing, a folder, or not a readable POSCAR.
    """
    src = Path(path)
    label = f"{what} {src}" if what else str(src)
    if not src.exists():
        raise InputError(f"{label} does not exist", hint="give a POSCAR or CONTCAR file")
    if src.is_dir():
        raise InputError(f"{label} is a folder", hint="give a POSCAR or CONTCAR file")
    error: Exception | None = None
    cause = poscar_problem(src)
    if cause is None:
        try:
            return _parse_poscar(src)
        except Exception as exc:  # noqa: BLE001 - any parser failure means "not a POSCAR"
            error = exc
            text = " ".join(str(exc).split())[:160]
            cause = type(exc).__name__ + (f": {text}" if text else "")
    other = None if is_poscar_name(src) else _read_other_structure(src)
    if other is None:
        raise InputError(f"cannot read {label} as a POSCAR: {cause}") from error
    return other


def _parse_poscar(src: Path) -> Structure:
    import warnings

    from pymatgen.io.vasp import Poscar

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Poscar.from_file(str(src), check_for_potcar=False).structure


def _read_other_structure(src: Path) -> Structure | None:
    """``src`` read by pymatgen from its extension, or None when it does not parse."""
    try:
        from pymatgen.core import Structure

        return Structure.from_file(str(src))
    except Exception:  # noqa: BLE001 - the POSCAR error is the one reported
        return None


def read_poscar(path: str | os.PathLike[str]) -> Crystal:
    """Read a ``--reference`` POSCAR/CONTCAR (:func:`read_structure`) into a crystal.

    Raises:
        InputError: The file is missing, a folder, or not a readable POSCAR.
    """
    return Crystal.from_structure(read_structure(path, "reference"), str(Path(path)))


def reference_file(table: Path, formula: str | None = None) -> Path:
    """Where ``dkluq ingest`` writes the campaign's parent crystal for ``table`` (a POSCAR):
    ``<stem>.reference.vasp``, or ``<stem>.reference.<formula>.vasp`` for one composition of a
    table that holds several."""
    tail = f".reference.{formula}.vasp" if formula else ".reference.vasp"
    return table.with_name(table.stem + tail)


def write_reference(parent: ParentCrystal, path: Path) -> Path:
    """Write a parent crystal as a POSCAR whose comment line says how it was found."""
    return write_poscar(
        parent.crystal.structure(), path, f"dkluq parent crystal: {parent.describe()}"
    )


def reference_from_sidecar(table: Path, formula: str | None) -> Crystal | None:
    """The reference crystal ``dkluq ingest`` left beside ``table``, if any.

    The parent-crystal POSCAR (:func:`reference_file`; the one of ``formula`` first), else the
    parent rebuilt from the final structures in ``<table>.extxyz``
    (:func:`dkluq_cli.crystal.parent.parent_crystal`; tables ingested before the POSCAR was
    written), else None.

    Args:
        table: The training table.
        formula: The table's reduced formula, if known: only a crystal of that composition is
            returned.

    Returns:
        The crystal (``source`` names the file), or None.
    """
    for path in dict.fromkeys([reference_file(table, formula), reference_file(table)]):
        if path.is_file():
            crystal = read_poscar(path)
            if formula and crystal.formula != formula:
                continue
            return crystal
    parent = _parent_from_frames(table.with_suffix(".extxyz"), formula)
    return None if parent is None else parent.crystal


def _parent_from_frames(sidecar: Path, formula: str | None) -> ParentCrystal | None:
    """The parent crystal of an ingest ``.extxyz``'s frames of ``formula`` (all frames when
    None and they share one composition)."""
    if not sidecar.is_file():
        return None
    try:
        from ase.io import read

        frames = read(sidecar, index=":")
    except Exception as exc:  # noqa: BLE001 - any parser failure means "no usable sidecar"
        logger.warning("ignoring unreadable sidecar %s (%s)", sidecar, exc)
        return None
    from pymatgen.io.ase import AseAtomsAdaptor

    structures, energies = [], []
    for atoms in frames:
        structure = AseAtomsAdaptor.get_structure(atoms)
        if formula and structure.composition.reduced_formula != formula:
            continue
        structures.append(structure)
        energies.append(float(atoms.info.get("energy_eV", np.nan)))
    have_energies = bool(energies) and bool(np.all(np.isfinite(energies)))
    return parent_crystal(structures, sidecar.name, energies if have_energies else None)


def check_single_composition(df: Any, source: str) -> str | None:
    """The one reduced formula of a table's ``formula`` column (a model is trained per
    composition).

    Returns:
        The formula, or None when the table has no formula column or no formulas.

    Raises:
        TableError: The table mixes compositions.
    """
    if "formula" not in df.columns:
        return None
    formulas = sorted({str(f) for f in df["formula"].dropna().unique()})
    if len(formulas) > 1:
        shown = ", ".join(formulas[:5]) + (" ..." if len(formulas) > 5 else "")
        raise TableError(
            f"{source} mixes {len(formulas)} compositions ({shown}); a model is trained per composition",
            hint="filter the table to one formula first",
        )
    return formulas[0] if formulas else None


def write_poscar(structure: Structure, path: str | os.PathLike[str], comment: str) -> Path:
    """Write a POSCAR atomically (replacing an existing file).

    Args:
        structure: The structure.
        path: Destination file.
        comment: First line of the POSCAR (white space collapsed to single spaces).

    Returns:
        The path written.
    """
    from pymatgen.io.vasp import Poscar

    text = Poscar(structure, comment=" ".join(comment.split())).get_str(significant_figures=12)
    return write_text(path, text, force=True)
