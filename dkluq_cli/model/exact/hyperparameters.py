"""Hyperparameters of the exact GP head: gpytorch's exact marginal likelihood, priors, L-BFGS.

The prior covariance (:mod:`dkluq_cli.model.exact.kernel`) sits in a gpytorch ``ExactGP`` with a
``GaussianLikelihood``; ``ExactMarginalLogLikelihood`` adds the registered log priors:

* lengthscales: log-normal, ``loc = √2 + ½ log d + log 2``, ``scale = √3`` (the dimension-scaled
  prior of Hvarfner et al. 2024, BoTorch's ``SingleTaskGP`` default, for coordinates that span
  about [−1, 1] instead of [0, 1]; d = directions the training coordinates span);
* noise variance: log-normal ``(−4, 1)`` (BoTorch's), floor 1e-8, standardised target;
* each degree's polynomial log τ: normal ``(−1, 2)``.

L-BFGS (strong Wolfe) starts at the prior modes, then from ``restarts`` seeded draws from the
priors; the lowest penalised loss wins. A start whose covariance stops being positive definite
is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gpytorch
import linear_operator
import numpy as np
import torch
from torch import Tensor

from dkluq_cli.crystal.strain import StrainPolynomial
from dkluq_cli.model.exact.kernel import LOG_MAX, LOG_MIN, InvariantMatern, PolynomialKernel

#: Noise variance floor (standardised target units²).
NOISE_FLOOR = 1e-8


@dataclass(frozen=True)
class ExactPriors:
    """Prior settings (standardised target; coordinates spanning about [−1, 1]).

    Attributes:
        noise: ``(loc, scale)`` of the log-normal prior on the noise variance.
        tau: ``(loc, scale)`` of the normal prior on each degree's log τ.
        lengthscale_scale: Scale of the log-normal lengthscale prior.
    """

    noise: tuple[float, float] = (-4.0, 1.0)
    tau: tuple[float, float] = (-1.0, 2.0)
    lengthscale_scale: float = math.sqrt(3.0)

    def lengthscale(self, n_dims: int) -> tuple[float, float]:
        """``(loc, scale)`` of the lengthscale prior for ``n_dims`` varying directions."""
        loc = math.sqrt(2.0) + 0.5 * math.log(max(n_dims, 1)) + math.log(2.0)
        return loc, self.lengthscale_scale


def basis_degrees(basis: StrainPolynomial, device: torch.device | str = "cpu") -> Tensor:
    """Degree of each basis function as a long tensor (empty for no basis)."""
    if basis.degree < 0:
        return torch.zeros(0, dtype=torch.long, device=device)
    return torch.as_tensor(basis.degrees, dtype=torch.long, device=device)


class PriorGP(gpytorch.models.ExactGP):
    """gpytorch container of the prior: Matérn + polynomial covariance, zero mean.

    Inputs are rows ``[coordinates | basis values]`` (the basis has no parameters, so its
    values are computed once).
    """

    def __init__(self, x: Tensor, phi: Tensor, y: Tensor, lik, matern, poly) -> None:
        super().__init__(torch.cat([x, phi], dim=1), y, lik)
        self.d = x.shape[1]
        self.matern, self.poly = matern, poly

    def covariance(self, xa: Tensor, xb: Tensor) -> Tensor:
        """Latent prior covariance between concatenated rows (dense, float64)."""
        d = self.d
        return self.matern(xa[:, :d], xb[:, :d]) + self.poly(xa[:, d:], xb[:, d:])

    def forward(self, x: Tensor) -> gpytorch.distributions.MultivariateNormal:
        """The prior at concatenated rows ``x``."""
        cov = linear_operator.to_linear_operator(self.covariance(x, x))
        return gpytorch.distributions.MultivariateNormal(x.new_zeros(len(x)), cov)


def effective_dims(x: Tensor) -> int:
    """Number of independent directions the training coordinates span (≥ 1)."""
    xc = (x - x.mean(0)).cpu().numpy()
    if len(xc) < 2:
        return 1
    sv = np.linalg.svd(xc, compute_uv=False)
    return max(1, int(np.sum(sv > 1e-8 * max(sv[0], 1e-300))))


def _build(x: Tensor, phi: Tensor, y: Tensor, basis: StrainPolynomial, priors: ExactPriors, blocks):
    """The gpytorch model and likelihood at the prior modes."""
    dev = x.device
    acts = torch.as_tensor(basis.actions, dtype=torch.float64, device=dev)
    blk = torch.as_tensor(blocks, dtype=torch.long, device=dev)
    matern = InvariantMatern(acts, blk, priors.lengthscale(effective_dims(x)))
    poly = PolynomialKernel(basis_degrees(basis, dev), priors.tau)
    lik = gpytorch.likelihoods.GaussianLikelihood(
        noise_prior=gpytorch.priors.LogNormalPrior(*priors.noise),
        noise_constraint=gpytorch.constraints.GreaterThan(NOISE_FLOOR),
    )
    lik.noise = max(math.exp(priors.noise[0] - priors.noise[1] ** 2), 10 * NOISE_FLOOR)
    model = PriorGP(x, phi, y, lik, matern, poly).to(device=dev, dtype=torch.float64)
    return model, lik


def _draw_start(model: PriorGP, lik, priors: ExactPriors, gen: torch.Generator) -> None:
    """Move the hyperparameters to a draw from their priors (a restart)."""

    def normal(loc: float, scale: float, shape=()) -> Tensor:
        return loc + scale * torch.randn(shape, generator=gen, dtype=torch.float64)

    with torch.no_grad():
        m, p = model.matern, model.poly
        prior = m.lengthscale_prior
        shape = m.raw_log_lengthscale.shape
        m.raw_log_lengthscale.copy_(normal(float(prior.loc), float(prior.scale), shape))
        m.raw_log_outputscale.fill_(float(normal(math.log(0.1), 1.5)))
        p.raw_log_tau.copy_(normal(priors.tau[0], priors.tau[1] / 2, p.raw_log_tau.shape))
        lik.noise = max(math.exp(float(normal(*priors.noise))), 10 * NOISE_FLOOR)


def _set_start(model: PriorGP, lik, params: dict[str, Any]) -> None:
    """Move the hyperparameters to ``params`` (a warm start from an earlier fit)."""
    with torch.no_grad():
        model.matern.raw_log_lengthscale.copy_(
            torch.as_tensor(params["log_lengthscale"], dtype=torch.float64)
        )
        model.matern.raw_log_outputscale.fill_(float(params["log_outputscale"]))
        model.poly.raw_log_tau.copy_(torch.as_tensor(params["log_tau"], dtype=torch.float64))
        lik.noise = max(float(params["noise"]), 10 * NOISE_FLOOR)


def _optimise(model: PriorGP, lik, max_iter: int) -> float:
    """L-BFGS on the penalised negative log marginal likelihood per point; its final value."""
    model.train()
    lik.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(lik, model)
    x, y = model.train_inputs[0], model.train_targets
    opt = torch.optim.LBFGS(
        [p for p in model.parameters() if p.requires_grad],
        lr=1.0,
        max_iter=max_iter,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-6,
        tolerance_change=1e-9,
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = -mll(model(x), y)
        loss.backward()
        return loss

    with gpytorch.settings.max_cholesky_size(10**7), gpytorch.settings.cholesky_max_tries(4):
        opt.step(closure)
        with torch.no_grad():
            return float(-mll(model(x), y))


def _read(model: PriorGP, lik, blocks: np.ndarray) -> dict[str, Any]:
    """The fitted hyperparameters as plain lists and numbers."""
    with torch.no_grad():
        return {
            "blocks": [int(b) for b in blocks],
            "log_lengthscale": model.matern.log_lengthscale.cpu().tolist(),
            "log_outputscale": float(model.matern.raw_log_outputscale.clamp(LOG_MIN, LOG_MAX)),
            "log_tau": model.poly.log_tau.cpu().tolist(),
            "noise": float(lik.noise),
        }


def fit_hyperparameters(
    x: Tensor,
    y: Tensor,
    basis: StrainPolynomial,
    blocks: np.ndarray,
    *,
    priors: ExactPriors = ExactPriors(),
    restarts: int = 2,
    seed: int = 0,
    max_iter: int = 200,
    start: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], float]:
    """Best-of-restarts hyperparameters for one basis.

    Args:
        x: (n, d) training coordinates (float64, on the fitting device).
        y: (n,) standardised target.
        basis: The polynomial basis (degree −1: none).
        blocks: (d,) lengthscale block of each coordinate.
        priors: Prior settings.
        restarts: Starts drawn from the priors beyond the one at the prior modes.
        seed: Seed of those draws.
        max_iter: L-BFGS iterations per start.
        start: Hyperparameters of an earlier fit of the same basis (the full table's, for a
            cross-validation fold): the first start is there instead of at the prior modes.

    Returns:
        ``(params, loss)``: the hyperparameters (``blocks, log_lengthscale, log_outputscale,
        log_tau, noise``) and the penalised negative log marginal likelihood per point.

    Raises:
        torch.linalg.LinAlgError: No start kept a positive definite covariance.
    """
    phi = x.new_zeros((len(x), 0))
    if basis.degree >= 0:
        phi = torch.as_tensor(basis.design(x.cpu().numpy()), dtype=torch.float64, device=x.device)
    gen = torch.Generator().manual_seed(int(seed))
    best: tuple[dict[str, Any], float] | None = None
    for r in range(restarts + 1):
        model, lik = _build(x, phi, y, basis, priors, blocks)
        if r > 0:
            _draw_start(model, lik, priors, gen)
        elif start is not None:
            _set_start(model, lik, start)
        try:
            loss = _optimise(model, lik, max_iter)
        except (gpytorch.utils.errors.NotPSDError, torch.linalg.LinAlgError):
            continue
        if math.isfinite(loss) and (best is None or loss < best[1]):
            best = (_read(model, lik, blocks), loss)
    if best is None:
        raise torch.linalg.LinAlgError("every exact-GP start lost positive definiteness")
    return best
