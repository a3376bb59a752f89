"""σ scaling fitted on validation data."""

from __future__ import annotations

import numpy as np
import pytest

from dkluq_cli.errors import TableError
from dkluq_cli.uq.calibration import SCALE_MAX, SCALE_MIN, fit_sigma_scale
from dkluq_cli.uq.metrics import regression_metrics


def _data(true_factor: float, n: int = 20000, seed: int = 0):
    rng = np.random.default_rng(seed)
    std_pred = rng.uniform(0.01, 0.1, n)  # eV
    mean = rng.normal(-3.0, 0.5, n)
    y = mean + rng.normal(0.0, true_factor * std_pred)
    return y, mean, std_pred


def test_recovers_factor_two():
    y, m, s = _data(2.0)
    scale = fit_sigma_scale(y, m, s)
    assert scale == pytest.approx(2.0, rel=0.02)
    calibrated = s * scale
    after = regression_metrics(y, m, calibrated)
    before = regression_metrics(y, m, s)
    assert after["coverage_95"] == pytest.approx(0.95, abs=0.01)
    assert after["miscal_area"] < before["miscal_area"]
    assert after["nll"] < before["nll"]


def test_scale_minimises_nll():
    y, m, s = _data(0.5, n=2000, seed=1)
    best = fit_sigma_scale(y, m, s)
    nll = regression_metrics(y, m, s * best)["nll"]
    for factor in (0.9, 1.1):
        assert regression_metrics(y, m, s * (best * factor))["nll"] > nll


def test_clipped():
    assert fit_sigma_scale([1.0, 2.0], [1.0, 2.0], [1.0, 1.0]) == SCALE_MIN
    assert fit_sigma_scale([0.0], [1e9], [1.0]) == SCALE_MAX


def test_returns_python_float():
    y, m, s = _data(1.0, n=100)
    assert type(fit_sigma_scale(y, m, s)) is float


def test_validates_inputs():
    with pytest.raises(TableError, match="y_std must be > 0"):
        fit_sigma_scale([1.0], [1.0], [0.0])


def test_coverage_scale_covers_the_nominal_share_of_held_out_errors():
    from dkluq_cli.uq.calibration import coverage_scale

    rng = np.random.default_rng(3)
    n = 400
    m, s = np.zeros(n), np.full(n, 0.5)
    y = rng.standard_t(3, n)  # heavy tails: the NLL scale undercovers at 95 %
    scale = coverage_scale(y, m, s)
    inside = np.abs(y - m) <= 1.959963984540054 * scale * s
    assert inside.mean() >= 0.95
    assert inside.mean() < 0.95 + 2 / n
    assert fit_sigma_scale(y, m, s) != pytest.approx(scale, rel=0.05)


def test_coverage_scale_with_few_errors_takes_the_largest():
    from dkluq_cli.uq.calibration import coverage_scale

    y = np.array([0.1, -0.4, 0.2, 1.0])
    assert coverage_scale(y, np.zeros(4), np.ones(4)) == pytest.approx(1.0 / 1.959963984540054)
    with pytest.raises(ValueError, match="level"):
        coverage_scale(y, np.zeros(4), np.ones(4), level=1.0)


def test_held_out_calibration_scale_and_cross_conformal_coverage():
    """Errors twice as wide as σ: the scale is about 2, and each fold judged by the others'
    scale covers about 95 % of its errors; every row keeps the scale it was judged with."""
    from dkluq_cli.uq.calibration import calibrate_held_out

    rng = np.random.default_rng(0)
    z = 2.0 * rng.standard_normal(2000)
    fold = np.arange(2000) % 10
    cal = calibrate_held_out(z, fold, "test folds")
    assert cal.scale == pytest.approx(2.0, rel=0.08) and cal.folds == 10 and cal.n == 2000
    assert 0.93 <= cal.coverage_95 <= 0.97
    assert cal.row_scale.shape == (2000,) and np.ptp(cal.row_scale) > 0
    assert cal.to_dict()["method"] == "test folds"
    # one fold: no cross-conformal split, the scale judges its own errors
    assert calibrate_held_out(z[:50], np.zeros(50), "one").folds == 1


def test_noise_out_of_sample_recovers_the_scatter():
    """Residuals of latent variance v plus noise 0.3²: the fit finds the noise, not the
    learned one it starts from."""
    from dkluq_cli.uq.calibration import noise_out_of_sample

    rng = np.random.default_rng(1)
    lat = rng.uniform(0.01, 0.2, 4000)
    r = rng.standard_normal(4000) * np.sqrt(lat + 0.09)
    a2, b2 = noise_out_of_sample(r, lat, np.full(4000, 1e-4))
    assert a2 == pytest.approx(1.0, rel=0.2) and np.sqrt(b2) == pytest.approx(0.3, rel=0.1)
