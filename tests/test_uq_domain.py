"""Applicability domain statistics and the in_domain flag."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.errors import TableError
from dkluq_cli.uq.domain import Domain, domain_stats, in_domain

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
