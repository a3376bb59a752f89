"""Where runs are read does not change the table: process pool, Dask (local or by address)."""

from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

import dkluq_cli.ingest.pipeline as core
from dkluq_cli.ingest import dispatch, executors
from dkluq_cli.ingest.pipeline import ingest, output_paths, write_outputs
from tests.conftest import SAMPLE, plain

SAMPLE_RUNS = SAMPLE / "vasp_runs"
pytestmark = pytest.mark.skipif(not SAMPLE_RUNS.is_dir(), reason="sample_data/vasp_runs missing")
OUTPUTS = ("t.csv", "t.extxyz", "t.rejected.csv")


def written(out: Path, **kw) -> dict[str, bytes]:
    """Ingest the sample tree into ``out``; the bytes of the three outputs."""
    out.mkdir(parents=True, exist_ok=True)
    res = ingest([SAMPLE_RUNS], **kw)
    try:
        write_outputs(res, output_paths(out / "t.csv"))
    finally:
        res.close()
    return {name: (out / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, bytes]:
    return written(tmp_path_factory.mktemp("ref"), workers=1)


def test_process_pool_equals_in_process(reference, tmp_path):
    assert written(tmp_path, workers=2, scheduler="processes") == reference


def test_dask_local_cluster_and_address_equal_the_pool(reference, tmp_path, invoke):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "dask" / "t.csv"
    out.parent.mkdir()
    result = invoke("ingest", SAMPLE_RUNS, "-o", out, "--scheduler", "dask", "-j", "2")
    assert result.exit_code == 0, result.output
    assert {n: (out.parent / n).read_bytes() for n in OUTPUTS} == reference
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        got = written(tmp_path / "addr", scheduler=cluster.scheduler_address)
    assert got == reference


def test_unreachable_scheduler_is_one_error_line(tmp_path, invoke, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1)
    result = invoke(
        "ingest", SAMPLE_RUNS, "-o", tmp_path / "t.csv", "--scheduler", "tcp://127.0.0.1:9"
    )
    assert result.exit_code == 1
    err = plain(result.stderr)
    assert "error: cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err
    assert "hint:" in err and "Traceback" not in result.output
    assert not (tmp_path / "t.csv").exists()


def test_unknown_scheduler_and_missing_dask(tmp_path, invoke, monkeypatch):
    result = invoke("ingest", SAMPLE_RUNS, "-o", tmp_path / "t.csv", "--scheduler", "slurm")
    assert result.exit_code == 1
    assert "error: unknown scheduler 'slurm'" in plain(result.stderr)
    monkeypatch.setattr(executors.importlib.util, "find_spec", lambda name: None)
    result = invoke("ingest", SAMPLE_RUNS, "-o", tmp_path / "t.csv", "--scheduler", "dask")
    assert result.exit_code == 1
    err = plain(result.stderr)
    assert "needs dask.distributed" in err and "pip install 'dkluq[dask]'" in err


class _Failing:
    """An executor whose first chunk fails (a worker killed), then possibly the whole pool."""

    name = "processes"
    slots = 2

    def __init__(self, error: BaseException) -> None:
        self.error, self.calls, self.closed = error, 0, False

    def submit(self, *args):
        self.calls += 1
        fut: cf.Future = cf.Future()
        if self.calls == 1:
            fut.set_exception(self.error)
        else:
            fut.set_result(executors.read_chunk(*args))
        return fut

    def wait(self, pending):
        return set(pending), set()

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("error", [RuntimeError("result did not unpickle"), BrokenProcessPool("x")])
def test_failed_chunks_are_read_again_here(reference, tmp_path, monkeypatch, error):
    fake = _Failing(error)
    monkeypatch.setattr(dispatch, "make_executor", lambda *a, **k: fake)
    monkeypatch.setattr(dispatch, "CHUNK", {"processes": 4})
    assert written(tmp_path, workers=2) == reference
    assert fake.closed


def test_progress_reaches_every_run_found(tmp_path):
    seen: list[tuple[int, int]] = []
    res = ingest([SAMPLE_RUNS], workers=2, progress=lambda d, f: seen.append((d, f)))
    res.close()
    assert seen[-1] == (39, 39)
    assert all(d <= f for d, f in seen)


def test_csv_written_in_chunks_is_the_same_file(reference, tmp_path, monkeypatch):
    monkeypatch.setattr(core, "CSV_CHUNK_ROWS", 5)
    assert written(tmp_path, workers=1) == reference
