"""The reference crystal that ``dkluq ingest`` leaves beside a table, and how ``train`` finds it.

Ingest writes the campaign's parent crystal (:mod:`dkluq_cli.crystal.parent`) as a POSCAR,
``<stem>.reference.vasp``; ``train`` reads it back, or, for a table ingested before that file
existed, rebuilds the parent from the final structures in ``<stem>.extxyz``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.parent import ParentCrystal, parent_crystal
from dkluq_cli.crystal.structure_io import read_poscar, write_poscar

logger = logging.getLogger(__name__)


def reference_file(table: Path, formula: str | None = None) -> Path:
    """Where ``dkluq ingest`` writes the campaign's parent crystal for ``table`` (a POSCAR):
    ``<stem>.reference.vasp``, or ``<stem>.reference.<formula>.vasp`` for one composition of a
    table that holds several."""
    tail = f".reference.{formula}.vasp" if formula else ".reference.vasp"
    return table.with_name(table.stem + tail)


#: How the comment line of the parent-crystal POSCAR starts.
COMMENT_PREFIX = "dkluq parent crystal: "


def write_reference(parent: ParentCrystal, path: Path, key: str = "") -> Path:
    """Write a parent crystal as a POSCAR whose comment line says how it was found.

    Args:
        parent: The parent crystal.
        path: Destination (:func:`reference_file`).
        key: A digest of what the parent was computed from, kept at the end of the comment line
            (``[key]``) so that a later ingest of the same runs can reuse the file
            (:func:`reusable_reference`).
    """
    tag = f" [{key}]" if key else ""
    return write_poscar(parent.crystal.structure(), path, COMMENT_PREFIX + parent.describe() + tag)


def reusable_reference(path: Path, key: str) -> str | None:
    """The description of the parent crystal in ``path`` when it was written for ``key``
    (:func:`write_reference`), else None: an ``ingest --update`` whose accepted runs did not
    change keeps the file instead of analysing the symmetry again."""
    if not key or not path.is_file():
        return None
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline().rstrip("\n")
    tag = f" [{key}]"
    if first.startswith(COMMENT_PREFIX) and first.endswith(tag):
        return first[len(COMMENT_PREFIX) : -len(tag)]
    return None


def reference_for_table(table: Path, formula: str | None) -> Crystal | None:
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


def _parent_from_frames(frames_file: Path, formula: str | None) -> ParentCrystal | None:
    """The parent crystal of an ingest ``.extxyz``'s frames of ``formula`` (all frames when
    None and they share one composition)."""
    if not frames_file.is_file():
        return None
    try:
        from ase.io import read

        frames = read(frames_file, index=":")
    except Exception as exc:  # noqa: BLE001 - any parser failure means "no usable structures"
        logger.warning("ignoring unreadable structures file %s (%s)", frames_file, exc)
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
    return parent_crystal(structures, frames_file.name, energies if have_energies else None)
