"""The deep kernel learning module: the SN-ResNet feature extractor followed by the SVGP head.

:class:`DKL` keeps the extractor out of ``ApproximateGP.__call__``, which would otherwise also push
the inducing points through it (DUE's ``DKL`` does the same). The trained module is served by
:class:`dkluq_cli.model.svgp.head.DKLHead`.
"""

from __future__ import annotations

from typing import Any

import gpytorch
import torch
from torch import Tensor

from dkluq_cli.model.svgp.gp import SVGPHead, make_likelihood
from dkluq_cli.model.svgp.resnet import FCResNet


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
