"""Homogeneous deformations of a cell in Voigt notation, and the unit of elastic constants.

Elastic constants are written in a Cartesian frame. dkluq uses pymatgen's
``Lattice.from_parameters`` frame (:func:`lattice_matrix`: **c** along z, **a** in the xz plane),
the frame the sample data and the real-DFT stress files are written in; for a cell with right
angles its axes are the cell's edges.

A strain is given as a Voigt vector ``e = (e_xx, e_yy, e_zz, e_yz, e_xz, e_xy)`` with
*engineering* shear components (``e_yz = 2 η_yz``), as pymatgen's ``ElasticTensor.voigt`` and
ASE's stress use, and read as the Lagrangian (Green) strain ``η`` of the deformation: a cell of
lattice vectors ``L`` (rows) goes to the cell with metric

    G' = L (I + 2η) Lᵀ,

so the six lattice parameters of a strained cell follow exactly, without choosing a rotation.
The energy of a cell at zero stress then expands as ``E(e) = E0 + ½ V0 eᵀ C e + O(e³)`` with
``C`` the 6 × 6 elastic tensor; to first order ``η`` is the small strain ``ε`` of ASE's stress
``σ = (1/V) ∂E/∂ε``.
"""

from __future__ import annotations

import numpy as np

from dkluq_cli.crystal.strain import params_from_metric

#: Voigt order of strains, stresses and the elastic tensor's rows.
VOIGT: tuple[str, ...] = ("xx", "yy", "zz", "yz", "xz", "xy")
#: Tensor indices of each Voigt component.
VOIGT_PAIRS: tuple[tuple[int, int], ...] = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
#: 1 eV/Å³ in GPa.
EV_PER_A3_IN_GPA = 160.21766208


def lattice_matrix(params: np.ndarray) -> np.ndarray:
    """Lattice vectors (rows, Å) of lattice parameters in pymatgen's ``from_parameters`` frame.

    Args:
        params: (6,) or (n, 6): a, b, c (Å), α, β, γ (degrees).

    Returns:
        (3, 3) for one cell, else (n, 3, 3).
    """
    p = np.atleast_2d(np.asarray(params, dtype=np.float64))
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    al, be, ga = (np.radians(p[:, k]) for k in (3, 4, 5))
    val = (np.cos(al) * np.cos(be) - np.cos(ga)) / (np.sin(al) * np.sin(be))
    gamma_star = np.arccos(np.clip(val, -1.0, 1.0))
    out = np.zeros((len(p), 3, 3))
    out[:, 0] = np.stack([a * np.sin(be), np.zeros_like(a), a * np.cos(be)], axis=1)
    out[:, 1] = np.stack(
        [
            -b * np.sin(al) * np.cos(gamma_star),
            b * np.sin(al) * np.sin(gamma_star),
            b * np.cos(al),
        ],
        axis=1,
    )
    out[:, 2, 2] = c
    return out[0] if np.ndim(params) == 1 else out


def voigt_to_tensor(e: np.ndarray) -> np.ndarray:
    """Voigt strains with engineering shear (n, 6) → symmetric strain tensors (n, 3, 3)."""
    e = np.atleast_2d(np.asarray(e, dtype=np.float64))
    t = np.empty((len(e), 3, 3))
    for k, (i, j) in enumerate(VOIGT_PAIRS):
        value = e[:, k] if i == j else e[:, k] / 2.0
        t[:, i, j] = t[:, j, i] = value
    return t


def deformed_params(matrix: np.ndarray, strains: np.ndarray) -> np.ndarray:
    """Lattice parameters of a cell deformed by Lagrangian Voigt strains.

    Args:
        matrix: (3, 3) lattice vectors of the undeformed cell (rows, Å), in the frame the
            strains are written in.
        strains: (n, 6) or (6,) Voigt strains (engineering shear).

    Returns:
        (n, 6) lattice parameters (Å, degrees).
    """
    lat = np.asarray(matrix, dtype=np.float64)
    eta = voigt_to_tensor(strains)
    metric = lat @ (np.eye(3) + 2.0 * eta) @ lat.T
    return params_from_metric(metric)


def matrix_params(matrix: np.ndarray) -> np.ndarray:
    """The six lattice parameters (6,) of lattice vectors ``matrix`` (rows, Å), any frame."""
    lat = np.asarray(matrix, dtype=np.float64).reshape(3, 3)
    return params_from_metric(lat @ lat.T)[0]


__all__ = [
    "EV_PER_A3_IN_GPA",
    "VOIGT",
    "VOIGT_PAIRS",
    "deformed_params",
    "lattice_matrix",
    "matrix_params",
    "voigt_to_tensor",
]
