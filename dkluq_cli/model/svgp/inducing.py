"""Initial inducing points in feature space: fuzzy c-means (default), k-means or random.

The paper (Bi et al., Algorithm 1) places the m inducing points at the fuzzy c-means (FCM)
centres of the untrained extractor's features on a random subset of the training data. With the
paper's fuzzifier m_f = 2, FCM collapses in high dimension: in 128-D every centre lands on the
feature mean and the partition coefficient falls to 1/c (Winkler, Klawonn & Kruse 2012 explain
why: with m_f = 2 the memberships flatten as distances concentrate). Identical inducing points
cannot separate during training, so we

1. choose m_f from the data with the rule of Schwämmle & Jensen (2010, *Bioinformatics* 26,
   2841), fitted on high-dimensional data: ``m_f = 1 + (1418/N + 22.05) D^-2 + (12.33/N + 0.243)
   D^(-0.0406 ln N - 0.1134)`` for N points in D dimensions;
2. guard the result: when the partition coefficient is within 1.5× of the uniform 1/c or the
   centres' spread is below 10 % of the cloud's, fall back to k-means and say so;
3. record m_f, the partition coefficient and the centre spread (returned as ``info``).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

INIT_METHODS = ("fcm", "kmeans", "random")


def schwaemmle_jensen_fuzzifier(n_points: int, n_dims: int) -> float:
    """Fuzzifier m_f from Schwämmle & Jensen (2010) for N points in D dimensions.

    Args:
        n_points: Number of points clustered, N.
        n_dims: Dimension of the space, D.

    Returns:
        The fuzzifier m_f (> 1).
    """
    n, d = float(n_points), float(n_dims)
    return (
        1.0
        + (1418.0 / n + 22.05) * d**-2
        + (12.33 / n + 0.243) * d ** (-0.0406 * math.log(n) - 0.1134)
    )


def _spread(points: np.ndarray, centres: np.ndarray) -> float:
    """RMS distance of centres from the data mean over RMS distance of the data from it."""
    mu = points.mean(axis=0)
    cloud = np.sqrt(((points - mu) ** 2).sum(axis=1).mean())
    cent = np.sqrt(((centres - mu) ** 2).sum(axis=1).mean())
    return float(cent / cloud) if cloud > 0 else 0.0


def fuzzy_cmeans(
    points: np.ndarray, m: int, fuzzifier: float, seed: int = 0, maxiter: int = 100
) -> tuple[np.ndarray, float, int]:
    """Run scikit-fuzzy's c-means on ``points`` (n × D).

    The data are first scaled to unit RMS radius (FCM memberships depend only on distance
    ratios, so the centres are scaled back exactly); this keeps ``d^(2/(m_f-1))`` finite for
    m_f close to 1. At most ``maxiter`` iterations: the centres are a starting point that the
    ELBO moves anyway, and iterating on to a tight membership tolerance changes them little
    while taking seconds of a training run.

    Returns:
        ``(centres (m × D), partition coefficient, iterations)``.
    """
    import skfuzzy

    mu = points.mean(axis=0)
    scale = float(np.sqrt(((points - mu) ** 2).sum(axis=1).mean())) or 1.0
    z = (points - mu) / scale
    cntr, _u, _u0, _d, _jm, p, fpc = skfuzzy.cluster.cmeans(
        z.T.astype(np.float64), c=m, m=fuzzifier, error=1e-6, maxiter=maxiter, seed=seed
    )
    return cntr * scale + mu, float(fpc), int(p)


def kmeans(points: np.ndarray, m: int, seed: int = 0) -> np.ndarray:
    """k-means++ centres (scipy), as DUE uses k-means for its inducing points."""
    from scipy.cluster.vq import kmeans2

    centres, _labels = kmeans2(points.astype(np.float64), m, minit="++", seed=seed, iter=50)
    return centres


def initial_inducing_points(
    features: np.ndarray,
    m: int,
    method: str = "fcm",
    fuzzifier: float | str = "auto",
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Choose m initial inducing points among/around the given features.

    Args:
        features: Untrained extractor features of a random training subset, shape (n × D).
        m: Number of inducing points.
        method: ``fcm`` (fuzzy c-means, default), ``kmeans`` or ``random`` (random subset).
        fuzzifier: FCM exponent m_f, or ``"auto"`` for the Schwämmle–Jensen rule.
        seed: Random seed.

    Returns:
        ``(inducing points (m × D), info)`` where ``info`` records the method that actually ran,
        the fuzzifier, the partition coefficient, the centre spread and whether the collapse
        guard fell back to k-means.
    """
    n, dims = features.shape
    if m > n:
        raise ValueError(f"{m} inducing points need at least {m} feature vectors, got {n}")
    if method not in INIT_METHODS:
        raise ValueError(f"unknown init {method!r}; choose from {INIT_METHODS}")
    info: dict[str, Any] = {"requested": method, "n_points": int(n), "n_dims": int(dims)}
    if method == "random":
        rng = np.random.default_rng(seed)
        centres = features[rng.choice(n, size=m, replace=False)]
        info.update(method="random")
    elif method == "kmeans":
        centres = kmeans(features, m, seed)
        info.update(method="kmeans")
    else:
        if fuzzifier == "auto":
            m_f = schwaemmle_jensen_fuzzifier(n, dims)
            info["fuzzifier_rule"] = "schwaemmle-jensen-2010"
        else:
            m_f = float(fuzzifier)
            info["fuzzifier_rule"] = "user"
        if m_f <= 1.0:
            raise ValueError(f"fuzzifier must be > 1, got {m_f}")
        centres, fpc, iters = fuzzy_cmeans(features, m, m_f, seed)
        spread = _spread(features, centres)
        info.update(
            method="fcm",
            fuzzifier=float(m_f),
            partition_coefficient=fpc,
            uniform_partition_coefficient=1.0 / m,
            fcm_iterations=iters,
            fcm_centre_spread=spread,
        )
        collapsed = fpc < 1.5 / m or spread < 0.1
        info["collapse_detected"] = bool(collapsed)
        if collapsed:
            logger.warning(
                "fuzzy c-means collapsed (m_f=%.3g, partition coefficient %.3g ≈ 1/c=%.3g, "
                "centre spread %.3g): falling back to k-means",
                m_f,
                fpc,
                1.0 / m,
                spread,
            )
            centres = kmeans(features, m, seed)
            info["method"] = "kmeans-fallback"
    info["centre_spread"] = _spread(features, centres)
    dists = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    info["min_centre_distance"] = float(dists[np.triu_indices(m, 1)].min()) if m > 1 else 0.0
    return centres.astype(np.float32), info


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance between all pairs of rows (DUE's initial lengthscale)."""
    from scipy.spatial.distance import pdist

    return float(pdist(features.astype(np.float64)).mean())
