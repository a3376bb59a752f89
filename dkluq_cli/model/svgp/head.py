"""The trained DKL and its likelihood as a surrogate's head (:class:`dkluq_cli.model.head.Head`).

Training builds the module (:mod:`dkluq_cli.model.svgp.dkl`); this adapter serves it: predictive means
and variances, the joint and cross covariances ``suggest`` conditions on (in float64), the
features for the inducing-point plot, and the plain state the model file keeps.
"""

from __future__ import annotations

from typing import Any

import gpytorch
import numpy as np
import torch
from torch import Tensor

from dkluq_cli.model.svgp.dkl import DKL
from dkluq_cli.model.svgp.gp import SVGPHead


class DKLHead:
    """A trained DKL and its Gaussian likelihood behind the :class:`~dkluq_cli.model.head.Head`
    interface.

    Args:
        model: The DKL module.
        likelihood: Its likelihood (noise in standardised units).
        jitter: Diagonal jitter of the inducing and predictive covariances it was trained with.
    """

    kind = "svgp"

    def __init__(
        self, model: DKL, likelihood: gpytorch.likelihoods.GaussianLikelihood, jitter: float
    ) -> None:
        self.model = model
        self.likelihood = likelihood
        self.jitter = float(jitter)

    def _settings(self) -> gpytorch.settings.variational_cholesky_jitter:
        return gpytorch.settings.variational_cholesky_jitter(self.jitter, self.jitter)

    @property
    def device(self) -> torch.device:
        """Device the model lives on."""
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """Floating-point type of the model."""
        return next(self.model.parameters()).dtype

    def to(self, device: str | torch.device) -> DKLHead:
        """Move model and likelihood to ``device`` (in place); returns self."""
        self.model.to(device)
        self.likelihood.to(device)
        return self

    def eval(self) -> None:
        """Switch model and likelihood to evaluation mode."""
        self.model.eval()
        self.likelihood.eval()

    @torch.no_grad()
    def predict(self, z: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and variance of q(f) at standardised coordinates ``z``."""
        self.eval()
        with gpytorch.settings.skip_posterior_variances(False), self._settings():
            f = self.model(z)
            return f.mean.double().cpu().numpy(), f.variance.clamp_min(0.0).double().cpu().numpy()

    def noise_variance(self) -> float:
        """The likelihood's noise variance."""
        return float(self.likelihood.noise.detach().cpu().reshape(-1)[0])

    @torch.no_grad()
    def joint(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and (symmetrised) covariance of q(f) at ``z``, computed in float64 by the
        float64 copy of the GP: a float32 covariance of close points (a strain stencil, a
        dense line) is indefinite by its round-off and needs jitter that would blur the
        draws' differences."""
        gp = self._gp64()
        with self._settings():
            f = gp(self._features64(z))
        cov = f.covariance_matrix
        return f.mean, 0.5 * (cov + cov.T)

    @torch.no_grad()
    def cross_covariance(self, za: Tensor, zb: Tensor) -> np.ndarray:
        """``Cov_q[f(za), f(zb)]`` (n × k) from the joint q(f) of both sets, in float64."""
        gp = self._gp64()
        fa, fb = self._features64(za), self._features64(zb)
        with self._settings():
            cov = gp(torch.cat([fa, fb])).covariance_matrix
        return cov[: len(za), len(za) :].cpu().numpy()

    @torch.no_grad()
    def variance64(self, z: Tensor) -> np.ndarray:
        """The latent variance of q(f) at ``z`` computed in float64 (what
        :meth:`cross_covariance` is consistent with)."""
        gp = self._gp64()
        with gpytorch.settings.skip_posterior_variances(False), self._settings():
            return gp(self._features64(z)).variance.cpu().numpy()

    def _features64(self, z: Tensor) -> Tensor:
        self.eval()
        return self.model.extractor(z).double()

    def _gp64(self) -> SVGPHead:
        """A float64 copy of the GP head (built once): rank-one updates of its covariances stay
        consistent where float32 round-off would not."""
        if getattr(self, "_gp_double", None) is None:
            import copy

            gp = copy.deepcopy(self.model.gp)
            gp.train()  # clears gpytorch's cached (single-precision) Cholesky factors
            self._gp_double = gp.double().eval()
        return self._gp_double

    @torch.no_grad()
    def embed(self, z: Tensor) -> np.ndarray:
        """Extractor features of ``z`` (n × width)."""
        self.eval()
        return self.model.extractor(z).double().cpu().numpy()

    def inducing_points(self) -> np.ndarray:
        """The GP's inducing locations in feature space (m × width)."""
        points = self.model.gp.variational_strategy.inducing_points
        return points.detach().double().cpu().numpy()

    def state(self) -> dict[str, Any]:
        """State dicts of model and likelihood (CPU copies)."""

        def cpu_state(module: torch.nn.Module) -> dict[str, Tensor]:
            return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}

        return {"model": cpu_state(self.model), "likelihood": cpu_state(self.likelihood)}
