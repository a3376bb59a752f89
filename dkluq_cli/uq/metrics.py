"""Accuracy, calibration and scoring-rule metrics for Gaussian predictions.

Every metric treats a prediction as the Gaussian N(mean, std²) and uses the key names of
`uncertainty-toolbox <https://github.com/uncertainty-toolbox/uncertainty-toolbox>`_ 0.1.1
(``rmse``, ``mae``, ``r2``, ``nll``, ``crps``, ``miscal_area``, ``rms_cal``, ``ma_cal``,
``sharp``) so that users recognise them, plus ``coverage_68``, ``coverage_95``, ``spearman`` and
``n``. Values are in the target's unit (eV for energies) except ``nll`` (nats per point) and the
unitless proportions, ratios and correlations; :func:`metric_units` spells this out.

The calibration metrics follow the toolbox defaults (``prop_type="interval"``, ``num_bins=100``).
``miscal_area`` is the exact area between the piecewise-linear calibration curve and the
diagonal, which is what the toolbox's shapely polygon computation gives; no shapely needed.
"""

from __future__ import annotations

import warnings

import numpy as np

from dkluq_cli.errors import TableError

#: z such that a centred interval mean ± z·σ holds 68.27 % (one σ) of a Gaussian.
Z_68 = 1.0
#: z such that a centred interval mean ± z·σ holds 95 % of a Gaussian (Φ⁻¹(0.975), written out
#: so that importing this module, as every training epoch's validation does, does not import
#: scipy.stats, which is slow to import).
Z_95 = 1.959963984540054

#: The keys :func:`regression_metrics` returns, in the order it returns them.
METRIC_KEYS: tuple[str, ...] = (
    "n",
    "rmse",
    "mae",
    "r2",
    "nll",
    "crps",
    "miscal_area",
    "rms_cal",
    "ma_cal",
    "sharp",
    "coverage_68",
    "coverage_95",
    "spearman",
)

#: Units of each metric with the target unit written as ``{unit}``; see :func:`metric_units`.
METRIC_UNITS: dict[str, str] = {
    "n": "count",
    "rmse": "{unit}",
    "mae": "{unit}",
    "r2": "1",
    "nll": "nats",
    "crps": "{unit}",
    "miscal_area": "1",
    "rms_cal": "1",
    "ma_cal": "1",
    "sharp": "{unit}",
    "coverage_68": "1",
    "coverage_95": "1",
    "spearman": "1",
}


def gaussian_nll(y_true: np.ndarray, y_mean: np.ndarray, y_std: np.ndarray) -> float:
    """Mean negative log density of ``y_true`` under N(mean, std²), in nats per point.

    Inputs are not validated (σ must be positive); :func:`regression_metrics` validates first.
    """
    z = (np.asarray(y_true) - np.asarray(y_mean)) / y_std
    return float(np.mean(0.5 * z**2 + np.log(y_std)) + 0.5 * np.log(2.0 * np.pi))


def metric_units(target_unit: str = "eV") -> dict[str, str]:
    """Unit of every metric key for a given target unit.

    Args:
        target_unit: Unit of the target, e.g. ``"eV"``.

    Returns:
        Mapping from each key of :func:`regression_metrics` to its unit: the target unit for
        ``rmse``, ``mae``, ``crps`` and ``sharp``; ``"nats"`` for ``nll``; ``"count"`` for ``n``;
        ``"1"`` (unitless) for the rest.
    """
    return {key: unit.format(unit=target_unit) for key, unit in METRIC_UNITS.items()}


