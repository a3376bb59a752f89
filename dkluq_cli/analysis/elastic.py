"""The elastic tensor with uncertainty from the learned energy surface (the core of ``dkluq elastic``).

1. **The cell.** By default the zero-stress cell of the posterior mean: Newton steps from the
   centre (:mod:`dkluq_cli.analysis.centre`), each step's gradient and Hessian of E(strain)
   taken from the mean on the strain stencil (:mod:`dkluq_cli.analysis.strain_stencil`), until
   the largest stress component is below :data:`dkluq_cli.analysis.zero_stress.STRESS_TOL_GPA`. ``at`` gives another cell;
   at a stressed cell the result is the Hessian of the energy in Lagrangian strain over the
   volume (the thermodynamic constants), not the stress–strain coefficients.
2. **The tensor.** Joint posterior draws of the surface on the stencil about that cell
   (:meth:`dkluq_cli.model.surrogate.Surrogate.sample_posterior`, as ``eos`` draws its line);
   each draw's Hessian over the cell's volume is one draw of ``C`` in GPa (Voigt order xx yy zz
   yz xz xy, engineering shear, pymatgen's ``Lattice.from_parameters`` frame:
   :mod:`dkluq_cli.crystal.deformation`). So every interval carries the surface's uncertainty in
   the shape the stencil probes, not a fit residual.
3. **What follows from it.** Per draw: Voigt, Reuss and Hill bulk and shear moduli and Born
   stability (:mod:`dkluq_cli.analysis.elastic_moduli`); the probability of stability is the
   fraction of draws whose ``C`` is positive definite.

A model trained on cells that span fewer than the six strain directions (a volume-only equation
of state table above all) cannot give ``C``: :func:`check_identifiable` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.analysis.cell_energy import cell_energy_factor
from dkluq_cli.analysis.elastic_moduli import MODULI, born_stable, moduli
from dkluq_cli.analysis.lattice_model import LATTICE_FEATURES, training_ranges
from dkluq_cli.analysis.strain_stencil import StrainStencil
from dkluq_cli.analysis.zero_stress import ZeroStress, zero_stress_cell
from dkluq_cli.crystal.deformation import EV_PER_A3_IN_GPA, deformed_params, lattice_matrix
from dkluq_cli.crystal.lattice import cell_volume, check_cell, parse_at
from dkluq_cli.crystal.strain import StrainCoordinates
from dkluq_cli.errors import DkluqError
from dkluq_cli.model.inputs import InputMap
from dkluq_cli.model.truncation import TruncationBand

if TYPE_CHECKING:
    from dkluq_cli.model.surrogate import Surrogate

#: The 21 independent components (upper triangle, Voigt indices from 0) in report order.
COMPONENTS: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(6) for j in range(i, 6))
#: Their names, ``C11`` … ``C66``.
NAMES: tuple[str, ...] = tuple(f"C{i + 1}{j + 1}" for i, j in COMPONENTS)
#: Points of each Voigt axis line drawn in the figure (besides the cell itself).
LINE_POINTS = 24


@dataclass
class StrainLines:
    """The energy change along each Voigt strain axis, for the figure.

    Attributes:
        strains: Strain amplitudes (m,), including 0.
        mean: ΔE of the posterior mean (6, m), eV.
        lo: Lower end of the 95 % band of the joint draws' ΔE (6, m), eV.
        hi: Upper end (6, m), eV.
    """

    strains: np.ndarray
    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


@dataclass
class ElasticResult:
    """Everything ``dkluq elastic`` reports, writes and draws.

    Attributes:
        at: The cell (6,): a, b, c (Å), α, β, γ (degrees).
        how: ``"zero stress of the posterior mean"`` or ``"--at"``.
        source: Where the centre of the search came from.
        volume: The cell's volume (Å³).
        stress: Stress of the posterior mean at the cell (6,), GPa, ASE's sign.
        tensor_of_mean: ``C`` of the posterior mean (6, 6), GPa.
        draws: ``C`` of each joint posterior draw (n, 6, 6), GPa.
        stencil: The strain stencil.
        lines: ΔE along the six Voigt axes.
        search: The zero-stress search, or None with ``--at``.
        outside_box: Stencil points outside the training range of some parameter.
        eos: ``eos``'s B0 on the same model (``{"mean", "std", "ci95"}``), or None.
        eos_note: Why ``eos`` gave no B0, when it did not.
        truncation: The curvature of the next-order trend minus the model's (6, 6), GPa, added
            to each draw times one standard normal (:func:`trend_truncation`); None without.
    """

    at: np.ndarray
    how: str
    source: str
    volume: float
    stress: np.ndarray
    tensor_of_mean: np.ndarray
    draws: np.ndarray
    stencil: StrainStencil
    lines: StrainLines
    search: ZeroStress | None = None
    outside_box: int = 0
    eos: dict[str, Any] | None = None
    eos_note: str = ""
    truncation: np.ndarray | None = None

    def components(self) -> dict[str, dict[str, Any]]:
        """``{"C11": {"mean", "std", "ci95"}, …}`` over the draws (GPa), 21 entries."""
        return {
            n: summary(self.draws[:, i, j]) for n, (i, j) in zip(NAMES, COMPONENTS, strict=True)
        }

    def moduli(self) -> dict[str, dict[str, Any]]:
        """``{"B_V", "B_R", "B_VRH", "G_V", "G_R", "G_VRH"}`` over the draws (GPa)."""
        values = moduli(self.draws)
        return {k: summary(values[k]) for k in MODULI}

    @property
    def stable_probability(self) -> float:
        """The fraction of draws whose ``C`` is positive definite."""
        return float(np.mean(born_stable(self.draws)))

    def significant(self, fraction: float = 0.05) -> list[str]:
        """Components whose mean is at least ``fraction`` of the largest diagonal one."""
        stats = self.components()
        big = max(abs(stats[f"C{k}{k}"]["mean"]) for k in range(1, 7))
        return [n for n in NAMES if abs(stats[n]["mean"]) >= fraction * big]

    def report(self) -> dict[str, Any]:
        """The ``elastic.json`` object."""
        mods = self.moduli()
        out: dict[str, Any] = {**self.components(), **mods}
        out["stable_probability"] = self.stable_probability
        out["at"] = {k: float(v) for k, v in zip(LATTICE_FEATURES, self.at, strict=True)}
        out["cell"] = {
            "how": self.how,
            "centre": self.source,
            "volume_A3": self.volume,
            "stress_GPa": [float(v) for v in self.stress],
            "newton_steps": None if self.search is None else self.search.steps,
            "converged": None if self.search is None else self.search.converged,
            "stencil_points_outside_training_box": self.outside_box,
        }
        out["B0_eos"] = self.eos
        if self.eos_note:
            out["B0_eos_note"] = self.eos_note
        out["settings"] = {
            "units": "GPa",
            "voigt_order": "xx yy zz yz xz xy",
            "shear_strain": "engineering",
            "frame": "pymatgen Lattice.from_parameters",
            "n_samples": len(self.draws),
            "max_strain": self.stencil.max_strain,
            "stencil_points": len(self.stencil.strains),
            "tensor_of_mean": self.tensor_of_mean.tolist(),
            "trend_truncation": None if self.truncation is None else self.truncation.tolist(),
        }
        return out


def summary(values: np.ndarray) -> dict[str, Any]:
    """``{"mean", "std", "ci95": [lo, hi]}`` of per-draw values, NaN left out."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return {"mean": float("nan"), "std": float("nan"), "ci95": [float("nan")] * 2}
    lo, hi = np.percentile(v, [2.5, 97.5])
    std = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    return {"mean": float(np.mean(v)), "std": std, "ci95": [float(lo), float(hi)]}


