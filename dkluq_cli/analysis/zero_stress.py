"""The zero-stress cell of an energy surface, by Newton steps in strain.

Each step takes the gradient and Hessian of E(strain) on a strain stencil about the current cell
(:mod:`dkluq_cli.analysis.strain_stencil`) and moves by ``−H⁻¹ g`` (no further than the
stencil's largest strain), until no stress component exceeds :data:`STRESS_TOL_GPA`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dkluq_cli.analysis.strain_stencil import StrainStencil
from dkluq_cli.crystal.deformation import EV_PER_A3_IN_GPA, deformed_params, lattice_matrix
from dkluq_cli.crystal.lattice import cell_volume
from dkluq_cli.errors import DkluqError

#: The search stops when no stress component exceeds this (GPa).
STRESS_TOL_GPA = 1e-3
#: Newton steps before the search gives up.
MAX_NEWTON_STEPS = 30


@dataclass
class ZeroStress:
    """The zero-stress search on the posterior mean.

    Attributes:
        start: Where it started (6,).
        steps: Newton steps taken.
        converged: The stress fell below :data:`STRESS_TOL_GPA`.
    """

    start: np.ndarray
    steps: int
    converged: bool


def zero_stress_cell(
    energy: Callable[[np.ndarray], np.ndarray], start: np.ndarray, stencil: StrainStencil
) -> tuple[np.ndarray, ZeroStress]:
    """Newton's method for the zero-stress cell of an energy surface.

    Args:
        energy: Lattice parameters (n, 6) → cell energies (n,), eV.
        start: Starting cell (6,).
        stencil: The stencil that gives each step's gradient and Hessian.

    Returns:
        ``(cell (6,), the search)``.

    Raises:
        DkluqError: The surface is not convex at a step (no minimum to walk to).
    """
    cell = np.asarray(start, dtype=float).copy()
    for step in range(MAX_NEWTON_STEPS + 1):
        lat = lattice_matrix(cell)
        e = energy(deformed_params(lat, stencil.strains))
        grad, hess = stencil.gradient(e), stencil.hessian(e)
        stress = grad / float(cell_volume(cell)[0]) * EV_PER_A3_IN_GPA
        if np.max(np.abs(stress)) < STRESS_TOL_GPA:
            return cell, ZeroStress(np.asarray(start, float), step, True)
        if step == MAX_NEWTON_STEPS:
            break
        if np.linalg.eigvalsh(hess)[0] <= 0:
            raise DkluqError(
                "the posterior mean has no energy minimum near "
                + ", ".join(f"{v:.4g}" for v in cell)
                + " (its curvature in strain is not positive definite there)",
                hint="give the cell with --at a,b,c,alpha,beta,gamma",
            )
        move = -np.linalg.solve(hess, grad)
        move *= min(1.0, stencil.max_strain / max(float(np.max(np.abs(move))), 1e-300))
        cell = deformed_params(lat, move)[0]
    return cell, ZeroStress(np.asarray(start, float), MAX_NEWTON_STEPS, False)


__all__ = ["MAX_NEWTON_STEPS", "STRESS_TOL_GPA", "ZeroStress", "zero_stress_cell"]
