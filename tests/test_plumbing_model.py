"""The committed plumbing model (tests/plumbing_model.py) loads, predicts, and is what its
generator's configuration makes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from dkluq_cli.model.io import load_model
from tests.conftest import SAMPLE
from tests.plumbing_model import CONFIG, FILES, HERE, ROWS


def test_committed_files_are_the_generators():
    assert sorted(p.name for p in HERE.iterdir()) == sorted(FILES)
    config = json.loads((HERE / "config.json").read_text())
    assert {k: config[k] for k in CONFIG} == CONFIG
    assert len(json.loads((HERE / "splits.json").read_text())["train"]) == int(0.8 * ROWS)


def test_it_loads_and_predicts_finite_numbers():
    sur = load_model(HERE / "model.pt")
    assert sur.head.kind == "svgp" and sur.crystal is None
    x = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[ROWS : ROWS + 50]
    mean, std = sur.predict(x[list(sur.features)].to_numpy(float))
    assert np.isfinite(mean).all() and (std > 0).all()
    err = np.abs(mean - x["energy_eV"].to_numpy(float))
    assert np.median(err / std) < 3  # a trained model, if not a good one
