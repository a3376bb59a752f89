"""The automatic training schedule: batch size by table size, no early stop before min_epochs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.config import TrainConfig, auto_batch_size
from dkluq_cli.train_job import run_training
from dkluq_cli.training import make_splits, train
from tests.conftest import SAMPLE

FEATURES = ["a", "b", "c", "alpha", "beta", "gamma"]
TINY = {"inducing": 8, "width": 16, "depth": 1, "device": "cpu", "init_subset": 100}


@pytest.mark.parametrize(
    ("n_train", "expected"),
    [(100_000, 256), (4000, 256), (2048, 256), (2047, 128), (800, 64), (240, 32), (20, 32)],
)
def test_auto_batch_size_keeps_eight_steps_per_epoch(n_train, expected):
    size = auto_batch_size(n_train)
    assert size == expected
    assert size * 8 <= n_train or size == 32


def test_resolved_fills_only_the_automatic_values():
    auto = TrainConfig(epochs=40).resolved(240)
    assert (auto.batch_size, auto.min_epochs) == (32, 20)
    explicit = TrainConfig(epochs=40, batch_size=100, min_epochs=3).resolved(240)
    assert (explicit.batch_size, explicit.min_epochs) == (100, 3)
    assert TrainConfig().batch_size is None  # the default stays "auto" in the dataclass


@pytest.fixture(scope="module")
def rows():
    df = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:300]
    return df[FEATURES].to_numpy(float), df["energy_eV"].to_numpy(float)


def test_no_early_stop_before_min_epochs(rows):
    x, y = rows
    # A learning rate of zero never improves the validation NLL: patience 1 would stop at
    # epoch 2 without the floor.
    floor = train(x, y, TrainConfig(**TINY, epochs=6, patience=1, lr=0.0, min_epochs=5))
    assert len(floor.history) >= 5
    free = train(x, y, TrainConfig(**TINY, epochs=6, patience=1, lr=0.0, min_epochs=0))
    assert len(free.history) == 2 and free.stopped_early


def test_small_table_learns_with_default_schedule(rows, tmp_path):
    """300 rows, default batch and schedule, 150 epochs: well clear of the mean predictor.

    With the old fixed batch of 256 (one step per epoch) this table stopped early at the
    constant predictor; the automatic batch of 32 gives eight steps per epoch.
    """
    x, y = rows
    df = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:300]
    table = tmp_path / "small300.csv"
    df.to_csv(table, index=False)
    cfg = TrainConfig(epochs=150, inducing=20, device="cpu")
    job = run_training(table, cfg, tmp_path / "run")
    written = json.loads((job.run_dir / "config.json").read_text())
    assert written["batch_size"] == 32 and written["min_epochs"] == 75
    sp = make_splits(len(x), cfg.val_fraction, cfg.test_fraction, cfg.seed)
    mean, _ = job.result.surrogate.predict(x[sp.test])
    rmse = float(np.sqrt(np.mean((mean - y[sp.test]) ** 2)))
    baseline = float(np.sqrt(np.mean((y[sp.train].mean() - y[sp.test]) ** 2)))
    assert rmse < baseline / 3, (rmse, baseline)  # measured 4.2x here; batch 256: 1.06x
