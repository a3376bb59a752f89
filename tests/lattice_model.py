"""The sample-data model shared by the train/predict, scan, suggest and eos tests.

Trained once per test run on the whole committed sample table (no sidecar, so the model stores no
reference crystal) with the library defaults: the model ``make demo`` trains. The checks that need
"a model trained on the sample data" (σ on the OOD set ≥ 3× in range, σ growth at the scan edges,
the EOS minimum and a0 interval) are asserted on this model. Under pytest-xdist the workers
share one copy: the first to need it trains it under a file lock, the others wait for it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import SAMPLE


def lattice_model_dir(base: Path) -> Path:
    """Train the model under ``base`` unless it is there, and return its run folder."""
    from filelock import FileLock

    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.job import run_training

    run_dir = base / "dkluq_lattice_model" / "run"
    done = base / "dkluq_lattice_model.done"
    with FileLock(str(base / "dkluq_lattice_model.lock")):
        if not done.is_file():
            shutil.rmtree(run_dir.parent, ignore_errors=True)  # a run cut short
            run_dir.parent.mkdir(parents=True)
            cfg = TrainConfig(device="cpu", threads=1)
            run_training(SAMPLE / "srtio3_lattice_energy.csv", cfg, run_dir, plots=False)
            done.write_text("trained\n")
    return run_dir
