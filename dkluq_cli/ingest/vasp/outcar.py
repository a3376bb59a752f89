"""Read an OUTCAR: energies and flags with pymatgen's ``Outcar``, the structure with ASE.

pymatgen gives the final energies, the STOPCAR flag and the final timing, and through
``read_pattern`` (:data:`OUTCAR_PATTERNS`) NSW, IBRION, NELM, the electronic iterations, the
complete ionic steps, "reached required accuracy" and the VASP version. pymatgen's ``Outcar``
holds no structure: ASE's ``vasp-out`` reader gives it (that of the last complete ionic step), and
its energy is compared with pymatgen's. When ASE cannot read the file, the neighbouring CONTCAR
(or the POSCAR of a static run) gives the structure. Energies in eV.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dkluq_cli.errors import one_line
from dkluq_cli.ingest.vasp.convergence import ionic_check, outcar_electronic
from dkluq_cli.ingest.vasp.files import RunFiles
from dkluq_cli.ingest.vasp.parsers import (
    ase_energy,
    ase_images,
    check_readable,
    compare_energy,
    quiet_call,
)
from dkluq_cli.ingest.vasp.result import DEFAULT_NELM, NO_STEP, UNREADABLE, Parsed, Reject, finite
from dkluq_cli.ingest.vasp.structures import neighbour_structure

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


def read_outcar(run: RunFiles, path: Path, energy_kind: str, cross_check: bool = False) -> Parsed:
    """Read an OUTCAR with pymatgen (energies, flags) and ASE (structure), compared.

    Args:
        run: The run's files (for a CONTCAR/POSCAR when ASE cannot give the structure).
        path: The OUTCAR.
        energy_kind: ``"sigma0"`` or ``"free"``.
        cross_check: Compare pymatgen's reading of a CONTCAR/POSCAR used with ASE's.

    Raises:
        Reject: Unreadable, no complete ionic step, no structure, or the two energies differ.
    """
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.vasp.outputs import Outcar

    check_readable(path)
    name = path.name
    try:
        out = quiet_call(Outcar, str(path))
        quiet_call(out.read_pattern, OUTCAR_PATTERNS, terminate_on_match=False, postprocess=str)
    except Exception as exc:
        raise Reject(UNREADABLE, f"{name}: pymatgen cannot parse it ({one_line(exc)})") from exc
    data = out.data
    raw = out.final_energy if energy_kind == "sigma0" else out.final_fr_energy
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
        atoms = ase_images(path, "vasp-out")[-1]
        other = ase_energy(atoms, energy_kind)
    except Exception as exc:  # noqa: BLE001 - the structure then comes from CONTCAR/POSCAR
        logger.debug("%s: ASE cannot read it (%s)", path, one_line(exc))
        struct_name, structure = neighbour_structure(
            run,
            run.suffix_of(path),
            static,
            f"ASE cannot read {name} ({one_line(exc)})",
            cross_check=cross_check,
        )
        source = f"{name}+{struct_name}"
    else:
        structure = AseAtomsAdaptor.get_structure(atoms)
        compare_energy(name, energy, other)

    problems: list[str] = []
    conv_el, problem = outcar_electronic(data.get("iteration") or [], n_steps, nelm)
    if problem:
        problems.append(problem)
    end = outcar_end(out.is_stopped, out.run_stats)
    conv_ion, problem = ionic_check(
        nsw, ibrion, n_steps, ended_itself=bool(data.get("reached")), how=end
    )
    if problem:
        problems.append(problem)
    versions = data.get("version") or []
    version = str(versions[0][0]) if versions else ""
    return Parsed(source, energy, structure, n_steps, version, conv_el, conv_ion, problems)
