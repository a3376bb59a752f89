"""Post-hoc σ scaling fitted on the validation split.

The model's predictive standard deviations are multiplied by one scalar s, chosen to minimise
the Gaussian negative log-likelihood of N(mean, (s·σ)²) on held-out validation data. The scale
is stored with the model and applied to every later prediction.
"""

from __future__ import annotations

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
