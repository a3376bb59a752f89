"""Equation of state with uncertainty (the core of ``dkluq eos``).

The model is evaluated along the isotropic line through the reference lattice: lengths
``s · (a, b, c)`` for scale factors ``s`` in ``[lo, hi]`` (default 0.94–1.06), angles fixed. Joint
samples of the GP's latent posterior along the line (not just its mean) are each fitted with an
equation of state by pymatgen (:class:`pymatgen.analysis.eos.EOS`: Birch–Murnaghan by default,
Vinet or Murnaghan on request), so the spread of the fitted parameters is the model's uncertainty
about them. Samples whose fit fails, or whose minimum falls outside the line, are counted by
reason (:class:`dkluq_cli.analysis.posterior_fits.FitTally`) and left out; more than a few
percent of them, or a fit to the mean without a minimum on the line, is an error
(:func:`dkluq_cli.analysis.posterior_fits.check_fits`), not a result.

Reported (mean, sample standard deviation and the central 95 % interval over the samples):
``a0`` (Å), the edge length at the equilibrium volume — ``a0 = (a·b·c)^(1/3)`` of the reference
scaled to ``V0``, which is the cubic-cell edge ``V0^(1/3)`` for a cubic reference; ``V0`` (Å³);
``B0`` (GPa); ``E0`` (eV, total energy of the cell).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.analysis.grids import check_lattice_range, iso_params, scale_grid
from dkluq_cli.analysis.lattice_model import (
    check_lattice_features,
    domain_check,
)
from dkluq_cli.analysis.posterior_fits import (
    OUTSIDE,
    FitTally,
    check_fits,
    check_minimum_in_domain,
)
from dkluq_cli.crystal.lattice import cell_volume
from dkluq_cli.errors import DkluqError

if TYPE_CHECKING:
    from dkluq_cli.model.surrogate import Surrogate

logger = logging.getLogger(__name__)

#: EOS names accepted on the command line → pymatgen's names.
EOS_NAMES = {
    "birch-murnaghan": "birch_murnaghan",
    "birch_murnaghan": "birch_murnaghan",
    "vinet": "vinet",
    "murnaghan": "murnaghan",
}
QUANTITIES = ("a0", "V0", "B0", "E0")
UNITS = {"a0": "Å", "V0": "Å^3", "B0": "GPa", "E0": "eV"}


@dataclass
class EosFit:
    """One EOS fit: equilibrium volume (Å³), energy (eV), bulk modulus (GPa), B' and a0 (Å)."""

    V0: float
    E0: float
    B0: float
    B1: float
    a0: float


