"""Read one VASP run folder into one table row, or one rejection with a one-line reason.

Source order, most trustworthy first:

1. ``vasprun.xml`` read by pymatgen (``Vasprun``, lenient on truncated XML so the complete
   ionic steps of a killed run are kept) and cross-checked against ASE (``vasp-xml``).
2. ``OUTCAR`` read by pymatgen (``Outcar``: energies, stop flag, INCAR echo through
   ``read_pattern``) and ASE (``vasp-out``: the structure of every complete ionic step); when ASE
   cannot give the structure, the neighbouring CONTCAR (or POSCAR of a static run).
3. ``OSZICAR`` read by pymatgen (``Oszicar``) with the structure from the CONTCAR (or POSCAR of
   a static run) and NSW/IBRION/NELM/EDIFF from the INCAR (pymatgen ``Incar``).

A later source is tried only when an earlier one cannot be read at all; a source that reads but
is unconverged is the answer. The reported energy and structure are those of the last
*complete* ionic step. Energies are in eV, lengths in Å, angles in degrees.

Convergence:

* electronic: the reported ionic step used NELM electronic iterations (VASP stopped without
  reaching EDIFF); for an OSZICAR source also a final ``dE`` larger than EDIFF.
* ionic: a static run (NSW ≤ 1 or IBRION = -1) is converged; a relaxation or MD run (NSW > 1,
  IBRION ≥ 0) is converged only when it ended on its own before NSW ("reached required
  accuracy" in the OUTCAR; for a vasprun.xml: complete XML with fewer than NSW steps, confirmed
  by the OUTCAR next to it when there is one). MD runs never reach a required accuracy, so
  their final frame is flagged ionically unconverged. This is stricter than pymatgen's
  ``Vasprun.converged_ionic``, which accepts MD runs and EDIFFG = 0 runs that reach NSW.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dkluq_cli.vasp.files import RunFiles, _one_line, open_bytes, probe, read_text

logger = logging.getLogger(__name__)

ENERGY_KINDS: tuple[str, ...] = ("sigma0", "free")
"""``sigma0``: energy(sigma→0); ``free``: the free energy TOTEN (eV)."""

ENERGY_TOL_EV = 1e-4
"""Largest allowed difference (eV) between the pymatgen and ASE energies of one file."""

LENGTH_TOL = 1e-4
"""Largest allowed difference (Å, and degrees for angles) between the two parsers' lattices."""

DEFAULT_NELM = 60
DEFAULT_EDIFF = 1e-4

ROW_COLUMNS: tuple[str, ...] = (
    "run",
    "source",
    "formula",
    "n_atoms",
    "a",
    "b",
    "c",
    "alpha",
    "beta",
    "gamma",
    "volume",
    "energy_eV",
    "energy_per_atom_eV",
    "energy_kind",
    "converged_electronic",
    "converged_ionic",
    "n_ionic_steps",
    "vasp_version",
)
"""Columns of the ingest table, in order."""

# rejection categories (the summary counts by these)
UNREADABLE = "unreadable file"
NO_STEP = "no complete step"
NO_STRUCTURE = "no structure"
DISAGREE = "parsers disagree"
NO_SOURCE = "no energy file"
EL_UNCONV = "electronically unconverged"
ION_UNCONV = "ionically unconverged"
INTERNAL = "internal error"


class Reject(Exception):
    """Raised inside the readers: the run (or this source of it) cannot give a row."""

    def __init__(self, category: str, reason: str) -> None:
        super().__init__(reason)
        self.category = category
        self.reason = " ".join(reason.split())


