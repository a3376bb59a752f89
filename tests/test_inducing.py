"""Inducing-point initialisation: FCM spreads centres on real features; the collapse guard fires."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dkluq_cli.data.table import LATTICE_COLUMNS
from dkluq_cli.model.svgp.inducing import (
    initial_inducing_points,
    mean_pairwise_distance,
    schwaemmle_jensen_fuzzifier,
)
from dkluq_cli.model.svgp.resnet import FCResNet
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def features() -> np.ndarray:
    """Untrained 128-wide SN features of 400 sample structures (standardised inputs)."""
    df = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv", nrows=400)
    x = df[list(LATTICE_COLUMNS)].to_numpy(float)
    z = (x - x.mean(0)) / x.std(0)
    torch.manual_seed(0)
    net = FCResNet(6, width=128, depth=4).eval()
    with torch.no_grad():
        return net(torch.as_tensor(z, dtype=torch.float32)).double().numpy()


def test_rule_gives_near_one_in_high_dimension():
    m_f = schwaemmle_jensen_fuzzifier(1000, 128)
    assert 1.0 < m_f < 1.1
    assert schwaemmle_jensen_fuzzifier(1000, 2) > 1.5  # low dimension: fuzzier


def test_fcm_auto_gives_distinct_spread_centres(features):
    m = 20
    centres, info = initial_inducing_points(features, m, "fcm", "auto", seed=0)
    assert centres.shape == (m, features.shape[1])
    assert info["method"] == "fcm"
    assert not info["collapse_detected"]
    assert info["partition_coefficient"] > 3.0 / m
    assert info["centre_spread"] > 0.3
    # all centres distinct, separated by a visible fraction of the cloud scale
    scale = mean_pairwise_distance(features)
    assert info["min_centre_distance"] > 0.01 * scale
    assert len(np.unique(np.round(centres, 4), axis=0)) == m


def test_collapse_guard_fires_with_paper_fuzzifier(features, caplog):
    m = 20
    with caplog.at_level("WARNING"):
        _, info = initial_inducing_points(features, m, "fcm", 2.0, seed=0)
    assert info["collapse_detected"]
    assert info["partition_coefficient"] < 1.5 / m
    assert info["fcm_centre_spread"] < 0.1  # the raw FCM centres sat on the mean
    assert info["method"] == "kmeans-fallback"
    assert info["centre_spread"] > 0.3  # the fallback is spread
    assert "collapsed" in caplog.text


@pytest.mark.parametrize("method", ["kmeans", "random"])
def test_other_methods(features, method):
    centres, info = initial_inducing_points(features, 10, method, seed=1)
    assert centres.shape == (10, features.shape[1])
    assert info["method"] == method
    assert info["min_centre_distance"] > 0


def test_too_many_inducing_points(features):
    with pytest.raises(ValueError, match="inducing points need"):
        initial_inducing_points(features[:5], 10)
