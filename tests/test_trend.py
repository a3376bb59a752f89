"""The polynomial trend: exact on polynomials, automatic degree, stored in and read from model.pt."""

from __future__ import annotations

import json
from math import comb

import numpy as np
import pandas as pd
import pytest
import torch

from dkluq_cli.model.io import load_model
from dkluq_cli.model.trend import PolynomialTrend, trend_terms
from dkluq_cli.training.config import TrainConfig, auto_trend_degree
from dkluq_cli.training.job import run_training
from dkluq_cli.training.train import train
from tests.conftest import SAMPLE, plain, sample_xy

FEATURES = ["a", "b", "c", "alpha", "beta", "gamma"]
#: Enough epochs for the GP to learn the residual of the trend.
EPOCHS = {"epochs": 20, "inducing": 10, "patience": 100}


def _cubic(x: np.ndarray) -> np.ndarray:
    """A cubic in three variables with a cross term of every order."""
    return (
        1.5 - 2.0 * x[:, 0] + 0.3 * x[:, 1] * x[:, 2] + 0.05 * x[:, 0] ** 2 * x[:, 2] - x[:, 1] ** 3
    )


def test_recovers_a_cubic_exactly_and_round_trips():
    rng = np.random.default_rng(0)
    x = rng.uniform([3.5, 80.0, -1.0], [4.3, 100.0, 1.0], size=(200, 3))
    trend = PolynomialTrend.fit(x, _cubic(x), 3, x.mean(0), x.std(0))
    assert len(trend.coef) == comb(3 + 3, 3) == trend_terms(3, 3)
    x_new = rng.uniform([3.0, 70.0, -2.0], [4.8, 110.0, 2.0], size=(50, 3))  # also outside
    np.testing.assert_allclose(trend(x_new), _cubic(x_new), rtol=1e-9, atol=1e-8)
    again = PolynomialTrend.from_dict(json.loads(json.dumps(trend.to_dict())))
    np.testing.assert_array_equal(again(x_new), trend(x_new))


def test_a_quadratic_trend_cannot_fit_the_cubic():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1.0, 1.0, size=(200, 3))
    trend = PolynomialTrend.fit(x, _cubic(x), 2, x.mean(0), x.std(0))
    assert np.sqrt(np.mean((trend(x) - _cubic(x)) ** 2)) > 0.05


def test_too_few_rows_for_the_degree():
    x = np.random.default_rng(2).normal(size=(10, 6))
    with pytest.raises(ValueError, match="84 terms"):
        PolynomialTrend.fit(x, x[:, 0], 3, x.mean(0), x.std(0))


@pytest.mark.parametrize(
    ("n_train", "n_features", "degree"),
    [(4000, 6, 3), (1680, 6, 3), (1679, 6, 2), (560, 6, 2), (240, 6, 1), (139, 6, 0), (80, 1, 3)],
)
def test_auto_degree_keeps_twenty_rows_per_term(n_train, n_features, degree):
    assert auto_trend_degree(n_train, n_features) == degree
    if degree:
        assert trend_terms(degree, n_features) * 20 <= n_train
    if degree < 3:
        assert trend_terms(degree + 1, n_features) * 20 > n_train


def test_resolved_config_and_old_configs():
    assert TrainConfig().resolved(4000).trend == 3
    assert TrainConfig(trend=1).resolved(4000).trend == 1
    assert TrainConfig().resolved(300).trend == 1
    old = {k: v for k, v in TrainConfig().to_dict().items() if k != "trend"}
    # runs written before the trend resume as they were
    assert TrainConfig.from_dict(old).trend == 0


@pytest.fixture(scope="module")
def table_xy():
    return sample_xy(600)


def test_surrogate_adds_the_trend_and_gp_learns_the_residual(table_xy, tiny_config):
    x, y = table_xy
    res = train(x, y, tiny_config(**EPOCHS, trend=2))
    sur = res.surrogate
    assert res.config.trend == 2 and sur.trend is not None and sur.trend.degree == 2
    tr = res.splits.train
    resid = y[tr] - sur.trend(x[tr])
    assert sur.y_std == pytest.approx(resid.std())
    assert sur.y_std < 0.2 * y[tr].std()  # the quadratic explains most of the surface
    mean_z, _, _ = sur.predict_standardised(x[:5])
    mean, _ = sur.predict(x[:5])
    np.testing.assert_allclose(mean, mean_z * sur.y_std + sur.trend(x[:5]), rtol=1e-12)
    samples = sur.sample_posterior(x[:5], 200, seed=0)
    assert np.abs(samples.mean(0) - mean).max() < 5 * sur.y_std


def test_degree_zero_is_the_constant_mean(table_xy, tiny_config):
    x, y = table_xy
    sur = train(x, y, tiny_config(**EPOCHS, trend=0)).surrogate
    assert sur.trend.degree == 0 and not np.any(sur.trend.cov)
    mean_z, _, _ = sur.predict_standardised(x[:5])
    mean, _ = sur.predict(x[:5])
    np.testing.assert_allclose(mean, mean_z * sur.y_std + sur.y_mean, rtol=1e-12)


def test_run_records_the_trend_and_model_file_keeps_it(table_xy, tiny_config, tmp_path):
    df = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:600]
    table = tmp_path / "t.csv"
    df.to_csv(table, index=False)
    job = run_training(table, tiny_config(**EPOCHS), tmp_path / "run", plots=False)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["trend"] == metrics["trend"]["degree"] == 1  # 480 training rows: linear
    assert metrics["trend"]["terms"] == 7
    assert metrics["trend"]["test_rmse_trend_only"] > metrics["test"]["rmse"]
    x = df[FEATURES].to_numpy(float)
    loaded = load_model(tmp_path / "run" / "model.pt")
    assert loaded.trend.degree == 1
    m1, s1 = job.result.surrogate.predict(x)
    m2, s2 = loaded.predict(x)
    assert np.array_equal(m1, m2) and np.array_equal(s1, s2)


