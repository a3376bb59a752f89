"""Distance beyond the training box, simulated extrapolation and the σ inflation law."""

from __future__ import annotations

import numpy as np
import pytest

from dkluq_cli.uq.extrapolation import (
    InflationLaw,
    TrainingBox,
    extrapolation_folds,
    simulate_extrapolation,
)

RNG = np.random.default_rng(0)
SWAP = np.array([np.eye(2), [[0.0, 1.0], [1.0, 0.0]]])  # the group {identity, x <-> y}


def test_distance_is_zero_inside_and_grows_in_half_widths():
    box = TrainingBox.from_rows(np.array([[-1.0, 0.0], [1.0, 4.0]]))
    d = box.distance(np.array([[0.0, 2.0], [2.0, 2.0], [3.0, 2.0], [2.0, 6.0]]))
    np.testing.assert_allclose(d, [0.0, 1.0, 2.0, np.hypot(1.0, 1.0)])


def test_constant_coordinate_takes_the_largest_half_width():
    box = TrainingBox.from_rows(np.array([[-1.0, 0.0], [1.0, 0.0]]))
    assert box.distance(np.array([[0.0, 0.5]]))[0] == pytest.approx(0.5)


def test_images_are_equally_far_and_the_box_round_trips():
    rows = RNG.uniform([-1, -0.2], [1, 0.2], size=(20, 2))
    box = TrainingBox.from_rows(rows, SWAP)
    pts = RNG.uniform(-3, 3, size=(10, 2))
    np.testing.assert_allclose(box.distance(pts), box.distance(pts[:, ::-1]))
    again = TrainingBox.from_dict(box.to_dict())
    np.testing.assert_array_equal(again.distance(pts), box.distance(pts))


def test_law_is_one_inside_grows_outside_and_round_trips():
    d = RNG.uniform(0, 1, 400)
    z = RNG.normal(size=400) * (1 + d) ** 2
    law = InflationLaw.fit(d, z)
    assert law.gamma == pytest.approx(2.0, abs=0.4) and law.n_fit == 400
    assert law.factor(np.array([0.0]))[0] == 1.0
    f = law.factor(np.array([0.5, 1.0, 2.0]))
    assert 1.0 < f[0] < f[1] < f[2]
    again = InflationLaw.from_dict(law.to_dict())
    np.testing.assert_array_equal(again.factor(d), law.factor(d))


def test_law_never_narrows_sigma():
    d = RNG.uniform(0.1, 1, 200)
    assert InflationLaw.fit(d, 0.3 * RNG.normal(size=200)).gamma == 0.0
    assert InflationLaw.fit(np.zeros(50), RNG.normal(size=50) * 5).gamma == 0.0


def test_folds_cut_outer_slabs_and_merge_symmetric_ones():
    u = RNG.uniform(-1, 1, size=(50, 2))
    plain = extrapolation_folds(u, None, 0.2)
    assert len(plain) == 4 and all(len(f) == 10 for f in plain)
    top_x = np.argsort(-u[:, 0])[:10]
    assert any(set(f) == set(top_x) for f in plain)
    assert len(extrapolation_folds(u, SWAP, 0.2)) == 2


def test_simulated_extrapolation_records_distance_and_z():
    u = np.linspace(-1, 1, 21)[:, None]
    y = u[:, 0] ** 2

    def fit_predict(train, test):
        return np.zeros(len(test)), np.full(len(test), 0.5)

    d, z = simulate_extrapolation(u, y, fit_predict, None, 0.2)
    assert len(d) == len(z) == 8
    assert d.max() > 0 and np.all(d >= 0)
    np.testing.assert_allclose(np.sort(z), np.sort(np.concatenate([y[:4], y[-4:]]) / 0.5))


def test_shell_probes_fill_the_shell_around_the_box():
    """Every probe lies beyond the box, at most one half-width beyond it along any coordinate,
    and the probes reach both the faces and the far side of the shell."""
    from dkluq_cli.uq.extrapolation import TrainingBox, shell_probes

    rng = np.random.default_rng(0)
    box = TrainingBox.from_rows(rng.uniform(-1, 1, (50, 3)) * [1.0, 2.0, 0.5])
    p = shell_probes(box, 3000, seed=1)
    d = box.distance(p)
    excess = np.maximum(0, np.maximum(p - box.hi, box.lo - p)) / box.half_width
    assert (d > 0).all() and excess.max() <= 1.0 + 1e-12
    assert excess.max(axis=1).min() < 0.01 and excess.max(axis=1).max() > 0.99
