"""σ beyond the box: the trend's truncation band is 0 inside, grows outside, covers held-out
extrapolation errors and survives the model file."""

from __future__ import annotations

import numpy as np

from dkluq_cli.model.trend import PolynomialTrend
from dkluq_cli.model.truncation import beyond_box, fit_truncation_band


def _surface(x: np.ndarray) -> np.ndarray:
    """A smooth surface with quartic and exponential parts (no polynomial fits it exactly)."""
    return 1.0 + x[:, 0] - 0.5 * x[:, 1] ** 2 + 0.3 * x[:, 0] ** 3 + 0.2 * np.exp(1.5 * x[:, 1])


def _band(n: int = 800, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    y = _surface(x)
    trend = PolynomialTrend.fit(x, y, 2, x.mean(0), x.std(0))
    return fit_truncation_band(x, y, trend, sigma_in=1e-3), trend


def test_beyond_box_is_zero_inside_and_normalised_outside():
    lo, hi = np.zeros(2), np.array([1.0, 2.0])
    d = beyond_box(np.array([[0.5, 1.0], [1.5, 1.0], [0.5, -1.0], [2.0, 4.0]]), lo, hi)
    np.testing.assert_allclose(d, [0.0, 0.5, 0.5, 1.0])


def test_band_is_zero_inside_and_grows_outside():
    band, _ = _band()
    assert band is not None and band.kappa > 0
    inside = np.random.default_rng(1).uniform(-0.99, 0.99, (200, 2))
    assert np.all(band.std(inside) == 0)
    line = np.column_stack([np.linspace(band.hi[0], 2.0, 11), np.zeros(11)])
    s = band.std(line)
    assert s[0] == 0 and np.all(np.diff(s[1:]) > 0)


def test_band_covers_extrapolation_errors_it_did_not_see():
    band, trend = _band()
    rng = np.random.default_rng(2)
    far = rng.uniform(-1.3, 1.3, (4000, 2))
    far = far[beyond_box(far, band.lo, band.hi) > 0.02]
    err = np.abs(trend(far) - _surface(far))
    sigma = np.sqrt(1e-3**2 + band.std(far) ** 2)
    covered = np.mean(err <= 1.96 * sigma)
    assert covered >= 0.90, covered
    assert np.mean(err <= 1.96 * 1e-3) < 0.3  # without the band σ covers almost nothing
    assert len(band.bins) == 5 and all(0 <= b[3] <= 1 for b in band.bins)  # recorded per bin


def test_too_few_rows_for_the_next_order_gives_no_band():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (12, 2))
    y = _surface(x)
    trend = PolynomialTrend.fit(x, y, 2, x.mean(0), x.std(0))
    assert fit_truncation_band(x, y, trend, 1e-3) is None  # cubic: 10 terms > 12 / 3


def test_trained_model_keeps_the_band_through_save_and_load(tmp_path, tiny_config):
    from dkluq_cli.model.io import load_model, save_model
    from dkluq_cli.training.train import train
    from tests.conftest import sample_xy

    x, y = sample_xy(400)
    sur = train(x, y, tiny_config(trend=1)).surrogate
    assert (
        sur.beyond is not None and sur.beyond.kind == "truncation" and sur.beyond.trend.degree == 1
    )
    save_model(sur, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt", device="cpu")
    far = x[:5] * 1.25
    np.testing.assert_array_equal(loaded.predict(far)[1], sur.predict(far)[1])
    inside_raw, inside = sur.predict(x[:50], calibrated=False)[1], sur.predict(x[:50])[1]
    np.testing.assert_allclose(inside, inside_raw * sur.sigma_scale)  # no band inside
    assert np.all(sur.predict(far)[1] > sur.predict(far, calibrated=False)[1] * sur.sigma_scale)