@dataclass
class EosResult:
    """Everything ``dkluq eos`` reports and plots.

    Attributes:
        eos: pymatgen EOS name.
        params: Lattice parameters along the line (n × 6; Å, degrees).
        scales: Scale factors of the lengths (n,).
        volumes: Cell volumes (n,), Å³.
        mean: Predictive mean energy (n,), eV.
        std: Calibrated predictive σ (n,), eV.
        samples: Joint latent posterior samples (n_samples × n), eV.
        fits: Successful per-sample fits.
        tally: Every sample's fit counted, failures by reason.
        mean_fit: The EOS fitted to the predictive mean (None if that fit failed).
        reference_lattice: The reference lattice (6,).
        reference_source: Where the reference came from.
        n_atoms: Atoms per cell when the target was per atom (energies were multiplied by it).
        n_out_of_domain: Points of the line outside the model's training domain.
    """

    eos: str
    params: np.ndarray
    scales: np.ndarray
    volumes: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    samples: np.ndarray
    fits: list[EosFit]
    tally: FitTally
    mean_fit: EosFit | None
    reference_lattice: np.ndarray
    reference_source: str = ""
    n_atoms: int | None = None
    n_out_of_domain: int = 0
    curve: Any = field(default=None, repr=False)

    @property
    def n_failed(self) -> int:
        """Samples whose fit failed or whose minimum left the line."""
        return self.tally.n_failed

    def sample_band(self) -> tuple[np.ndarray, np.ndarray]:
        """The central 95 % of the posterior samples at each point of the line (eV), (n,) each."""
        lo, hi = np.percentile(self.samples, [2.5, 97.5], axis=0)
        return lo, hi

    def values(self, name: str) -> np.ndarray:
        """Per-sample values of ``a0``, ``V0``, ``B0``, ``E0`` or ``B1``."""
        return np.array([getattr(f, name) for f in self.fits], dtype=float)

    def stats(self) -> dict[str, dict[str, Any]]:
        """``{"a0": {"mean", "std", "ci95": [lo, hi]}, "V0": ..., "B0": ..., "E0": ...}``."""
        out: dict[str, dict[str, Any]] = {}
        for q in QUANTITIES:
            v = self.values(q)
            lo, hi = np.percentile(v, [2.5, 97.5])
            out[q] = {
                "mean": float(np.mean(v)),
                "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                "ci95": [float(lo), float(hi)],
            }
        return out

    def report(self) -> dict[str, Any]:
        """The stats plus the fit's metadata (written to ``eos.json``)."""
        meta: dict[str, Any] = {
            "eos": self.eos,
            **self.tally.to_dict(),
            "points": len(self.scales),
            "points_out_of_domain": self.n_out_of_domain,
            "lattice_range": [float(self.scales[0]), float(self.scales[-1])],
            "reference_lattice": [float(v) for v in self.reference_lattice],
            "reference_source": self.reference_source,
            "units": dict(UNITS),
            "fit_to_mean": None if self.mean_fit is None else self.mean_fit.__dict__.copy(),
            "B1": {
                "mean": float(np.mean(self.values("B1"))),
                "std": float(np.std(self.values("B1"), ddof=1)) if len(self.fits) > 1 else 0.0,
            },
        }
        if self.n_atoms:
            meta["n_atoms"] = self.n_atoms
        return {**self.stats(), "fit": meta}


def pymatgen_eos_name(name: str) -> str:
    """Map a CLI EOS name to pymatgen's.

    Raises:
        DkluqError: Unknown name.
    """
    key = name.strip().lower()
    if key not in EOS_NAMES:
        raise DkluqError(
            f"unknown equation of state {name!r}",
            hint="choose birch-murnaghan, vinet or murnaghan",
        )
    return EOS_NAMES[key]


def fit_eos(
    volumes: np.ndarray, energies: np.ndarray, eos: str, a_per_v: float
) -> tuple[EosFit, Any]:
    """Fit one EOS with pymatgen.

    Args:
        volumes: Volumes (Å³).
        energies: Energies (eV).
        eos: pymatgen EOS name.
        a_per_v: ``a0 / V0^(1/3)`` of the line (1 for a cubic reference).

    Returns:
        ``(EosFit, pymatgen fit object)``.

    Raises:
        ValueError: The fit failed, is not finite, or its minimum is outside the volumes
            (the message is the reason, :data:`dkluq_cli.analysis.posterior_fits.OUTSIDE` for
            the last).
    """
    from pymatgen.analysis.eos import EOS, EOSError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = EOS(eos_name=eos).fit(np.asarray(volumes), np.asarray(energies))
            v0, e0, b0, b1 = float(res.v0), float(res.e0), float(res.b0_GPa), float(res.b1)
    except (EOSError, RuntimeError, ValueError, FloatingPointError, ZeroDivisionError) as exc:
        raise ValueError("the fit did not converge") from exc
    if not np.isfinite([v0, e0, b0, b1]).all() or b0 <= 0:
        raise ValueError("non-finite or non-positive bulk modulus")
    if not (np.min(volumes) <= v0 <= np.max(volumes)):
        raise ValueError(OUTSIDE)
    return EosFit(V0=v0, E0=e0, B0=b0, B1=b1, a0=a_per_v * v0 ** (1.0 / 3.0)), res