def check_identifiable(surrogate: Surrogate) -> None:
    """Refuse a model whose training cells do not span all six strain directions.

    Raises:
        DkluqError: The table varied only the volume (then only B is identifiable), or
            kept some lattice parameters constant or equal.
    """
    inputs = surrogate.inputs
    volume_only = "the table varies only the volume (a = b = c, fixed angles)"
    hint = (
        "dkluq eos MODEL gives the bulk modulus B0; for the elastic tensor add cells strained "
        "in shape (dkluq suggest MODEL --for elastic proposes them)"
    )
    if isinstance(inputs, InputMap) and not inputs.is_identity:
        tied = [g for g in inputs.groups if len(g) > 1]
        what = volume_only if len(inputs.groups) == 1 and tied else inputs.describe()
        raise DkluqError(
            f"dkluq elastic needs cells strained in all six lattice parameters; {what}, so "
            "only part of the tensor (for a volume-only table: only B) is identifiable",
            hint=hint,
        )
    rows = getattr(surrogate.head, "x", None)
    if not isinstance(inputs, StrainCoordinates) or rows is None or len(rows) < 2:
        return
    coords = rows.detach().cpu().numpy() * surrogate.x_std + surrogate.x_mean
    dev = coords - coords.mean(axis=0)
    _, s, vt = np.linalg.svd(dev, full_matrices=False)
    rank = int(np.sum(s > 1e-6 * max(float(s[0]), 1e-300)))
    if rank >= 6:
        return
    iso = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0]) / np.sqrt(3.0)
    if rank == 1 and abs(float(vt[0] @ iso)) > 0.999:
        what = volume_only
    else:
        what = f"its cells span only {rank} of the six strain directions"
    raise DkluqError(
        f"dkluq elastic needs cells strained in all six directions; {what}, so only part of "
        "the tensor (for a volume-only table: only B) is identifiable",
        hint=hint,
    )


