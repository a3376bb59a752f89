"""The parent crystal of a strain campaign: the symmetric crystal its runs are strained from.

A campaign of strained cells (an equation of state, an elastic stencil, a random box) keeps the
atoms of one parent crystal and changes its lattice. The parent is what the exact head takes its
point group and zero strain from, and what ``scan``, ``eos`` and ``suggest`` centre on; the
first run's cell would be one strained cell among the others (point group −1 for a random strain).

:func:`parent_crystal` rebuilds it from the runs' final structures:

1. the lattice at the centre of the runs' parameters (the midpoint of each parameter's range, the
   centre of the box the campaign filled; for a symmetric stencil, the unstrained cell);
2. the sites of the run whose cell is closest to that centre (fractional coordinates are what a
   strain campaign shares);
3. symmetrised with pymatgen's ``SpacegroupAnalyzer`` at a tolerance (Å) loose enough to see the
   parent group through what remains of the strain at the centre: the point group's operations
   average the metric (:func:`dkluq_cli.crystal.point_group.symmetrised`) and the sites are
   moved onto their symmetric positions, so the result is exactly symmetric.

The lowest-energy run, symmetrised the same way, is the other candidate: a campaign that holds
its relaxed parent (or strains it one way only, so that the centre of the box is itself strained)
finds the parent there. The candidate of the larger point group wins; the centre on a tie.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.lattice import structure_to_params
from dkluq_cli.crystal.point_group import symmetrised

if TYPE_CHECKING:
    from pymatgen.core import Structure

#: Tolerance (Å) of the symmetry search on the centre cell: Materials Project's choice for
#: relaxed structures, loose enough for a centre that is a few hundredths of an Å off.
SYMPREC = 0.1
#: Angle tolerance (degrees) of the same search (spglib's default).
ANGLE_TOLERANCE = 5.0


@dataclass(frozen=True)
class ParentCrystal:
    """A campaign's parent crystal and how it was found.

    Attributes:
        crystal: The symmetrised parent (its ``point_group`` set).
        space_group: The space group symbol found (e.g. ``Pm-3m``).
        n_runs: Runs of the campaign's composition it was built from.
        symprec: Tolerance of the symmetry search (Å).
        origin: ``"centre"`` (the centre of the runs' parameters) or ``"lowest-energy run"``.
    """

    crystal: Crystal
    space_group: str
    n_runs: int
    symprec: float
    origin: str = "centre"

    def describe(self) -> str:
        """One line for humans."""
        c = self.crystal
        lat = ", ".join(f"{v:.4g}" for v in c.lattice)
        where = "the centre" if self.origin == "centre" else f"the {self.origin}"
        return (
            f"{c.formula} {c.point_group} ({self.space_group}), lattice {lat} Å/°, from "
            f"{where} of {self.n_runs} run(s), symmetry tolerance {self.symprec:g} Å"
        )


def parent_crystal(
    structures: Sequence[Structure],
    source: str,
    energies: Sequence[float] | None = None,
    symprec: float = SYMPREC,
) -> ParentCrystal | None:
    """The parent crystal of the runs' final structures (see the module docstring).

    Args:
        structures: The final structures of one composition's runs (pymatgen).
        source: Where they came from, recorded in the crystal (e.g. ``table.extxyz``).
        energies: The runs' energies (eV, same order), to try the lowest-energy run too.
        symprec: Symmetry tolerance (Å).

    Returns:
        The parent, or None when there are no structures or they do not share one composition
        and site count (no campaign to take a parent from).
    """
    if not structures:
        return None
    formulas = {s.composition.reduced_formula for s in structures}
    counts = {len(s) for s in structures}
    if len(formulas) != 1 or len(counts) != 1:
        return None
    params = np.array([structure_to_params(s) for s in structures])
    centre = (params.min(axis=0) + params.max(axis=0)) / 2.0
    nearest = structures[int(np.argmin(_strain_distance(params, centre)))]
    candidates = {"centre": _on_lattice(nearest, centre)}
    if energies is not None and len(energies) == len(structures):
        lowest = structures[int(np.argmin(np.asarray(energies, dtype=np.float64)))]
        candidates["lowest-energy run"] = _on_lattice(lowest, structure_to_params(lowest))
    best = None
    for origin, cand in candidates.items():
        crystal, space_group, order = _symmetrise(cand, symprec)
        if best is None or order > best[3]:
            best = (origin, crystal, space_group, order)
    origin, crystal, space_group, _ = best
    return ParentCrystal(
        crystal=Crystal.from_structure(crystal, source, point_group=_point_group_symbol(crystal)),
        space_group=space_group,
        n_runs=len(structures),
        symprec=symprec,
        origin=origin,
    )


def _strain_distance(params: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """A scale-free distance of each cell from the centre: relative lengths, angles in radians."""
    d_len = np.log(params[:, :3] / centre[:3])
    d_ang = np.radians(params[:, 3:] - centre[3:])
    return np.sqrt((d_len**2).sum(axis=1) + (d_ang**2).sum(axis=1))


def _on_lattice(structure: Structure, params: np.ndarray) -> Structure:
    from pymatgen.core import Lattice, Structure

    return Structure(
        Lattice.from_parameters(*params), structure.species, structure.frac_coords % 1.0
    )


def _symmetrise(structure: Structure, symprec: float) -> tuple[Structure, str, int]:
    """``structure`` made exactly symmetric under the space group found at ``symprec``, in the
    same basis (the table's lattice parameters stay comparable with it), that group's symbol
    and its number of point operations."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sga = SpacegroupAnalyzer(structure, symprec=symprec, angle_tolerance=ANGLE_TOLERANCE)
        ops = sga.get_symmetry_operations(cartesian=False)
        symbol = str(sga.get_space_group_symbol())
    rots = np.rint([op.rotation_matrix for op in ops]).astype(np.int64)
    trans = np.array([op.translation_vector for op in ops], dtype=np.float64)
    lattice = Lattice.from_parameters(*symmetrised(structure_to_params(structure), rots))
    coords = _symmetric_sites(structure, rots, trans, lattice.matrix)
    order = len({r.tobytes() for r in rots})
    return Structure(lattice, structure.species, coords), symbol, order


def _symmetric_sites(
    structure: Structure, rots: np.ndarray, trans: np.ndarray, matrix: np.ndarray
) -> np.ndarray:
    """Fractional coordinates averaged over the group: each operation maps every site onto its
    nearest image of the same species, and each site's new position is the mean of the images
    that land on it (unwrapped next to it)."""
    x = structure.frac_coords % 1.0
    species = [str(s) for s in structure.species]
    total = np.zeros_like(x)
    for rot, t in zip(rots, trans, strict=True):
        img = x @ rot.T + t
        for i, pos in enumerate(img):
            diff = x - pos
            diff -= np.rint(diff)
            dist = np.linalg.norm(diff @ matrix, axis=1)
            dist[[s != species[i] for s in species]] = np.inf
            j = int(np.argmin(dist))
            total[j] += x[j] - diff[j]
    return (total / len(rots)) % 1.0


def _point_group_symbol(structure: Structure) -> str:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return str(SpacegroupAnalyzer(structure, symprec=1e-3).get_point_group_symbol())


__all__ = ["ANGLE_TOLERANCE", "SYMPREC", "ParentCrystal", "parent_crystal"]
