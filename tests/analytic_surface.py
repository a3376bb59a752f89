"""An energy surface with a known elastic tensor, served like a trained model.

``E(cell) = E0 + V0 (½ eᵀ C e + ⅙ Σ D_ijk e_i e_j e_k)`` with ``e`` the Lagrangian Voigt strain
(engineering shear) of the cell relative to the reference lattice, in pymatgen's
``Lattice.from_parameters`` frame, written here from the definitions (not through
:mod:`dkluq_cli.crystal.deformation`). Its zero-stress cell is the reference and its elastic
tensor is ``C``. Draws are the surface plus a small smooth random quadratic per draw, so their
spread in ``C`` is known too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Lattice

EV_PER_A3_IN_GPA = 160.21766208


def random_tensor(seed: int = 0) -> np.ndarray:
    """A positive definite triclinic 6 × 6 tensor (GPa) with cubic-like magnitudes."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(6, 6)) * 15.0
    base = np.diag([280.0, 300.0, 260.0, 80.0, 90.0, 70.0])
    base[:3, :3] += 100.0 * (1 - np.eye(3))
    return base + (a + a.T) / 2.0


def voigt_strain(params: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Lagrangian strain (n, 6) of cells relative to ``reference`` in its pymatgen frame."""
    l0 = Lattice.from_parameters(*reference).matrix
    inv = np.linalg.inv(l0)
    out = []
    for p in np.atleast_2d(params):
        m = Lattice.from_parameters(*p).matrix
        eta = 0.5 * (inv @ (m @ m.T) @ inv.T - np.eye(3))
        out.append([eta[0, 0], eta[1, 1], eta[2, 2], 2 * eta[1, 2], 2 * eta[0, 2], 2 * eta[0, 1]])
    return np.array(out)


@dataclass
class _Head:
    """No training rows to inspect."""


@dataclass
class AnalyticSurrogate:
    """The attributes and methods ``elastic`` and the calculator use."""

    reference: np.ndarray
    tensor: np.ndarray
    cubic: np.ndarray = field(default_factory=lambda: np.zeros((6, 6, 6)))
    draw_scale: float = 1e-3
    e0: float = -40.0
    features: list[str] = field(default_factory=lambda: ["a", "b", "c", "alpha", "beta", "gamma"])
    target: str = "energy_eV"
    target_unit: str = "eV"
    inputs: object = None
    head: object = field(default_factory=_Head)
    beyond: object = None
    domain: object = None
    crystal: object = None
    formula: str | None = None

    @property
    def record(self):
        return type("Record", (), {"formula": self.formula})()

    @property
    def volume(self) -> float:
        return float(Lattice.from_parameters(*self.reference).volume)

    def energy(self, params: np.ndarray) -> np.ndarray:
        e = voigt_strain(params, self.reference)
        quad = 0.5 * np.einsum("ni,ij,nj->n", e, self.tensor, e)
        cub = np.einsum("ni,nj,nk,ijk->n", e, e, e, self.cubic) / 6.0
        return self.e0 + self.volume * (quad + cub) / EV_PER_A3_IN_GPA

    def predict(self, x: np.ndarray, **_: object) -> tuple[np.ndarray, np.ndarray]:
        x = np.atleast_2d(x)
        return self.energy(x), np.full(len(x), 1e-3)

    def sample_posterior(self, x: np.ndarray, n_samples: int, *, seed: int = 0) -> np.ndarray:
        """The surface plus ``½ V eᵀ A e`` with a random symmetric ``A`` (GPa, entries
        ``draw_scale`` × N(0, 1)) per draw."""
        rng = np.random.default_rng(seed)
        e = voigt_strain(x, self.reference)
        a = rng.normal(size=(n_samples, 6, 6)) * self.draw_scale
        a = (a + np.swapaxes(a, 1, 2)) / 2.0
        extra = 0.5 * np.einsum("ni,sij,nj->sn", e, a, e) * self.volume / EV_PER_A3_IN_GPA
        return self.energy(x)[None, :] + extra
