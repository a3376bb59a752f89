"""Walk trees of VASP run folders and read the runs, in parallel processes when worthwhile.

Folders are walked with :func:`os.scandir`, following symbolic links to folders but visiting
each real folder once: a link back to an ancestor (a loop) or a second link to the same folder
becomes a tree problem, as does a folder that cannot be listed. Tree problems are reported as
rejected entries, never raised, so one bad corner never ends the walk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from dkluq_cli.errors import InputError
from dkluq_cli.vasp.files import RunFiles, classify
from dkluq_cli.vasp.result import INTERNAL, RunResult
from dkluq_cli.vasp.run import read_run

logger = logging.getLogger(__name__)

TREE_PROBLEM = "folder problem"
SERIAL_BELOW = 8
"""Trees with fewer runs than this are read in this process (starting workers costs more)."""

ProgressFn = Callable[[int, int], None]
"""``progress(done, total)``, called after each run is read."""


@dataclass
class Discovery:
    """Runs found under the roots, and problems met while walking.

    Attributes:
        runs: One entry per run folder (or single file given), sorted by name.
        problems: Rejections for tree problems (symlink loops, unlistable folders, ...).
    """

    runs: list[RunFiles]
    problems: list[RunResult]


def _rel_name(path: Path, root: Path, prefix: str) -> str:
    rel = path.relative_to(root).as_posix() if path != root else ""
    if rel in ("", "."):
        return prefix or root.resolve().name or str(root)
    return f"{prefix}/{rel}" if prefix else rel


def discover(roots: Sequence[str | os.PathLike[str]]) -> Discovery:
    """Find the run folders under ``roots``.

    Args:
        roots: Folders (walked recursively) or single files. With one root, run names are
            paths relative to it; with several, each is prefixed by its root's folder name.

    Returns:
        The runs and the tree problems.

    Raises:
        InputError: A root does not exist.
    """
    runs: list[RunFiles] = []
    problems: list[RunResult] = []
    seen: dict[str, str] = {}
    root_paths = [Path(r) for r in roots]
    for root in root_paths:
        if not root.exists() and not root.is_symlink():
            raise InputError(f"input path {root} does not exist", hint="check the path")
    # a file root is named after its folder, so "outputs/OUTCAR.gz" stays informative
    names = [(r if r.is_dir() else r.parent).resolve().name or str(r) for r in root_paths]
    use_prefix = len(root_paths) > 1
    for root, rname in zip(root_paths, names, strict=True):
        prefix = rname if use_prefix else ""
        if root.is_dir():
            _walk(root, root, prefix, runs, problems, seen, ancestors=())
        else:
            name = f"{prefix}/{root.name}" if prefix else root.name
            found = classify(root.name)
            run = RunFiles(name=name, directory=str(root.parent))
            if found is None:
                # a single file with another name: read it by its content's likely kind
                kind = "vasprun" if root.name.lower().endswith((".xml", ".xml.gz")) else None
                if kind is None:
                    problems.append(
                        RunResult(
                            name,
                            root.name,
                            category=TREE_PROBLEM,
                            reason=f"{root.name}: not a VASP output file name (vasprun.xml, OUTCAR, OSZICAR, CONTCAR, POSCAR)",
                        )
                    )
                    continue
                run.add(kind, "", str(root))
            else:
                run.add(found[0], found[1], str(root))
            runs.append(run)
    runs.sort(key=lambda r: r.name)
    problems.sort(key=lambda r: r.run)
    return Discovery(runs, problems)


def _walk(
    folder: Path,
    root: Path,
    prefix: str,
    runs: list[RunFiles],
    problems: list[RunResult],
    seen: dict[str, str],
    ancestors: tuple[str, ...],
) -> None:
    name = _rel_name(folder, root, prefix)
    try:
        real = os.path.realpath(folder)
    except OSError as exc:
        problems.append(RunResult(name, "", category=TREE_PROBLEM, reason=f"cannot resolve: {exc}"))
        return
    if real in ancestors:
        problems.append(
            RunResult(
                name,
                "",
                category=TREE_PROBLEM,
                reason=f"symbolic link loop: {folder} points back to its ancestor {real}; not followed",
            )
        )
        return
    if real in seen:
        problems.append(
            RunResult(
                name,
                "",
                category=TREE_PROBLEM,
                reason=f"same folder as {seen[real]} (reached through a symbolic link); read once",
            )
        )
        return
    seen[real] = name
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        problems.append(
            RunResult(
                name,
                "",
                category=TREE_PROBLEM,
                reason=f"cannot list folder {folder}: {exc.strerror or exc}",
            )
        )
        return
    run = RunFiles(name=name, directory=str(folder))
    subdirs: list[Path] = []
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            is_dir = False
        if is_dir:
            subdirs.append(Path(entry.path))
            continue
        found = classify(entry.name)
        if found is not None:
            run.add(found[0], found[1], entry.path)
    if run.files:
        runs.append(run)
    for sub in subdirs:
        _walk(sub, root, prefix, runs, problems, seen, (*ancestors, real))


def read_runs(
    runs: Sequence[RunFiles],
    *,
    energy_kind: str = "sigma0",
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> list[RunResult]:
    """Read every run, in ``workers`` processes when there are enough runs.

    Args:
        runs: Run folders from :func:`discover`.
        energy_kind: ``"sigma0"`` or ``"free"``.
        workers: Processes to use (``None``: all cores). 1, or fewer than
            :data:`SERIAL_BELOW` runs, reads in this process.
        progress: Called as ``progress(done, total)`` after each run.

    Returns:
        One result per run, in the order of ``runs``.
    """
    total = len(runs)
    n_workers = workers if workers and workers > 0 else (os.cpu_count() or 1)
    n_workers = min(n_workers, total) if total else 1
    fn = partial(read_run, energy_kind=energy_kind)
    if n_workers <= 1 or total < SERIAL_BELOW:
        return list(_serial(runs, fn, progress, total))
    results: list[RunResult | None] = [None] * total
    done = 0
    try:
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            futures = {pool.submit(fn, run): i for i, run in enumerate(runs)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except BrokenProcessPool:
                    raise
                except Exception as exc:  # noqa: BLE001 - e.g. a result that does not pickle
                    results[i] = RunResult(
                        runs[i].name, "", category=INTERNAL, reason=f"worker failed: {exc!r}"
                    )
                done += 1
                if progress:
                    progress(done, total)
    except BrokenProcessPool as exc:
        logger.warning("a worker process died (%s); reading the remaining runs serially", exc)
        rest = [i for i, r in enumerate(results) if r is None]
        for i, res in zip(rest, _serial([runs[i] for i in rest], fn, None, len(rest)), strict=True):
            results[i] = res
            done += 1
            if progress:
                progress(done, total)
    return [r for r in results if r is not None]


def _serial(
    runs: Iterable[RunFiles],
    fn: Callable[[RunFiles], RunResult],
    progress: ProgressFn | None,
    total: int,
) -> Iterable[RunResult]:
    for done, run in enumerate(runs, start=1):
        yield fn(run)
        if progress:
            progress(done, total)
