"""Small-table surrogate: lattice parameters in, energy mean and σ (eV) out, through the exact head.

The whole path in physical units, in one object that the benchmarks and the CLI can share:

1. lattice parameters (Å, degrees) → Hencky strain about the reference, scaled Mandel
   coordinates (:class:`dkluq_cli.strain.StrainCoordinates`); the reference is the point
   group's when one is given, else the centre of the training box;
2. energy (eV) standardised by its training mean and std;
3. the exact GP head (:func:`dkluq_cli.model.exact.fit_exact`), symmetric under the group;
4. one σ scale fitted to the head's closed-form leave-one-out errors
   (:func:`dkluq_cli.uq.calibration.fit_sigma_scale`), for σ inside the data;
5. an inflation law for σ beyond the training box, fitted by simulated extrapolation with the
   head's hyperparameters held (:mod:`dkluq_cli.uq.extrapolation`).

``σ_reported = y_std · scale · s(distance) · sqrt(latent var + noise var)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dkluq_cli.model.exact import ExactHead, fit_exact
from dkluq_cli.strain import StrainCoordinates
from dkluq_cli.symmetry import PointGroup
from dkluq_cli.uq.calibration import fit_sigma_scale
from dkluq_cli.uq.extrapolation import InflationLaw, TrainingBox, simulate_extrapolation


@dataclass
class ExactSurrogate:
    """A fitted small-table model (see the module docstring).

    Attributes:
        coords: Lattice parameters → model coordinates.
        group: The reference's point group, or None (no symmetry used).
        head: The exact GP head (standardised units).
        y_mean: Training energy mean (eV).
        y_std: Training energy std (eV).
        sigma_scale: σ multiplier from the leave-one-out errors (unitless).
        box: The training box in model coordinates (with images under the group).
        law: σ inflation beyond the box.
    """

    coords: StrainCoordinates
    group: PointGroup | None
    head: ExactHead
    y_mean: float
    y_std: float
    sigma_scale: float
    box: TrainingBox
    law: InflationLaw

    @classmethod
    def fit(
        cls,
        params: np.ndarray,
        energy: np.ndarray,
        *,
        group: PointGroup | None = None,
        measure: str = "hencky",
        degrees: Any = None,
        restarts: int = 1,
        seed: int = 0,
        inflate: bool = True,
        fraction: float = 0.2,
        device: str = "cpu",
    ) -> ExactSurrogate:
        """Fit on ``params`` (n, 6; Å, degrees) and ``energy`` (n,; eV).

        Args:
            params: Training lattices.
            energy: Training energies (eV per cell).
            group: Point group of the reference crystal
                (:meth:`dkluq_cli.symmetry.PointGroup.from_structure`), or None.
            measure: Strain measure (``hencky`` or ``green``).
            degrees: Candidate polynomial degrees (None: :func:`~dkluq_cli.model.exact.default_degrees`).
            restarts: L-BFGS starts per degree beyond the prior modes.
            seed: Seed of the restarts and the basis construction.
            inflate: Fit the σ inflation law beyond the box (else s = 1).
            fraction: Share of the rows in each simulated-extrapolation slab.
            device: ``cpu`` or ``cuda``.
        """
        params = np.atleast_2d(np.asarray(params, dtype=np.float64))
        energy = np.asarray(energy, dtype=np.float64)
        ref = None if group is None else group.reference
        coords = StrainCoordinates.from_training(params, reference=ref, measure=measure)
        acts = None if group is None or group.order == 1 else group.strain_actions()
        u = coords.apply(params)
        y_mean = float(energy.mean())
        y_std = float(energy.std()) if energy.std() > 0 else 1.0
        head = fit_exact(
            u,
            (energy - y_mean) / y_std,
            actions=acts,
            degrees=degrees,
            restarts=restarts,
            seed=seed,
            device=device,
        )
        y_head = head.y.cpu().numpy()
        loo_mean, loo_std = head.loo()
        scale = fit_sigma_scale(y_head, loo_mean, loo_std) if len(u) > 1 else 1.0
        law = InflationLaw()
        if inflate:

            def fit_predict(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                sub = head.condition(train)
                mean, var = sub.predict(u[test])
                return mean, scale * np.sqrt(var + sub.noise_variance())

            d, z = simulate_extrapolation(u, y_head, fit_predict, acts, fraction)
            law = InflationLaw.fit(d, z)
        box = TrainingBox.from_rows(u, acts)
        return cls(coords, group, head, y_mean, y_std, scale, box, law)

    def _sigma_factor(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dist = self.box.distance(u)
        return dist, self.y_std * self.sigma_scale * self.law.factor(dist)

    def predict_parts(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Everything behind a prediction at ``params`` (n, 6; Å, degrees): ``mean`` (eV),
        ``std`` (eV, reported), ``latent_std`` and ``noise_std`` (eV, before the scale and
        inflation), ``distance`` (half-widths beyond the box) and ``inflation`` (s(d))."""
        u = self.coords.apply(params)
        mean, var = self.head.predict(u)
        dist, factor = self._sigma_factor(u)
        noise = self.head.noise_variance()
        return {
            "mean": self.y_mean + self.y_std * mean,
            "std": factor * np.sqrt(var + noise),
            "latent_std": self.y_std * np.sqrt(var),
            "noise_std": np.full(len(mean), self.y_std * np.sqrt(noise)),
            "distance": dist,
            "inflation": self.law.factor(dist),
        }

    def predict(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Energy mean and σ (eV, noise included, scaled and inflated) at ``params``."""
        parts = self.predict_parts(params)
        return parts["mean"], parts["std"]

    def sample(self, params: np.ndarray, n_samples: int, seed: int = 0) -> np.ndarray:
        """Joint posterior draws of the latent energy (n_samples, n; eV) at ``params``, with
        the same scale and inflation as :meth:`predict` (for minima such as an EOS's a0)."""
        u = self.coords.apply(params)
        mean, cov = self.head.joint(u)
        mean, cov = mean.cpu().numpy(), cov.cpu().numpy()
        _, factor = self._sigma_factor(u)
        cov = cov * np.outer(factor, factor)
        w, v = np.linalg.eigh((cov + cov.T) / 2.0)
        root = v * np.sqrt(np.clip(w, 0.0, None))
        rng = np.random.default_rng(seed)
        draws = rng.standard_normal((n_samples, len(mean))) @ root.T
        return self.y_mean + self.y_std * mean + draws

    def state(self) -> dict[str, Any]:
        """Plain tensors, lists and numbers (:meth:`from_state` rebuilds the model)."""
        return {
            "coords": self.coords.to_dict(),
            "group": None if self.group is None else self.group.to_dict(),
            "head": self.head.state(),
            "y_mean": self.y_mean,
            "y_std": self.y_std,
            "sigma_scale": self.sigma_scale,
            "box": self.box.to_dict(),
            "law": self.law.to_dict(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str = "cpu") -> ExactSurrogate:
        """Inverse of :meth:`state`."""
        group = None if state["group"] is None else PointGroup.from_dict(state["group"])
        return cls(
            StrainCoordinates.from_dict(state["coords"]),
            group,
            ExactHead.from_state(state["head"], device=device),
            float(state["y_mean"]),
            float(state["y_std"]),
            float(state["sigma_scale"]),
            TrainingBox.from_dict(state["box"]),
            InflationLaw.from_dict(state["law"]),
        )
