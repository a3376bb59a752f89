"""The ingest benchmark runs in --quick mode, so it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, SAMPLE, SHARED_VASP

pytestmark = pytest.mark.slow


@pytest.mark.skipif(
    not (SAMPLE / "vasp_runs").is_dir() and not SHARED_VASP.is_dir(), reason="no template runs"
)
def test_bench_ingest_quick(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_ingest.py"),
            "--quick",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "ingest.json").read_text())
    assert result["runs_in_tree"] == 12
    assert result["dkluq"]["accounted"] == 12  # every run: a row or a reason
    assert result["dkluq"]["runs_per_s"] > 0 and result["borgqueen"]["runs_per_s"] > 0
    assert "Speed ratio" in (tmp_path / "ingest.md").read_text()
