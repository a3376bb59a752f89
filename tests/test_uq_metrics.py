"""Uncertainty metrics: hand-computed values, known properties, toolbox parity, validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, stats

from dkluq_cli.errors import DkluqError, TableError
from dkluq_cli.uq.metrics import (
    METRIC_KEYS,
    Z_95,
    calibration_curve,
    metric_units,
    miscalibration_area_from_curve,
    regression_metrics,
)

EXPECTED_KEYS = {
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
    "n",
}


def _calibrated(n: int = 20000, seed: int = 0, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    std = rng.uniform(0.01, 0.1, n)  # eV
    mean = rng.normal(-5.0, 0.3, n)
    y = mean + rng.normal(0.0, std)
    return y, mean, std * scale


def test_keys_and_plain_floats():
    y, m, s = _calibrated(200)
    out = regression_metrics(y, m, s)
    assert set(out) == EXPECTED_KEYS
    assert tuple(out) == METRIC_KEYS
    assert all(type(v) is float for v in out.values())
    json.dumps(out)  # serialisable as is
    assert set(metric_units("eV")) == EXPECTED_KEYS


def test_metric_units():
    units = metric_units("eV")
    assert units["rmse"] == units["mae"] == units["crps"] == units["sharp"] == "eV"
    assert units["nll"] == "nats"
    assert units["miscal_area"] == units["coverage_95"] == units["spearman"] == "1"
    assert metric_units("meV/atom")["rmse"] == "meV/atom"


def test_hand_computed_case():
    y_true = np.array([1.0, 2.0, 3.0, 4.0])
    y_mean = np.array([1.5, 2.0, 2.0, 4.0])  # residuals 0.5, 0, -1, 0
    y_std = np.array([0.5, 1.0, 0.25, 2.0])  # |r|/σ = 1, 0, 4, 0
    out = regression_metrics(y_true, y_mean, y_std)
    assert out["n"] == 4.0
    assert out["rmse"] == pytest.approx(math.sqrt((0.25 + 1.0) / 4))
    assert out["mae"] == pytest.approx(1.5 / 4)
    assert out["r2"] == pytest.approx(1 - 1.25 / 5.0)
    assert out["sharp"] == pytest.approx(math.sqrt((0.25 + 1 + 0.0625 + 4) / 4))
    # |r| ≤ 1σ: points with z = 1, 0, 0 → 3/4 ; |r| ≤ 1.96σ: same three
    assert out["coverage_68"] == pytest.approx(0.75)
    assert out["coverage_95"] == pytest.approx(0.75)
    nll = np.mean(
        [
            0.5 * math.log(2 * math.pi * s**2) + 0.5 * (r / s) ** 2
            for r, s in zip([0.5, 0, -1, 0], y_std, strict=True)
        ]
    )
    assert out["nll"] == pytest.approx(nll)
    # |error| ranks (0.5, 0, 1, 0) vs σ ranks: computed by scipy directly
    rho = stats.spearmanr([0.5, 0, 1, 0], y_std).statistic
    assert out["spearman"] == pytest.approx(rho)


def test_nll_matches_scipy_logpdf():
    y, m, s = _calibrated(500, seed=3)
    out = regression_metrics(y, m, s)
    assert out["nll"] == pytest.approx(-np.mean(stats.norm.logpdf(y, loc=m, scale=s)), rel=1e-12)


def test_crps_matches_numerical_integral():
    mu, sigma, y = 0.3, 0.7, 1.1
    # CRPS(F, y) = ∫ (F(x) − 1[x ≥ y])² dx
    left, _ = integrate.quad(lambda x: stats.norm.cdf(x, mu, sigma) ** 2, -np.inf, y)
    right, _ = integrate.quad(lambda x: (1 - stats.norm.cdf(x, mu, sigma)) ** 2, y, np.inf)
    out = regression_metrics([y], [mu], [sigma])
    assert out["crps"] == pytest.approx(left + right, rel=1e-7)


def test_perfectly_calibrated_data():
    out = regression_metrics(*_calibrated())
    assert out["miscal_area"] < 0.02
    assert out["rms_cal"] < 0.02
    assert out["ma_cal"] < 0.02
    assert out["coverage_95"] == pytest.approx(0.95, abs=0.01)
    assert out["coverage_68"] == pytest.approx(0.6827, abs=0.015)
    assert out["spearman"] > 0.2  # larger σ goes with larger errors


def test_underconfident_data():
    out = regression_metrics(*_calibrated(scale=3.0))
    assert out["coverage_95"] > 0.99
    assert out["miscal_area"] > 0.2


def test_overconfident_curve_lies_below_diagonal():
    y, m, s = _calibrated(scale=1 / 3)
    expected, observed = calibration_curve(y, m, s)
    assert np.all(observed[1:-1] < expected[1:-1])
    assert regression_metrics(y, m, s)["miscal_area"] > 0.2


def test_calibration_curve_single_point_hand_values():
    # z = 0: inside every interval (even p = 0, whose bounds are both 0) → curve ≡ 1, area 1/2
    e, o = calibration_curve([1.0], [1.0], [0.1])
    assert np.array_equal(e, np.linspace(0, 1, 100))
    assert np.all(o == 1.0)
    assert miscalibration_area_from_curve(e, o) == pytest.approx(0.5)
    # z = 100: only the p = 1 interval (±∞) holds it; area = x98/2 with x98 = 98/99
    out = regression_metrics([0.0], [100.0], [1.0])
    assert out["miscal_area"] == pytest.approx(49 / 99)
    assert out["ma_cal"] == pytest.approx(0.49)
    assert out["rms_cal"] == pytest.approx(math.sqrt(np.mean((np.arange(99) / 99) ** 2) * 0.99))


def test_miscal_area_exact_at_crossings():
    # A curve that crosses the diagonal between grid points: compare with a dense integral.
    expected = np.linspace(0, 1, 7)
    observed = np.array([0.0, 0.3, 0.2, 0.6, 0.55, 0.7, 1.0])
    fine = np.linspace(0, 1, 2_000_001)
    dense = np.trapezoid(np.abs(np.interp(fine, expected, observed) - fine), fine)
    assert miscalibration_area_from_curve(expected, observed) == pytest.approx(dense, abs=1e-9)


def test_miscal_area_matches_toolbox_polygon():
    """The toolbox computes the area with shapely; reproduce its construction where available."""
    shapely = pytest.importorskip("shapely")
    from shapely.geometry import LineString, Polygon
    from shapely.ops import polygonize, unary_union

    del shapely
    y, m, s = _calibrated(3000, seed=7, scale=0.8)
    e, o = calibration_curve(y, m, s)
    pts = list(zip(e, o, strict=True)) + list(zip(e[::-1], e[::-1], strict=True)) + [(e[0], o[0])]
    x, yy = Polygon(pts).exterior.xy
    ls = LineString(np.c_[x, yy])
    lr = LineString(ls.coords[:] + ls.coords[0:1])
    area = sum(p.area for p in polygonize(unary_union(lr)))
    assert miscalibration_area_from_curve(e, o) == pytest.approx(area, rel=1e-9)


def test_matches_uncertainty_toolbox_when_installed():
    uct = pytest.importorskip("uncertainty_toolbox")
    y, m, s = _calibrated(2000, seed=11, scale=1.4)
    ours = regression_metrics(y, m, s)
    assert ours["miscal_area"] == pytest.approx(uct.miscalibration_area(m, s, y), rel=1e-9)
    assert ours["rms_cal"] == pytest.approx(
        uct.root_mean_squared_calibration_error(m, s, y), rel=1e-9
    )
    assert ours["ma_cal"] == pytest.approx(uct.mean_absolute_calibration_error(m, s, y), rel=1e-9)
    assert ours["nll"] == pytest.approx(uct.nll_gaussian(m, s, y), rel=1e-12)
    assert ours["crps"] == pytest.approx(uct.crps_gaussian(m, s, y), rel=1e-12)
    assert ours["sharp"] == pytest.approx(uct.sharpness(s), rel=1e-12)


def test_coverage_z_values():
    assert float(stats.norm.ppf(0.975)) == Z_95  # the constant is written out, not computed
    # points exactly on the 1σ boundary count as covered
    out = regression_metrics([0.0, 0.0], [1.0, -1.0], [1.0, 1.0])
    assert out["coverage_68"] == 1.0


def test_spearman_constant_sigma_is_zero():
    y, m, _ = _calibrated(100)
    out = regression_metrics(y, m, np.full(100, 0.05))
    assert out["spearman"] == 0.0


def test_r2_constant_target():
    assert regression_metrics([2.0, 2.0], [2.0, 2.0], [1.0, 1.0])["r2"] == 1.0
    assert regression_metrics([2.0, 2.0], [2.5, 2.0], [1.0, 1.0])["r2"] == 0.0


def test_column_vectors_accepted():
    y, m, s = _calibrated(50)
    a = regression_metrics(y[:, None], m[:, None], s[:, None])
    b = regression_metrics(y, m, s)
    assert a == b


@pytest.mark.parametrize(
    ("y", "m", "s", "fragment"),
    [
        ([1.0, 2.0], [1.0], [1.0, 1.0], "differ in length"),
        ([], [], [], "empty"),
        ([1.0, np.nan], [1.0, 2.0], [1.0, 1.0], "y_true holds 1 non-finite"),
        ([1.0, 2.0], [1.0, np.inf], [1.0, 1.0], "y_mean holds 1 non-finite"),
        ([1.0, 2.0], [1.0, 2.0], [1.0, 0.0], "y_std must be > 0"),
        ([1.0, 2.0], [1.0, 2.0], [-1.0, 1.0], "first at index 0"),
        ([[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0], [1.0, 1.0], "one-dimensional"),
        (["a", "b"], [1.0, 2.0], [1.0, 1.0], "not numeric"),
    ],
)
def test_invalid_inputs(y, m, s, fragment):
    with pytest.raises(TableError, match=fragment) as info:
        regression_metrics(y, m, s)
    assert isinstance(info.value, DkluqError)
