"""The sparse variational GP head, built from gpytorch pieces only.

``ApproximateGP`` with a whitened ``VariationalStrategy`` (learnable inducing locations), a
``CholeskyVariationalDistribution`` (or its natural-parameter twin for natural-gradient
updates), ``ConstantMean`` and ``ScaleKernel`` over a Matérn or RBF kernel on the extractor's
features. Trained with ``VariationalELBO(num_data=N_train)``.
"""

from __future__ import annotations

import gpytorch
import torch
from torch import Tensor

KERNELS = ("matern12", "matern32", "matern52", "rbf")


def make_kernel(name: str) -> gpytorch.kernels.Kernel:
    """Return the base kernel named ``matern12|matern32|matern52|rbf``."""
    if name == "rbf":
        return gpytorch.kernels.RBFKernel()
    nus = {"matern12": 0.5, "matern32": 1.5, "matern52": 2.5}
    if name not in nus:
        raise ValueError(f"unknown kernel {name!r}; choose from {KERNELS}")
    return gpytorch.kernels.MaternKernel(nu=nus[name])


class SVGPHead(gpytorch.models.ApproximateGP):
    """SVGP over feature vectors.

    Args:
        inducing_points: Initial inducing locations in feature space (m × D).
        lengthscale: Initial kernel lengthscale (feature-space distance).
        kernel: Base kernel name.
        natural: Use ``NaturalVariationalDistribution`` (for gpytorch's NGD optimiser) instead
            of ``CholeskyVariationalDistribution``.
    """

    def __init__(
        self,
        inducing_points: Tensor,
        lengthscale: float,
        kernel: str = "matern52",
        natural: bool = False,
    ) -> None:
        m = inducing_points.shape[0]
        dist_cls = (
            gpytorch.variational.NaturalVariationalDistribution
            if natural
            else gpytorch.variational.CholeskyVariationalDistribution
        )
        q_u = dist_cls(m)
        strategy = gpytorch.variational.VariationalStrategy(
            self, inducing_points, q_u, learn_inducing_locations=True
        )
        super().__init__(strategy)
        self.mean_module = gpytorch.means.ConstantMean()
        base = make_kernel(kernel)
        base.lengthscale = lengthscale * torch.ones_like(base.lengthscale)
        self.covar_module = gpytorch.kernels.ScaleKernel(base)

    def forward(self, x: Tensor) -> gpytorch.distributions.MultivariateNormal:
        """The GP prior at feature vectors ``x``."""
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def make_likelihood(
    min_noise: float = 1e-6, init_noise: float = 1e-2
) -> gpytorch.likelihoods.GaussianLikelihood:
    """Gaussian likelihood with a low noise floor (in standardised target units).

    gpytorch's default floor (variance 1e-4, i.e. σ_noise = 1 % of the target's standard
    deviation) is wider than the errors a smooth DFT energy surface allows and would force
    over-wide intervals; 1e-6 keeps the floor at 0.1 %. The noise starts at ``init_noise``
    (gpytorch's default start, ≈ 0.69, is the whole target variance: Adam then spends hundreds
    of steps only shrinking it while the data term is too weak to shape the features).
    """
    likelihood = gpytorch.likelihoods.GaussianLikelihood(
        noise_constraint=gpytorch.constraints.GreaterThan(min_noise)
    )
    likelihood.noise = init_noise
    return likelihood
