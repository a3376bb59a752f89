"""The sample-data model shared by the train/predict, scan, suggest and eos tests.

Trained once per session on the whole committed sample table (no sidecar, so the model stores no
reference crystal) with the library defaults: the model ``make demo`` trains. The issue checks that
need "a model trained on the sample data" (σ on the OOD set ≥ 3× in range, σ growth at the scan
edges, the EOS minimum and a0 interval) are asserted on this model.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from tests.conftest import SAMPLE


@functools.cache
def lattice_model_dir() -> Path:
    """Train (once) and return the run folder holding ``model.pt``."""
    from dkluq_cli.config import TrainConfig
    from dkluq_cli.train_job import run_training

    root = Path(tempfile.mkdtemp(prefix="dkluq_test_model_"))
    atexit.register(shutil.rmtree, root, True)
    run_dir = root / "run"
    cfg = TrainConfig(device="cpu", threads=1)
    run_training(SAMPLE / "srtio3_lattice_energy.csv", cfg, run_dir, plots=False)
    return run_dir
