"""The small model committed in ``tests/data/plumbing/`` for the tests of the commands' plumbing.

Tests of files, options, messages and conventions need a trained model but not a good one: they
load this committed one (a few seconds of training, 150 KB) instead of training the 5000-row
default model. The checks of what training achieves (σ beyond the box, the EOS minimum against
the oracle) train the default model themselves and are marked ``slow`` (``make test-all``).

Regenerate it after a change to the model file or the SVGP head with
``.venv/bin/python -m tests.plumbing_model``; ``tests/test_plumbing_model.py`` checks that the
committed files still load and were made with :data:`CONFIG`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tests.conftest import SAMPLE

HERE = Path(__file__).resolve().parent / "data" / "plumbing"
#: Rows of ``sample_data/srtio3_lattice_energy.csv`` it is trained on (the first ones).
ROWS = 800
#: The training configuration (SVGP head, a small network, no reference crystal).
CONFIG = {
    "head": "svgp",
    "width": 32,
    "depth": 2,
    "inducing": 20,
    "epochs": 150,
    "device": "cpu",
    "threads": 1,
    "seed": 0,
}
#: The files of the run folder that are committed.
FILES = ("model.pt", "config.json", "splits.json", "metrics.json")


def build(folder: Path = HERE) -> Path:
    """Train the plumbing model and write its committed files into ``folder``."""
    import pandas as pd

    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.job import run_training

    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "srtio3_plumbing.csv"
        pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:ROWS].to_csv(table, index=False)
        run = Path(tmp) / "run"
        run_training(table, TrainConfig(**CONFIG), run, plots=False)
        folder.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copy2(run / name, folder / name)
    return folder


if __name__ == "__main__":
    print(build())
