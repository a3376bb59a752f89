"""Where chunks of runs are read: this process, a pool of processes, or a Dask cluster.

Every executor runs the same function on the same chunks (:func:`read_chunk`), so the results,
and the tables written from them, do not depend on where they were computed.

* ``processes`` (default): a :class:`~concurrent.futures.ProcessPoolExecutor` of ``-j`` workers.
* ``dask``: a local ``dask.distributed`` cluster of ``-j`` single-threaded worker processes,
  started for the ingest and closed after it.
* an address (``tcp://host:8786``): an existing Dask scheduler, e.g. one started on a SLURM or
  PBS allocation with dask-jobqueue; its workers need dkluq installed.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib.util
import logging
import os
from typing import Any

from dkluq_cli.errors import DkluqError
from dkluq_cli.ingest.store import encode
from dkluq_cli.ingest.vasp.files import RunFiles
from dkluq_cli.ingest.vasp.run import read_run

logger = logging.getLogger(__name__)

SCHEDULERS = ("processes", "dask")
"""Scheduler names; anything with ``://`` is the address of a running Dask scheduler."""

CONNECT_TIMEOUT_S = 10
"""How long to wait for a Dask scheduler at an address (s)."""


class SchedulerError(DkluqError):
    """The requested scheduler cannot be used (unknown, not installed, unreachable)."""


def read_chunk(runs: list[RunFiles], energy_kind: str, cross_check: bool) -> list[str]:
    """Read runs; each result encoded as a JSON line (what the result store keeps).

    Args:
        runs: Run folders.
        energy_kind: ``"sigma0"`` or ``"free"``.
        cross_check: Read every file with both pymatgen and ASE.

    Returns:
        One JSON string per run, in order (:func:`dkluq_cli.ingest.store.encode`).
    """
    return [encode(read_run(run, energy_kind, cross_check)) for run in runs]


def warm_imports() -> None:
    """Import what the readers use, so forked workers start with it loaded."""
    import ase.io.vasp
    import ase.io.vasp_parsers.vasp_outcar_parsers  # noqa: F401
    import pymatgen.io.vasp.outputs  # noqa: F401


class InProcess:
    """Reads each chunk when it is submitted, in this process."""

    name = "in-process"
    slots = 1

    def submit(self, *args: Any) -> cf.Future:
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(read_chunk(*args))
        except Exception as exc:  # noqa: BLE001 - handed to the caller like a worker's error
            fut.set_exception(exc)
        return fut

    def wait(self, pending: set) -> tuple[set, set]:
        return set(pending), set()

    def close(self) -> None:
        """Nothing to release."""


class Processes:
    """A pool of ``workers`` processes."""

    name = "processes"

    def __init__(self, workers: int) -> None:
        warm_imports()
        self.pool = cf.ProcessPoolExecutor(max_workers=workers)
        self.slots = workers
        # start the workers now (a forking pool starts them all at its first task), before
        # the caller starts any thread
        self.pool.submit(os.getpid).result()

    def submit(self, *args: Any) -> cf.Future:
        return self.pool.submit(read_chunk, *args)

    def wait(self, pending: set) -> tuple[set, set]:
        done, rest = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        return set(done), set(rest)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class Dask:
    """A ``dask.distributed`` client: a local cluster it starts, or a scheduler's address."""

    name = "dask"

    def __init__(self, workers: int, address: str | None = None) -> None:
        try:
            import distributed
        except ImportError as exc:
            raise SchedulerError(
                "--scheduler dask needs dask.distributed, which is not installed",
                hint="pip install 'dkluq[dask]'",
            ) from exc
        self._distributed = distributed
        self.cluster = None
        if address is None:
            self.cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            address = self.cluster.scheduler_address
        try:
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            self._close_cluster()
            raise SchedulerError(
                f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc})",
                hint="check the address and that the scheduler is running (dask scheduler,"
                " or dask-jobqueue's cluster.scheduler_address)",
            ) from exc
        threads = sum(self.client.nthreads().values()) if self.cluster is None else workers
        self.slots = max(1, threads)

    def submit(self, *args: Any):  # -> distributed.Future
        return self.client.submit(read_chunk, *args, pure=False)

    def wait(self, pending: set) -> tuple[set, set]:
        done, rest = self._distributed.wait(list(pending), return_when="FIRST_COMPLETED")
        return set(done), set(rest)

    def _close_cluster(self) -> None:
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def close(self) -> None:
        self.client.close()
        self._close_cluster()


def check_scheduler(scheduler: str) -> None:
    """Refuse an unknown scheduler, or Dask when it is not installed, before any work.

    Raises:
        SchedulerError: With a hint.
    """
    if scheduler == "processes":
        return
    if scheduler != "dask" and "://" not in scheduler:
        raise SchedulerError(
            f"unknown scheduler {scheduler!r}",
            hint="use processes, dask, or the address of a Dask scheduler (tcp://host:8786)",
        )
    if importlib.util.find_spec("distributed") is None:
        raise SchedulerError(
            f"--scheduler {scheduler} needs dask.distributed, which is not installed",
            hint="pip install 'dkluq[dask]'",
        )


def make_executor(scheduler: str, workers: int | None, expected_runs: int | None = None):
    """The executor for ``--scheduler``.

    Args:
        scheduler: ``"processes"``, ``"dask"`` or a Dask scheduler address.
        workers: Worker processes (``None``: all cores); 1 reads in this process
            (``processes`` only).
        expected_runs: When known and small, ``processes`` reads in this process (starting
            workers costs more).

    Raises:
        SchedulerError: Unknown scheduler, dask not installed, or the address is unreachable.
    """
    check_scheduler(scheduler)
    n = workers if workers and workers > 0 else (os.cpu_count() or 1)
    if "://" in scheduler:
        return Dask(n, address=scheduler)
    if scheduler == "dask":
        return Dask(n)
    if n <= 1 or (expected_runs is not None and expected_runs < SERIAL_BELOW):
        return InProcess()
    return Processes(n)


SERIAL_BELOW = 8
"""Trees with fewer runs than this are read in this process (starting workers costs more)."""
