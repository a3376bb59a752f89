"""The deep kernel learning module: the SN-ResNet feature extractor followed by the SVGP head.

:class:`DKL` keeps the extractor out of ``ApproximateGP.__call__``, which would otherwise also push
the inducing points through it (DUE's ``DKL`` does the same). :class:`DKLHead` is the trained DKL
and its likelihood as a surrogate's head (:class:`dkluq_cli.model.head.Head`).
"""

from __future__ import annotations

from typing import Any

import gpytorch
import numpy as np
import torch
from torch import Tensor

from dkluq_cli.model.gp import SVGPHead, make_likelihood
from dkluq_cli.model.resnet import FCResNet


class DKL(gpytorch.Module):
    """Feature extractor followed by the SVGP head."""

    def __init__(self, extractor: FCResNet, gp: SVGPHead) -> None:
        super().__init__()
        self.extractor = extractor
        self.gp = gp

    def forward(self, x: Tensor) -> gpytorch.distributions.MultivariateNormal:
        """Latent GP posterior q(f) at standardised inputs ``x``."""
        return self.gp(self.extractor(x))


def build_extractor(config: dict[str, Any], n_features: int) -> FCResNet:
    """The SN-ResNet feature extractor of a training config (keys ``width, depth, dropout,
    activation, spectral_norm, sn_coeff, n_power_iterations``), freshly initialised."""
    return FCResNet(
        n_features,
        width=config["width"],
        depth=config["depth"],
        dropout=config["dropout"],
        activation=config["activation"],
        spectral_norm=config["spectral_norm"],
        sn_coeff=config["sn_coeff"],
        n_power_iterations=config["n_power_iterations"],
    )


def build_dkl(
    config: dict[str, Any],
    extractor: FCResNet,
    inducing: Tensor | None = None,
    lengthscale: float = 1.0,
) -> tuple[DKL, gpytorch.likelihoods.GaussianLikelihood]:
    """Put the SVGP head and the likelihood of a training config on top of ``extractor``.

    Args:
        config: Keys ``inducing, width, kernel, ngd, min_noise`` (and ``init_noise``).
        extractor: The feature extractor (:func:`build_extractor`).
        inducing: Initial inducing points (m × width); zeros of the right shape when loading.
        lengthscale: Initial kernel lengthscale (feature-space distance).

    Returns:
        ``(model, likelihood)``.
    """
    if inducing is None:
        inducing = torch.zeros(config["inducing"], config["width"])
    gp = SVGPHead(inducing, lengthscale, kernel=config["kernel"], natural=config["ngd"])
    return DKL(extractor, gp), make_likelihood(config["min_noise"], config.get("init_noise", 1e-2))


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
        """Mean and (symmetrised) covariance of q(f) at ``z``, float64."""
        self.eval()
        with self._settings():
            f = self.model(z)
        cov = f.covariance_matrix.double()
        return f.mean.double(), 0.5 * (cov + cov.T)

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
