"""Soft spectral normalisation of linear layers.

Miyato et al.'s spectral normalisation divides a weight matrix W by its largest singular value
σ(W). The *soft* variant used by DUE (van Amersfoort et al. 2021) divides only when σ(W) exceeds
a coefficient c, i.e. ``W / max(1, σ(W)/c)``, so every layer is at most c-Lipschitz but small
layers keep their scale. σ(W) is estimated by power iteration on persistent vectors u, v, one
iteration per training forward pass (DUE's choice); in eval mode the stored vectors are reused,
so inference is deterministic.

Implemented as a :mod:`torch.nn.utils.parametrize` parametrisation, which keeps the state dict
plain tensors (loadable with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize


class SoftSpectralNorm(nn.Module):
    """Parametrisation ``W -> W / max(1, σ(W)/coeff)``.

    Args:
        weight: The initial weight matrix (out_features × in_features), used for shapes and to
            warm up the power iteration.
        coeff: Upper bound c on the layer's spectral norm (Lipschitz constant).
        n_power_iterations: Power-iteration steps per training forward pass.
        eps: Numerical floor in vector normalisation.
    """

    def __init__(
        self,
        weight: torch.Tensor,
        coeff: float = 0.95,
        n_power_iterations: int = 1,
        eps: float = 1e-12,
    ) -> None:
        super().__init__()
        if coeff <= 0:
            raise ValueError(f"spectral-norm coefficient must be positive, got {coeff}")
        self.coeff = float(coeff)
        self.n_power_iterations = int(n_power_iterations)
        self.eps = eps
        out_f, in_f = weight.shape
        gen = torch.Generator().manual_seed(0)
        u = torch.randn(out_f, generator=gen, dtype=weight.dtype)
        v = torch.randn(in_f, generator=gen, dtype=weight.dtype)
        self.register_buffer("_u", nn.functional.normalize(u, dim=0, eps=eps).to(weight.device))
        self.register_buffer("_v", nn.functional.normalize(v, dim=0, eps=eps).to(weight.device))
        with torch.no_grad():
            self._power_iteration(weight.detach(), 15)

    @torch.no_grad()
    def _power_iteration(self, weight: torch.Tensor, n: int) -> None:
        u, v = self._u, self._v
        for _ in range(n):
            v = nn.functional.normalize(weight.t() @ u, dim=0, eps=self.eps)
            u = nn.functional.normalize(weight @ v, dim=0, eps=self.eps)
        self._u.copy_(u)
        self._v.copy_(v)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # model files of formats 1 and 2 carry a ``_sigma`` buffer that nothing read
        state_dict.pop(prefix + "_sigma", None)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        """Return the (possibly) rescaled weight."""
        if self.training and self.n_power_iterations > 0:
            self._power_iteration(weight.detach(), self.n_power_iterations)
        sigma = torch.dot(self._u, weight @ self._v)
        factor = torch.clamp(sigma / self.coeff, min=1.0)
        return weight / factor


def soft_spectral_norm(
    layer: nn.Linear, coeff: float = 0.95, n_power_iterations: int = 1
) -> nn.Linear:
    """Attach soft spectral normalisation to ``layer.weight`` in place.

    Args:
        layer: A linear layer.
        coeff: Bound c on σ(W); W is divided only when σ(W) > c.
        n_power_iterations: Power-iteration steps per training forward pass.

    Returns:
        The same layer, now parametrised.
    """
    parametrize.register_parametrization(
        layer, "weight", SoftSpectralNorm(layer.weight, coeff, n_power_iterations)
    )
    return layer


def spectral_norm_of(layer: nn.Linear) -> float:
    """Exact largest singular value of the layer's *effective* weight (for tests and logs)."""
    with torch.no_grad():
        return float(torch.linalg.matrix_norm(layer.weight.detach().double(), ord=2))
