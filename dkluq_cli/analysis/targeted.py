"""Runs chosen for a property's interval: ``dkluq suggest --for elastic|eos``.

The quantities are fixed linear combinations of the latent surface at a strain stencil about the
zero-stress cell of the posterior mean (:mod:`dkluq_cli.analysis.strain_stencil`): for
``elastic`` the components of ``C`` that are not zero (``|C_ij|`` at least 5 % of the largest
diagonal one), for ``eos`` the edge ``a0`` (linearised: the Newton step along the isotropic
strain, ``a0 ≈ a (1 − g/h)``) and ``B0 = h / 9V`` (``g``, ``h`` the first and second derivative
of E along that strain). With ``q = W f(S)`` and a Gaussian posterior, a noisy observation at a
candidate ``x_j`` lowers ``Var[q_k]`` by ``Cov[q_k, f(x_j)]² / (Var[f(x_j)] + σ²_n)`` whatever
energy it returns, so the expected interval of every quantity after any set of runs is known
before they are made.

:class:`TargetConditioner` keeps ``Cov[q]``, ``Cov[q, f(pool)]`` and the pool's variances,
conditioning on one pick at a time by a rank-one update (the pool's covariance columns come from
:func:`dkluq_cli.analysis.conditioning.latent_posterior`). :func:`targeted_batch` picks, again and
again, the pool point that lowers the sum of the quantities' squared relative σ most (only the
quantities still wider than the goal count, when there is one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dkluq_cli.analysis.cell_energy import cell_energy_factor
from dkluq_cli.analysis.conditioning import latent_posterior
from dkluq_cli.analysis.elastic import COMPONENTS, NAMES, trend_gap
from dkluq_cli.analysis.strain_stencil import StrainStencil
from dkluq_cli.analysis.zero_stress import zero_stress_cell
from dkluq_cli.crystal.deformation import EV_PER_A3_IN_GPA, deformed_params, lattice_matrix
from dkluq_cli.crystal.lattice import cell_volume

if TYPE_CHECKING:
    from dkluq_cli.model.surrogate import Surrogate

#: Properties ``suggest --for`` aims at (``energy``: the σ of the energy itself).
TARGETS = ("energy", "elastic", "eos")
#: z of the central 95 % interval.
Z95 = 1.959963984540054
#: A component of C counts when its mean is at least this fraction of the largest diagonal one.
SIGNIFICANT = 0.05


@dataclass
class PropertyTarget:
    """Quantities ``q = weights @ E(points)`` with ``E`` the model's target at ``points``.

    Attributes:
        kind: ``elastic`` or ``eos``.
        names: One name per quantity (``C11`` …, or ``a0``, ``B0``).
        units: Their units.
        points: (s, 6) lattice parameters of the stencil.
        weights: (k, s) quantity per unit of the model's target at each point.
        mean: (k,) the quantities of the posterior mean.
        cell: (6,) the cell the stencil is about.
        floor: (k,) σ that no run removes: the model's trend truncation (its next-order
            trend's quantity minus its own, as ``elastic`` adds to its draws); zeros for a
            model without one.
    """

    kind: str
    names: list[str]
    units: list[str]
    points: np.ndarray
    weights: np.ndarray
    mean: np.ndarray
    cell: np.ndarray
    floor: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if len(self.floor) != len(self.names):
            self.floor = np.zeros(len(self.names))


def truncation_floor(surrogate: Surrogate, points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``|weights @ (t_{k+1} − t_k)|`` at the stencil for a model with a trend truncation band
    (the SVGP regime), else zeros."""
    gap = trend_gap(surrogate, points)
    return np.zeros(len(weights)) if gap is None else np.abs(weights @ gap)


def _stencil_about_zero_stress(
    surrogate: Surrogate, centre: np.ndarray, factor: float, max_strain: float
) -> tuple[StrainStencil, np.ndarray, np.ndarray, float]:
    stencil = StrainStencil.build(max_strain)
    cell, _ = zero_stress_cell(
        lambda p: surrogate.predict(p)[0] * factor, np.asarray(centre, float), stencil
    )
    points = deformed_params(lattice_matrix(cell), stencil.strains)
    return stencil, cell, points, float(cell_volume(cell)[0])


def elastic_target(
    surrogate: Surrogate, centre: np.ndarray, n_atoms: int | None, max_strain: float = 0.03
) -> PropertyTarget:
    """The non-zero components of ``C`` (GPa) at the zero-stress cell of the posterior mean."""
    factor = cell_energy_factor(surrogate, n_atoms, "suggest --for elastic")
    stencil, cell, points, volume = _stencil_about_zero_stress(
        surrogate, centre, factor, max_strain
    )
    rows = np.stack([stencil.hessian_map[i, j] for i, j in COMPONENTS])
    weights = rows * factor * EV_PER_A3_IN_GPA / volume
    mean = weights @ surrogate.predict(points)[0]
    big = max(abs(mean[NAMES.index(f"C{k}{k}")]) for k in range(1, 7))
    keep = np.abs(mean) >= SIGNIFICANT * big
    names = [n for n, k in zip(NAMES, keep, strict=True) if k]
    floor = truncation_floor(surrogate, points, weights[keep])
    return PropertyTarget(
        "elastic", names, ["GPa"] * len(names), points, weights[keep], mean[keep], cell, floor
    )