def test_version_1_model_file_without_trend_still_loads(table_xy, tiny_config, tmp_path):
    from dkluq_cli.model.io import model_to_dict

    x, y = table_xy
    sur = train(x, y, tiny_config(**EPOCHS, trend=0)).surrogate
    data = model_to_dict(sur)
    data["format_version"] = 1
    del data["trend"]
    torch.save(data, tmp_path / "v1.pt")
    old = load_model(tmp_path / "v1.pt")
    assert old.trend.degree == 0 and not np.any(old.trend.cov)
    np.testing.assert_array_equal(old.predict(x[:20])[0], sur.predict(x[:20])[0])


def test_cli_trend_option(invoke, tmp_path):
    df = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:60]
    table = tmp_path / "t.csv"
    df.to_csv(table, index=False)
    svgp = ("--head", "svgp")
    bad = invoke("train", table, *svgp, "--trend", "cubic", "-o", tmp_path / "r1")
    assert bad.exit_code != 0 and "--trend" in plain(bad.output)
    few = invoke("train", table, *svgp, "--trend", "3", "--inducing", "5", "-o", tmp_path / "r2")
    assert few.exit_code == 1
    text = plain(few.output)
    assert "--trend 3 needs 84 coefficients" in text and "48 training rows" in text
    assert "Traceback" not in text and not (tmp_path / "r2").exists()
    high = invoke("train", table, *svgp, "--trend", "7", "-o", tmp_path / "r3")
    assert high.exit_code != 0 and "0-6" in plain(high.output)
    quintic = invoke("train", table, *svgp, "--trend", "5", "-o", tmp_path / "r4")
    assert quintic.exit_code == 1 and "--trend 5 needs 462 coefficients" in plain(quintic.output)


def test_explicit_degree_with_few_rows_per_coefficient_warns(table_xy, tiny_config, caplog):
    x, y = table_xy
    with caplog.at_level("WARNING", logger="dkluq_cli"):
        train(x, y, tiny_config(**EPOCHS, trend="auto"))
    assert "per coefficient" not in caplog.text  # auto keeps 20 rows per coefficient
    with caplog.at_level("WARNING", logger="dkluq_cli"):
        res = train(x, y, tiny_config(**EPOCHS, trend=2))
    n_train = len(res.splits.train)
    assert n_train < 20 * 28
    assert f"--trend 2 fits 28 coefficients to {n_train} training rows" in caplog.text


def test_trend_variance_is_the_least_squares_band():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.0, 1.0, size=(400, 2))
    truth = 1.0 + x[:, 0] - 0.5 * x[:, 1] ** 2
    far_x = np.array([[3.0, 3.0]])

    def fit():
        y = truth + rng.normal(scale=0.01, size=len(x))
        return PolynomialTrend.fit(x, y, 2, x.mean(0), x.std(0))

    trend = fit()
    inside = trend.mean_and_variance(x)[1].mean()
    assert inside == pytest.approx(0.01**2 * 6 / 400, rel=0.2)  # s²·p/N on average
    far = trend.mean_and_variance(far_x)[1][0]
    assert far > 50 * inside  # grows like the polynomial outside the data
    refits = [fit()(far_x)[0] for _ in range(300)]  # spread of refits to fresh noise
    assert np.std(refits) == pytest.approx(np.sqrt(far), rel=0.2)


def test_hc3_covariance_tracks_heteroscedastic_residuals():
    """Residual spread growing towards the edges: the HC3 coefficient variances match the
    Monte-Carlo spread of the estimates, the textbook s²(AᵀA)⁻¹ is off by about 2×."""
    from dkluq_cli.model.trend import hc3_covariance

    rng = np.random.default_rng(0)
    n = 400
    x = rng.uniform(-1, 1, n)
    design = np.stack([np.ones(n), x, x**2], axis=1)
    coefs, hc3, ols = [], [], []
    for _ in range(300):
        y = 1 + 2 * x + 0.5 * x**2 + rng.normal(size=n) * (0.05 + x**2)
        c = np.linalg.lstsq(design, y, rcond=None)[0]
        r = y - design @ c
        coefs.append(c)
        hc3.append(np.diag(hc3_covariance(design, r)))
        ols.append(np.diag(r @ r / (n - 3) * np.linalg.inv(design.T @ design)))
    empirical = np.var(np.array(coefs), axis=0)
    assert np.all(np.abs(np.mean(hc3, axis=0) / empirical - 1) < 0.2)
    assert np.max(np.abs(np.mean(ols, axis=0) / empirical - 1)) > 0.4


def test_hc3_covariance_matches_textbook_for_equal_noise():
    from dkluq_cli.model.trend import hc3_covariance

    rng = np.random.default_rng(1)
    n = 2000
    x = rng.uniform(-1, 1, (n, 2))
    design = np.column_stack([np.ones(n), x, x[:, 0] * x[:, 1]])
    y = design @ np.array([1.0, -2.0, 0.5, 3.0]) + rng.normal(size=n) * 0.1
    c = np.linalg.lstsq(design, y, rcond=None)[0]
    r = y - design @ c
    textbook = r @ r / (n - 4) * np.linalg.inv(design.T @ design)
    cov = hc3_covariance(design, r)
    assert np.allclose(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) >= -1e-15)
    assert np.allclose(np.diag(cov), np.diag(textbook), rtol=0.15)
