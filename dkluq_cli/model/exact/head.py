"""The exact GP head for small tables: a polynomial of the strain in the prior, a Matérn residual.

For tables of 5 to a few thousand rows an exact GP beats the DKL: no inducing points, no network
to fit on too few rows, and closed-form leave-one-out. Prior covariance (standardised target):

    k(x, x') = τ-weighted polynomial  Σ_j τ²_{deg j} φ_j(x) φ_j(x')      (basis_kernel)
             + group-averaged Matérn 5/2 with one lengthscale per block   (basis_kernel)
             + σ²_n δ(x, x')

with ``x`` the model coordinates (:class:`dkluq_cli.crystal.strain.StrainCoordinates`: scaled Mandel
strain) and ``φ`` the polynomial basis of :class:`dkluq_cli.crystal.strain.StrainPolynomial`, symmetric
under the reference's point group when one is known. The polynomial is the elastic expansion
with its coefficients integrated out (Rasmussen & Williams §2.7); the Matérn takes what it
misses. Hyperparameters (a τ per degree, lengthscales, amplitude, noise) maximise gpytorch's
``ExactMarginalLogLikelihood`` with priors: log-normal lengthscales scaled with the dimension
(Hvarfner et al. 2024, BoTorch's ``SingleTaskGP`` default, adjusted to coordinates spanning
about [−1, 1]), a low-noise log-normal noise prior, normal priors on log τ. L-BFGS from the
prior modes plus seeded restarts drawn from the priors; the lowest penalised loss wins.
:func:`fit_candidates` fits one head per candidate degree; :func:`fit_exact` picks the largest
candidate within one standard error of the best closed-form leave-one-out log density (R&W
§5.4.2, :func:`select_degree`); ``dkluq train`` picks the best log density of refitted
cross-validation (:mod:`dkluq_cli.training.fit_exact`).

Predictions use the same covariance through an explicit float64 Cholesky (no gpytorch
prediction caches or CG): ``mean = K*ᵀ K⁻¹ y``, ``var = k** − ‖L⁻¹ K*‖²``, evaluated in chunks
of bounded memory by :mod:`dkluq_cli.model.exact.posterior`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dkluq_cli.crystal.strain import StrainPolynomial
from dkluq_cli.model.exact.hyperparameters import ExactPriors, basis_degrees, fit_hyperparameters
from dkluq_cli.model.exact.kernel import InvariantMatern, PolynomialKernel, coordinate_blocks
from dkluq_cli.model.exact.posterior import ExactPosterior, FixedPoints

#: Candidate polynomial degrees with a point group, and without.
SYMMETRIC_DEGREES: tuple[int, ...] = (4, 6, 8)
PLAIN_DEGREES: tuple[int, ...] = (2, 3, 4, 5)


@dataclass
class ExactHead:
    """A fitted exact GP (standardised target) over model coordinates.

    Attributes:
        x: (n, d) training coordinates.
        y: (n,) standardised training target.
        basis: The polynomial basis (``degree`` −1 means none).
        params: Fitted hyperparameters: ``log_lengthscale`` (per block), ``log_outputscale``,
            ``log_tau`` (per degree), ``noise`` (variance), plus ``blocks``.
        selection: Per candidate degree: ``degree``, ``loo_nll`` (nats/point, standardised),
            ``loss`` (penalised negative log marginal likelihood per point).
    """

    kind = "exact"
    x: Tensor
    y: Tensor
    basis: StrainPolynomial
    params: dict[str, Any]
    selection: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._factor()

    # -- construction ---------------------------------------------------------------------
    def _modules(self) -> tuple[InvariantMatern, PolynomialKernel]:
        dev = self.x.device
        acts = torch.as_tensor(self.basis.actions, dtype=torch.float64, device=dev)
        blocks = torch.as_tensor(self.params["blocks"], dtype=torch.long, device=dev)
        matern = InvariantMatern(acts, blocks, (0.0, 1.0)).to(dev)
        poly = PolynomialKernel(basis_degrees(self.basis, dev), (0.0, 1.0)).to(dev)
        with torch.no_grad():
            matern.raw_log_lengthscale.copy_(torch.as_tensor(self.params["log_lengthscale"]))
            matern.raw_log_outputscale.fill_(float(self.params["log_outputscale"]))
            poly.raw_log_tau.copy_(torch.as_tensor(self.params["log_tau"]))
        return matern, poly

    def _factor(self) -> None:
        self._matern, self._poly = self._modules()
        self._phi = self._design(self.x)
        with torch.no_grad():
            k = self._k(self.x, self._phi, self.x, self._phi)
            k = k + self.noise_variance() * torch.eye(len(self.y), dtype=k.dtype, device=k.device)
            self._chol = _cholesky(k)
            self._alpha = torch.cholesky_solve(self.y[:, None], self._chol)[:, 0]
        kernels = (self._matern, self._poly)
        self._post = ExactPosterior(self.x, self._phi, self._chol, self._alpha, self.basis, kernels)

    def _design(self, x: Tensor) -> Tensor:
        phi = self.basis.design(x.detach().cpu().numpy()) if self.basis.degree >= 0 else None
        if phi is None:
            return x.new_zeros((len(x), 0))
        return torch.as_tensor(phi, dtype=torch.float64, device=x.device)

    def _k(self, xa: Tensor, pa: Tensor, xb: Tensor, pb: Tensor) -> Tensor:
        return self._matern(xa, xb) + self._poly(pa, pb)

    # -- the Head interface -------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """Device the head lives on."""
        return self.x.device

    @property
    def dtype(self) -> torch.dtype:
        """Always float64."""
        return torch.float64

    def to(self, device: str | torch.device) -> ExactHead:
        """Move to ``device`` in place; returns self."""
        self.x, self.y = self.x.to(device), self.y.to(device)
        self._factor()
        return self

    @property
    def posterior(self) -> ExactPosterior:
        """The chunked posterior the predictions come from."""
        return self._post

    def noise_variance(self) -> float:
        """Observation-noise variance (standardised target units²)."""
        return float(self.params["noise"])

    def _as_tensor(self, z: Tensor | np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(z) if not torch.is_tensor(z) else z).to(
            device=self.device, dtype=torch.float64
        )

    def predict(self, z: Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent posterior mean and variance (float64 arrays, standardised) at ``z`` (n × d)."""
        return self._post.mean_variance(self._as_tensor(z))

    def variance64(self, z: Tensor | np.ndarray) -> np.ndarray:
        """Latent posterior variance (float64, standardised) at ``z``; consistent with
        :meth:`cross_covariance`."""
        return self.predict(z)[1]

    def predict_std(self, z: Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mean, latent_std, noise_std)`` at ``z`` (standardised units; noise_std (n,))."""
        mean, var = self.predict(z)
        return mean, np.sqrt(var), np.full(len(mean), math.sqrt(self.noise_variance()))

    def joint(self, z: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
        """Latent posterior mean (n) and covariance (n × n) at ``z``, float64 tensors."""
        return self._post.joint(self._as_tensor(z))

    def cross_covariance(self, za: Tensor | np.ndarray, zb: Tensor | np.ndarray) -> np.ndarray:
        """Latent posterior covariance (n × k, float64) between ``za`` and ``zb``."""
        return self._post.cross_covariance(self._as_tensor(za), self._as_tensor(zb)).cpu().numpy()

    def fixed_points(self, z: Tensor | np.ndarray) -> FixedPoints:
        """The latent posterior at fixed points ``z`` (n × d): their variances, and each
        covariance column for one matrix-vector product (``suggest``'s conditioning)."""
        return self._post.fixed_points(self._as_tensor(z))

    def condition(self, rows: np.ndarray) -> ExactHead:
        """The same prior (hyperparameters held) conditioned on training rows ``rows`` only:
        a refit without re-optimising, for simulated extrapolation and quick checks."""
        idx = torch.as_tensor(np.asarray(rows), dtype=torch.long, device=self.device)
        return ExactHead(self.x[idx], self.y[idx], self.basis, dict(self.params))

    def loo(self) -> tuple[np.ndarray, np.ndarray]:
        """Closed-form leave-one-out predictive mean and std (noise included) of every
        training row, standardised units (R&W eq. 5.12), hyperparameters held fixed."""
        with torch.no_grad():
            k_inv = torch.cholesky_inverse(self._chol)
            d = torch.diagonal(k_inv)
            mean = self.y - self._alpha / d
        return mean.cpu().numpy(), (1.0 / d).sqrt().cpu().numpy()

    def loo_nll_points(self) -> np.ndarray:
        """Leave-one-out negative log density of each training row (nats, standardised)."""
        mean, std = self.loo()
        z = (self.y.cpu().numpy() - mean) / std
        return 0.5 * z**2 + np.log(std) + 0.5 * math.log(2 * math.pi)

    def loo_nll(self) -> float:
        """Mean leave-one-out negative log density (nats/point, standardised target)."""
        return float(np.mean(self.loo_nll_points()))

    def state(self) -> dict[str, Any]:
        """Plain tensors, lists and numbers that rebuild the head (:meth:`from_state`)."""
        return {
            "kind": self.kind,
            "x": self.x.detach().cpu(),
            "y": self.y.detach().cpu(),
            "basis": self.basis.to_dict(),
            "params": {k: _plain(v) for k, v in self.params.items()},
            "selection": [dict(s) for s in self.selection],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str | torch.device = "cpu") -> ExactHead:
        """Inverse of :meth:`state`, on ``device``."""
        x = torch.as_tensor(state["x"], dtype=torch.float64, device=device)
        y = torch.as_tensor(state["y"], dtype=torch.float64, device=device)
        basis = StrainPolynomial.from_dict(state["basis"])
        return cls(x, y, basis, dict(state["params"]), list(state.get("selection", [])))


def _plain(v: Any) -> Any:
    if torch.is_tensor(v):
        return v.detach().cpu().tolist()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _cholesky(k: Tensor) -> Tensor:
    """Cholesky factor with escalating jitter (relative to the mean diagonal) if needed."""
    eye = torch.eye(len(k), dtype=k.dtype, device=k.device)
    scale = float(torch.diagonal(k).mean())
    for jitter in (0.0, 1e-12, 1e-10, 1e-8, 1e-6):
        chol, info = torch.linalg.cholesky_ex(k + jitter * scale * eye)
        if int(info) == 0:
            return chol
    raise torch.linalg.LinAlgError("exact GP covariance is not positive definite")


def default_degrees(n_actions: int) -> tuple[int, ...]:
    """Candidate degrees: up to 8 with a point group (a cubic reference has 195 invariants of
    degree ≤ 8), up to 5 without (462 monomials in six coordinates)."""
    return SYMMETRIC_DEGREES if n_actions > 1 else PLAIN_DEGREES


def select_degree(scores: list[np.ndarray]) -> int:
    """Index of the chosen candidate: the largest degree whose mean leave-one-out negative log
    density per row is within one standard error (of the paired per-row differences) of the
    best one.

    Degrees the held-out likelihood cannot tell apart fit the table equally well, but the
    higher one keeps the higher-order terms the data do not rule out, and with them a σ that
    grows faster beyond the box; candidates must be in increasing degree.
    """
    means = [float(np.mean(s)) for s in scores]
    best = int(np.argmin(means))
    chosen = best
    for k in range(best + 1, len(scores)):
        diff = scores[k] - scores[best]
        se = float(np.std(diff, ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
        if means[k] - means[best] <= se:
            chosen = k
    return chosen


def fit_candidates(
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor,
    *,
    actions: np.ndarray | None = None,
    degrees: Sequence[int] | int | None = None,
    polynomial: bool = True,
    priors: ExactPriors = ExactPriors(),
    restarts: int = 1,
    seed: int = 0,
    max_iter: int = 200,
    device: str | torch.device = "cpu",
) -> list[ExactHead]:
    """One fitted head per candidate polynomial degree (arguments as :func:`fit_exact`); each
    head's ``selection`` holds its own ``degree``, ``n_basis``, ``loo_nll`` and ``loss``."""
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).to(device, torch.float64)
    y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y).to(device, torch.float64)
    acts = np.eye(x.shape[1])[None] if actions is None else np.asarray(actions, np.float64)
    blocks = coordinate_blocks(acts)
    if not polynomial:
        cands = [-1]
    elif degrees is None:
        cands = list(default_degrees(len(acts)))
    else:
        cands = [int(degrees)] if np.isscalar(degrees) else [int(d) for d in degrees]
    heads = []
    for deg in cands:
        if deg < 0:
            basis = StrainPolynomial(-1, acts, np.zeros((0, x.shape[1]), dtype=np.int64))
        else:
            basis = StrainPolynomial.build(deg, acts, x.shape[1], seed=seed)
        params, loss = fit_hyperparameters(
            x, y, basis, blocks, priors=priors, restarts=restarts, seed=seed, max_iter=max_iter
        )
        head = ExactHead(x, y, basis, params)
        entry = {"degree": deg, "n_basis": len(basis.exponents), "loo_nll": head.loo_nll()}
        head.selection = [{**entry, "loss": loss}]
        heads.append(head)
    return heads


def fit_exact(
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor,
    *,
    actions: np.ndarray | None = None,
    degrees: Sequence[int] | int | None = None,
    polynomial: bool = True,
    priors: ExactPriors = ExactPriors(),
    restarts: int = 1,
    seed: int = 0,
    max_iter: int = 200,
    device: str | torch.device = "cpu",
) -> ExactHead:
    """Fit the exact GP head on coordinates ``x`` (n × d) and a standardised target ``y`` (n,),
    the degree chosen by closed-form leave-one-out (``dkluq train`` chooses it by refitted
    cross-validation instead, :mod:`dkluq_cli.training.fit_exact`).

    Args:
        x: Model coordinates (:meth:`dkluq_cli.crystal.strain.StrainCoordinates.apply`), about ±1 on
            the training box. Not per-column standardised: the group acts on them linearly.
        y: Target minus its training mean, over its training std.
        actions: (k, d, d) orthogonal coordinate maps of the reference's point group
            (:meth:`dkluq_cli.crystal.point_group.PointGroup.strain_actions`), or None for no symmetry.
        degrees: Candidate polynomial degrees in increasing order (:func:`select_degree`
            picks one), a single degree, or None for :func:`default_degrees`.
        polynomial: False for no polynomial at all (a Matérn GP around zero).
        priors: Prior settings.
        restarts: L-BFGS starts per degree drawn from the priors, beyond the prior modes.
        seed: Seed of the restart draws and of the basis construction.
        max_iter: L-BFGS iterations per start.
        device: ``cpu`` or ``cuda``.

    Returns:
        The fitted head; ``head.selection`` records every candidate's scores.
    """
    heads = fit_candidates(
        x,
        y,
        actions=actions,
        degrees=degrees,
        polynomial=polynomial,
        priors=priors,
        restarts=restarts,
        seed=seed,
        max_iter=max_iter,
        device=device,
    )
    chosen = heads[select_degree([h.loo_nll_points() for h in heads])]
    chosen.selection = [h.selection[0] for h in heads]
    return chosen


__all__ = [
    "ExactHead",
    "ExactPriors",
    "default_degrees",
    "fit_candidates",
    "fit_exact",
    "select_degree",
]