def validate_predictions(
    y_true: object, y_mean: object, y_std: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn the three inputs into equal-length, finite 1-D float arrays with positive std.

    Args:
        y_true: Observed targets, shape (n,) or (n, 1), target unit.
        y_mean: Predicted means, same shape, target unit.
        y_std: Predicted standard deviations, same shape, target unit.

    Returns:
        ``(y_true, y_mean, y_std)`` as 1-D float arrays.

    Raises:
        TableError: Shapes differ, an array is empty, a value is non-finite or a std is ≤ 0.
    """
    arrays = []
    for name, value in (("y_true", y_true), ("y_mean", y_mean), ("y_std", y_std)):
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TableError(f"{name} is not numeric: {exc}") from exc
        if arr.ndim == 2 and 1 in arr.shape:
            arr = arr.reshape(-1)
        if arr.ndim != 1:
            raise TableError(f"{name} must be one-dimensional, got shape {arr.shape}")
        arrays.append(arr)
    y_t, y_m, y_s = arrays
    if not (len(y_t) == len(y_m) == len(y_s)):
        raise TableError(
            f"y_true, y_mean and y_std differ in length ({len(y_t)}, {len(y_m)}, {len(y_s)})"
        )
    if len(y_t) == 0:
        raise TableError("no points to evaluate (empty arrays)")
    for name, arr in (("y_true", y_t), ("y_mean", y_m), ("y_std", y_s)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise TableError(
                f"{name} holds {int(bad.sum())} non-finite value(s) (first at index {int(np.argmax(bad))})"
            )
    if (y_s <= 0).any():
        bad = y_s <= 0
        raise TableError(
            f"y_std must be > 0; {int(bad.sum())} value(s) are not (first at index {int(np.argmax(bad))})",
            hint="a zero predicted standard deviation cannot be scored as a Gaussian",
        )
    return y_t, y_m, y_s


def _proportions(
    y_true: np.ndarray, y_mean: np.ndarray, y_std: np.ndarray, num_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Expected and observed proportions in centred intervals (validated inputs)."""
    from scipy import stats

    if num_bins < 2:
        raise ValueError(f"num_bins must be at least 2, got {num_bins}")
    expected = np.linspace(0.0, 1.0, num_bins)
    z = ((y_mean - y_true) / y_std)[:, None]
    # Same bounds as uncertainty_toolbox.get_proportion_lists (lower and upper computed apart).
    lower = stats.norm.ppf(0.5 - expected / 2.0)
    upper = stats.norm.ppf(0.5 + expected / 2.0)
    chunk = max(1, 2_000_000 // num_bins)  # bound memory (n × num_bins booleans) on large sets
    counts = np.zeros(num_bins)
    for start in range(0, len(z), chunk):
        zz = z[start : start + chunk]
        counts += np.sum((zz >= lower) & (zz <= upper), axis=0)
    return expected, counts / len(z)


def calibration_curve(
    y_true: np.ndarray,
    y_mean: np.ndarray,
    y_std: np.ndarray,
    num_bins: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected vs observed proportions of points inside centred Gaussian intervals.

    For each expected proportion p in ``linspace(0, 1, num_bins)``, the observed proportion is
    the fraction of points whose normalised residual r/σ lies in [Φ⁻¹(0.5−p/2), Φ⁻¹(0.5+p/2)];
    this is uncertainty-toolbox's ``get_proportion_lists(prop_type="interval")``. A calibrated
    model lies on the diagonal; below it means overconfident (σ too small), above it
    underconfident.

    Args:
        y_true: Observed targets, shape (n,), target unit (eV).
        y_mean: Predicted means, shape (n,), target unit.
        y_std: Predicted standard deviations, shape (n,), target unit, all > 0.
        num_bins: Number of expected proportions, including 0 and 1.

    Returns:
        ``(expected, observed)``, two arrays of shape (num_bins,) with values in [0, 1].

    Raises:
        TableError: The inputs differ in length, are empty or non-finite, or a std is ≤ 0.
    """
    y_t, y_m, y_s = validate_predictions(y_true, y_mean, y_std)
    return _proportions(y_t, y_m, y_s, int(num_bins))


def miscalibration_area_from_curve(expected: np.ndarray, observed: np.ndarray) -> float:
    """Area between a piecewise-linear calibration curve and the diagonal.

    Integrates |observed(p) − p| exactly, with linear interpolation between the points and the
    crossings of the diagonal located exactly. This equals the summed area of the polygons
    uncertainty-toolbox builds with shapely (curve + reversed diagonal, polygonized).

    Args:
        expected: Increasing expected proportions, shape (k,).
        observed: Observed proportions at those points, shape (k,).

    Returns:
        The area, unitless, in [0, 0.5] for a curve inside the unit square.
    """
    x = np.asarray(expected, dtype=float)
    d = np.asarray(observed, dtype=float) - x
    h = np.diff(x)
    d0, d1 = d[:-1], d[1:]
    a0, a1 = np.abs(d0), np.abs(d1)
    same_side = d0 * d1 >= 0
    denom = np.where(same_side, 1.0, a0 + a1)
    area = np.where(same_side, h * (a0 + a1) / 2.0, h * (d0**2 + d1**2) / (2.0 * denom))
    return float(np.sum(area))


def _spearman(abs_err: np.ndarray, y_std: np.ndarray) -> float:
    """Spearman rank correlation of |error| and σ; 0.0 where either is constant."""
    if np.ptp(y_std) == 0.0 or np.ptp(abs_err) == 0.0 or len(y_std) < 2:
        return 0.0
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = stats.spearmanr(abs_err, y_std).statistic
    rho = float(rho)
    return rho if np.isfinite(rho) else 0.0


def regression_metrics(
    y_true: np.ndarray, y_mean: np.ndarray, y_std: np.ndarray
) -> dict[str, float]:
    """Accuracy, calibration, sharpness and scoring-rule metrics of Gaussian predictions.

    Each prediction is N(y_mean, y_std²). Definitions (r = y_mean − y_true):

    * ``rmse`` = sqrt(mean r²), ``mae`` = mean |r| (target unit).
    * ``r2`` = 1 − Σr²/Σ(y_true − mean y_true)² (unitless). With constant ``y_true`` it is 1.0
      for a perfect fit and 0.0 otherwise, as scikit-learn's ``r2_score`` (which the toolbox
      uses) returns.
    * ``nll`` = mean of −log N(y_true | y_mean, y_std²) (nats per point).
    * ``crps`` = mean of the Gaussian closed form σ[z(2Φ(z)−1) + 2φ(z) − 1/√π], z = r/σ
      (target unit).
    * ``miscal_area``, ``rms_cal``, ``ma_cal``: from :func:`calibration_curve` with the
      toolbox defaults (centred intervals, 100 expected proportions): the area between curve
      and diagonal, and the root-mean-square and mean absolute differences (unitless).
    * ``sharp`` = sqrt(mean σ²) (target unit).
    * ``coverage_68``/``coverage_95``: fraction of points with |r| ≤ z·σ, z = 1 and
      Φ⁻¹(0.975) ≈ 1.959964 (unitless).
    * ``spearman``: Spearman rank correlation between |r| and σ (unitless). It is 0.0, not NaN,
      when σ (or |r|) is constant across the points, since the correlation is then undefined.
    * ``n``: number of points (returned as a float, like every value).

    Args:
        y_true: Observed targets, shape (n,), target unit (eV).
        y_mean: Predicted means, shape (n,), target unit.
        y_std: Predicted standard deviations, shape (n,), target unit, all > 0.

    Returns:
        Plain-Python floats keyed as in :data:`METRIC_KEYS`.

    Raises:
        TableError: The inputs differ in length, are empty or non-finite, or a std is ≤ 0.
    """
    from scipy import stats

    y_t, y_m, y_s = validate_predictions(y_true, y_mean, y_std)
    resid = y_m - y_t
    abs_err = np.abs(resid)
    z = resid / y_s

    ss_res = float(np.sum(resid**2))
    ss_tot = float(np.sum((y_t - y_t.mean()) ** 2))
    # constant target: scikit-learn's r2_score(force_finite=True) convention
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)

    nll = gaussian_nll(y_t, y_m, y_s)
    crps = float(
        np.mean(
            y_s * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
        )
    )

    expected, observed = _proportions(y_t, y_m, y_s, 100)
    diff = expected - observed

    out = {
        "n": float(len(y_t)),
        "rmse": float(np.sqrt(np.mean(resid**2))),
        "mae": float(np.mean(abs_err)),
        "r2": float(r2),
        "nll": nll,
        "crps": crps,
        "miscal_area": miscalibration_area_from_curve(expected, observed),
        "rms_cal": float(np.sqrt(np.mean(diff**2))),
        "ma_cal": float(np.mean(np.abs(diff))),
        "sharp": float(np.sqrt(np.mean(y_s**2))),
        "coverage_68": float(np.mean(abs_err <= Z_68 * y_s)),
        "coverage_95": float(np.mean(abs_err <= Z_95 * y_s)),
        "spearman": _spearman(abs_err, y_s),
    }
    return {key: out[key] for key in METRIC_KEYS}
