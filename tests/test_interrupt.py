"""A real SIGTERM mid-training saves the best state, exits cleanly, and resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.conftest import REPO, SAMPLE

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_sigterm_saves_best_state_and_resume_finishes(invoke, tmp_path):
    table = tmp_path / "t.csv"
    pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:200].to_csv(table, index=False)
    run = tmp_path / "run"
    # many epochs and no early stop; --max-seconds bounds the total (resumed) training time
    args = [
        *("--epochs", "100000", "--patience", "100000", "--max-seconds", "1"),
        *("--batch-size", "64", "--inducing", "8", "--width", "16", "--depth", "1"),
        *("--no-plots", "--device", "cpu", "--seed", "0", "--head", "svgp"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dkluq_cli", "-q", "train", str(table), "-o", str(run), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the run folder is staged (.run.train-*) after the signal handlers are installed
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".run.train-*")) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.5)  # into model building or the first epochs
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in out + err, err
    assert proc.returncode == 130, (proc.returncode, err)
    for name in ("model.pt", "checkpoint.pt", "INTERRUPTED.txt", "history.csv"):
        assert (run / name).is_file(), name
    assert "--resume" in (run / "INTERRUPTED.txt").read_text()
    assert not list(run.glob(".*.tmp"))
    done_before = len(pd.read_csv(run / "history.csv"))
    r = invoke("train", "--resume", run)
    assert r.exit_code == 0, r.output
    assert not (run / "checkpoint.pt").exists() and not (run / "INTERRUPTED.txt").exists()
    assert len(pd.read_csv(run / "history.csv")) > done_before
