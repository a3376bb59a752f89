"""Applicability domain statistics and the in_domain flag."""

from __future__ import annotations

import io
import itertools
import json

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.errors import TableError
from dkluq_cli.uq.domain import Domain, check_domain, domain_stats, in_domain

FEATURES = ["a", "b", "c", "alpha", "beta", "gamma"]


@pytest.fixture
def train():
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [
            rng.uniform(3.8, 4.0, 200),
            rng.uniform(3.8, 4.0, 200),
            rng.uniform(3.8, 4.0, 200),
            rng.uniform(88.0, 92.0, 200),
            rng.uniform(88.0, 92.0, 200),
            rng.uniform(88.0, 92.0, 200),
        ]
    )
    std = rng.uniform(0.001, 0.01, 200)  # eV
    return X, std


def test_stats_are_plain_python(train):
    X, std = train
    st = domain_stats(X, FEATURES, std)
    assert st.features == FEATURES
    for key in ("min", "max", "mean"):
        assert isinstance(getattr(st, key), list)
        assert len(getattr(st, key)) == 6
        assert all(type(v) is float for v in getattr(st, key))
    assert type(st.std_q99) is float
    assert type(st.std_median) is float
    assert st.min[0] == pytest.approx(X[:, 0].min())
    assert st.std_q99 == pytest.approx(np.percentile(std, 99))
    assert st.std_median == pytest.approx(np.median(std))
    assert json.loads(json.dumps(st.to_dict())) == st.to_dict()


def test_stats_survive_torch_weights_only(train):
    torch = pytest.importorskip("torch")
    st = domain_stats(*train[:1], FEATURES, train[1])
    buf = io.BytesIO()
    torch.save({"domain": st.to_dict()}, buf)
    buf.seek(0)
    assert Domain.from_dict(torch.load(buf, weights_only=True)["domain"]) == st


def test_training_points_in_domain_except_high_sigma(train):
    X, std = train
    st = domain_stats(X, FEATURES, std)
    flags = in_domain(X, std, st)
    assert flags.dtype == bool
    assert flags.shape == (200,)
    # only the points above the 99th percentile of σ are flagged (2 of 200)
    assert (~flags).sum() == (std > st.std_q99).sum() == 2
    assert in_domain(X, None, st).all()


def test_outside_range_and_tolerance(train):
    X, std = train
    st = domain_stats(X, FEATURES, std)
    low_std = np.full(3, st.std_median)
    probe = np.tile(X[:1], (3, 1))
    probe[0, 0] = st.max[0] * (1 + 1e-12)  # round-off: still inside
    probe[1, 3] = st.min[3] - 0.5  # alpha below range
    probe[2, 5] = st.max[5] + 1.0  # gamma above range
    assert in_domain(probe, low_std, st).tolist() == [True, False, False]
    # the feature ranges alone (no σ) flag the same rows
    assert in_domain(probe, None, st).tolist() == [True, False, False]


def test_high_sigma_out_of_domain(train):
    X, std = train
    st = domain_stats(X, FEATURES, std)
    assert not in_domain(X[:1], [st.std_q99 * 1.01], st)[0]
    assert in_domain(X[:1], [st.std_q99], st)[0]


def test_dataframe_columns_reordered(train):
    X, std = train
    st = domain_stats(pd.DataFrame(X, columns=FEATURES), FEATURES, std)
    df = pd.DataFrame(X, columns=FEATURES)[FEATURES[::-1]].assign(energy=0.0)
    assert np.array_equal(in_domain(df, std, st), in_domain(X, std, st))
    with pytest.raises(TableError, match="lacks feature column"):
        in_domain(df.drop(columns="beta"), std, st)


def test_shape_errors(train):
    X, std = train
    with pytest.raises(TableError, match=r"shape \(n, 6\)"):
        domain_stats(X[:, :5], FEATURES, std)
    with pytest.raises(TableError, match="std_train has 199"):
        domain_stats(X, FEATURES, std[:-1])
    with pytest.raises(TableError, match="no rows"):
        domain_stats(X[:0], FEATURES, std[:0])
    st = domain_stats(X, FEATURES, std)
    with pytest.raises(TableError, match="std has 3"):
        in_domain(X[:2], std[:3], st)
    bad = X[:2].copy()
    bad[0, 0] = np.nan
    with pytest.raises(TableError, match="non-finite"):
        in_domain(bad, std[:2], st)


