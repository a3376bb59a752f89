"""The exact GP head, and the small-table surrogate ``train`` builds on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dkluq_cli.crystal.point_group import PointGroup, cubic_perovskite
from dkluq_cli.model.exact.head import ExactHead, fit_exact, select_degree
from dkluq_cli.training.config import TrainConfig
from tests.conftest import SAMPLE, sample_xy

A0 = 3.914


def _crystal():
    """The cubic perovskite as a reference crystal (what ``--reference POSCAR`` reads)."""
    from dkluq_cli.crystal.crystal import Crystal

    return Crystal.from_structure(cubic_perovskite(A0), "test")


def _train(x: np.ndarray, y: np.ndarray, reference=None, **over):
    """``train`` on every row with the exact head (no test split, no restarts)."""
    from dkluq_cli.training.train import train

    settings = {"head": "exact", "test_fraction": 0.0, "restarts": 0, "device": "cpu", **over}
    return train(x, y, TrainConfig(**settings), crystal=reference).surrogate


@pytest.fixture(scope="module")
def cubic() -> PointGroup:
    return PointGroup.from_structure(cubic_perovskite(A0))


@pytest.fixture(scope="module")
def sym_model(cubic):
    x, y = sample_xy(40)
    return _train(x, y, _crystal(), trend=4)


def _eos_rows(k: int) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    df = pd.read_csv(SAMPLE / "srtio3_cubic.csv")
    idx = np.round(np.linspace(5, 55, k)).astype(int)
    return df[["a", "b", "c", "alpha", "beta", "gamma"]].to_numpy()[idx], df[
        "energy_eV"
    ].to_numpy()[idx]


def test_symmetric_images_get_identical_mean_and_sigma(sym_model, cubic):
    cell = np.array([[4.05, 3.70, 3.95, 84.0, 97.0, 93.0]])
    images = cubic.distinct_images(cell)[0]
    assert len(images) == 24
    mean, std = sym_model.predict(images)
    np.testing.assert_allclose(mean, mean[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(std, std[0], rtol=1e-9)


def test_without_the_group_images_differ():
    x, y = sample_xy(40)
    plain = _train(x, y, trend=2)
    cell = np.array([[4.05, 3.70, 3.95, 84.0, 97.0, 93.0], [3.70, 4.05, 3.95, 97.0, 84.0, 93.0]])
    mean, _ = plain.predict(cell)
    assert abs(mean[0] - mean[1]) > 1e-6


def test_closed_form_loo_equals_refits_without_each_row():
    rng = np.random.default_rng(1)
    u = rng.uniform(-1, 1, size=(12, 2))
    y = np.sin(2 * u[:, 0]) + u[:, 1] ** 2
    y = (y - y.mean()) / y.std()
    head = fit_exact(u, y, degrees=2, restarts=0)
    mean, std = head.loo()
    for i in range(len(u)):
        sub = head.condition(np.delete(np.arange(len(u)), i))
        m, v = sub.predict(u[i : i + 1])
        assert mean[i] == pytest.approx(m[0], abs=1e-8)
        assert std[i] == pytest.approx(np.sqrt(v[0] + sub.noise_variance()), rel=1e-6)


def test_state_round_trip_and_determinism(sym_model, cubic, tmp_path):
    from dkluq_cli.model.io import load_model, save_model

    x, y = sample_xy(40)
    probe = np.array([[3.9, 4.0, 3.8, 88.0, 91.0, 95.0], [4.5, 3.4, 4.4, 80.0, 100.0, 99.0]])
    save_model(sym_model, tmp_path / "m.pt")
    again = load_model(tmp_path / "m.pt")
    for a, b in zip(again.predict(probe), sym_model.predict(probe), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    refit = _train(x, y, _crystal(), trend=4)
    np.testing.assert_allclose(refit.predict(probe)[1], sym_model.predict(probe)[1], rtol=1e-10)
    head = ExactHead.from_state(sym_model.head.state())
    assert head.kind == "exact" and head.dtype == torch.float64


def test_sigma_grows_beyond_the_training_box(sym_model):
    inside = np.array([[3.914, 3.95, 3.9, 90.0, 91.0, 89.0]])
    steps = [inside * np.array([f, 1, 1, 1, 1, 1]) for f in (1.0, 1.15, 1.3)]
    stds = [sym_model.predict(s)[1][0] for s in steps]
    assert stds[0] < stds[1] < stds[2]
    assert sym_model.beyond.box.distance(sym_model.coordinates(steps[2]))[0] > 0


def test_a_seven_row_eos_table_trains_with_defaults():
    x, y = _eos_rows(7)
    model = _train(x, y, restarts=1)  # the defaults
    a = np.linspace(x[:, 0].min(), x[:, 0].max(), 201)
    grid = np.column_stack([a, a, a, np.full((201, 3), 90.0)])
    mean, std = model.predict(grid)
    assert np.all(np.isfinite(mean)) and np.all(std > 0)
    assert abs(a[np.argmin(mean)] - 3.94) < 0.02
    draws = model.sample_posterior(grid, 200, seed=0)
    assert draws.shape == (200, 201)
    assert 3.90 < np.median(a[np.argmin(draws, axis=1)]) < 3.98


def test_five_rows_are_enough():
    x, y = _eos_rows(5)
    mean, std = _train(x, y).predict(x)
    assert np.max(np.abs(mean - y)) < 0.05 and np.all(std > 0)


def test_select_degree_prefers_the_largest_indistinguishable_candidate():
    rng = np.random.default_rng(0)
    base = rng.normal(size=50)
    flat = [base + 1.0, base, base + 0.001 * rng.normal(size=50)]
    assert select_degree(flat) == 2
    worse = [base + 1.0, base, base + 0.5]
    assert select_degree(worse) == 1


def test_lean_group_average_gives_the_same_kernel_and_gradient(cubic, monkeypatch):
    from dkluq_cli.model.exact import kernel as basis_kernel
    from dkluq_cli.model.exact.kernel import InvariantMatern, coordinate_blocks

    acts = cubic.strain_actions()
    x = torch.as_tensor(np.random.default_rng(2).normal(size=(30, 6)))
    kern = InvariantMatern(
        torch.as_tensor(acts), torch.as_tensor(coordinate_blocks(acts)), (0.0, 1.0)
    )

    def value_and_grad() -> tuple[torch.Tensor, torch.Tensor]:
        kern.zero_grad()
        k = kern(x, x)
        k.sum().backward()
        return k.detach(), kern.raw_log_lengthscale.grad.clone()

    plain = value_and_grad()
    monkeypatch.setattr(basis_kernel, "CHECKPOINT_ENTRIES", 10)
    lean = value_and_grad()
    torch.testing.assert_close(lean[0], plain[0])
    torch.testing.assert_close(lean[1], plain[1])


def test_cross_validation_holds_rows_out_and_refits():
    """Leave-one-out folds without refits equal the closed form; refitted folds differ (the
    hyperparameters no longer saw the held-out row); every row is predicted once."""
    from dkluq_cli.model.exact.cross_validation import cross_validate, fold_ids, n_folds

    rng = np.random.default_rng(2)
    u = rng.uniform(-1, 1, size=(15, 2))
    y = np.sin(2 * u[:, 0]) + u[:, 1] ** 2 + 0.05 * rng.standard_normal(15)
    y = (y - y.mean()) / y.std()
    head = fit_exact(u, y, degrees=2, restarts=0)
    fold = fold_ids(15, seed=0)
    assert n_folds(15) == 15 and sorted(fold) == list(range(15))
    fixed = cross_validate(head, fold, refit=False)
    mean, std = head.loo()
    np.testing.assert_allclose(fixed.mean, mean, atol=1e-8)
    np.testing.assert_allclose(fixed.std, std, rtol=1e-6)
    refit = cross_validate(head, fold)
    assert np.abs(refit.mean - fixed.mean).max() > 1e-6
    assert refit.nll_points().shape == (15,) and np.isfinite(refit.z()).all()
    assert n_folds(100) == 20 and n_folds(300) == 10
    assert np.bincount(fold_ids(300, seed=1)).tolist() == [30] * 10


def test_sigma_grows_in_a_hole_inside_the_box():
    """σ grows where the training rows thin out inside the box, not only beyond its faces: the
    centre of a hole in a grid of rows gets a larger σ than a point between neighbouring rows."""
    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.train import train

    g = np.linspace(0.0, 1.0, 7)
    x = np.array([(a, b) for a in g for b in g if max(abs(a - 0.5), abs(b - 0.5)) > 0.2])
    y = np.sin(3 * x[:, 0]) + np.cos(2 * x[:, 1]) + 0.5 * x[:, 0] * x[:, 1]
    cfg = TrainConfig(
        features=("x1", "x2"), target="y", trend=2, restarts=0, device="cpu", threads=1
    )
    sur = train(x, y, cfg).surrogate
    _, std = sur.predict(np.array([[0.5, 0.5], [1 / 12, 1 / 12]]))
    assert std[0] > 2 * std[1]
