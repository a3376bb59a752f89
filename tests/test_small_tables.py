"""Tables of 5–20 rows train with every default, figures included; a split too small
for a metric or a figure is reported, not crashed on; a failed run leaves no folder behind."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.errors import DkluqError
from dkluq_cli.model.io import load_model
from dkluq_cli.training.config import TrainConfig
from dkluq_cli.training.figures import figure_data
from dkluq_cli.training.job import run_training

FAST = {"trend": 2, "restarts": 0, "device": "cpu"}
"""An exact fit of a few rows in well under a second (the defaults are tested on small_run)."""


def test_a_seven_run_vasp_eos_ingests_and_trains_with_every_default(small_run):
    names = {p.name for p in small_run.iterdir()}
    assert {"model.pt", "metrics.json", "config.json", "parity.png", "calibration.png"} <= names
    metrics = json.loads((small_run / "metrics.json").read_text())
    # 7 rows: 5 train + 1 validation fitted together, 1 test row: too few for test metrics
    assert metrics["regime"]["head"] == "exact" and metrics["regime"]["n_train"] == 6
    assert metrics["training"]["n_test"] == 1 and "test" not in metrics
    assert metrics["held_out"]["n"] == 6
    stderr = (small_run.parent / "train_stderr.txt").read_text()
    assert "test split: 1 row, too few for metrics" in stderr
    assert "fitted on 6 rows" in stderr  # the rows it fitted, not the 5 of the training split


def test_the_figures_use_the_split_that_has_rows(small_run):
    sur = load_model(small_run)
    df = pd.read_csv(small_run.parent / "si.csv")
    x = df[list(sur.features)].to_numpy(float)
    y = df["energy_eV"].to_numpy(float)
    splits = json.loads((small_run / "splits.json").read_text())
    assert len(splits["test"]) == 1 and not splits["val"]
    # the model's own predictions stand in for the held-out ones
    held = (np.arange(len(splits["train"])), *sur.predict(x[splits["train"]]))
    fig = figure_data(sur, x, y, splits, [], held)
    assert fig.evaluation is not None and fig.evaluation.split.startswith("held out")
    assert fig.evaluation.metrics["n"] == 6 and not fig.notes
    none = figure_data(sur, x, y, splits, [], None)
    assert none.evaluation is None
    assert "not drawn" in none.notes[0] and "test 1" in none.notes[0]


def _si_table(small_run, tmp_path, n):
    table = tmp_path / "si.csv"
    pd.read_csv(small_run.parent / "si.csv").iloc[:n].to_csv(table, index=False)
    return table


def test_five_rows_train(small_run, tmp_path):
    table = _si_table(small_run, tmp_path, 5)
    messages: list[str] = []
    job = run_training(table, TrainConfig(**FAST), tmp_path / "run", status=messages.append)
    assert job.figures is not None and (tmp_path / "run" / "model.pt").is_file()
    assert any(m.startswith("fitting the exact GP on") for m in messages), messages
    mean, std = job.result.surrogate.predict(np.array([[5.47, 5.47, 5.47, 90, 90, 90]]))
    assert np.isfinite(mean).all() and (std > 0).all()


def test_a_run_that_fails_at_its_end_leaves_no_folder(small_run, tmp_path):
    table = _si_table(small_run, tmp_path, 7)

    def broken_figures(job):
        (job.run_dir / "parity.png").write_text("half a figure")
        raise DkluqError("the figure could not be drawn")

    run = tmp_path / "runs" / "si"
    with pytest.raises(DkluqError):
        run_training(table, TrainConfig(**FAST), run, draw=broken_figures)
    assert not (tmp_path / "runs").exists()  # neither the run nor the folder made for it
    # a forced rerun that fails keeps the previous run as it was
    run_training(table, TrainConfig(**FAST), run)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(DkluqError):
        run_training(table, TrainConfig(**FAST), run, force=True, draw=broken_figures)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert [p.name for p in run.parent.iterdir()] == ["si"]  # no staging folder left


def test_ten_batio3_rows_train_with_every_default(invoke, tmp_path):
    """10 rows of another perovskite with its ingest structures: the defaults train, draw their
    figures (or say why not), and use the table's own crystal and its cubic group."""
    from tests.small_tables import batio3_table

    table = batio3_table(tmp_path / "bto")
    run = tmp_path / "run"
    r = invoke("train", table, "-o", run)
    assert r.exit_code == 0, r.output
    assert (run / "model.pt").is_file() and (run / "parity.png").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["regime"]["crystal"]["formula"] == "BaTiO3"
    assert metrics["regime"]["symmetry"]["point_group"] == "m-3m"
