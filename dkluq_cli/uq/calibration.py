"""Post-hoc σ scaling fitted on held-out errors.

The model's predictive standard deviations are multiplied by one scalar s, chosen to minimise
the Gaussian negative log-likelihood of N(mean, (s·σ)²) on held-out data (the validation split,
or the exact head's leave-one-out errors). The scale is stored with the model and applied to
every later prediction. :func:`coverage_scale` is the split-conformal alternative: the smallest
s whose 95 % interval covers the held-out errors at the nominal rate; the exact regime takes the
larger of the two, since the NLL scale of heavy-tailed errors is too small for the 95 % interval.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from dkluq_cli.uq.metrics import validate_predictions

#: Bounds the fitted scale is clipped to (unitless).
SCALE_MIN = 1e-3
SCALE_MAX = 1e3


def fit_sigma_scale(y_true: np.ndarray, y_mean: np.ndarray, y_std: np.ndarray) -> float:
    """Fit the σ multiplier minimising Gaussian NLL on validation data.

    For N(mean, (s·σ)²) the NLL is minimised in closed form by s = sqrt(mean((r/σ)²)) with
    r = y_true − y_mean. The result is clipped to [1e-3, 1e3] so that a degenerate validation
    set (e.g. all residuals zero) cannot produce a zero or absurd scale.

    Args:
        y_true: Observed validation targets, shape (n,), target unit (eV).
        y_mean: Predicted means, shape (n,), target unit.
        y_std: Predicted (uncalibrated) standard deviations, shape (n,), target unit, > 0.

    Returns:
        The scale s (unitless); s > 1 means the model was overconfident.

    Raises:
        TableError: The inputs differ in length, are empty or non-finite, or a std is ≤ 0.
    """
    y_t, y_m, y_s = validate_predictions(y_true, y_mean, y_std)
    s = float(np.sqrt(np.mean(((y_t - y_m) / y_s) ** 2)))
    return float(np.clip(s, SCALE_MIN, SCALE_MAX))


def coverage_scale(
    y_true: np.ndarray, y_mean: np.ndarray, y_std: np.ndarray, level: float = 0.95
) -> float:
    """The σ multiplier whose central ``level`` interval covers the held-out errors.

    Split-conformal with the normalised residual |r|/σ as the score: s is the ⌈level·(n+1)⌉-th
    smallest score divided by the standard-normal quantile of ``level``, so that
    mean ± z·s·σ covers at least ``level`` of n exchangeable held-out errors. With fewer than
    ⌈1/(1−level)⌉ − 1 errors the largest score is used. Clipped like :func:`fit_sigma_scale`.

    Args:
        y_true: Observed held-out targets, shape (n,), target unit (eV).
        y_mean: Predicted means, shape (n,), target unit.
        y_std: Predicted (uncalibrated) standard deviations, shape (n,), target unit, > 0.
        level: Nominal coverage of the interval, in (0, 1).

    Returns:
        The scale s (unitless).

    Raises:
        TableError: The inputs differ in length, are empty or non-finite, or a std is ≤ 0.
        ValueError: ``level`` is not in (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    y_t, y_m, y_s = validate_predictions(y_true, y_mean, y_std)
    scores = np.sort(np.abs(y_t - y_m) / y_s)
    rank = min(len(scores), int(np.ceil(level * (len(scores) + 1))))
    s = float(scores[rank - 1] / NormalDist().inv_cdf(0.5 + level / 2))
    return float(np.clip(s, SCALE_MIN, SCALE_MAX))
