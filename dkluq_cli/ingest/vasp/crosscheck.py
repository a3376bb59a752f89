"""Cross-checked readers: each vasprun.xml or OUTCAR parsed by pymatgen and by ASE, compared.

* ``vasprun.xml``: pymatgen ``Vasprun`` (lenient on truncated XML, so the complete ionic steps
  of a killed run are kept) against ASE's ``vasp-xml`` reader. A killed or damaged file is read,
  by both, from a copy cut after its last complete ionic step.
* ``OUTCAR``: pymatgen ``Outcar`` (energies, stop flag, INCAR echo through ``read_pattern``)
  against ASE's ``vasp-out`` reader (the structure of every complete ionic step); when ASE
  cannot give the structure, the neighbouring CONTCAR (or POSCAR of a static run).

These are the slow, careful readings: ``ingest --cross-check`` uses them for every file, and the
single-pass readers (:mod:`dkluq_cli.ingest.vasp.vasprun`, :mod:`dkluq_cli.ingest.vasp.outcar`) hand them any
file they are not sure of (killed runs, unusual layouts). The energy and structure reported are
those of the last *complete* ionic step. Energies in eV, lengths in Å.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dkluq_cli.ingest.vasp.convergence import (
    ionic_check,
    nelm_problem,
    outcar_electronic,
    vasprun_ionic,
)
from dkluq_cli.ingest.vasp.files import RunFiles, _one_line
from dkluq_cli.ingest.vasp.parsers import (
    ase_energy,
    ase_images,
    check_readable,
    compare,
    compare_energy,
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
from dkluq_cli.ingest.vasp.structures import neighbour_structure
from dkluq_cli.ingest.vasp.xmlcut import steps_copy, xml_end

logger = logging.getLogger(__name__)

OUTCAR_PATTERNS = {
    "nsw": r"^\s*NSW\s*=\s*(-?\d+)",
    "ibrion": r"^\s*IBRION\s*=\s*(-?\d+)",
    "nelm": r"^\s*NELM\s*=\s*(\d+)",
    # the order of these two tells which ionic step reached EDIFF
    "iteration": r"Iteration\s+(\d+)\(\s*(\d+)\)|(aborting loop because EDIFF is reached)",
    "summary": r"FREE ENERGIE OF THE ION-ELECTRON SYSTEM",
    "reached": r"reached required accuracy",
    "version": r"^\s*vasp\.(\d\S*)",
}
"""What is read from an OUTCAR line by line (pymatgen ``read_pattern`` keys)."""


def read_vasprun_checked(run: RunFiles, path: Path, energy_kind: str) -> Parsed:
    """Read a vasprun.xml with pymatgen, cross-checked against ASE.

    A killed or damaged file (truncated, or malformed before its end) is read from a copy that
    ends after its last complete ionic step (before the damage): what the two libraries alone
    keep of such a file depends on their versions (:mod:`dkluq_cli.ingest.vasp.xmlcut`).

    Raises:
        Reject: Unreadable, no complete ionic step, or the two parsers disagree.
    """
    check_readable(path)
    end = xml_end(path)
    if end.complete:
        return _vasprun_checked(run, path, path, energy_kind, complete=True, damage=None)
    limit, damage = end.broken if end.broken is not None else (None, None)
    with steps_copy(path, limit) as cut:
        if cut is None:
            how = f"damaged at {damage}" if damage else "truncated"
            raise Reject(NO_STEP, f"{path.name}: no complete ionic step ({how})")
        return _vasprun_checked(run, path, cut, energy_kind, complete=False, damage=damage)


def _vasprun_checked(
    run: RunFiles,
    path: Path,
    source: Path,
    energy_kind: str,
    *,
    complete: bool,
    damage: str | None,
) -> Parsed:
    """Read ``source``: ``path`` itself, or its copy cut at the last complete step."""
    from pymatgen.io.vasp.outputs import Vasprun

    name = path.name
    try:
        vr = quiet_call(
            Vasprun,
            str(source),
            parse_dos=False,
            parse_eigen=False,
            parse_projected_eigen=False,
            parse_potcar_file=False,
            exception_on_bad_xml=False,
        )
    except Exception as exc:
        raise Reject(UNREADABLE, f"{name}: pymatgen cannot parse it ({_one_line(exc)})") from exc
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
    try:
        atoms = ase_images(source, "vasp-xml")[-1]
        other = ase_energy(atoms, energy_kind)
    except Exception as exc:
        raise Reject(
            DISAGREE, f"{name}: pymatgen reads it but ASE cannot ({_one_line(exc)})"
        ) from exc
    compare(name, structure, atoms, energy, other)

    params = vr.parameters or {}
    nelm = int(params.get("NELM", DEFAULT_NELM))
    n_elec = len(last["electronic_steps"])
    problems: list[str] = []
    try:
        conv_el = bool(quiet_call(lambda: vr.converged_electronic))
    except Exception as exc:  # noqa: BLE001 - fall back to the plain NELM count
        logger.debug("%s: pymatgen converged_electronic failed (%s)", path, _one_line(exc))
        conv_el = n_elec < nelm
    if not conv_el:
        problems.append(nelm_problem(n_elec, nelm))

    nsw = int(params.get("NSW", 0))
    ibrion = int(params.get("IBRION", -1 if nsw in (-1, 0) else 0))
    conv_ion, problem = vasprun_ionic(
        run,
        path,
        complete=complete,
        n_steps=len(steps),
        nsw=nsw,
        ibrion=ibrion,
        damage=damage,
    )
    if problem:
        problems.append(problem)
    version = str(getattr(vr, "vasp_version", "") or "")
    return Parsed(name, energy, structure, len(steps), version, conv_el, conv_ion, problems)


def first_int(data: dict, key: str, default: int) -> int:
    """The first match of ``key`` in ``read_pattern`` data as an int, else ``default``."""
    found = data.get(key) or []
    try:
        return int(found[0][0])
    except (IndexError, ValueError, TypeError):
        return default


def outcar_end(is_stopped: bool, run_stats: dict) -> str:
    """How an OUTCAR's run ended, for the ionic problem line."""
    if is_stopped:
        return "stopped by STOPCAR"
    if "Elapsed time (sec)" not in (run_stats or {}):
        return "killed part-way (OUTCAR has no final timing)"
    return "ended without 'reached required accuracy'"


