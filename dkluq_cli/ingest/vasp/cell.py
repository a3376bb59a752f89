"""A run's final structure: lattice, symbols, positions, and what the table and extxyz say of it.

The numbers are computed exactly as pymatgen's ``Lattice`` and ``Structure`` compute them (the
same numpy operations in the same order, so the same bits), and the extxyz frame is written
exactly as ASE's ``extxyz`` writer writes an ``Atoms`` with this info, without building either
object: readers that parse a file themselves hand over plain arrays. Lengths in Å, angles in
degrees, volume in Å³.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np


@dataclass
class Cell:
    """A periodic structure.

    Attributes:
        matrix: Lattice vectors (Å), rows a, b, c.
        symbols: Chemical symbol of each atom.
        cart: Cartesian positions (Å), one row per atom.
    """

    matrix: np.ndarray
    symbols: list[str]
    cart: np.ndarray

    @classmethod
    def from_fractional(cls, matrix: Any, symbols: list[str], frac: Any) -> Cell:
        """From fractional coordinates, as pymatgen's ``Structure`` turns them Cartesian."""
        m = np.array(matrix, dtype=np.float64).reshape((3, 3))
        cart = np.array([np.dot(np.asarray(f, dtype=np.float64), m) for f in frac])
        return cls(m, list(symbols), cart.reshape((len(symbols), 3)))

    @classmethod
    def from_structure(cls, structure: Any) -> Cell:
        """From a pymatgen ``Structure``."""
        return cls(
            structure.lattice.matrix,
            [site.specie.symbol for site in structure],
            structure.cart_coords,
        )

    def parameters(self) -> tuple[float, float, float, float, float, float]:
        """``(a, b, c, alpha, beta, gamma)`` as pymatgen's ``Lattice.parameters``."""
        m = self.matrix
        lengths = tuple(np.sqrt(np.sum(m**2, axis=1)).tolist())
        angles = np.zeros(3)
        with np.errstate(all="ignore"):  # a zero-length vector gives nan, reported by the caller
            for dim in range(3):
                jj, kk = (dim + 1) % 3, (dim + 2) % 3
                angles[dim] = np.clip(np.dot(m[jj], m[kk]) / (lengths[jj] * lengths[kk]), -1, 1)
            return (*lengths, *np.rad2deg(np.arccos(angles)).tolist())

    def volume(self) -> float:
        """Cell volume (Å³) as pymatgen's ``Lattice.volume``."""
        m = self.matrix
        return float(abs(np.dot(np.cross(m[0], m[1]), m[2])))

    def reduced_formula(self) -> str:
        """pymatgen's reduced formula, e.g. ``"LiFe4(PO4)4"``."""
        counts: dict[str, int] = {}
        for s in self.symbols:
            counts[s] = counts.get(s, 0) + 1
        return _reduced_formula(tuple(sorted(counts.items())))


@lru_cache(maxsize=4096)
def _reduced_formula(counts: tuple[tuple[str, int], ...]) -> str:
    from pymatgen.core.composition import Composition

    return Composition({s: float(n) for s, n in counts}).reduced_formula


def _quote(text: str) -> str:
    """ASE's extxyz ``escape``: quote a value holding spaces, quotes, braces or brackets."""
    if any(c in text for c in " \"'{}[]"):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def _value(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "T" if value else "F"
    if isinstance(value, float | int | np.floating | np.integer):
        return f"{value}"
    return str(value)


def extxyz_frame(cell: Cell, info: dict[str, Any]) -> str:
    """The frame ASE's ``write(..., format="extxyz")`` writes for this periodic structure.

    Args:
        cell: The structure.
        info: The frame's info (string and number values), in order.

    Returns:
        The frame's text: atom count, comment line, one line per atom.
    """
    comment = ""
    if cell.matrix.any():
        comment = 'Lattice="' + " ".join(str(x) for x in cell.matrix.reshape(9)) + '" '
    comment += "Properties=species:S:1:pos:R:3"
    pairs = [f"{_quote(k)}={_quote(_value(v))}" for k, v in info.items()]
    comment += " " + " ".join([*pairs, 'pbc="T T T"'])
    lines = [f"{len(cell.symbols)}\n", comment + "\n"]
    lines += [
        "%-2s %16.8f %16.8f %16.8f\n" % (s, *xyz)  # noqa: UP031 - ASE's own format
        for s, xyz in zip(cell.symbols, cell.cart.tolist(), strict=True)
    ]
    return "".join(lines)