def _box(n: int, seed: int) -> np.ndarray:
    """``n`` rows uniform in ±10 % of a cubic 3.9 Å cell (Å, degrees)."""
    p0 = np.array([3.9] * 3 + [90.0] * 3)
    return p0 * np.random.default_rng(seed).uniform(0.9, 1.1, (n, 6))


def _stats(x: np.ndarray, actions=None):
    coords = (x - x.mean(0)) / x.std(0)
    return domain_stats(x, FEATURES, np.ones(len(x)), coords=coords, actions=actions), coords


@pytest.mark.parametrize("n", [25, 100, 400])
def test_training_rows_and_fresh_draws_are_in_domain_and_the_shell_is_not(n):
    """The widened range and the nearest-row limit keep every training row and ≥ 95 % of fresh
    rows drawn like them in domain (on average over tables), at any table size; rows 10–20 %
    out of the box are not."""
    rng = np.random.default_rng(1)
    m = rng.uniform(0.10, 0.20, 2000)
    dev = rng.uniform(-1, 1, (2000, 6)) * m[:, None]
    dev[np.arange(2000), rng.integers(0, 6, 2000)] = m * rng.choice([-1, 1], 2000)
    shell = np.array([3.9] * 3 + [90.0] * 3) * (1 + dev)
    fresh_in, shell_out = [], []
    for seed in range(5):
        x = _box(n, 100 * n + seed)
        st, coords = _stats(x)
        mean, scale = x.mean(0), x.std(0)
        assert check_domain(x, None, st, coords).flags.all()
        fresh = _box(2000, 10_000 + seed)
        fresh_in.append(in_domain(fresh, None, st, (fresh - mean) / scale).mean())
        shell_out.append(1 - in_domain(shell, None, st, (shell - mean) / scale).mean())
    assert np.mean(fresh_in) >= 0.95
    assert np.mean(shell_out) >= (0.95 if n >= 100 else 0.5)


def test_a_hole_in_the_data_is_out_of_domain_with_its_reason():
    """Inside the box but far from every training row: out of domain, and the reason says so;
    the range rule alone would have kept it."""
    x = _box(2000, 3)
    centre = np.array([3.9] * 3 + [90.0] * 3)
    keep = np.abs(x / centre - 1).max(axis=1) > 0.085  # no row within 8.5 % of the centre
    st, _ = _stats(x[keep])
    mean, scale = x[keep].mean(0), x[keep].std(0)
    probe = np.vstack([centre, x[keep][:1]])
    check = check_domain(probe, None, st, (probe - mean) / scale)
    assert check.flags.tolist() == [False, True]
    assert check.reasons[0].startswith("far from the training rows") and check.reasons[1] == ""
    assert in_domain(probe, None, st).all()  # without coordinates: the range alone


def test_neighbours_use_the_group_images_and_leave_each_row_out():
    """A point and its image under the group are equally near the data; a row's own images do
    not count as its neighbours; the stored neighbours round-trip through a dict."""
    from dkluq_cli.uq.neighbours import Neighbours

    swap = np.eye(2)[[1, 0]]
    acts = np.stack([np.eye(2), swap])
    rows = np.array([[0.0, 1.0], [3.0, 3.0]])
    nb = Neighbours.from_rows(rows, acts)
    np.testing.assert_allclose(nb.distance([[1.0, 0.0], [0.0, 1.0]]), [0.0, 0.0])
    # row 0's image (1, 0) is not its neighbour: the nearest other row is (3, 3)
    np.testing.assert_allclose(nb.leave_one_out(), [np.hypot(3, 2)] * 2)
    assert nb.limit == pytest.approx(np.hypot(3, 2))
    back = Neighbours.from_dict(json.loads(json.dumps(nb.to_dict())))
    np.testing.assert_allclose(back.distance([[2.0, 2.5]]), nb.distance([[2.0, 2.5]]))
    assert Neighbours.from_rows(rows[:1]).limit == np.inf
    # the limit is at least what uniform points over the rows' box reach
    grid = np.random.default_rng(0).uniform(0, 3, (5000, 2))
    assert np.mean(nb.distance(grid) <= nb.limit) >= 0.98


def test_range_margin_shrinks_with_the_table():
    from dkluq_cli.uq.domain import range_margin

    m = [range_margin(n, 6) for n in (10, 25, 100, 1000, 10_000)]
    assert all(a >= b for a, b in itertools.pairwise(m)) and m[0] > m[1] > m[2] > 0
    assert m[-1] == 0.0
    assert m[0] < 1.0
