"""What a :class:`~dkluq_cli.model.surrogate.Surrogate` asks of its GP head.

A head works in standardised units: inputs are the standardised model coordinates (a tensor on
the head's device), outputs are in units of the residual's spread. Two heads implement it: the
SN-ResNet + SVGP of :mod:`dkluq_cli.model.svgp.head` (large tables) and the exact GP of
:mod:`dkluq_cli.model.exact.head` (small ones).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch


class Head(Protocol):
    """The predictive interface of a trained GP head (standardised units throughout)."""

    kind: str
    """``svgp`` or ``exact`` (stored in the model file)."""

    @property
    def device(self) -> torch.device:
        """Device the head lives on."""

    @property
    def dtype(self) -> torch.dtype:
        """Floating-point type the head computes in."""

    def to(self, device: str | torch.device) -> Head:
        """Move to ``device`` in place; returns self."""

    def predict(self, z: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Latent posterior mean and variance at ``z`` (n × d) as float64 arrays."""

    def noise_variance(self) -> float:
        """The learned observation-noise variance."""

    def joint(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent posterior mean (n) and covariance (n × n) at ``z``, float64 tensors."""

    def variance64(self, z: torch.Tensor) -> np.ndarray:
        """Latent posterior variance at ``z`` (n), float64, consistent with
        :meth:`cross_covariance`."""

    def cross_covariance(self, za: torch.Tensor, zb: torch.Tensor) -> np.ndarray:
        """Latent posterior covariance between ``za`` (n × d) and ``zb`` (k × d), float64."""

    def state(self) -> dict[str, Any]:
        """Plain tensors and numbers that rebuild the head (for the model file)."""