def elastic_analysis(
    surrogate: Surrogate,
    centre: np.ndarray,
    *,
    at: np.ndarray | None = None,
    max_strain: float = 0.03,
    n_samples: int = 1000,
    seed: int = 0,
    n_atoms: int | None = None,
    source: str = "",
) -> ElasticResult:
    """The elastic tensor of ``surrogate`` with its posterior spread.

    Args:
        surrogate: A model of the cell energy over the six lattice parameters.
        centre: Where the zero-stress search starts (6,).
        at: The cell to use instead of the zero-stress one (6,), or None.
        max_strain: Largest strain of the stencil (engineering Voigt units).
        n_samples: Joint posterior draws of the surface.
        seed: Seed of the draws.
        n_atoms: Atoms per cell (needed when the target is per atom).
        source: Where ``centre`` came from (for the report).

    Returns:
        The :class:`ElasticResult`.

    Raises:
        DkluqError: A model that cannot give ``C`` (:func:`check_identifiable`), bad options,
            or no minimum near the centre.
    """
    check_identifiable(surrogate)
    if n_samples < 10:
        raise DkluqError(f"--samples {n_samples} is too few", hint="use at least 10 (e.g. 1000)")
    if not 0 < max_strain <= 0.1:
        raise DkluqError(
            f"--max-strain {max_strain:g} is outside (0, 0.1]",
            hint="strains of 1–3 % probe the curvature (0.03 is the default)",
        )
    factor = cell_energy_factor(surrogate, n_atoms, "elastic")
    stencil = StrainStencil.build(max_strain)

    def energy(params: np.ndarray) -> np.ndarray:
        return surrogate.predict(params)[0] * factor

    search = None
    if at is None:
        cell, search = zero_stress_cell(energy, centre, stencil)
    else:
        cell = np.asarray(at, dtype=float)
    lat = lattice_matrix(cell)
    volume = float(cell_volume(cell)[0])
    points = deformed_params(lat, stencil.strains)
    to_gpa = EV_PER_A3_IN_GPA / volume
    mean_e = energy(points)
    draws = stencil.hessian(surrogate.sample_posterior(points, n_samples, seed=seed) * factor)
    truncation = trend_truncation(surrogate, points, stencil, factor)
    if truncation is not None:
        # one coherent next-order shift per draw, as the energy's draws get beyond the box
        xi = np.random.default_rng(seed).standard_normal(n_samples)
        draws = draws + xi[:, None, None] * truncation
    return ElasticResult(
        at=cell,
        how="--at" if at is not None else "zero stress of the posterior mean",
        source=source,
        volume=volume,
        stress=stencil.gradient(mean_e) * to_gpa,
        tensor_of_mean=stencil.hessian(mean_e) * to_gpa,
        draws=draws * to_gpa,
        stencil=stencil,
        lines=strain_lines(surrogate, lat, max_strain, n_samples, seed + 1, factor),
        search=search,
        outside_box=_outside_box(surrogate, points),
        truncation=None if truncation is None else truncation * to_gpa,
    )


