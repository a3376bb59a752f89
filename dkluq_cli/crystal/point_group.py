"""The point group of a reference crystal acting on lattice parameters and on strain.

A symmetry operation of the reference (integer rotation ``M`` of fractional coordinates, with
whatever translation) maps a cell with metric ``G`` to one with metric ``Mᵀ G M``: the same
crystal (atoms at the same fractional coordinates, which ``M`` maps onto themselves) written in
another basis, so with the same energy. For the cubic perovskite the 48 operations of m-3m give
24 distinct images of (a, b, c, α, β, γ): permutations of the lengths with their angles and
180° − angle flips. On strain (:mod:`dkluq_cli.crystal.strain`) the operations act linearly and
orthogonally, which is what a symmetric model uses (:meth:`PointGroup.strain_actions`).

The group is that of the *crystal*: the lattice's own holohedry (:meth:`PointGroup.holohedry`)
is larger when the atoms break some of its symmetry, so take it only when they do not.
pymatgen is imported inside the functions that need it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.crystal.strain import (
    fractional_to_cartesian,
    mandel_action,
    metric_tensor,
    params_from_metric,
)

if TYPE_CHECKING:
    from pymatgen.core import Structure

#: Decimals (Å, degrees) to which images are compared when removing duplicates.
IMAGE_DECIMALS = 8


def _unique_matrices(mats: np.ndarray, decimals: int = 10) -> np.ndarray:
    """Distinct matrices of ``mats`` (k, m, m), first occurrence first."""
    seen: dict[bytes, int] = {}
    for i, m in enumerate(np.round(mats, decimals) + 0.0):
        seen.setdefault(m.tobytes(), i)
    return mats[sorted(seen.values())]


def symmetrised(reference: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """The lattice (6,; Å, degrees) whose metric is the group average of ``Mᵀ G0 M``: the
    reference made exactly symmetric (spglib accepts cells within its tolerance), so that the
    operations act on its strain by exactly orthogonal maps."""
    g = metric_tensor(reference)[0]
    m = np.asarray(rotations, dtype=np.float64)
    return params_from_metric(np.einsum("kji,jl,klm->im", m, g, m) / len(m))[0]


def coordinate_images(u: np.ndarray, actions: np.ndarray | None) -> np.ndarray:
    """(n, k, d) images of coordinate rows ``u`` (n, d) under the group's maps ``actions``
    (k, d, d; e.g. :meth:`PointGroup.strain_actions`); k = 1 without a group."""
    u = np.atleast_2d(np.asarray(u, dtype=np.float64))
    if actions is None:
        return u[:, None, :]
    return np.einsum("kij,nj->nki", np.asarray(actions, dtype=np.float64), u)


@dataclass
class PointGroup:
    """Integer rotations of fractional coordinates that leave the reference crystal unchanged.

    Attributes:
        lattice: (6,) the crystal's lattice parameters (Å, degrees), symmetrised.
        rotations: (k, 3, 3) integer matrices ``M`` (x_frac → M x_frac), identity first.
        symbol: International point-group symbol when known (``m-3m``), else ``""``.
    """

    lattice: np.ndarray
    rotations: np.ndarray
    symbol: str = ""

    @classmethod
    def trivial(cls, reference: np.ndarray) -> PointGroup:
        """The group of the identity alone (no symmetry used)."""
        return cls(np.asarray(reference, float).reshape(6), np.eye(3, dtype=np.int64)[None], "1")

    @classmethod
    def from_structure(cls, structure: Structure, symprec: float = 1e-3) -> PointGroup:
        """The point group of a pymatgen ``Structure`` (its lattice is the reference).

        Args:
            structure: The reference crystal (species and fractional coordinates matter).
            symprec: Symmetry tolerance (Å) passed to spglib through pymatgen.
        """
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        with warnings.catch_warnings():
            # spglib's own deprecation notice about its error handling, raised inside pymatgen
            warnings.simplefilter("ignore", DeprecationWarning)
            sga = SpacegroupAnalyzer(structure, symprec=symprec)
            ops = sga.get_symmetry_operations(cartesian=False)
            symbol = str(sga.get_point_group_symbol())
        rots = np.rint([op.rotation_matrix for op in ops]).astype(np.int64)
        rots = _unique_matrices(rots)
        ident = np.where([np.array_equal(r, np.eye(3)) for r in rots])[0]
        order = [*ident, *[i for i in range(len(rots)) if i not in ident]]
        lat = structure.lattice
        ref = symmetrised(np.array([*lat.abc, *lat.angles], dtype=np.float64), rots)
        return cls(ref, rots[order], symbol)

    @classmethod
    def holohedry(cls, reference: np.ndarray, symprec: float = 1e-3) -> PointGroup:
        """The lattice's own point group (one atom at the origin): right only when the atoms
        have the lattice's full symmetry, as in the cubic perovskite."""
        from pymatgen.core import Lattice, Structure

        ref = np.asarray(reference, float).reshape(6)
        lattice = Lattice.from_parameters(*ref)
        return cls.from_structure(Structure(lattice, ["H"], [[0.0, 0.0, 0.0]]), symprec)

    @property
    def order(self) -> int:
        """Number of operations."""
        return len(self.rotations)

    def metric_images(self, params: np.ndarray) -> np.ndarray:
        """Metrics ``Mᵀ G M`` (n, k, 3, 3; Å²) of every operation applied to each cell."""
        g = metric_tensor(params)
        m = self.rotations.astype(np.float64)
        return np.einsum("kji,njl,klm->nkim", m, g, m)

    def images(self, params: np.ndarray) -> np.ndarray:
        """All images (n, k, 6; Å, degrees) of each cell, one per operation (duplicates kept,
        so the same index is the same operation for every row)."""
        g = self.metric_images(params)
        n, k = g.shape[:2]
        return params_from_metric(g.reshape(-1, 3, 3)).reshape(n, k, 6)

    def distinct_images(self, params: np.ndarray) -> list[np.ndarray]:
        """For each cell, its distinct images (m_i, 6; Å, degrees), compared to
        :data:`IMAGE_DECIMALS` decimals; a cell of the reference's own symmetry has one."""
        out = []
        for imgs in self.images(params):
            keys = np.round(imgs, IMAGE_DECIMALS) + 0.0
            _, first = np.unique(keys, axis=0, return_index=True)
            out.append(imgs[np.sort(first)])
        return out

    def canonical(self, params: np.ndarray) -> np.ndarray:
        """One representative (n, 6) per orbit: the lexicographically smallest image after
        rounding to :data:`IMAGE_DECIMALS` decimals. Cells related by the group map to the
        same row (up to that rounding)."""
        imgs = self.images(params)
        keys = np.round(imgs, IMAGE_DECIMALS) + 0.0
        out = np.empty((len(imgs), 6))
        for i, key in enumerate(keys):
            out[i] = imgs[i, np.lexsort(key.T[::-1])[0]]
        return out

    def cartesian_rotations(self) -> np.ndarray:
        """The operations as orthogonal matrices (k, 3, 3) in the reference's frame."""
        return fractional_to_cartesian(self.rotations, self.lattice)

    def strain_actions(self) -> np.ndarray:
        """Distinct 6 × 6 maps (k', 6, 6) of Mandel strain, identity first: the group as it
        acts on :class:`~dkluq_cli.crystal.strain.StrainCoordinates` (−M acts like M on strain, so
        m-3m gives 24)."""
        acts = np.stack([mandel_action(r) for r in self.cartesian_rotations()])
        return _unique_matrices(acts)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and strings (for the model file)."""
        return {
            "reference": self.lattice.tolist(),  # the file key of format 3
            "rotations": self.rotations.tolist(),
            "symbol": self.symbol,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PointGroup:
        """Inverse of :meth:`to_dict`."""
        rots = np.asarray(data["rotations"], dtype=np.int64).reshape(-1, 3, 3)
        return cls(np.asarray(data["reference"], float), rots, str(data.get("symbol", "")))


def cubic_perovskite(a: float = 3.914, species: tuple[str, str, str] = ("Sr", "Ti", "O")):
    """The 5-atom cubic perovskite ABO3 (A at 0,0,0; B at ½,½,½; O at ½,½,0 / ½,0,½ / 0,½,½)
    with lattice constant ``a`` (Å), as a pymatgen ``Structure``."""
    from pymatgen.core import Lattice, Structure

    a_site, b_site, o = species
    coords = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Structure(Lattice.cubic(a), [a_site, b_site, o, o, o], coords)
