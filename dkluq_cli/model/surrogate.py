"""The trained surrogate: what users hold after ``dkluq train`` or :func:`~dkluq_cli.model.io.load_model`.

It maps inputs to the model's standardised coordinates, asks its GP head
(:class:`~dkluq_cli.model.head.Head`: the DKL, or an exact GP) for the latent posterior, adds the
polynomial trend back and returns the predictive mean and the calibrated σ in target units (eV),
and draws joint posterior samples.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.errors import TrainingError
from dkluq_cli.model.head import Head
from dkluq_cli.model.normalisation import Normalisation
from dkluq_cli.model.record import TrainingRecord
from dkluq_cli.model.truncation import TruncationBand
from dkluq_cli.uq.domain import Domain
from dkluq_cli.uq.extrapolation import BoxInflation


@dataclass
class Surrogate:
    """A trained GP head with everything needed to predict in physical units.

    Attributes:
        head: The GP head (latent posterior and noise in standardised units).
        norm: Feature columns → standardised coordinates, standardised target → target units
            (:class:`~dkluq_cli.model.normalisation.Normalisation`); its fields are also
            readable on the surrogate (``features``, ``x_mean``, ``trend`` ...).
        sigma_scale: Calibration factor applied to the predictive σ.
        domain: Training-domain statistics (:class:`~dkluq_cli.uq.domain.Domain`), or None.
        config: The training configuration.
        crystal: The reference crystal (:class:`~dkluq_cli.crystal.crystal.Crystal`) or None.
        record: Provenance of the training run (table, formula, best epoch...).
        beyond: How the calibrated σ widens beyond the training box: the trend's truncation
            band (:mod:`dkluq_cli.model.truncation`, the SVGP regime) or an inflation law
            (:class:`dkluq_cli.uq.extrapolation.BoxInflation`, the exact regime); None: not at
            all.
    """

    head: Head
    norm: Normalisation
    sigma_scale: float = 1.0
    domain: Domain | None = None
    config: dict[str, Any] = field(default_factory=dict)
    crystal: Crystal | None = None
    record: TrainingRecord = field(default_factory=TrainingRecord)
    beyond: TruncationBand | BoxInflation | None = None

    features = property(lambda self: self.norm.features, doc="Input column names.")
    feature_units = property(lambda self: self.norm.feature_units, doc="Feature units.")
    target = property(lambda self: self.norm.target, doc="Target column name.")
    target_unit = property(lambda self: self.norm.target_unit, doc="Target unit.")
    inputs = property(lambda self: self.norm.inputs, doc="Features → model coordinates.")
    x_mean = property(lambda self: self.norm.x_mean, doc="Coordinate centre.")
    x_std = property(lambda self: self.norm.x_std, doc="Coordinate scale.")
    y_mean = property(lambda self: self.norm.y_mean, doc="Target mean (target units).")
    y_std = property(lambda self: self.norm.y_std, doc="Residual scale (target units).")
    trend = property(lambda self: self.norm.trend, doc="The polynomial trend.")

    def coordinates(self, x: np.ndarray) -> np.ndarray:
        """Inputs in feature units (n × len(features)) → model coordinates (feature units)."""
        return self.norm.coordinates(x)

    @property
    def device(self) -> torch.device:
        """Device the head lives on."""
        return self.head.device

    @property
    def dtype(self) -> torch.dtype:
        """Floating-point type of the head."""
        return self.head.dtype

    def to(self, device: str | torch.device) -> Surrogate:
        """Move the head to ``device`` (in place); returns self."""
        self.head.to(device)
        return self

    def standardise(self, x: np.ndarray) -> Tensor:
        """Inputs in feature units (n × d) → standardised coordinates on the model's device."""
        return torch.as_tensor(self.norm.standardise(x), dtype=self.dtype, device=self.device)

    def predict_standardised(
        self, x: np.ndarray, batch_size: int = 8192
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predictive mean, total σ and latent σ in *standardised* target units (uncalibrated)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        return self._head_posterior(self.coordinates(x), batch_size)

    def _head_posterior(
        self, coords: np.ndarray, batch_size: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`predict_standardised` from model coordinates (computed once by the caller)."""
        z = (coords - self.x_mean) / self.x_std
        means, stds, lat = [], [], []
        noise = self.head.noise_variance()
        for start in range(0, len(z), batch_size):
            chunk = torch.as_tensor(z[start : start + batch_size], dtype=self.dtype)
            mean, var_f = self.head.predict(chunk.to(self.device))
            means.append(mean)
            lat.append(np.sqrt(var_f))
            stds.append(np.sqrt(var_f + noise))
        if not means:
            empty = np.zeros(0)
            return empty, empty, empty
        return np.concatenate(means), np.concatenate(stds), np.concatenate(lat)

    def predict(
        self, x: np.ndarray, *, calibrated: bool = True, batch_size: int = 8192
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predict the target with one forward pass.

        Args:
            x: Inputs in feature units, shape (n × d), columns in ``self.features`` order.
            calibrated: Apply the validation-fitted σ scale.
            batch_size: Rows per forward pass.

        Returns:
            ``(mean, std)`` in target units (eV): the predictive mean and the standard deviation
            of the predictive distribution (latent GP variance plus learned noise plus the
            trend's variance; calibrated, it is scaled and, beyond the training box, joined by
            the trend's truncation band).
        """
        coords = self.coordinates(np.atleast_2d(np.asarray(x, dtype=np.float64)))
        mean_z, std_z, _ = self._head_posterior(coords, batch_size)
        mean, std = self.to_target_units(mean_z, std_z, *self.trend.mean_and_variance(coords))
        if not calibrated:
            return mean, std
        std = std * self.sigma_scale
        if self.beyond is not None:
            std = self.beyond.widen(coords, std)
        return mean, std

    def to_target_units(
        self,
        mean_z: np.ndarray,
        std_z: np.ndarray,
        trend_mean: np.ndarray,
        trend_var: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Standardised GP mean and σ plus the trend and its variance at the same rows (target
        units, units²) → uncalibrated mean and σ in target units."""
        return mean_z * self.y_std + trend_mean, np.sqrt((std_z * self.y_std) ** 2 + trend_var)

    @torch.no_grad()
    def sample_posterior(
        self, x: np.ndarray, n_samples: int, *, seed: int = 0, calibrated: bool = True
    ) -> np.ndarray:
        """Joint samples of the latent function at ``x`` (target units).

        The GP part is drawn from q(f) at ``x``; the trend's coefficients are drawn jointly, so
        every sample carries one coherent polynomial.

        Args:
            x: Inputs (n × d) in feature units; keep n moderate (a full n × n covariance).
            n_samples: Number of joint samples.
            seed: Random seed.
            calibrated: Scale deviations from the mean by the calibration factor.

        Returns:
            Array (n_samples × n) of function values in target units.

        Raises:
            TrainingError: The posterior covariance at ``x`` is not positive semi-definite even
                with jitter.
        """
        from linear_operator.utils.cholesky import psd_safe_cholesky
        from linear_operator.utils.errors import NotPSDError
        from linear_operator.utils.warnings import NumericalWarning

        mean, cov = self.head.joint(self.standardise(x))
        jitter = 1e-10 * float(cov.diagonal().mean().clamp_min(1e-12))
        eye = torch.eye(len(mean), dtype=cov.dtype, device=cov.device)
        try:
            # a dense set of close points is indefinite by round-off: adding jitter (at most 1e-3
            # of the variance) is expected here, and a real failure raises NotPSDError
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NumericalWarning)
                chol = psd_safe_cholesky(cov + jitter * eye, jitter=jitter, max_tries=8)
        except NotPSDError as exc:
            raise TrainingError(
                f"the posterior covariance of {len(mean)} points is not positive semi-definite",
                hint="sample fewer or less clustered points",
            ) from exc
        gen = torch.Generator(device="cpu").manual_seed(seed)
        eps = torch.randn(len(mean), n_samples, generator=gen, dtype=torch.float64).to(cov.device)
        scale = self.sigma_scale if calibrated else 1.0
        dev = ((chol @ eps).T * self.y_std).cpu().numpy()
        design = self.trend.design(self.coordinates(x))
        rng = np.random.default_rng(seed)
        beta = rng.multivariate_normal(
            np.zeros(len(self.trend.coef)), self.trend.cov, size=n_samples, method="eigh"
        )
        dev = (dev + beta @ design.T) * scale
        if calibrated and self.beyond is not None:
            dev = self.beyond.widen_samples(self.coordinates(x), dev, rng)
        return (mean * self.y_std).cpu().numpy() + dev + design @ self.trend.coef
