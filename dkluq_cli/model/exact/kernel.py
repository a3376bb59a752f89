"""The two covariance terms of the exact GP head, as plain torch modules (float64, dense).

* :class:`InvariantMatern`: a Matérn 5/2 kernel averaged over a group of orthogonal coordinate
  maps, ``k(x, x') = s² / |G| Σ_g m(‖(x − A_g x') / ℓ‖)``. Lengthscales are shared within each
  *block* of coordinates that the group mixes (for a cubic reference: the three normal strains,
  the three shears), which makes the metric ``diag(1/ℓ²)`` commute with every ``A_g``, so
  ``k(A_h x, x') = k(x, x') = k(x, A_h x')``: images under the group get the same mean and σ.
  With the identity alone it is the usual ARD Matérn 5/2.
* :class:`PolynomialKernel`: ``k(x, x') = Σ_j τ²_{deg j} φ_j(x) φ_j(x')``, the covariance of a
  polynomial mean ``Σ_j β_j φ_j(x)`` whose coefficients have a Gaussian prior
  ``β_j ~ N(0, τ²_{deg j})`` and are integrated out (Rasmussen & Williams 2006, §2.7): σ then
  grows like the polynomial beyond the data instead of levelling off at the prior amplitude.
  One τ per total degree, learned with the other hyperparameters: high degrees the data do not
  need shrink to small τ but still widen σ where they would matter, outside the box.

Both hold log-parameters clamped to a finite range (the kernel matrix stays positive definite
for any value L-BFGS probes) and register log-normal priors for gpytorch's marginal likelihood.
"""

from __future__ import annotations

import math

import gpytorch
import numpy as np
import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

#: Kernel-matrix size (entries) above which the group average recomputes images in backward.
CHECKPOINT_ENTRIES = 250_000
#: Clamp range of every log-parameter (natural log).
LOG_MIN, LOG_MAX = -18.0, 4.0
_SQRT5 = math.sqrt(5.0)


def coordinate_blocks(actions: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Block index (d,) of each coordinate: coordinates any group map mixes share a block.

    Args:
        actions: (k, d, d) linear maps of the coordinates.
        tol: Entries below this magnitude count as zero.
    """
    d = actions.shape[1]
    parent = list(range(d))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.abs(actions).max(axis=0) > tol), strict=True):
        parent[find(int(i))] = find(int(j))
    roots = [find(i) for i in range(d)]
    labels = {r: k for k, r in enumerate(dict.fromkeys(roots))}
    return np.array([labels[r] for r in roots], dtype=np.int64)


def _matern52(r: Tensor) -> Tensor:
    s = _SQRT5 * r
    return (1.0 + s + s * s / 3.0) * torch.exp(-s)


def _matern52_pairs(a: Tensor, b: Tensor) -> Tensor:
    """Matérn 5/2 (unit lengthscale) between the rows of ``a`` and of ``b``."""
    # cdist's matmul path loses digits at tiny distances; the clamp keeps sqrt finite
    sq = (a * a).sum(-1)[:, None] + (b * b).sum(-1)[None, :] - 2.0 * a @ b.T
    return _matern52(sq.clamp_min(1e-30).sqrt())


def _clamped(raw: Tensor) -> Tensor:
    return raw.clamp(LOG_MIN, LOG_MAX)


class InvariantMatern(gpytorch.Module):
    """Group-averaged Matérn 5/2 with one lengthscale per coordinate block.

    Args:
        actions: (k, d, d) orthogonal coordinate maps (identity included).
        blocks: (d,) block index per coordinate (:func:`coordinate_blocks`).
        lengthscale_prior: ``(loc, scale)`` of the log-normal prior on each lengthscale
            (coordinate units); the lengthscales start at its mode.
        outputscale: Initial amplitude s² (units of the standardised target squared).
    """

    def __init__(
        self,
        actions: Tensor,
        blocks: Tensor,
        lengthscale_prior: tuple[float, float],
        outputscale: float = 0.1,
    ) -> None:
        super().__init__()
        self.register_buffer("actions", actions)
        self.register_buffer("blocks", blocks)
        loc, scale = lengthscale_prior
        n_blocks = int(blocks.max()) + 1 if blocks.numel() else 0
        mode = loc - scale**2
        self.raw_log_lengthscale = torch.nn.Parameter(torch.full((n_blocks,), mode))
        self.raw_log_outputscale = torch.nn.Parameter(torch.tensor(math.log(outputscale)))
        self.register_prior(
            "lengthscale_prior",
            gpytorch.priors.NormalPrior(loc, scale),
            lambda m: m.log_lengthscale,
        )

    @property
    def log_lengthscale(self) -> Tensor:
        """Log lengthscale per block (coordinate units)."""
        return _clamped(self.raw_log_lengthscale)

    @property
    def outputscale(self) -> Tensor:
        """Amplitude s² (standardised target units squared)."""
        return torch.exp(_clamped(self.raw_log_outputscale))

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False) -> Tensor:
        """Covariance (n1 × n2), or its diagonal (n1,) when ``diag`` (needs ``x1 is x2``)."""
        inv_ls = torch.exp(-self.log_lengthscale)[self.blocks]
        a = x1 * inv_ls
        acc = x1.new_zeros(len(x1) if diag else (len(x1), len(x2)))
        # with many images of a large matrix, autograd would keep every image's intermediates
        # (24 × 4 matrices of n² at n = 2000: 10 GB); recomputing them in backward keeps one
        lean = torch.is_grad_enabled() and not diag and len(self.actions) > 1
        lean = lean and len(x1) * len(x2) > CHECKPOINT_ENTRIES
        for act in self.actions:
            b = (x2 @ act.T) * inv_ls
            if diag:
                acc = acc + _matern52(torch.linalg.vector_norm(a - b, dim=-1))
            elif lean:
                acc = acc + checkpoint(_matern52_pairs, a, b, use_reentrant=False)
            else:
                acc = acc + _matern52_pairs(a, b)
        return self.outputscale * acc / len(self.actions)


class PolynomialKernel(gpytorch.Module):
    """Covariance ``Φ₁ diag(τ²) Φ₂ᵀ`` of a polynomial with integrated-out coefficients.

    Args:
        degrees: (p,) total degree of each basis function.
        tau_prior: ``(loc, scale)`` of the normal prior on each log τ (τ in standardised
            target units per unit basis function).
    """

    def __init__(self, degrees: Tensor, tau_prior: tuple[float, float]) -> None:
        super().__init__()
        self.register_buffer("degrees", degrees)
        n_deg = int(degrees.max()) + 1 if degrees.numel() else 0
        self.raw_log_tau = torch.nn.Parameter(torch.full((n_deg,), float(tau_prior[0])))
        self.register_prior(
            "tau_prior", gpytorch.priors.NormalPrior(*tau_prior), lambda m: m.log_tau
        )

    @property
    def log_tau(self) -> Tensor:
        """Log prior standard deviation of the coefficients, per degree."""
        return _clamped(self.raw_log_tau)

    def weights(self) -> Tensor:
        """Prior variance of each coefficient (p,)."""
        return torch.exp(2.0 * self.log_tau)[self.degrees]

    def forward(self, phi1: Tensor, phi2: Tensor, diag: bool = False) -> Tensor:
        """Covariance (n1 × n2) between basis rows, or its diagonal (n1,) when ``diag``."""
        w = self.weights()
        if diag:
            return (phi1 * phi1 * w).sum(-1)
        return (phi1 * w) @ phi2.T
