"""What one run folder gives: a table row (with its final structure) or a rejection.

Also the row's columns, the rejection categories the summary counts by, and the agreement
tolerances the readers apply. Energies are in eV, lengths in Å, angles in degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dkluq_cli.ingest.vasp.extxyz import extxyz_frame

ENERGY_KINDS: tuple[str, ...] = ("sigma0", "free")
"""``sigma0``: energy(sigma→0); ``free``: the free energy TOTEN (eV)."""

ENERGY_TOL_EV = 1e-4
"""Largest allowed difference (eV) between two readings of one file's energy."""

LENGTH_TOL = 1e-4
"""Largest allowed difference (Å, and degrees for angles) between two readings of a lattice."""

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
COMPOSITION = "composition"
"""A row of another composition than ``ingest --formula`` asks for."""


class Reject(Exception):
    """Raised inside the readers: the run (or this source of it) cannot give a row."""

    def __init__(self, category: str, reason: str) -> None:
        super().__init__(reason)
        self.category = category
        self.reason = " ".join(reason.split())


@dataclass
class Frame:
    """The final structure of an accepted run, as written to the extxyz file.

    Attributes:
        symbols: Chemical symbol of each atom.
        positions: Cartesian positions (Å), one ``(x, y, z)`` per atom.
        cell: Lattice vectors (Å), rows a, b, c.
        info: The frame's extxyz info (``run``, ``source``, ``energy_eV``, ``energy_kind``).
    """

    symbols: list[str]
    positions: list[list[float]]
    cell: list[list[float]]
    info: dict[str, Any]

    def extxyz(self) -> str:
        """The frame as ASE writes it in an extxyz file."""
        return extxyz_frame(self.symbols, self.positions, self.cell, self.info)

    def to_atoms(self):  # -> ase.Atoms
        """The frame as an ASE ``Atoms`` (periodic in all three directions)."""
        from ase import Atoms

        atoms = Atoms(symbols=self.symbols, positions=self.positions, cell=self.cell, pbc=True)
        atoms.info.update(self.info)
        return atoms


@dataclass
class RunResult:
    """What one run folder gave.

    Attributes:
        run: The run's name (path relative to the root given).
        source: The file(s) read, e.g. ``"vasprun.xml.gz"`` or ``"OSZICAR+CONTCAR"``.
        row: The table row (see :data:`ROW_COLUMNS`), or ``None`` when rejected outright.
        frame: The final structure, with the row.
        category: Rejection category when ``row`` is ``None`` or the run is unconverged.
        reason: One-line reason for the rejection.
        unconverged: Convergence problems (one line each); the caller rejects the row unless
            unconverged runs are wanted.
    """

    run: str
    source: str = ""
    row: dict[str, Any] | None = None
    frame: Frame | None = None
    category: str | None = None
    reason: str | None = None
    unconverged: list[str] = field(default_factory=list)

    @property
    def atoms(self):  # -> ase.Atoms | None
        """The final structure as an ASE ``Atoms`` (``None`` without a row)."""
        return None if self.frame is None else self.frame.to_atoms()


@dataclass
class Parsed:
    """One source file read successfully (possibly unconverged).

    Attributes:
        source: The file(s) read, as written in the ``source`` column.
        energy: The last complete ionic step's energy (eV), of the requested kind.
        structure: That step's structure (pymatgen ``Structure``).
        n_steps: Complete ionic steps.
        version: The VASP version ("" when the file does not say).
        conv_el: Electronically converged.
        conv_ion: Ionically converged.
        problems: One line per convergence problem.
    """

    source: str
    energy: float
    structure: Any
    n_steps: int
    version: str
    conv_el: bool
    conv_ion: bool
    problems: list[str]


def finite(value: Any, what: str) -> float:
    """``value`` as a finite float, else :class:`Reject` (``NO_STEP``) naming ``what``."""
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise Reject(NO_STEP, f"{what} is not a number ({value!r})") from exc
    if not math.isfinite(out):
        raise Reject(NO_STEP, f"{what} is not finite ({out})")
    return out


def make_result(run_name: str, parsed: Parsed, energy_kind: str) -> RunResult:
    """Turn a successful reading into the run's row and frame.

    Args:
        run_name: The run's name.
        parsed: The reading (its structure a pymatgen ``Structure``).
        energy_kind: ``"sigma0"`` or ``"free"``.

    Returns:
        The result; unconverged readings carry their category and reason.
    """
    structure = parsed.structure
    lattice = structure.lattice
    a, b, c, alpha, beta, gamma = (float(x) for x in lattice.parameters)
    n_atoms = len(structure)
    row = {
        "run": run_name,
        "source": parsed.source,
        "formula": structure.composition.reduced_formula,
        "n_atoms": n_atoms,
        "a": a,
        "b": b,
        "c": c,
        "alpha": alpha,
        "beta": beta,
        "gamma": gamma,
        "volume": float(lattice.volume),
        "energy_eV": parsed.energy,
        "energy_per_atom_eV": parsed.energy / n_atoms,
        "energy_kind": energy_kind,
        "converged_electronic": parsed.conv_el,
        "converged_ionic": parsed.conv_ion,
        "n_ionic_steps": parsed.n_steps,
        "vasp_version": parsed.version,
    }
    frame = Frame(
        symbols=[site.specie.symbol for site in structure],
        positions=structure.cart_coords.tolist(),
        cell=lattice.matrix.tolist(),
        info={
            "run": run_name,
            "source": parsed.source,
            "energy_eV": parsed.energy,
            "energy_kind": energy_kind,
        },
    )
    result = RunResult(run_name, parsed.source, row=row, frame=frame, unconverged=parsed.problems)
    if parsed.problems:
        result.category = EL_UNCONV if not parsed.conv_el else ION_UNCONV
        result.reason = "; ".join(parsed.problems)
    return result
