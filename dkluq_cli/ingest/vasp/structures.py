"""The final structure from a CONTCAR (or the POSCAR of a static run), for sources without one.

An OUTCAR that ASE cannot read and an OSZICAR carry no usable structure; the neighbouring
CONTCAR is the run's final structure, and its POSCAR is too when the run is known to be static
(no ionic steps). Each file is read by pymatgen; with ``cross_check`` also by ASE, and the two
readings compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dkluq_cli.errors import one_line
from dkluq_cli.ingest.vasp.files import RunFiles, read_text
from dkluq_cli.ingest.vasp.parsers import ase_images, check_readable, compare, quiet_call
from dkluq_cli.ingest.vasp.result import DISAGREE, NO_STRUCTURE, UNREADABLE, Reject


def read_poscar(path: Path, cross_check: bool = False) -> Any:
    """Read a CONTCAR/POSCAR with pymatgen (``cross_check``: compared with ASE's reading).

    Returns:
        The pymatgen ``Structure``.

    Raises:
        Reject: Unreadable, unparseable, read differently by the two, or without atoms.
    """
    from pymatgen.io.vasp.inputs import Poscar

    check_readable(path)
    try:
        poscar = quiet_call(Poscar.from_str, read_text(path), read_velocities=False)
        structure = poscar.structure
    except Exception as exc:
        raise Reject(
            UNREADABLE, f"{path.name}: pymatgen cannot parse it ({one_line(exc)})"
        ) from exc
    if cross_check:
        try:
            atoms = ase_images(path, "vasp")[-1]
        except Exception as exc:
            raise Reject(
                DISAGREE, f"{path.name}: pymatgen reads it but ASE cannot ({one_line(exc)})"
            ) from exc
        compare(path.name, structure, atoms, None, None)
    if len(structure) == 0:
        raise Reject(NO_STRUCTURE, f"{path.name}: no atoms")
    return structure


def neighbour_structure(
    run: RunFiles, suffix: str, static: bool | None, why: str, *, cross_check: bool = False
):
    """The structure from the CONTCAR, or the POSCAR of a static run.

    Args:
        run: The run's files.
        suffix: Prefer files with this suffix (the energy file's).
        static: Whether the run is static (``None``: unknown).
        why: Why a neighbouring structure is needed ("" when the source has none).
        cross_check: Compare pymatgen's reading of the file with ASE's.

    Returns:
        ``(file name, Structure)``.

    Raises:
        Reject: ``NO_STRUCTURE`` with every cause met.
    """
    causes = [why] if why else []
    contcar = run.pick("CONTCAR", prefer_suffix=suffix)
    if contcar is not None:
        try:
            return contcar.name, read_poscar(contcar, cross_check)
        except Reject as rej:
            causes.append(rej.reason)
    poscar = run.pick("POSCAR", prefer_suffix=suffix)
    if poscar is not None:
        if static:
            try:
                return poscar.name, read_poscar(poscar, cross_check)
            except Reject as rej:
                causes.append(rej.reason)
        else:
            causes.append(
                f"{poscar.name} is the starting structure and the run is not known to be static"
            )
    if contcar is None and poscar is None:
        causes.append("no CONTCAR or POSCAR next to it")
    raise Reject(NO_STRUCTURE, "no final structure: " + "; ".join(causes))
