"""The reference for ``suggest``'s rank-one conditioning: dense Gaussian conditioning of a
model's joint latent posterior (GP head plus the trend's coefficient covariance)."""

from __future__ import annotations

import numpy as np


def dense_conditional_variance(
    surrogate, x: np.ndarray, picks: list[int], noise: float
) -> np.ndarray:
    """``Var[f(x) | y at x[picks]]`` in standardised target units, clipped at 0."""
    z = surrogate.standardise(x)
    cov = surrogate.head.cross_covariance(z, z)  # the dense joint posterior, float64
    design = surrogate.trend.design(surrogate.coordinates(x))
    cov = cov + design @ surrogate.trend.cov @ design.T / surrogate.y_std**2
    s = np.array(picks)
    k_ss = cov[np.ix_(s, s)] + noise * np.eye(len(s))
    expected = np.diag(cov) - np.einsum("is,st,ti->i", cov[:, s], np.linalg.inv(k_ss), cov[s, :])
    return np.clip(expected, 0, None)
