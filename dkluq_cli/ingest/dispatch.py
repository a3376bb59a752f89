"""Read runs as the walk finds them: reuse unchanged ones, send the rest in chunks to an executor.

The walk is consumed lazily and at most a few chunks per worker are in flight, so neither the
tree nor the results are held in memory (results go to the :class:`ResultStore`). A chunk that
fails on its worker (a worker killed, a result that does not travel) is read again in this
process; after a broken process pool, everything left is. Every run ends as one record: a row
or a rejection with a reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from dkluq_cli.ingest.executors import SERIAL_BELOW, InProcess, make_executor
from dkluq_cli.ingest.store import ResultStore
from dkluq_cli.ingest.vasp.files import RunFiles
from dkluq_cli.ingest.walk import Found

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
"""``progress(done, found)``: runs done, and runs found so far (final once the walk ends)."""

CHUNK = {"processes": 16, "dask": 64}
"""Runs per task: enough to make a task's overhead small, few enough to balance the workers."""
IN_FLIGHT = 4
"""Chunks in flight per worker slot."""


@dataclass
class ReadStats:
    """What one pass over the tree did."""

    found: int = 0
    reused: int = 0
    read: int = 0
    problems: int = 0
    executor: str = ""


@dataclass
class ReadSettings:
    """How to read: the energy kind, cross-checking, and where."""

    energy_kind: str = "sigma0"
    cross_check: bool = False
    scheduler: str = "processes"
    workers: int | None = None


class _Pass:
    def __init__(self, store: ResultStore, settings: ReadSettings, progress: ProgressFn | None):
        self.store, self.settings, self.progress = store, settings, progress
        self.stats = ReadStats()
        self.seq = 0
        self.queue: list[tuple[int, RunFiles, str]] = []
        self._last_report = 0.0

    def take(self, item: Found, use_cache: bool) -> None:
        """Put a walk item in the store (problem, reused run) or in the queue to read."""
        self.seq += 1
        if not isinstance(item, tuple):
            self.store.add_problem(self.seq, item)
            self.stats.problems += 1
            return
        run, sig = item
        self.stats.found += 1
        record = self.store.cached(run.name, sig) if use_cache else None
        if record is not None:
            self.store.add(self.seq, record, sig)
            self.stats.reused += 1
            self.report()
        else:
            self.queue.append((self.seq, run, sig))

    def report(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.progress and (force or now - self._last_report > 0.1):
            self._last_report = now
            self.progress(self.stats.reused + self.stats.read, self.stats.found)

    def finish(self, chunk: list[tuple[int, RunFiles, str]], records: list) -> None:
        for (seq, _, sig), record in zip(chunk, records, strict=True):
            self.store.add(seq, tuple(record), sig)
        self.stats.read += len(chunk)
        self.report()


def read_tree(
    found: Iterator[Found],
    store: ResultStore,
    settings: ReadSettings,
    *,
    use_cache: bool = False,
    progress: ProgressFn | None = None,
) -> ReadStats:
    """Read every run the walk yields into ``store``.

    Args:
        found: The walk (:func:`dkluq_cli.ingest.walk.discover`).
        store: Where the records go (and, with ``use_cache``, where the previous ones are).
        settings: Energy kind, cross-checking, scheduler and workers.
        use_cache: Reuse the store's cached record of a run whose files did not change.
        progress: Called as runs are done.

    Returns:
        Counts of runs found, reused, read, and tree problems.
    """
    p = _Pass(store, settings, progress)
    walk = iter(found)
    # look ahead: a small tree is read here, without starting workers
    for item in walk:
        p.take(item, use_cache)
        if len(p.queue) >= SERIAL_BELOW:
            break
    else:
        walk = iter(())
        executor = make_executor(settings.scheduler, settings.workers, expected_runs=len(p.queue))
        return _run(p, walk, executor, use_cache)
    executor = make_executor(settings.scheduler, settings.workers)
    return _run(p, walk, executor, use_cache)


def _run(p: _Pass, walk: Iterator[Found], executor, use_cache: bool) -> ReadStats:
    p.stats.executor = executor.name
    size = CHUNK.get(executor.name, CHUNK["processes"])
    pending: dict = {}
    walking = True
    try:
        while walking or p.queue or pending:
            while walking and len(p.queue) < size:
                item = next(walk, None)
                walking = item is not None
                if walking:
                    p.take(item, use_cache)
            cap = executor.slots * IN_FLIGHT
            while p.queue and (len(p.queue) >= size or not walking) and len(pending) < cap:
                chunk, p.queue = p.queue[:size], p.queue[size:]
                pending[executor.submit(*_args(p, chunk))] = chunk
            if pending and (len(pending) >= cap or not walking):
                executor = _collect(p, executor, pending)
    finally:
        executor.close()
    p.report(force=True)
    return p.stats


def _args(p: _Pass, chunk: list[tuple[int, RunFiles, str]]) -> tuple:
    return [run for _, run, _ in chunk], p.settings.energy_kind, p.settings.cross_check


def _collect(p: _Pass, executor, pending: dict):
    """Store the chunks that are done (at least one); returns the executor to go on with."""
    done, _ = executor.wait(set(pending))
    for fut in done:
        chunk = pending.pop(fut)
        try:
            records = fut.result()
        except BrokenProcessPool as exc:
            logger.warning("a worker process died (%s); reading the rest in this process", exc)
            executor.close()
            executor = InProcess()
            for rest in [chunk, *(pending.pop(f) for f in list(pending))]:
                p.finish(rest, executor.submit(*_args(p, rest)).result())
            return executor
        except Exception as exc:  # noqa: BLE001 - the chunk is read again here
            logger.warning("a chunk failed on its worker (%s); reading it in this process", exc)
            records = InProcess().submit(*_args(p, chunk)).result()
        p.finish(chunk, records)
    return executor