@dataclass
class RunResult:
    """What one run folder gave.

    Attributes:
        run: The run's name (path relative to the root given).
        source: The file(s) read, e.g. ``"vasprun.xml.gz"`` or ``"OSZICAR+CONTCAR"``.
        row: The table row (see :data:`ROW_COLUMNS`), or ``None`` when rejected outright.
        atoms: The final structure (ASE ``Atoms``), with the row.
        category: Rejection category when ``row`` is ``None`` or the run is unconverged.
        reason: One-line reason for the rejection.
        unconverged: Convergence problems (one line each); the caller rejects the row unless
            unconverged runs are wanted.
    """

    run: str
    source: str = ""
    row: dict[str, Any] | None = None
    atoms: Any = None
    category: str | None = None
    reason: str | None = None
    unconverged: list[str] = field(default_factory=list)


@dataclass
class _Parsed:
    source: str
    energy: float
    structure: Any  # pymatgen Structure
    n_steps: int
    version: str
    conv_el: bool
    conv_ion: bool
    problems: list[str]


def _quiet_call(fn, *args, **kwargs):
    """Call a parser with its warnings silenced (they are reported as reasons instead)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _check_readable(path: Path) -> None:
    cause = probe(path)
    if cause:
        raise Reject(UNREADABLE, f"{path.name}: {cause}")


def _finite(value: Any, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise Reject(NO_STEP, f"{what} is not a number ({value!r})") from exc
    if not math.isfinite(out):
        raise Reject(NO_STEP, f"{what} is not finite ({out})")
    return out


def _ase_images(path: Path, fmt: str) -> list:
    import ase.io

    images = _quiet_call(ase.io.read, str(path), index=":", format=fmt)
    if not isinstance(images, list):
        images = [images]
    return images


def _ase_energy(atoms: Any, energy_kind: str) -> float:
    return float(atoms.get_potential_energy(force_consistent=energy_kind == "free"))


def _compare(
    name: str, structure: Any, atoms: Any, energy: float | None, ase_energy: float | None
) -> None:
    """Raise :class:`Reject` when pymatgen's and ASE's reading of one file differ."""
    if len(structure) != len(atoms):
        raise Reject(
            DISAGREE,
            f"{name}: pymatgen reads {len(structure)} atoms, ASE {len(atoms)}",
        )
    pm = structure.lattice.parameters
    ase_par = atoms.cell.cellpar()
    for label, x, y in zip(("a", "b", "c", "alpha", "beta", "gamma"), pm, ase_par, strict=True):
        if not abs(float(x) - float(y)) <= LENGTH_TOL:
            raise Reject(
                DISAGREE, f"{name}: lattice {label} is {x:.6f} (pymatgen) vs {y:.6f} (ASE)"
            )
    if (
        energy is not None
        and ase_energy is not None
        and not abs(energy - ase_energy) <= ENERGY_TOL_EV
    ):
        raise Reject(
            DISAGREE,
            f"{name}: final energy {energy:.6f} eV (pymatgen) vs {ase_energy:.6f} eV (ASE)",
        )


def _ionic_check(
    nsw: int, ibrion: int, n_steps: int, *, ended_itself: bool | None, how: str
) -> tuple[bool, str | None]:
    """Apply the ionic convergence rule.

    Args:
        nsw: NSW.
        ibrion: IBRION.
        n_steps: Complete ionic steps.
        ended_itself: ``True`` when the run reached its required accuracy, ``False`` when it
            did not, ``None`` when the file cannot tell (and it ended before NSW).
        how: Phrase saying how the run ended when ``ended_itself`` is false.

    Returns:
        ``(converged, problem)``.
    """
    if nsw <= 1 or ibrion == -1:
        return True, None
    if ibrion == 0:
        return False, (
            f"ionic: molecular dynamics (IBRION=0, NSW={nsw}) never reaches a required accuracy;"
            f" {n_steps} steps run"
        )
    if ended_itself:
        return True, None
    if n_steps >= nsw:
        return False, (
            f"ionic: NSW={nsw} reached without 'reached required accuracy' (IBRION={ibrion})"
        )
    if ended_itself is None:
        return True, None
    return False, f"ionic: {how} after {n_steps} complete ionic step(s) of NSW={nsw}"


# --------------------------------------------------------------------------- vasprun.xml


def _xml_complete(path: Path) -> bool:
    """Whether the (decompressed) XML ends with its closing ``</modeling>`` tag."""
    tail = b""
    with open_bytes(path) as fh:
        while chunk := fh.read(1 << 20):
            tail = (tail + chunk)[-512:]
    return b"</modeling>" in tail


def _read_vasprun(run: RunFiles, path: Path, energy_kind: str) -> _Parsed:
    from pymatgen.io.vasp.outputs import Vasprun

    _check_readable(path)
    name = path.name
    complete = _xml_complete(path)
    try:
        vr = _quiet_call(
            Vasprun,
            str(path),
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
    if not last.get("electronic_steps"):
        raise Reject(NO_STEP, f"{name}: last ionic step has no complete electronic step")
    try:
        if energy_kind == "sigma0":
            energy = _finite(_quiet_call(lambda: vr.final_energy), f"{name}: energy(sigma->0)")
        else:
            energy = _finite(last["e_fr_energy"], f"{name}: free energy TOTEN")
        structure = last["structure"]
    except KeyError as exc:
        raise Reject(NO_STEP, f"{name}: last ionic step lacks {exc}") from exc
    try:
        images = _ase_images(path, "vasp-xml")
        atoms = images[-1]
        ase_energy = _ase_energy(atoms, energy_kind)
    except Exception as exc:
        raise Reject(
            DISAGREE, f"{name}: pymatgen reads it but ASE cannot ({_one_line(exc)})"
        ) from exc
    _compare(name, structure, atoms, energy, ase_energy)

    params = vr.parameters or {}
    nelm = int(params.get("NELM", DEFAULT_NELM))
    n_elec = len(last["electronic_steps"])
    problems: list[str] = []
    try:
        conv_el = bool(_quiet_call(lambda: vr.converged_electronic))
    except Exception as exc:  # noqa: BLE001 - fall back to the plain NELM count
        logger.debug("%s: pymatgen converged_electronic failed (%s)", path, _one_line(exc))
        conv_el = n_elec < nelm
    if not conv_el:
        problems.append(
            f"electronic: final ionic step used {n_elec} of NELM={nelm} iterations without reaching EDIFF"
        )

    nsw = int(params.get("NSW", 0))
    ibrion = int(params.get("IBRION", -1 if nsw in (-1, 0) else 0))
    ended: bool | None = None
    how = "stopped"
    if not complete:
        ended, how = False, "killed part-way (vasprun.xml truncated)"
    elif len(steps) < nsw and ibrion > 0:
        outcar = run.pick("OUTCAR", prefer_suffix=run.suffix_of(path))
        if outcar is not None and probe(outcar) is None:
            text = read_text(outcar)
            ended = "reached required accuracy" in text
            how = "stopped (no 'reached required accuracy' in OUTCAR)"
    conv_ion, problem = _ionic_check(nsw, ibrion, len(steps), ended_itself=ended, how=how)
    if problem:
        problems.append(problem)
    version = str(getattr(vr, "vasp_version", "") or "")
    return _Parsed(name, energy, structure, len(steps), version, conv_el, conv_ion, problems)


# --------------------------------------------------------------------------- structures


def _read_poscar(path: Path):  # -> pymatgen Structure
    """Read a CONTCAR/POSCAR with pymatgen, cross-checked against ASE."""
    from pymatgen.io.vasp.inputs import Poscar

    _check_readable(path)
    try:
        poscar = _quiet_call(Poscar.from_str, read_text(path), read_velocities=False)
        structure = poscar.structure
    except Exception as exc:
        raise Reject(
            UNREADABLE, f"{path.name}: pymatgen cannot parse it ({_one_line(exc)})"
        ) from exc
    try:
        atoms = _ase_images(path, "vasp")[-1]
    except Exception as exc:
        raise Reject(
            DISAGREE, f"{path.name}: pymatgen reads it but ASE cannot ({_one_line(exc)})"
        ) from exc
    _compare(path.name, structure, atoms, None, None)
    if len(structure) == 0:
        raise Reject(NO_STRUCTURE, f"{path.name}: no atoms")
    return structure


def _neighbour_structure(run: RunFiles, suffix: str, static: bool | None, why: str):
    """The structure from the CONTCAR, or the POSCAR of a static run.

    Returns:
        ``(file name, Structure)``.
    """
    causes = [why] if why else []
    contcar = run.pick("CONTCAR", prefer_suffix=suffix)
    if contcar is not None:
        try:
            return contcar.name, _read_poscar(contcar)
        except Reject as rej:
            causes.append(rej.reason)
    poscar = run.pick("POSCAR", prefer_suffix=suffix)
    if poscar is not None:
        if static:
            try:
                return poscar.name, _read_poscar(poscar)
            except Reject as rej:
                causes.append(rej.reason)
        else:
            causes.append(
                f"{poscar.name} is the starting structure and the run is not known to be static"
            )
    if contcar is None and poscar is None:
        causes.append("no CONTCAR or POSCAR next to it")
    raise Reject(NO_STRUCTURE, "no final structure: " + "; ".join(causes))


# --------------------------------------------------------------------------- OUTCAR

_OUTCAR_PATTERNS = {
    "nsw": r"^\s*NSW\s*=\s*(-?\d+)",
    "ibrion": r"^\s*IBRION\s*=\s*(-?\d+)",
    "nelm": r"^\s*NELM\s*=\s*(\d+)",
    # the order of these two tells which ionic step reached EDIFF
    "iteration": r"Iteration\s+(\d+)\(\s*(\d+)\)|(aborting loop because EDIFF is reached)",
    "summary": r"FREE ENERGIE OF THE ION-ELECTRON SYSTEM",
    "reached": r"reached required accuracy",
    "version": r"^\s*vasp\.(\d\S*)",
}


def _first_int(data: dict, key: str, default: int) -> int:
    found = data.get(key) or []
    try:
        return int(found[0][0])
    except (IndexError, ValueError, TypeError):
        return default


def _read_outcar(run: RunFiles, path: Path, energy_kind: str) -> _Parsed:
    from pymatgen.io.vasp.outputs import Outcar

    _check_readable(path)
    name = path.name
    try:
        out = _quiet_call(Outcar, str(path))
        _quiet_call(out.read_pattern, _OUTCAR_PATTERNS, terminate_on_match=False, postprocess=str)
    except Exception as exc:
        raise Reject(UNREADABLE, f"{name}: pymatgen cannot parse it ({_one_line(exc)})") from exc
    data = out.data
    n_steps = len(data.get("summary") or [])
    raw = out.final_energy if energy_kind == "sigma0" else out.final_fr_energy
    if raw is None or n_steps == 0:
        raise Reject(NO_STEP, f"{name}: no complete ionic step (no final energy block)")
    label = "energy(sigma->0)" if energy_kind == "sigma0" else "free energy TOTEN"
    energy = _finite(raw, f"{name}: {label}")

    nsw = _first_int(data, "nsw", 0)
    ibrion = _first_int(data, "ibrion", -1 if nsw in (-1, 0) else 0)
    nelm = _first_int(data, "nelm", DEFAULT_NELM)
    static = nsw <= 1 or ibrion == -1

    source = name
    try:
        images = _ase_images(path, "vasp-out")
        atoms = images[-1]
        ase_energy = _ase_energy(atoms, energy_kind)
    except Exception as exc:  # noqa: BLE001 - the structure then comes from CONTCAR/POSCAR
        logger.debug("%s: ASE cannot read it (%s)", path, _one_line(exc))
        struct_name, structure = _neighbour_structure(
            run, run.suffix_of(path), static, f"ASE cannot read {name} ({_one_line(exc)})"
        )
        source = f"{name}+{struct_name}"
    else:
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(atoms)
        if not abs(energy - ase_energy) <= ENERGY_TOL_EV:
            raise Reject(
                DISAGREE,
                f"{name}: final energy {energy:.6f} eV (pymatgen) vs {ase_energy:.6f} eV (ASE)",
            )

    problems: list[str] = []
    iterations = data.get("iteration") or []
    n_elec = 0
    current, reached_ediff = 0, set()
    for ion, elec, aborted in iterations:
        if aborted not in ("", "None"):
            reached_ediff.add(current)
            continue
        current = int(ion)
        if current == n_steps:
            n_elec = max(n_elec, int(elec))
    # VASP may reach EDIFF on iteration NELM itself; it then says so
    conv_el = n_elec < nelm or n_steps in reached_ediff
    if not conv_el:
        problems.append(
            f"electronic: final ionic step used {n_elec} of NELM={nelm} iterations without reaching EDIFF"
        )
    reached = bool(data.get("reached"))
    if out.is_stopped:
        how = "stopped by STOPCAR"
    elif "Elapsed time (sec)" not in (out.run_stats or {}):
        how = "killed part-way (OUTCAR has no final timing)"
    else:
        how = "ended without 'reached required accuracy'"
    conv_ion, problem = _ionic_check(nsw, ibrion, n_steps, ended_itself=reached, how=how)
    if problem:
        problems.append(problem)
    versions = data.get("version") or []
    version = str(versions[0][0]) if versions else ""
    return _Parsed(source, energy, structure, n_steps, version, conv_el, conv_ion, problems)


# --------------------------------------------------------------------------- OSZICAR


def _read_incar(run: RunFiles, suffix: str) -> dict[str, Any]:
    from pymatgen.io.vasp.inputs import Incar

    path = run.pick("INCAR", prefer_suffix=suffix)
    if path is None or probe(path) is not None:
        return {}
    try:
        return dict(_quiet_call(Incar.from_str, read_text(path)))
    except Exception as exc:  # noqa: BLE001 - an unreadable INCAR is treated as absent
        logger.debug("%s: cannot read INCAR (%s)", path, _one_line(exc))
        return {}


def _read_oszicar(run: RunFiles, path: Path, energy_kind: str) -> _Parsed:
    from pymatgen.io.vasp.outputs import Oszicar

    _check_readable(path)
    name = path.name
    try:
        osz = _quiet_call(Oszicar, str(path))
    except Exception as exc:
        raise Reject(UNREADABLE, f"{name}: pymatgen cannot parse it ({_one_line(exc)})") from exc
    steps = osz.ionic_steps or []
    if not steps:
        raise Reject(NO_STEP, f"{name}: no complete ionic step (no 'F=' line)")
    key = "E0" if energy_kind == "sigma0" else "F"
    if key not in steps[-1]:
        raise Reject(NO_STEP, f"{name}: last ionic step has no {key}")
    energy = _finite(steps[-1][key], f"{name}: {key}")
    suffix = run.suffix_of(path)
    incar = _read_incar(run, suffix)
    nsw = int(incar.get("NSW", 0)) if incar else None
    ibrion = (
        int(incar.get("IBRION", -1 if nsw in (-1, 0) else 0)) if incar and nsw is not None else None
    )
    static = None if nsw is None else (nsw <= 1 or ibrion == -1)
    struct_name, structure = _neighbour_structure(run, suffix, static, "")

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
    if nsw is None:
        conv_ion = False
        problems.append(
            "ionic: cannot tell a static run from a relaxation (OSZICAR without INCAR or OUTCAR)"
        )
    else:
        assert ibrion is not None
        conv_ion, problem = _ionic_check(
            nsw,
            ibrion,
            len(steps),
            ended_itself=False,
            how="ended (OSZICAR records no 'reached required accuracy', no OUTCAR)",
        )
        if problem:
            problems.append(problem)
    return _Parsed(
        f"{name}+{struct_name}", energy, structure, len(steps), "", conv_el, conv_ion, problems
    )


# --------------------------------------------------------------------------- one run

_READERS = (("vasprun", _read_vasprun), ("OUTCAR", _read_outcar), ("OSZICAR", _read_oszicar))


def read_run(run: RunFiles, energy_kind: str = "sigma0") -> RunResult:
    """Read one run folder: the best source that can be read gives the row.

    Args:
        run: The files found in the folder.
        energy_kind: ``"sigma0"`` (energy(sigma→0)) or ``"free"`` (TOTEN).

    Returns:
        A :class:`RunResult` with a row (possibly with convergence problems) or a rejection.
        Never raises for bad input: every failure is a reason.
    """
    if energy_kind not in ENERGY_KINDS:
        raise ValueError(f"energy_kind must be one of {ENERGY_KINDS}, not {energy_kind!r}")
    try:
        return _read_run(run, energy_kind)
    except Exception as exc:
        logger.debug("internal error reading %s", run.directory, exc_info=True)
        return RunResult(
            run.name, "", category=INTERNAL, reason=f"internal error: {_one_line(exc)}"
        )


def _read_run(run: RunFiles, energy_kind: str) -> RunResult:
    failures: list[tuple[str, str, str]] = []
    for kind, reader in _READERS:
        path = run.pick(kind)
        if path is None:
            continue
        try:
            parsed = reader(run, path, energy_kind)
        except Reject as rej:
            failures.append((path.name, rej.category, rej.reason))
            logger.debug("%s: %s unusable: %s", run.name, path.name, rej.reason)
            continue
        if failures:
            logger.info(
                "%s: used %s (%s)", run.name, parsed.source, "; ".join(f[2] for f in failures)
            )
        return _result(run, parsed, energy_kind)
    if failures:
        source = failures[0][0]
        category = failures[0][1]
        return RunResult(
            run.name, source, category=category, reason="; ".join(f[2] for f in failures)
        )
    present = sorted(Path(p).name for found in run.files.values() for _, p in found)
    return RunResult(
        run.name,
        ",".join(present),
        category=NO_SOURCE,
        reason=f"no vasprun.xml, OUTCAR or OSZICAR (only {', '.join(present)}): no energy",
    )


def _result(run: RunFiles, parsed: _Parsed, energy_kind: str) -> RunResult:
    from ase import Atoms

    structure = parsed.structure
    a, b, c = (float(x) for x in structure.lattice.abc)
    alpha, beta, gamma = (float(x) for x in structure.lattice.angles)
    n_atoms = len(structure)
    row = {
        "run": run.name,
        "source": parsed.source,
        "formula": structure.composition.reduced_formula,
        "n_atoms": n_atoms,
        "a": a,
        "b": b,
        "c": c,
        "alpha": alpha,
        "beta": beta,
        "gamma": gamma,
        "volume": float(structure.lattice.volume),
        "energy_eV": parsed.energy,
        "energy_per_atom_eV": parsed.energy / n_atoms,
        "energy_kind": energy_kind,
        "converged_electronic": parsed.conv_el,
        "converged_ionic": parsed.conv_ion,
        "n_ionic_steps": parsed.n_steps,
        "vasp_version": parsed.version,
    }
    atoms = Atoms(
        symbols=[site.specie.symbol for site in structure],
        positions=structure.cart_coords,
        cell=structure.lattice.matrix,
        pbc=True,
    )
    atoms.info.update(
        {
            "run": run.name,
            "source": parsed.source,
            "energy_eV": parsed.energy,
            "energy_kind": energy_kind,
        }
    )
    result = RunResult(run.name, parsed.source, row=row, atoms=atoms, unconverged=parsed.problems)
    if parsed.problems:
        result.category = EL_UNCONV if not parsed.conv_el else ION_UNCONV
        result.reason = "; ".join(parsed.problems)
    return result
