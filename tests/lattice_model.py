"""The sample-data model shared by the train/predict, scan, suggest and eos tests.

Trained once per session on the whole committed sample table (no sidecar, so the model stores no
reference crystal) with the library defaults except a longer budget: 600 epochs (about 100 s on
one core) instead of the default 350 (about 55 s). The issue checks that need "a model trained on
the sample data" (σ on the OOD set ≥ 3× in range, σ growth at the scan edges, the EOS minimum and
a0 interval) are asserted on this model. The longer budget dates from before the polynomial
trend, when the 350-epoch default gave an OOD ratio of only 2.25; with the trend the default
itself measures 4.15 (seed 0).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from tests.conftest import SAMPLE

#: Library defaults with a longer budget (early stopping off so the budget is the one measured).
SETTINGS = {"epochs": 600, "patience": 600}


@functools.cache
def lattice_model_dir() -> Path:
    """Train (once) and return the run folder holding ``model.pt``."""
    from dkluq_cli.train_job import run_training
    from dkluq_cli.training import TrainConfig

    root = Path(tempfile.mkdtemp(prefix="dkluq_test_model_"))
    atexit.register(shutil.rmtree, root, True)
    run_dir = root / "run"
    cfg = TrainConfig(**SETTINGS, device="cpu", threads=1)
    run_training(SAMPLE / "srtio3_lattice_energy.csv", cfg, run_dir, plots=False)
    return run_dir
