"""``ingest`` core: VASP run trees → the lattice/energy table, its structures and rejections.

Outputs for ``-o table.csv``: ``table.csv`` (or ``.parquet``; see
:data:`dkluq_cli.vasp.result.ROW_COLUMNS`: lengths in Å, angles in degrees, volume in Å³,
energies in eV and eV/atom), ``table.extxyz`` (the final structure of each accepted run, with
``run`` in each frame's info) and ``table.rejected.csv`` (``run, source, category, reason``).
Rows are sorted by ``run`` so re-running over the same tree gives byte-identical files.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dkluq_cli.atomic import atomic_write, check_writable
from dkluq_cli.errors import DkluqError, InputError
from dkluq_cli.vasp.result import ENERGY_KINDS, ROW_COLUMNS, RunResult
from dkluq_cli.vasp.walk import ProgressFn, discover, read_runs

logger = logging.getLogger(__name__)

REJECTED_COLUMNS: tuple[str, ...] = ("run", "source", "category", "reason")


class NothingAcceptedError(DkluqError):
    """No run gave a row (the rejected-runs file was still written)."""


@dataclass
class OutputPaths:
    """The three files ingest writes."""

    table: Path
    extxyz: Path
    rejected: Path


def output_paths(output: str | os.PathLike[str]) -> OutputPaths:
    """Derive the sidecar names from the table name.

    Args:
        output: ``table.csv`` or ``table.parquet``.

    Returns:
        ``table.csv``, ``table.extxyz`` and ``table.rejected.csv`` (same folder).
    """
    table = Path(output)
    return OutputPaths(
        table, table.with_suffix(".extxyz"), table.with_name(f"{table.stem}.rejected.csv")
    )


def check_outputs(output: str | os.PathLike[str], *, force: bool = False) -> OutputPaths:
    """Check all three outputs can be written, before any parsing.

    Raises:
        OutputError: One exists (without ``force``) or the folder is not writable.
    """
    paths = output_paths(output)
    for p in (paths.table, paths.extxyz, paths.rejected):
        check_writable(p, force=force)
    return paths


@dataclass
class IngestResult:
    """Everything one ingest produced.

    Attributes:
        rows: Accepted rows, sorted by run.
        frames: ASE ``Atoms`` of the accepted rows, same order.
        rejected: Rejected ``{run, source, category, reason}``, sorted by run.
        energy_kind: ``"sigma0"`` or ``"free"``.
        warnings: One-line warnings for the user (e.g. mixed compositions).
    """

    rows: list[dict[str, Any]]
    frames: list[Any]
    rejected: list[dict[str, str]]
    energy_kind: str
    warnings: list[str] = field(default_factory=list)

    @property
    def compositions(self) -> Counter:
        """Reduced formula → accepted rows."""
        return Counter(r["formula"] for r in self.rows)

    @property
    def rejected_by_category(self) -> Counter:
        """Rejection category → count."""
        return Counter(r["category"] for r in self.rejected)


def ingest(
    paths: Sequence[str | os.PathLike[str]],
    *,
    energy_kind: str = "sigma0",
    include_unconverged: bool = False,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> IngestResult:
    """Walk ``paths``, read every run, split accepted rows from rejected runs.

    Args:
        paths: Folders (recursive) or single files.
        energy_kind: ``"sigma0"`` (energy(sigma→0), eV) or ``"free"`` (TOTEN, eV).
        include_unconverged: Keep unconverged runs (flags in ``converged_*``).
        workers: Worker processes (``None``: all cores).
        progress: ``progress(done, total)`` callback.

    Returns:
        The :class:`IngestResult`.

    Raises:
        InputError: No paths, a path missing, or an unknown energy kind.
    """
    if energy_kind not in ENERGY_KINDS:
        raise InputError(
            f"unknown energy kind {energy_kind!r}", hint=f"use one of {', '.join(ENERGY_KINDS)}"
        )
    if not paths:
        raise InputError("no input paths given", hint="give folders of VASP runs")
    found = discover(paths)
    logger.debug("found %d run folder(s), %d tree problem(s)", len(found.runs), len(found.problems))
    results = read_runs(found.runs, energy_kind=energy_kind, workers=workers, progress=progress)
    rows: list[tuple[dict[str, Any], Any]] = []
    rejected: list[RunResult] = list(found.problems)
    for res in results:
        if res.row is not None and (not res.unconverged or include_unconverged):
            rows.append((res.row, res.atoms))
        else:
            rejected.append(res)
    rows.sort(key=lambda ra: ra[0]["run"])
    rejected.sort(key=lambda r: (r.run, r.source))
    out = IngestResult(
        rows=[r for r, _ in rows],
        frames=[a for _, a in rows],
        rejected=[
            {
                "run": r.run,
                "source": r.source,
                "category": r.category or "",
                "reason": r.reason or "",
            }
            for r in rejected
        ],
        energy_kind=energy_kind,
    )
    comps = out.compositions
    if len(comps) > 1:
        listing = ", ".join(f"{f} ({n})" for f, n in sorted(comps.items()))
        out.warnings.append(
            f"the table mixes {len(comps)} compositions: {listing}; a model is trained per"
            " composition, so split the table (or ingest each system's folder) before training"
        )
    return out


def write_outputs(result: IngestResult, paths: OutputPaths, *, force: bool = False) -> list[Path]:
    """Write the rejected CSV, and the table and extxyz when any run was accepted.

    Args:
        result: From :func:`ingest`.
        paths: From :func:`check_outputs`.
        force: Replace existing files.

    Returns:
        The files written.

    Raises:
        NothingAcceptedError: No run was accepted (after writing the rejected CSV).
    """
    import pandas as pd

    from dkluq_cli.table import write_table

    written: list[Path] = []
    rej = pd.DataFrame(result.rejected, columns=list(REJECTED_COLUMNS))
    with atomic_write(paths.rejected, force=force) as tmp:
        rej.to_csv(tmp, index=False, lineterminator="\n")
    written.append(paths.rejected)
    if not result.rows:
        raise NothingAcceptedError(
            f"no run was accepted ({len(result.rejected)} rejected; reasons in {paths.rejected})",
            hint="see the reasons; --include-unconverged keeps unconverged runs",
        )
    table = pd.DataFrame(result.rows, columns=list(ROW_COLUMNS))
    write_table(table, paths.table, force=force)
    written.append(paths.table)
    _write_extxyz(result.frames, paths.extxyz, force=force)
    written.append(paths.extxyz)
    return written


def _write_extxyz(frames: list[Any], path: Path, *, force: bool) -> None:
    import ase.io

    with atomic_write(path, force=force) as tmp:
        ase.io.write(str(tmp), frames, format="extxyz")
