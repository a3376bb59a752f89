"""Finite strain of a cell relative to a reference lattice, and polynomials of that strain.

A crystal's energy is a function of its strain, not of how the six lattice parameters happen to
be written down. Everything here goes through the metric tensor ``G = L Lᵀ`` (Å², rows of ``L``
the lattice vectors), which the six parameters (a, b, c in Å; α, β, γ in degrees, pymatgen's
``Lattice.from_parameters`` convention: α between **b** and **c**, β between **a** and **c**, γ
between **a** and **b**) fix without any orientation. With the reference's metric ``G0`` and its
Cholesky factor ``L0`` (``G0 = L0 L0ᵀ``, the reference's vectors in a fixed Cartesian frame),
a cell deformed by ``F`` from the reference has the right Cauchy–Green tensor

    C = FᵀF = L0⁻¹ G L0⁻ᵀ,

the Green–Lagrange strain ``E = ½(C − I)`` and the Hencky (logarithmic) strain ``H = ½ log C``,
all dimensionless and written in the reference's frame. A symmetry operation of the reference
(integer matrix ``M`` on fractional coordinates) maps ``G`` to ``Mᵀ G M`` and the strain to
``Rᵀ E R`` with the orthogonal ``R = L0ᵀ M L0⁻ᵀ`` (:func:`mandel_action`), a linear map of the
six strain components in Mandel form ``(E11, E22, E33, √2E23, √2E13, √2E12)``.

:class:`StrainCoordinates` turns lattice parameters into model coordinates (scaled Mandel
strain); :class:`StrainPolynomial` is the polynomial basis in those coordinates, symmetrised
over a group of such linear maps (the Reynolds average of every monomial, keeping an independent
subset), so that a cubic reference gives the 22 invariants of degree ≤ 4 instead of 210 monomials.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dkluq_cli.crystal.monomials import averaged_monomials, expansion_plan, monomial_exponents

#: Strain measures :func:`strain` knows.
MEASURES = ("hencky", "green")

_MANDEL = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
_R2 = np.sqrt(2.0)


def metric_tensor(params: np.ndarray) -> np.ndarray:
    """Metric tensors ``G_ij = a_i · a_j`` (Å²) of lattice parameters.

    Args:
        params: (n, 6) or (6,) lattice parameters a, b, c (Å), α, β, γ (degrees).

    Returns:
        (n, 3, 3) symmetric metric tensors.
    """
    p = np.atleast_2d(np.asarray(params, dtype=np.float64))
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    ca, cb, cg = (np.cos(np.radians(p[:, k])) for k in (3, 4, 5))
    g = np.empty((len(p), 3, 3))
    g[:, 0, 0], g[:, 1, 1], g[:, 2, 2] = a * a, b * b, c * c
    g[:, 0, 1] = g[:, 1, 0] = a * b * cg
    g[:, 0, 2] = g[:, 2, 0] = a * c * cb
    g[:, 1, 2] = g[:, 2, 1] = b * c * ca
    return g


def params_from_metric(g: np.ndarray) -> np.ndarray:
    """Lattice parameters (n, 6; Å and degrees) of metric tensors (n, 3, 3 or 3, 3; Å²)."""
    g = np.asarray(g, dtype=np.float64).reshape(-1, 3, 3)
    lengths = np.sqrt(np.stack([g[:, 0, 0], g[:, 1, 1], g[:, 2, 2]], axis=1))
    a, b, c = lengths.T

    def angle(cos: np.ndarray) -> np.ndarray:
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

    angles = [angle(g[:, 1, 2] / (b * c)), angle(g[:, 0, 2] / (a * c)), angle(g[:, 0, 1] / (a * b))]
    return np.concatenate([lengths, np.stack(angles, axis=1)], axis=1)


def reference_frame(reference: np.ndarray) -> np.ndarray:
    """The reference's lattice vectors (rows, Å) in its Cartesian frame: the lower Cholesky
    factor ``L0`` of its metric, so **a** lies along x and **b** in the xy plane."""
    return np.linalg.cholesky(metric_tensor(reference)[0])


def cauchy_green(params: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Right Cauchy–Green tensors ``C = L0⁻¹ G L0⁻ᵀ`` (n, 3, 3; dimensionless) of cells
    relative to ``reference`` (6,), in the reference's frame (:func:`reference_frame`)."""
    inv = np.linalg.inv(reference_frame(reference))
    c = inv @ metric_tensor(params) @ inv.T
    return (c + np.swapaxes(c, 1, 2)) / 2.0


