"""A stencil of strained cells whose energies give the gradient and Hessian of E(strain).

Energies are taken on straight lines through the cell in Voigt strain space (engineering
shear): the six axes ``u_i`` and the thirty diagonals ``u_i ± u_j``, each at ``±k/s`` times the
largest strain for ``k = 1 … s``, plus the cell itself. Along each line a quartic in the strain
amplitude is fitted by least squares; its linear and quadratic coefficients are the first and
second directional derivatives there, free of the cubic and quartic terms that a central
difference over a few per cent of strain would take for curvature. Then

    ∂E/∂e_i = D1(u_i),   ∂²E/∂e_i² = D2(u_i),   ∂²E/∂e_i∂e_j = (D2(u_i + u_j) − D2(u_i − u_j)) / 4.

Every derivative is a fixed linear combination of the stencil's energies, so it applies at once
to a posterior mean and to every joint posterior draw of the surface.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

#: Polynomial degree of each line fit.
LINE_DEGREE = 4


@dataclass(frozen=True)
class StrainStencil:
    """Strain points and the linear maps from their energies to derivatives.

    Attributes:
        max_strain: Largest strain amplitude of a line (engineering Voigt units).
        steps: Points on each side of the centre along a line.
        strains: (n, 6) Voigt strains of the points; row 0 is the centre.
        gradient_map: (6, n): ``∂E/∂e = gradient_map @ E``.
        hessian_map: (6, 6, n): ``∂²E/∂e∂e = hessian_map @ E``.
    """

    max_strain: float
    steps: int
    strains: np.ndarray
    gradient_map: np.ndarray
    hessian_map: np.ndarray

    @classmethod
    def build(cls, max_strain: float = 0.03, steps: int = 3) -> StrainStencil:
        """The stencil of ``36 × 2 steps + 1`` points with amplitudes up to ``max_strain``.

        Raises:
            ValueError: ``max_strain`` not positive, or fewer than 3 steps (a quartic needs
                five points on a line).
        """
        if not max_strain > 0:
            raise ValueError(f"the largest strain must be positive, got {max_strain}")
        if steps < 2:
            raise ValueError(f"a quartic line fit needs at least 2 steps a side, got {steps}")
        amps = max_strain * np.arange(-steps, steps + 1) / steps
        design = amps[:, None] ** np.arange(LINE_DEGREE + 1)
        coef = np.linalg.pinv(design)  # (degree + 1, 2 steps + 1)
        d1, d2 = coef[1], 2.0 * coef[2]
        eye = np.eye(6)
        lines = [eye[i] for i in range(6)]
        pairs = list(itertools.combinations(range(6), 2))
        for i, j in pairs:
            lines += [eye[i] + eye[j], eye[i] - eye[j]]
        off = amps != 0
        strains = [np.zeros(6)]
        index = []  # per line: the stencil rows of its amplitudes, centre first as row 0
        for line in lines:
            rows = np.zeros(len(amps), dtype=int)
            rows[off] = np.arange(len(strains), len(strains) + off.sum())
            strains += [a * line for a in amps[off]]
            index.append(rows)
        n = len(strains)

        def along(k: int, w: np.ndarray) -> np.ndarray:
            out = np.zeros(n)
            np.add.at(out, index[k], w)
            return out

        grad = np.stack([along(i, d1) for i in range(6)])
        hess = np.zeros((6, 6, n))
        for i in range(6):
            hess[i, i] = along(i, d2)
        for p, (i, j) in enumerate(pairs):
            plus, minus = along(6 + 2 * p, d2), along(7 + 2 * p, d2)
            hess[i, j] = hess[j, i] = (plus - minus) / 4.0
        return cls(float(max_strain), int(steps), np.array(strains), grad, hess)

    def gradient(self, energies: np.ndarray) -> np.ndarray:
        """``∂E/∂e`` (..., 6) from energies (..., n) at the stencil points."""
        return np.asarray(energies) @ self.gradient_map.T

    def hessian(self, energies: np.ndarray) -> np.ndarray:
        """``∂²E/∂e∂e`` (..., 6, 6) from energies (..., n) at the stencil points."""
        return np.einsum("ijn,...n->...ij", self.hessian_map, np.asarray(energies))


__all__ = ["LINE_DEGREE", "StrainStencil"]
