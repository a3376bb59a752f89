"""Calling pymatgen and ASE on one file: silenced warnings, ASE's images, and their agreement.

The two libraries read the same file independently; :func:`compare` turns any difference in
atom count, lattice (beyond :data:`~dkluq_cli.ingest.vasp.result.LENGTH_TOL`) or energy (beyond
:data:`~dkluq_cli.ingest.vasp.result.ENERGY_TOL_EV`) into a ``parsers disagree`` rejection.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from dkluq_cli.ingest.vasp.files import probe
from dkluq_cli.ingest.vasp.result import DISAGREE, ENERGY_TOL_EV, LENGTH_TOL, UNREADABLE, Reject


def quiet_call(fn, *args, **kwargs):
    """Call a parser with its warnings silenced (they are reported as reasons instead)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def check_readable(path: Path) -> None:
    """Raise :class:`Reject` (``UNREADABLE``) when :func:`probe` finds a problem."""
    cause = probe(path)
    if cause:
        raise Reject(UNREADABLE, f"{path.name}: {cause}")


def ase_images(source: Any, fmt: str, index: Any = ":") -> list:
    """Every image ASE reads from ``source`` (a path or a named text stream) in format ``fmt``."""
    import ase.io

    if isinstance(source, Path):
        source = str(source)
    images = quiet_call(ase.io.read, source, index=index, format=fmt)
    if not isinstance(images, list):
        images = [images]
    return images


def ase_energy(atoms: Any, energy_kind: str) -> float:
    """ASE's energy of an image (eV): the free energy for ``"free"``, else energy(sigma→0)."""
    return float(atoms.get_potential_energy(force_consistent=energy_kind == "free"))


def compare_energy(name: str, energy: float | None, other: float | None) -> None:
    """Raise :class:`Reject` (``DISAGREE``) when pymatgen's and ASE's energies (eV) differ."""
    if energy is not None and other is not None and not abs(energy - other) <= ENERGY_TOL_EV:
        raise Reject(
            DISAGREE,
            f"{name}: final energy {energy:.6f} eV (pymatgen) vs {other:.6f} eV (ASE)",
        )


def compare(
    name: str, structure: Any, atoms: Any, energy: float | None, ase_energy: float | None
) -> None:
    """Raise :class:`Reject` (``DISAGREE``) when pymatgen's and ASE's reading of one file differ.

    Args:
        name: The file name, for the reason.
        structure: pymatgen's ``Structure``.
        atoms: ASE's ``Atoms``.
        energy: pymatgen's energy (eV), or ``None`` to skip the energy check.
        ase_energy: ASE's energy (eV), or ``None``.
    """
    n_atoms, pm = len(structure), structure.lattice.parameters
    if n_atoms != len(atoms):
        raise Reject(
            DISAGREE,
            f"{name}: pymatgen reads {n_atoms} atoms, ASE {len(atoms)}",
        )
    ase_par = atoms.cell.cellpar()
    for label, x, y in zip(("a", "b", "c", "alpha", "beta", "gamma"), pm, ase_par, strict=True):
        if not abs(float(x) - float(y)) <= LENGTH_TOL:
            raise Reject(
                DISAGREE, f"{name}: lattice {label} is {x:.6f} (pymatgen) vs {y:.6f} (ASE)"
            )
    compare_energy(name, energy, ase_energy)