def strain(params: np.ndarray, reference: np.ndarray, measure: str = "hencky") -> np.ndarray:
    """Finite strain tensors (n, 3, 3; dimensionless) of cells relative to ``reference``.

    Args:
        params: (n, 6) lattice parameters (Å, degrees).
        reference: (6,) reference lattice parameters (Å, degrees); its strain is zero.
        measure: ``hencky`` (``½ log C``; a polynomial in it is the Poirier–Tarantola
            equation of state along a volume line) or ``green`` (``½ (C − I)``).

    Raises:
        ValueError: Unknown measure.
    """
    c = cauchy_green(params, reference)
    if measure == "green":
        return (c - np.eye(3)) / 2.0
    if measure != "hencky":
        raise ValueError(f"unknown strain measure {measure!r}; choose from {MEASURES}")
    w, v = np.linalg.eigh(c)
    return 0.5 * np.einsum("nij,nj,nkj->nik", v, np.log(w), v)


def to_mandel(e: np.ndarray) -> np.ndarray:
    """Symmetric tensors (n, 3, 3) → Mandel vectors (n, 6): E11, E22, E33, √2E23, √2E13,
    √2E12 (the Frobenius norm of the tensor is the Euclidean norm of the vector)."""
    e = np.asarray(e, dtype=np.float64).reshape(-1, 3, 3)
    scale = np.array([1.0, 1.0, 1.0, _R2, _R2, _R2])
    return np.stack([e[:, i, j] for i, j in _MANDEL], axis=1) * scale


