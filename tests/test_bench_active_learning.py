"""The active-learning benchmark runs in --quick mode, so it cannot rot."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_bench_active_learning_quick(tmp_path):
    pytest.importorskip("chgnet", reason="the oracle needs the sample-data extra (chgnet)")
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_active_learning.py"),
            "--quick",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    df = pd.read_csv(tmp_path / "active_learning.csv")
    assert set(df["strategy"]) == {"batch", "max-std", "random"}
    assert sorted(set(df["n_calls"])) == [30, 40, 50]  # 30 initial + 10 per round, 2 rounds
    assert (df["test_rmse_eV"] > 0).all() and (df["test_mean_std_eV"] > 0).all()
    assert (tmp_path / "active_learning.png").stat().st_size > 0
    md = (tmp_path / "active_learning.md").read_text()
    assert "Calls needed to reach 5 meV/atom" in md and "Goal" in md
