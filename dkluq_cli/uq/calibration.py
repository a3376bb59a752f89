"""Post-hoc σ scaling fitted on held-out errors.

The model's predictive standard deviations are multiplied by one scalar s, chosen to minimise
the Gaussian negative log-likelihood of N(mean, (s·σ)²) on held-out data (the validation split,
or the exact head's leave-one-out errors). The scale is stored with the model and applied to
every later prediction. :func:`coverage_scale` is the split-conformal alternative: the smallest
s whose 95 % interval covers the held-out errors at the nominal rate; the exact regime uses it on
errors held out by refitted cross-validation (:func:`calibrate_held_out`, which also estimates
the coverage out of sample), since the NLL scale of heavy-tailed errors is too small for the
95 % interval. :func:`noise_out_of_sample` measures the noise level held-out rows show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

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


@dataclass
class HeldOutCalibration:
    """The σ scale fitted to held-out errors, with an out-of-sample estimate of its coverage.

    The scale is :func:`coverage_scale` of all the held-out standardised errors. Its coverage
    is estimated by cross-conformal prediction: each fold's errors are scored against the scale
    fitted to the *other* folds' errors, so no error judges the scale it helped choose.

    Attributes:
        method: How the errors were held out, in words (for ``metrics.json`` and the summary).
        scale: The σ multiplier.
        coverage_95: Share of held-out errors inside ±1.96 × (the other folds' scale) × σ.
        n: Held-out errors.
        folds: Folds of the cross-conformal estimate.
        row_scale: (n,) the scale each row was judged with (not stored).
    """

    method: str
    scale: float
    coverage_95: float
    n: int
    folds: int
    row_scale: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers and strings (for ``metrics.json``)."""
        return {
            "method": self.method,
            "sigma_scale": self.scale,
            "coverage_95": self.coverage_95,
            "n": self.n,
            "folds": self.folds,
        }


def calibrate_held_out(z: np.ndarray, fold: np.ndarray, method: str) -> HeldOutCalibration:
    """:class:`HeldOutCalibration` of standardised held-out errors ``z`` (n,) in folds ``fold``.

    Args:
        z: ``(y − mean) / σ`` of every held-out row, σ uncalibrated.
        fold: (n,) fold index of every row (the cross-conformal estimate leaves each out).
        method: How the errors were held out, in words.
    """
    z = np.asarray(z, dtype=float)
    fold = np.asarray(fold)
    ones = np.ones_like(z)
    scale = coverage_scale(z, np.zeros_like(z), ones) if len(z) else 1.0
    row_scale = np.full(len(z), scale)
    folds = np.unique(fold)
    if len(folds) > 1:
        for k in folds:
            rest = fold != k
            row_scale[~rest] = coverage_scale(z[rest], np.zeros(rest.sum()), ones[rest])
    inside = np.abs(z) <= NormalDist().inv_cdf(0.975) * row_scale
    cover = float(np.mean(inside)) if len(z) else float("nan")
    return HeldOutCalibration(method, scale, cover, len(z), len(folds), row_scale)


def noise_out_of_sample(
    residual: np.ndarray, latent_var: np.ndarray, noise_var: np.ndarray
) -> tuple[float, float]:
    """The noise variance and latent-variance factor that best explain held-out residuals.

    Maximum likelihood of ``residual ~ N(0, a²·latent_var + b²)`` over ``(a, b)``: ``b²`` is
    the noise level the held-out rows show (the scatter no held-out model could predict),
    against the ``noise_var`` the marginal likelihood learned on the same rows.

    Args:
        residual: (n,) held-out ``y − mean``.
        latent_var: (n,) held-out latent variance.
        noise_var: (n,) the held-out models' learned noise variance (the starting point).

    Returns:
        ``(a², b²)``: latent factor and noise variance, in the residual's units².
    """
    from scipy.optimize import minimize

    r2 = np.asarray(residual, dtype=float) ** 2
    lat = np.asarray(latent_var, dtype=float)

    def nll(t: np.ndarray) -> float:
        var = np.exp(t[0]) * lat + np.exp(t[1])
        return float(np.sum(0.5 * r2 / var + 0.5 * np.log(var)))

    floor = 1e-12 * max(float(np.mean(r2)), 1e-300)
    start = np.log([1.0, max(float(np.median(noise_var)), floor)])
    res = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-8})
    return float(np.exp(res.x[0])), float(max(np.exp(res.x[1]), floor))