def from_mandel(v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_mandel`: Mandel vectors (n, 6) → symmetric tensors (n, 3, 3)."""
    v = np.atleast_2d(np.asarray(v, dtype=np.float64))
    e = np.empty((len(v), 3, 3))
    for k, (i, j) in enumerate(_MANDEL):
        value = v[:, k] / (_R2 if i != j else 1.0)
        e[:, i, j] = e[:, j, i] = value
    return e


def mandel_action(rotation: np.ndarray) -> np.ndarray:
    """The 6 × 6 matrix ``A`` with ``to_mandel(Rᵀ E R) = A @ to_mandel(E)`` (orthogonal when
    ``R`` is)."""
    r = np.asarray(rotation, dtype=np.float64)
    basis = from_mandel(np.eye(6))
    return to_mandel(r.T @ basis @ r).T


def fractional_to_cartesian(rotations: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Orthogonal matrices ``R = L0ᵀ M L0⁻ᵀ`` (k, 3, 3) of integer fractional operations
    ``M`` (k, 3, 3) of the reference lattice (6,); the strain maps to ``Rᵀ E R``."""
    l0 = reference_frame(reference)
    m = np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)
    return l0.T @ m @ np.linalg.inv(l0).T


@dataclass
class StrainCoordinates:
    """Lattice parameters → model coordinates: the Mandel strain divided by one scale.

    One scalar scale (not one per component) keeps a symmetry's action on the coordinates
    orthogonal, so an isotropic distance stays invariant.

    Attributes:
        lattice: (6,) the zero-strain lattice (Å, degrees), where the coordinates are zero.
        measure: ``hencky`` or ``green``.
        scale: Dimensionless strain per coordinate unit: the largest half-range of a Mandel
            component over the training rows, so training coordinates lie within about ±1.
    """

    lattice: np.ndarray
    measure: str = "hencky"
    scale: float = 1.0

    @classmethod
    def from_training(
        cls, params: np.ndarray, lattice: np.ndarray | None = None, measure: str = "hencky"
    ) -> StrainCoordinates:
        """Coordinates for training rows ``params`` (n, 6; Å, degrees).

        Args:
            params: The training lattices.
            lattice: The zero-strain lattice (6,); default the centre of the training box
                (per-parameter midpoint of min and max).
            measure: Strain measure.
        """
        p = np.atleast_2d(np.asarray(params, dtype=np.float64))
        ref = (p.min(axis=0) + p.max(axis=0)) / 2.0 if lattice is None else lattice
        ref = np.asarray(ref, dtype=np.float64).reshape(6)
        v = to_mandel(strain(p, ref, measure))
        half = float(np.max(np.ptp(v, axis=0))) / 2.0
        # a single row (or rows all at one cell) gives no spread: 5 % strain is a typical box
        return cls(ref, measure, half if half > 1e-12 else 0.05)

    def apply(self, params: np.ndarray) -> np.ndarray:
        """Model coordinates (n, 6; dimensionless) of lattice parameters (n, 6; Å, degrees)."""
        return to_mandel(strain(params, self.lattice, self.measure)) / self.scale

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (for the model file)."""
        return {"reference": self.lattice.tolist(), "measure": self.measure, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StrainCoordinates:
        """Inverse of :meth:`to_dict`."""
        return cls(np.asarray(data["reference"], float), str(data["measure"]), float(data["scale"]))


def _identity_only(actions: np.ndarray) -> bool:
    return all(np.allclose(a, np.eye(len(a))) for a in actions)


@dataclass
class StrainPolynomial:
    """Polynomial basis of degree ≤ ``degree`` in model coordinates, invariant under a group.

    Each basis function is the group average (Reynolds operator) of one monomial,
    ``φ(x) = 1/|G| Σ_g m(A_g x)``; averaging many monomials gives the same invariant (or a
    combination of others), so only a linearly independent subset is kept, chosen degree by
    degree by pivoted QR at seeded random points. With the trivial group it is the plain
    monomial basis.

    Attributes:
        degree: Highest total degree.
        actions: (k, d, d) linear maps of the coordinates forming the group (identity included).
        exponents: (p, d) exponents of the monomial behind each basis function.
    """

    degree: int
    actions: np.ndarray
    exponents: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))

    @classmethod
    def build(
        cls, degree: int, actions: np.ndarray | None = None, n_coords: int = 6, seed: int = 0
    ) -> StrainPolynomial:
        """The basis of degree ≤ ``degree`` invariant under ``actions`` (default: none).

        Args:
            degree: Highest total degree (≥ 0).
            actions: (k, d, d) group of linear coordinate maps, or None for the trivial group.
            n_coords: d, when ``actions`` is None.
            seed: Seed of the random points that decide which averaged monomials are kept.
        """
        acts = np.eye(n_coords)[None] if actions is None else np.asarray(actions, float)
        exps = _kept_exponents(int(degree), acts.tobytes(), acts.shape, int(seed))
        return cls(int(degree), acts, exps.copy())

    @property
    def degrees(self) -> np.ndarray:
        """Total degree of each basis function (p,)."""
        return self.exponents.sum(axis=1)

    def design(self, x: np.ndarray) -> np.ndarray:
        """Basis values (n, p) at coordinates ``x`` (n, d): each averaged monomial expanded
        once into plain monomials (:func:`dkluq_cli.crystal.monomials.expansion_plan`)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if len(self.exponents) == 0:
            return np.zeros((len(x), 0))
        return expansion_plan(self.actions, self.exponents).evaluate(x)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (for the model file)."""
        return {
            "degree": self.degree,
            "actions": self.actions.tolist(),
            "exponents": self.exponents.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StrainPolynomial:
        """Inverse of :meth:`to_dict`."""
        acts = np.asarray(data["actions"], dtype=np.float64)
        exps = np.asarray(data["exponents"], dtype=np.int64).reshape(-1, acts.shape[1])
        return cls(int(data["degree"]), acts, exps)


@functools.lru_cache(maxsize=32)
def _kept_exponents(
    degree: int, acts_bytes: bytes, shape: tuple[int, ...], seed: int
) -> np.ndarray:
    """Exponents of the kept averaged monomials (cached: a degree-8 cubic basis takes seconds)."""
    acts = np.frombuffer(acts_bytes, dtype=np.float64).reshape(shape)
    d = shape[1]
    rng = np.random.default_rng(seed)
    kept = []
    for t in range(degree + 1):
        exps = monomial_exponents(t, d)
        if t == 0 or _identity_only(acts):
            kept.append(exps)
            continue
        pts = rng.normal(size=(2 * len(exps) + 8, d))
        pts /= np.linalg.norm(pts, axis=1, keepdims=True)
        avg = averaged_monomials(pts, acts, exps)
        kept.append(exps[_independent_columns(avg)])
    return np.concatenate(kept, axis=0)


def _independent_columns(a: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Sorted indices of a maximal linearly independent set of columns of ``a``."""
    from scipy.linalg import qr

    if a.shape[1] == 0:
        return np.zeros(0, dtype=np.int64)
    _, r, piv = qr(a, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > rtol * diag[0])) if diag[0] > 0 else 0
    return np.sort(piv[:rank])