def eos_target(
    surrogate: Surrogate, centre: np.ndarray, n_atoms: int | None, max_strain: float = 0.03
) -> PropertyTarget:
    """``a0`` (Å, the cell's mean edge at zero pressure) and ``B0`` (GPa) along the isotropic
    strain through the zero-stress cell of the posterior mean."""
    factor = cell_energy_factor(surrogate, n_atoms, "suggest --for eos")
    stencil, cell, points, volume = _stencil_about_zero_stress(
        surrogate, centre, factor, max_strain
    )
    iso = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    d1 = iso @ stencil.gradient_map  # dE/dt along e = t·(1, 1, 1, 0, 0, 0)
    d2 = np.einsum("i,ijn,j->n", iso, stencil.hessian_map, iso)
    energies = surrogate.predict(points)[0] * factor
    g, h = float(d1 @ energies), float(d2 @ energies)
    edge = float(np.cbrt(np.prod(cell[:3])))
    # a0 = edge (1 − g/h) to first order in g (g ≈ 0 at the zero-stress cell)
    a0_weights = -edge / h * d1 * factor
    b0_weights = d2 * factor * EV_PER_A3_IN_GPA / (9.0 * volume)
    weights = np.stack([a0_weights, b0_weights])
    mean = np.array([edge * (1.0 - g / h), h * EV_PER_A3_IN_GPA / (9.0 * volume)])
    floor = truncation_floor(surrogate, points, weights)
    return PropertyTarget("eos", ["a0", "B0"], ["Å", "GPa"], points, weights, mean, cell, floor)


def posterior_covariance(surrogate: Surrogate, xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """``Cov[f(xa), f(xb)]`` of the latent posterior in standardised target units, with the
    trend's coefficient uncertainty (as :func:`dkluq_cli.analysis.conditioning.latent_posterior`)."""
    cov = surrogate.head.cross_covariance(surrogate.standardise(xa), surrogate.standardise(xb))
    trend = surrogate.trend
    if trend is not None and len(trend.coef):
        da = trend.design(surrogate.coordinates(xa))
        db = trend.design(surrogate.coordinates(xb))
        cov = cov + da @ trend.cov @ db.T / surrogate.y_std**2
    return np.asarray(cov, dtype=np.float64)


class TargetConditioner:
    """A property's covariance, conditioned on noisy observations at pool points one at a time.

    Args:
        surrogate: The trained model.
        pool: Candidate lattices (m, 6).
        target: The quantities.
        chunk: Pool points per call to the GP head.
    """

    def __init__(
        self, surrogate: Surrogate, pool: np.ndarray, target: PropertyTarget, chunk: int = 1024
    ) -> None:
        posterior = latent_posterior(surrogate, pool, chunk)
        self._column = posterior.column
        self.noise = posterior.noise
        self.target = target
        w = target.weights * posterior.scale  # quantity per standardised unit of f
        points = target.points
        self.quantity_cov = w @ posterior_covariance(surrogate, points, points) @ w.T
        cross = [
            posterior_covariance(surrogate, points, pool[s : s + chunk])
            for s in range(0, len(pool), chunk)
        ]
        self.cross = w @ np.concatenate(cross, axis=1)
        self.variance = posterior.variance.copy()
        self._factors: list[np.ndarray] = []
        self.picked: list[int] = []

    @property
    def std(self) -> np.ndarray:
        """σ of each quantity given the picks so far (its unit), the floor included."""
        var = np.clip(np.diag(self.quantity_cov), 0.0, None)
        return np.sqrt(var + self.target.floor**2)

    @property
    def floor_pct(self) -> np.ndarray:
        """The 95 % half-width no run removes, in % of each quantity's mean."""
        return 100.0 * Z95 * self.target.floor / np.abs(self.target.mean)

    @property
    def halfwidth_pct(self) -> np.ndarray:
        """The 95 % half-width of each quantity, in % of its mean."""
        return 100.0 * Z95 * self.std / np.abs(self.target.mean)

    def reduction(self) -> np.ndarray:
        """``(k, m)``: how much a pick at each pool point lowers each quantity's variance."""
        return self.cross**2 / (self.variance + self.noise)[None, :]

    def add(self, j: int) -> None:
        """Condition on a noisy observation at pool point ``j``."""
        col = self._column(j)
        for u in self._factors:
            col = col - u * u[j]
        root = np.sqrt(max(float(self.variance[j]) + self.noise, 1e-300))
        u, a = col / root, self.cross[:, j] / root
        self._factors.append(u)
        self.variance = np.clip(self.variance - u**2, 0.0, None)
        self.cross = self.cross - np.outer(a, u)
        self.quantity_cov = self.quantity_cov - np.outer(a, a)
        self.picked.append(int(j))


def targeted_batch(
    cond: TargetConditioner, n: int, until_pct: float | None = None
) -> tuple[list[int], np.ndarray]:
    """Greedy picks that shrink the quantities' relative intervals most.

    Args:
        cond: The conditioner.
        n: The most picks to make.
        until_pct: Stop when every 95 % half-width is at most this (% of the mean).

    Returns:
        ``(pool indices in pick order, (picks + 1, k) half-widths in %: before any pick, then
        after each)``.
    """
    picks: list[int] = []
    widths = [cond.halfwidth_pct]
    inv_mean2 = 1.0 / cond.target.mean**2
    for _ in range(n):
        if until_pct is not None and np.all(widths[-1] <= until_pct):
            break
        weight = inv_mean2.copy()
        if until_pct is not None:
            weight[widths[-1] <= until_pct] = 0.0
        score = weight @ cond.reduction()
        score[picks] = -np.inf
        j = int(np.argmax(score))
        cond.add(j)
        picks.append(j)
        widths.append(cond.halfwidth_pct)
    return picks, np.array(widths)


__all__ = [
    "TARGETS",
    "PropertyTarget",
    "TargetConditioner",
    "elastic_target",
    "eos_target",
    "posterior_covariance",
    "targeted_batch",
    "truncation_floor",
]
