"""Posterior variances conditioned on observations not yet made: ``suggest``'s greedy batch.

For a Gaussian model the variance of f at x given noisy observations at the points S does not
depend on the values observed, so it is known before any DFT run: ``Var[f(x) | y_S]`` with
``y = f + ε`` and the model's own noise variance. :class:`PosteriorConditioner` keeps these
variances for a fixed set of points and conditions on one more point at a time with a rank-one
(incremental Cholesky) update; :func:`greedy_batch` picks the point of largest conditional
variance again and again (the joint-entropy batch), and :func:`std_given_previous` gives each
candidate's σ given the candidates ranked above it.

Everything the model has to provide (the latent posterior's variances and covariance columns,
the noise, the scale to target units) is asked in one place, :func:`latent_posterior`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dkluq_cli.model.surrogate import Surrogate


@dataclass
class LatentPosterior:
    """The model's latent posterior q(f) at fixed points X, standardised target units.

    Attributes:
        variance: ``Var_q[f(X)]`` (n,), clipped at 0.
        column: ``j ↦ Cov_q[f(X), f(X_j)]`` (n,).
        noise: The observation-noise variance.
        scale: Standardised σ → calibrated σ in target units (eV).
    """

    variance: np.ndarray
    column: Callable[[int], np.ndarray]
    noise: float
    scale: float


def latent_posterior(surrogate: Surrogate, x: np.ndarray, chunk: int = 1024) -> LatentPosterior:
    """The latent posterior of ``surrogate`` at ``x`` (n × 6, feature units).

    Exact for the SVGP posterior q(f): variances and covariance columns come from the GP head
    in double precision (the column of ``X_j`` from the joint posterior of ``[X_chunk, X_j]``),
    ``chunk`` points per call. A head with ``fixed_points`` (the exact head) gives both from
    one pass over ``x`` (:class:`dkluq_cli.model.exact.posterior.FixedPoints`). With a
    polynomial trend, f also carries the trend's coefficient uncertainty, covariance
    ``a(X) Σ_β a(X_j)ᵀ``, so observations shrink that part too.

    This is the only function here that reads the model's internals (head, standardisation,
    trend, scales).
    """
    head = surrogate.head
    z = surrogate.standardise(x)
    root = _trend_root(surrogate, x)
    if hasattr(head, "fixed_points"):
        # the exact head keeps L⁻¹ K(X, x) once: each column is then one product
        points = head.fixed_points(z)
        variance = points.variance + np.sum(root**2, axis=1)

        def column(j: int) -> np.ndarray:
            return points.column(j) + root @ root[j]

    else:
        step = int(chunk)
        blocks = [z[s : s + step] for s in range(0, len(z), step)]
        variance = np.concatenate([head.variance64(b) for b in blocks]) + np.sum(root**2, axis=1)

        def column(j: int) -> np.ndarray:
            zj = z[j : j + 1]
            col = [head.cross_covariance(b, zj)[:, 0] for b in blocks]
            return np.concatenate(col) + root @ root[j]

    return LatentPosterior(
        variance=np.clip(variance, 0.0, None),
        column=column,
        noise=head.noise_variance(),
        scale=surrogate.y_std * surrogate.sigma_scale,
    )


def _trend_root(surrogate: Surrogate, x: np.ndarray) -> np.ndarray:
    """R (n × k) with ``R Rᵀ`` the trend's covariance at ``x`` in standardised units (k = 0
    without a trend)."""
    trend = surrogate.trend
    if trend is None:
        return np.zeros((len(x), 0))
    w, v = np.linalg.eigh(trend.cov)
    root = v * np.sqrt(np.clip(w, 0.0, None))
    return trend.design(surrogate.coordinates(x)) @ root / surrogate.y_std


class PosteriorConditioner:
    """Posterior variances of the model's latent GP, conditioned on observations one at a time.

    Works on a fixed set of points X (n × 6). ``add(j)`` conditions on a noisy observation at
    ``X[j]``; ``variance`` is then ``Var[f(X) | y_S]`` in standardised target units.

    Args:
        surrogate: The trained model.
        x: Points in feature units (n × 6).
        noise: Observation noise variance (standardised units); default the model's likelihood
            noise.
        chunk: Points per call to the GP head.
    """

    def __init__(
        self,
        surrogate: Surrogate,
        x: np.ndarray,
        noise: float | None = None,
        chunk: int = 1024,
    ) -> None:
        posterior = latent_posterior(surrogate, x, chunk)
        self._column = posterior.column
        self.noise = posterior.noise if noise is None else noise
        self.scale = posterior.scale
        self.prior_variance = posterior.variance
        self.variance = self.prior_variance.copy()
        self._factors: list[np.ndarray] = []
        self.picked: list[int] = []

    def add(self, j: int) -> None:
        """Condition on a noisy observation at point ``j``."""
        col = self._column(j)
        for v in self._factors:
            col = col - v * v[j]
        denom = float(self.variance[j]) + self.noise
        v = col / np.sqrt(max(denom, 1e-300))
        self._factors.append(v)
        self.variance = np.clip(self.variance - v**2, 0.0, None)
        self.picked.append(int(j))


def greedy_batch(conditioner: PosteriorConditioner, n: int) -> tuple[list[int], np.ndarray]:
    """Greedy maximum-conditional-variance (joint-entropy) selection of ``n`` points.

    Returns:
        ``(indices in pick order, latent variance of each pick given the earlier picks)``.
    """
    picks: list[int] = []
    var_at_pick = []
    for _ in range(n):
        score = conditioner.variance.copy()
        score[picks] = -np.inf
        j = int(np.argmax(score))
        var_at_pick.append(float(conditioner.variance[j]))
        conditioner.add(j)
        picks.append(j)
    return picks, np.asarray(var_at_pick)


def std_given_previous(surrogate: Surrogate, params: np.ndarray) -> np.ndarray:
    """Calibrated predictive σ of each point given noisy observations at the points before it.

    Args:
        surrogate: The trained model.
        params: Points in rank order (n × 6), feature units.

    Returns:
        σ (n,) in target units (eV); the first is the unconditioned σ.
    """
    cond = PosteriorConditioner(surrogate, params)
    var_prev = []
    for j in range(len(params)):
        var_prev.append(float(cond.variance[j]))
        cond.add(j)
    return np.sqrt(np.asarray(var_prev) + cond.noise) * cond.scale


__all__ = [
    "LatentPosterior",
    "PosteriorConditioner",
    "greedy_batch",
    "latent_posterior",
    "std_given_previous",
]