def trend_gap(surrogate: Surrogate, points: np.ndarray) -> np.ndarray | None:
    """``t_{k+1} − t_k`` at ``points`` (target units) for a model whose surface rests on a
    least-squares trend with a next-order fit (the SVGP regime): what the trend leaves out,
    estimated by the next order. None for others (the exact head's polynomial is in its kernel,
    so its draws carry that uncertainty already)."""
    band = surrogate.beyond
    if not isinstance(band, TruncationBand):
        return None
    coords = surrogate.coordinates(points)
    return band.next_trend(coords) - band.trend(coords)


def trend_truncation(
    surrogate: Surrogate, points: np.ndarray, stencil: StrainStencil, factor: float
) -> np.ndarray | None:
    """The Hessian (eV) of :func:`trend_gap` on the stencil, or None."""
    gap = trend_gap(surrogate, points)
    return None if gap is None else stencil.hessian(gap * factor)


def strain_lines(
    surrogate: Surrogate,
    lattice: np.ndarray,
    max_strain: float,
    n_samples: int,
    seed: int,
    factor: float,
) -> StrainLines:
    """ΔE along each Voigt axis through the cell: the mean and the 95 % band of joint draws."""
    amps = np.linspace(-max_strain, max_strain, LINE_POINTS + 1)
    off = amps[np.abs(amps) > 1e-15]
    strains = [np.zeros(6)] + [a * np.eye(6)[k] for k in range(6) for a in off]
    points = deformed_params(lattice, np.array(strains))
    mean = surrogate.predict(points)[0] * factor
    draws = surrogate.sample_posterior(points, n_samples, seed=seed) * factor

    def per_axis(values: np.ndarray) -> np.ndarray:
        rel = values[..., 1:] - values[..., :1]
        rel = rel.reshape(*values.shape[:-1], 6, len(off))
        zero = np.zeros((*rel.shape[:-1], 1))
        cut = int(np.searchsorted(off, 0.0))
        return np.concatenate([rel[..., :cut], zero, rel[..., cut:]], axis=-1)

    band = np.percentile(per_axis(draws), [2.5, 97.5], axis=0)
    return StrainLines(np.sort(np.append(off, 0.0)), per_axis(mean), band[0], band[1])


def _outside_box(surrogate: Surrogate, points: np.ndarray) -> int:
    """Stencil points outside the training range of some lattice parameter."""
    ranges = training_ranges(surrogate)
    if not ranges:
        return 0
    out = np.zeros(len(points), dtype=bool)
    for k, name in enumerate(LATTICE_FEATURES):
        if name in ranges:
            lo, hi = ranges[name]
            out |= (points[:, k] < lo) | (points[:, k] > hi)
    return int(out.sum())


def parse_cell(text: str, base: np.ndarray) -> np.ndarray:
    """``--at``: six numbers ``a,b,c,alpha,beta,gamma``, or ``NAME=VALUE`` pairs that replace
    those parameters of ``base`` (6,).

    Raises:
        DkluqError: Not six numbers, a bad pair, or no real cell.
    """
    if "=" in text:
        values = dict(zip(LATTICE_FEATURES, np.asarray(base, float), strict=True))
        return check_cell({**values, **parse_at(text)}, "--at")
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 6:
        raise DkluqError(
            f"--at {text!r} is not six numbers a,b,c,alpha,beta,gamma",
            hint="e.g. --at 3.95,3.95,3.95,90,90,90 (Å, degrees) or --at a=3.95",
        )
    return check_cell(numbers, "--at")


__all__ = [
    "COMPONENTS",
    "NAMES",
    "ElasticResult",
    "StrainLines",
    "check_identifiable",
    "elastic_analysis",
    "parse_cell",
    "strain_lines",
    "summary",
    "trend_gap",
    "trend_truncation",
]