def isotropic_line(
    reference: np.ndarray, lattice_range: tuple[float, float], points: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lattice parameters along the isotropic line (lengths scaled, angles fixed).

    Returns:
        ``(scales (points,), params (points × 6))``.

    Raises:
        DkluqError: Bad range (:func:`dkluq_cli.analysis.grids.lattice_range_problem`) or fewer than 7
            points.
    """
    lo, hi = check_lattice_range(lattice_range)
    if points < 7:
        raise DkluqError(f"--points {points} is too few for an EOS fit", hint="use at least 7")
    scales = scale_grid(lo, hi, points)
    return scales, iso_params(reference, scales)


def eos_analysis(
    surrogate: Surrogate,
    reference: np.ndarray,
    *,
    lattice_range: tuple[float, float] = (0.94, 1.06),
    points: int = 41,
    n_samples: int = 400,
    eos: str = "birch-murnaghan",
    seed: int = 0,
    n_atoms: int | None = None,
    reference_source: str = "",
) -> EosResult:
    """Fit an EOS to joint posterior samples along the isotropic line.

    Args:
        surrogate: Model trained on the six lattice parameters.
        reference: Reference lattice (6,) in Å and degrees.
        lattice_range: Scale factors ``(lo, hi)`` of the lengths.
        points: Points along the line.
        n_samples: Joint posterior samples to fit.
        eos: ``birch-murnaghan``, ``vinet`` or ``murnaghan``.
        seed: Seed of the posterior samples.
        n_atoms: Atoms per cell; required when the target is per atom (eV/atom), to turn it into
            the cell's energy.
        reference_source: Where the reference came from (for the report).

    Returns:
        The :class:`EosResult`.

    Raises:
        DkluqError: Wrong model or bad options.
        PosteriorFitError: More than a few percent of the samples' fits failed, the fit to
            the mean has no minimum on the line (:func:`check_fits`), or that minimum lies
            outside the training domain (:func:`check_minimum_in_domain`).
    """
    check_lattice_features(surrogate, "eos")
    if n_samples < 10:
        raise DkluqError(f"--samples {n_samples} is too few", hint="use at least 10 (e.g. 400)")
    name = pymatgen_eos_name(eos)
    factor = 1.0
    if surrogate.target_unit == "eV/atom":
        if not n_atoms:
            raise DkluqError(
                "the model predicts eV/atom and the number of atoms per cell is unknown",
                hint="pass --reference POSCAR so the cell's energy can be formed",
            )
        factor = float(n_atoms)
    elif surrogate.target_unit != "eV":
        raise DkluqError(
            f"eos needs an energy target in eV or eV/atom; this model predicts "
            f"{surrogate.target} in {surrogate.target_unit or 'no unit'}"
        )
    scales, params = isotropic_line(reference, lattice_range, points)
    volumes = cell_volume(params)
    ref = np.asarray(reference, dtype=float)
    a_per_v = float(np.cbrt(ref[0] * ref[1] * ref[2]) / np.cbrt(cell_volume(ref)[0]))
    mean, std = surrogate.predict(params)
    samples = surrogate.sample_posterior(params, n_samples, seed=seed)
    mean, std, samples = mean * factor, std * factor, samples * factor
    tally = FitTally("EOS")
    fits: list[EosFit] = []
    for row in samples:
        try:
            fits.append(fit_eos(volumes, row, name, a_per_v)[0])
            tally.add(None)
        except ValueError as exc:
            tally.add(str(exc))
    try:
        mean_fit, curve = fit_eos(volumes, mean, name, a_per_v)
    except ValueError as exc:
        mean_fit, curve = None, None
        tally.mean_failure = str(exc)
    hint = (
        "choose a --lattice-range inside the training domain that brackets the energy minimum "
        "(default 0.94 1.06)"
    )
    check_fits(
        tally, f"the isotropic line {scales[0]:g}–{scales[-1]:g} × the reference's a, b, c", hint
    )
    if mean_fit is not None:  # check_fits refused a failed fit to the mean
        at_min = iso_params(ref, np.array([np.cbrt(mean_fit.V0 / cell_volume(ref)[0])]))
        reason = domain_check(surrogate, at_min, surrogate.predict(at_min)[1]).reasons[0]
        check_minimum_in_domain("EOS", f"a0 = {mean_fit.a0:.4g} Å", reason, hint)
    logger.debug(tally.summary())
    return EosResult(
        eos=name,
        params=params,
        scales=scales,
        volumes=volumes,
        mean=mean,
        std=std,
        samples=samples,
        fits=fits,
        tally=tally,
        mean_fit=mean_fit,
        reference_lattice=ref,
        reference_source=reference_source,
        n_atoms=n_atoms if factor != 1.0 else None,
        n_out_of_domain=int(np.sum(~domain_check(surrogate, params, std / factor).flags)),
        curve=curve,
    )