def read_outcar_checked(run: RunFiles, path: Path, energy_kind: str) -> Parsed:
    """Read an OUTCAR with pymatgen (energies, flags) and ASE (structure), compared.

    Raises:
        Reject: Unreadable, no complete ionic step, no structure, or the parsers disagree.
    """
    from pymatgen.io.vasp.outputs import Outcar

    check_readable(path)
    name = path.name
    try:
        out = quiet_call(Outcar, str(path))
        quiet_call(out.read_pattern, OUTCAR_PATTERNS, terminate_on_match=False, postprocess=str)
    except Exception as exc:
        raise Reject(UNREADABLE, f"{name}: pymatgen cannot parse it ({_one_line(exc)})") from exc
    data = out.data
    raw = out.final_energy if energy_kind == "sigma0" else out.final_fr_energy
    return outcar_parsed(
        run,
        path,
        energy_kind,
        raw=raw,
        data=data,
        end=outcar_end(out.is_stopped, out.run_stats),
        images=lambda: ase_images(path, "vasp-out"),
    )


def outcar_parsed(run: RunFiles, path: Path, energy_kind: str, *, raw, data, end, images):
    """Finish an OUTCAR reading: energy, structure (ASE, else CONTCAR/POSCAR), convergence.

    Args:
        run: The run's files.
        path: The OUTCAR.
        energy_kind: ``"sigma0"`` or ``"free"``.
        raw: pymatgen's final energy of that kind (eV), or ``None``.
        data: ``read_pattern`` matches of :data:`OUTCAR_PATTERNS`.
        end: How the run ended (:func:`outcar_end`).
        images: Returns ASE's images of the OUTCAR (may raise).

    Raises:
        Reject: No complete ionic step, no structure, or the two energies disagree.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    name = path.name
    n_steps = len(data.get("summary") or [])
    if raw is None or n_steps == 0:
        raise Reject(NO_STEP, f"{name}: no complete ionic step (no final energy block)")
    label = "energy(sigma->0)" if energy_kind == "sigma0" else "free energy TOTEN"
    energy = finite(raw, f"{name}: {label}")
    nsw = first_int(data, "nsw", 0)
    ibrion = first_int(data, "ibrion", -1 if nsw in (-1, 0) else 0)
    nelm = first_int(data, "nelm", DEFAULT_NELM)
    static = nsw <= 1 or ibrion == -1

    source = name
    try:
        atoms = images()[-1]
        other = ase_energy(atoms, energy_kind)
    except Exception as exc:  # noqa: BLE001 - the structure then comes from CONTCAR/POSCAR
        logger.debug("%s: ASE cannot read it (%s)", path, _one_line(exc))
        struct_name, structure = neighbour_structure(
            run, run.suffix_of(path), static, f"ASE cannot read {name} ({_one_line(exc)})"
        )
        source = f"{name}+{struct_name}"
    else:
        structure = AseAtomsAdaptor.get_structure(atoms)
        compare_energy(name, energy, other)

    problems: list[str] = []
    conv_el, problem = outcar_electronic(data.get("iteration") or [], n_steps, nelm)
    if problem:
        problems.append(problem)
    conv_ion, problem = ionic_check(
        nsw, ibrion, n_steps, ended_itself=bool(data.get("reached")), how=end
    )
    if problem:
        problems.append(problem)
    versions = data.get("version") or []
    version = str(versions[0][0]) if versions else ""
    return Parsed(source, energy, structure, n_steps, version, conv_el, conv_ion, problems)
