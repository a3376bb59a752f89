"""Read an OSZICAR: energies and electronic steps, with NSW/IBRION/NELM/EDIFF from the INCAR.

The last source tried (no readable vasprun.xml or OUTCAR): the OSZICAR holds no structure (it
comes from the CONTCAR, or the POSCAR of a static run) and no "reached required accuracy", so a
relaxation read from it is never ionically converged. Energies in eV.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from dkluq_cli.errors import one_line
from dkluq_cli.ingest.vasp.convergence import ionic_check
from dkluq_cli.ingest.vasp.files import RunFiles, probe, read_text
from dkluq_cli.ingest.vasp.parsers import check_readable, quiet_call
from dkluq_cli.ingest.vasp.result import (
    DEFAULT_EDIFF,
    DEFAULT_NELM,
    NO_STEP,
    UNREADABLE,
    Parsed,
    Reject,
    finite,
)
from dkluq_cli.ingest.vasp.structures import neighbour_structure

logger = logging.getLogger(__name__)


def read_incar(run: RunFiles, suffix: str) -> dict[str, Any]:
    """The run's INCAR parameters (pymatgen ``Incar``), or ``{}`` when absent or unreadable."""
    from pymatgen.io.vasp.inputs import Incar

    path = run.pick("INCAR", prefer_suffix=suffix)
    if path is None or probe(path) is not None:
        return {}
    try:
        return dict(quiet_call(Incar.from_str, read_text(path)))
    except Exception as exc:  # noqa: BLE001 - an unreadable INCAR is treated as absent
        logger.debug("%s: cannot read INCAR (%s)", path, one_line(exc))
        return {}


def read_oszicar(run: RunFiles, path: Path, energy_kind: str, cross_check: bool = False) -> Parsed:
    """Read the run from its OSZICAR (pymatgen ``Oszicar``).

    Args:
        run: The run's files (for the INCAR and the structure).
        path: The OSZICAR.
        energy_kind: ``"sigma0"`` (E0) or ``"free"`` (F).
        cross_check: Compare pymatgen's reading of the CONTCAR/POSCAR with ASE's.

    Raises:
        Reject: The OSZICAR or the structure cannot be read.
    """
    from pymatgen.io.vasp.outputs import Oszicar

    check_readable(path)
    name = path.name
    try:
        osz = quiet_call(Oszicar, str(path))
    except Exception as exc:
        raise Reject(UNREADABLE, f"{name}: pymatgen cannot parse it ({one_line(exc)})") from exc
    steps = osz.ionic_steps or []
    if not steps:
        raise Reject(NO_STEP, f"{name}: no complete ionic step (no 'F=' line)")
    key = "E0" if energy_kind == "sigma0" else "F"
    if key not in steps[-1]:
        raise Reject(NO_STEP, f"{name}: last ionic step has no {key}")
    energy = finite(steps[-1][key], f"{name}: {key}")
    suffix = run.suffix_of(path)
    incar = read_incar(run, suffix)
    nsw = int(incar.get("NSW", 0)) if incar else None
    ibrion = (
        int(incar.get("IBRION", -1 if nsw in (-1, 0) else 0)) if incar and nsw is not None else None
    )
    static = None if nsw is None else (nsw <= 1 or ibrion == -1)
    struct_name, structure = neighbour_structure(run, suffix, static, "", cross_check=cross_check)

    problems: list[str] = []
    nelm = int(incar.get("NELM", DEFAULT_NELM))
    ediff = float(incar.get("EDIFF", DEFAULT_EDIFF))
    elec_all = osz.electronic_steps or []
    elec = elec_all[len(steps) - 1] if len(elec_all) >= len(steps) else []
    if not elec:
        raise Reject(NO_STEP, f"{name}: last ionic step has no electronic iterations")
    last_de = elec[-1].get("dE")
    conv_el = len(elec) < nelm and last_de is not None and abs(float(last_de)) <= ediff
    if not conv_el:
        problems.append(
            f"electronic: final ionic step ended after {len(elec)} iterations (NELM={nelm}) with"
            f" dE={last_de} eV above EDIFF={ediff:g}"
            if last_de is not None and abs(float(last_de)) > ediff
            else f"electronic: final ionic step used {len(elec)} of NELM={nelm} iterations"
        )
    if nsw is None or ibrion is None:
        conv_ion = False
        problems.append(
            "ionic: cannot tell a static run from a relaxation (OSZICAR without INCAR or OUTCAR)"
        )
    else:
        conv_ion, problem = ionic_check(
            nsw,
            ibrion,
            len(steps),
            ended_itself=False,
            how="ended (OSZICAR records no 'reached required accuracy', no OUTCAR)",
        )
        if problem:
            problems.append(problem)
    return Parsed(
        f"{name}+{struct_name}", energy, structure, len(steps), "", conv_el, conv_ion, problems
    )
