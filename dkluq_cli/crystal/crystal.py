"""The reference crystal: the atoms and lattice a model's strain, symmetry and new structures
are built from.

A :class:`Crystal` is what ``--reference POSCAR`` reads, what ``dkluq ingest`` finds as a
campaign's parent crystal, what a model file stores and what ``suggest`` puts new lattices
under. It is a value: species, fractional coordinates, lattice parameters (a, b, c in Å; α, β, γ
in degrees, pymatgen's ``Lattice.from_parameters`` convention), the reduced formula, and where it
came from. A crystal read from an old model file may carry a lattice and formula without atoms
(:attr:`Crystal.has_atoms`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.crystal.lattice import check_cell, structure_to_params
from dkluq_cli.errors import DkluqError

if TYPE_CHECKING:
    from pymatgen.core import Structure


@dataclass(frozen=True)
class Crystal:
    """A crystal's atoms on its lattice.

    Attributes:
        species: Element symbols, one per site (empty when only the lattice is known).
        frac_coords: Fractional coordinates, one row of three per site.
        lattice: ``a, b, c`` (Å), ``alpha, beta, gamma`` (degrees).
        formula: Reduced formula, e.g. ``SrTiO3`` (empty when unknown).
        source: Where the crystal came from (a file, ``table.extxyz``, ``ingest: ...``).
        point_group: Hermann–Mauguin symbol of its point group when it was determined (ingest
            records the group it symmetrised to), else empty.
    """

    species: tuple[str, ...] = ()
    frac_coords: tuple[tuple[float, float, float], ...] = ()
    lattice: tuple[float, ...] = field(default=())
    formula: str = ""
    source: str = ""
    point_group: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "species", tuple(str(s) for s in self.species))
        object.__setattr__(
            self, "frac_coords", tuple(tuple(float(v) for v in row) for row in self.frac_coords)
        )
        object.__setattr__(self, "lattice", tuple(float(v) for v in self.lattice))
        if len(self.species) != len(self.frac_coords):
            raise ValueError(
                f"{len(self.species)} species but {len(self.frac_coords)} coordinate rows"
            )
        if len(self.lattice) not in (0, 6):
            raise ValueError(f"a lattice has six parameters, got {len(self.lattice)}")

    @property
    def has_atoms(self) -> bool:
        """Whether the species and fractional coordinates are known."""
        return bool(self.species)

    @property
    def n_atoms(self) -> int:
        """Sites per cell (0 without atoms)."""
        return len(self.species)

    @property
    def params(self) -> np.ndarray:
        """The lattice parameters as an array of shape (6,) (Å, degrees)."""
        return np.asarray(self.lattice, dtype=np.float64)

    @classmethod
    def from_structure(cls, structure: Structure, source: str, point_group: str = "") -> Crystal:
        """The crystal of a pymatgen structure."""
        return cls(
            species=[str(site.specie) for site in structure],
            frac_coords=structure.frac_coords.tolist(),
            lattice=structure_to_params(structure).tolist(),
            formula=structure.composition.reduced_formula,
            source=source,
            point_group=point_group,
        )

    def structure(self, params: Sequence[float] | None = None) -> Structure:
        """The atoms (fixed fractional coordinates) in a cell with ``params`` (default: the
        crystal's own lattice).

        Raises:
            DkluqError: The parameters make no real cell, or the crystal has no atoms.
        """
        from pymatgen.core import Lattice, Structure

        values = check_cell(self.lattice if params is None else params, "lattice parameters")
        if not self.has_atoms:
            raise DkluqError("the reference crystal has no atoms (species / frac_coords)")
        return Structure(
            Lattice.from_parameters(*values), list(self.species), np.asarray(self.frac_coords)
        )

    def with_formula(self, formula: str) -> Crystal:
        """A copy with ``formula``."""
        return replace(self, formula=formula)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and strings (the model file's and config.json's ``reference``)."""
        out: dict[str, Any] = {
            "species": list(self.species),
            "frac_coords": [list(row) for row in self.frac_coords],
            "lattice": list(self.lattice),
            "formula": self.formula,
            "source": self.source,
        }
        if self.point_group:
            out["point_group"] = self.point_group
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Crystal | None:
        """Inverse of :meth:`to_dict`; None for None or an empty dict. Missing keys (a
        lattice-only crystal) become empty."""
        if not data:
            return None
        return cls(
            species=data.get("species") or (),
            frac_coords=data.get("frac_coords") or (),
            lattice=data.get("lattice") or (),
            formula=str(data.get("formula") or ""),
            source=str(data.get("source") or ""),
            point_group=str(data.get("point_group") or ""),
        )


__all__ = ["Crystal"]
