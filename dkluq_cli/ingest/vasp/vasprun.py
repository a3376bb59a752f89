"""Read a vasprun.xml with pymatgen's ``Vasprun`` (DOS, eigenvalues, projections and POTCAR off).

A file that may be whole (it ends with ``</modeling>``, or is compressed) is parsed once,
strictly, and read no other time. One that does not end so, or does not parse, is unreadable
(a corrupt or empty compressed file), a killed run (the XML stops), a damaged one (it breaks
before its end) or not a vasprun.xml: :mod:`.xmlcut` finds where it stops being usable, and
``Vasprun`` reads a copy cut after the last ionic step whose ``</calculation>`` is in the file
(before the damage), so a killed or damaged run gives its last *complete* step whatever the
installed lxml does with a broken chunk.

ASE's ``vasp-xml`` reader reads the same steps and is compared (atom count, lattice, energy)
for every file with ``cross_check``; by default only for runs with PSTRESS set, whose energy the
two libraries define differently (ASE subtracts P·V, pymatgen does not), so that such a run is
refused in either mode. Energies in eV, lengths in Å.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from dkluq_cli.errors import one_line
from dkluq_cli.ingest.vasp.convergence import nelm_problem, vasprun_ionic
from dkluq_cli.ingest.vasp.files import RunFiles, end_of
from dkluq_cli.ingest.vasp.parsers import (
    ase_energy,
    ase_images,
    check_readable,
    compare,
    quiet_call,
)
from dkluq_cli.ingest.vasp.result import (
    DEFAULT_NELM,
    DISAGREE,
    NO_STEP,
    UNREADABLE,
    Parsed,
    Reject,
    finite,
)
from dkluq_cli.ingest.vasp.xmlcut import steps_copy, xml_end

logger = logging.getLogger(__name__)

_OPTIONS = {
    "parse_dos": False,
    "parse_eigen": False,
    "parse_projected_eigen": False,
    "parse_potcar_file": False,
}


def read_vasprun(run: RunFiles, path: Path, energy_kind: str, cross_check: bool = False) -> Parsed:
    """Read a vasprun.xml: the last complete ionic step's energy and structure, convergence.

    Args:
        run: The run's files (for the OUTCAR that confirms a relaxation's end).
        path: The vasprun.xml.
        energy_kind: ``"sigma0"`` or ``"free"``.
        cross_check: Compare with ASE's reading of the same steps, whatever the file.

    Raises:
        Reject: Unreadable, no complete ionic step, or pymatgen and ASE disagree.
    """
    from pymatgen.io.vasp.outputs import Vasprun

    # the file is read once when it is whole: its end (uncompressed), then pymatgen's parse
    tail, cause = end_of(path)
    if cause:
        raise Reject(UNREADABLE, f"{path.name}: {cause}")
    if tail is not None and b"</modeling>" not in tail:  # killed or damaged: not worth a try
        return _read_incomplete(run, path, energy_kind, cross_check, None)
    try:
        vr = quiet_call(Vasprun, str(path), **_OPTIONS, exception_on_bad_xml=True)
    except Exception as exc:  # noqa: BLE001 - diagnosed below: unreadable, damaged or killed
        return _read_incomplete(run, path, energy_kind, cross_check, exc)
    with_ase = cross_check or _pstress(vr)
    return _parsed(run, path, vr, energy_kind, source=path if with_ase else None)


def _read_incomplete(
    run: RunFiles, path: Path, energy_kind: str, cross_check: bool, exc: Exception | None
) -> Parsed:
    """A file that is not one whole XML document (``exc``: why the strict parse refused it):
    read its complete steps, or say why there are none."""
    from pymatgen.io.vasp.outputs import Vasprun

    check_readable(path)
    end = xml_end(path)
    if end.complete:  # well-formed XML that pymatgen cannot read
        raise Reject(UNREADABLE, f"{path.name}: pymatgen cannot parse it ({one_line(exc)})")
    limit, damage = end.broken if end.broken is not None else (None, None)
    with steps_copy(path, limit) as cut:
        if cut is None:
            how = f"damaged at {damage}" if damage else "truncated"
            raise Reject(NO_STEP, f"{path.name}: no complete ionic step ({how})")
        try:
            vr = quiet_call(Vasprun, str(cut), **_OPTIONS, exception_on_bad_xml=False)
        except Exception as err:
            raise Reject(
                UNREADABLE, f"{path.name}: pymatgen cannot parse it ({one_line(err)})"
            ) from err
        with_ase = cross_check or _pstress(vr)
        return _parsed(
            run,
            path,
            vr,
            energy_kind,
            source=cut if with_ase else None,
            complete=False,
            damage=damage,
        )


def _pstress(vr: Any) -> bool:
    """Whether PSTRESS is set (then ASE's energy is pymatgen's minus P·V)."""
    value = (vr.parameters or {}).get("PSTRESS", 0.0)
    try:
        return float(value) != 0.0
    except (TypeError, ValueError):
        return True


def _parsed(
    run: RunFiles,
    path: Path,
    vr: Any,
    energy_kind: str,
    *,
    source: Path | None,
    complete: bool = True,
    damage: str | None = None,
) -> Parsed:
    """The reading of a parsed ``Vasprun``; ``source``: the file ASE compares, or ``None``."""
    name = path.name
    steps = getattr(vr, "ionic_steps", None) or []
    if not steps:
        raise Reject(NO_STEP, f"{name}: no complete ionic step (no energy written)")
    last = steps[-1]
    try:
        if energy_kind == "sigma0":
            energy = finite(quiet_call(lambda: vr.final_energy), f"{name}: energy(sigma->0)")
        else:
            energy = finite(last["e_fr_energy"], f"{name}: free energy TOTEN")
        structure = last["structure"]
    except KeyError as exc:
        raise Reject(NO_STEP, f"{name}: last ionic step lacks {exc}") from exc
    if source is not None:
        _compare_with_ase(name, source, structure, energy, energy_kind)

    params = vr.parameters or {}
    nelm = int(params.get("NELM", DEFAULT_NELM))
    n_elec = len(last["electronic_steps"])
    problems: list[str] = []
    try:
        conv_el = bool(quiet_call(lambda: vr.converged_electronic))
    except Exception as exc:  # noqa: BLE001 - fall back to the plain NELM count
        logger.debug("%s: pymatgen converged_electronic failed (%s)", path, one_line(exc))
        conv_el = n_elec < nelm
    if not conv_el:
        problems.append(nelm_problem(n_elec, nelm))

    nsw = int(params.get("NSW", 0))
    ibrion = int(params.get("IBRION", -1 if nsw in (-1, 0) else 0))
    conv_ion, problem = vasprun_ionic(
        run, path, complete=complete, n_steps=len(steps), nsw=nsw, ibrion=ibrion, damage=damage
    )
    if problem:
        problems.append(problem)
    version = str(getattr(vr, "vasp_version", "") or "")
    return Parsed(name, energy, structure, len(steps), version, conv_el, conv_ion, problems)


def _compare_with_ase(name: str, source: Path, structure: Any, energy: float, kind: str) -> None:
    """Raise :class:`Reject` (``DISAGREE``) unless ASE reads ``source`` as pymatgen did."""
    try:
        atoms = ase_images(source, "vasp-xml")[-1]
        other = ase_energy(atoms, kind)
    except Exception as exc:
        raise Reject(
            DISAGREE, f"{name}: pymatgen reads it but ASE cannot ({one_line(exc)})"
        ) from exc
    compare(name, structure, atoms, energy, other)
