"""``ingest`` core: VASP run trees → the lattice/energy table, its structures and rejections.

Outputs for ``-o table.csv``: ``table.csv`` (or ``.parquet``; see
:data:`dkluq_cli.ingest.vasp.result.ROW_COLUMNS`: lengths in Å, angles in degrees, volume in Å³,
energies in eV and eV/atom), ``table.extxyz`` (the final structure of each accepted run, with
``run`` in each frame's info), ``table.rejected.csv`` (``run, source, category, reason``) and
``table.ingest.jsonl.gz`` (:mod:`dkluq_cli.ingest.update_cache`), from which the next
``--update`` reuses every run whose files did not change. Rows are sorted by ``run``, so
re-running over the same tree, reusing runs or not, on any scheduler, gives byte-identical files.
:func:`write_outputs` writes them all.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import Any

from dkluq_cli import __version__
from dkluq_cli.crystal.parent import SYMPREC, ParentCrystal, parent_crystal
from dkluq_cli.crystal.table_reference import (
    reference_file,
    reusable_reference,
    write_reference,
)
from dkluq_cli.data.output import atomic_write, check_writable
from dkluq_cli.data.table import write_table
from dkluq_cli.errors import DkluqError, InputError
from dkluq_cli.ingest.dispatch import ProgressFn, ReadSettings, ReadStats, read_tree
from dkluq_cli.ingest.executors import check_scheduler
from dkluq_cli.ingest.store import ResultStore, Selection
from dkluq_cli.ingest.update_cache import header, read_sidecar, sidecar_path, write_sidecar
from dkluq_cli.ingest.vasp.result import ENERGY_KINDS, ROW_COLUMNS
from dkluq_cli.ingest.walk import discover

logger = logging.getLogger(__name__)

REJECTED_COLUMNS: tuple[str, ...] = ("run", "source", "category", "reason")
CSV_CHUNK_ROWS = 2_000
"""Rows handed to pandas at a time when writing a CSV file."""


class NothingAcceptedError(DkluqError):
    """No run gave a row (the rejected-runs file was still written)."""


@dataclass
class OutputPaths:
    """The files ingest writes.

    Attributes:
        table: ``table.csv`` or ``table.parquet``.
        extxyz: ``table.extxyz``.
        rejected: ``table.rejected.csv``.
        sidecar: ``table.ingest.jsonl.gz``, written by every ingest, read by ``--update``.
        update: Replace the outputs of a previous ingest without ``--force``.
        reference: ``table.reference.vasp``, the parent crystal, written when the accepted
            runs share one composition.
    """

    table: Path
    extxyz: Path
    rejected: Path
    sidecar: Path
    update: bool = False
    reference: Path | None = None


def output_paths(output: str | os.PathLike[str], *, update: bool = False) -> OutputPaths:
    """Derive the other names from the table name.

    Args:
        output: ``table.csv`` or ``table.parquet``.
        update: The outputs of a previous ingest are to be replaced (``--update``).

    Returns:
        ``table.csv``, ``table.extxyz``, ``table.rejected.csv`` and ``table.ingest.jsonl.gz``.
    """
    table = Path(output)
    return OutputPaths(
        table,
        table.with_suffix(".extxyz"),
        table.with_name(f"{table.stem}.rejected.csv"),
        sidecar_path(table),
        update,
        reference_file(table),
    )


def check_outputs(
    output: str | os.PathLike[str], *, force: bool = False, update: bool = False
) -> OutputPaths:
    """Check all outputs can be written, before any parsing (``update`` may replace them).

    The sidecar is a record of what was read, not a result: it is always replaced.

    Raises:
        OutputError: One exists (without ``force`` or ``update``) or the folder is not writable.
    """
    paths = output_paths(output, update=update)
    for p in (paths.table, paths.extxyz, paths.rejected, paths.reference):
        if p is not None:
            check_writable(p, force=force or update)
    check_writable(paths.sidecar, force=True)
    return paths


@dataclass
class IngestResult:
    """Everything one ingest produced, kept in a temporary store until :meth:`close`.

    Attributes:
        store: The records (outputs are streamed from it).
        energy_kind: ``"sigma0"`` or ``"free"``.
        keep: Which readings are rows (unconverged ones? one composition?).
        stats: Runs found, reused, read; tree problems; where they were read.
        sidecar_header: What the ``--update`` sidecar records the results depend on.
        warnings: One-line warnings for the user (e.g. mixed compositions).
    """

    store: ResultStore
    energy_kind: str
    keep: Selection
    stats: ReadStats
    sidecar_header: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    parent_line: str | None = None
    """The parent crystal's description once :func:`write_outputs` wrote (or kept) its POSCAR."""

    @cached_property
    def _counts(self) -> tuple[int, Counter, Counter]:
        return self.store.counts(self.keep)

    @property
    def n_rows(self) -> int:
        """Accepted rows."""
        return self._counts[0]

    @property
    def rejected_by_category(self) -> Counter:
        """Rejection category → count."""
        return self._counts[1]

    @property
    def n_rejected(self) -> int:
        """Rejected runs (and tree problems)."""
        return sum(self._counts[1].values())

    @property
    def compositions(self) -> Counter:
        """Reduced formula → accepted rows."""
        return self._counts[2]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Accepted rows, sorted by run."""
        return [row for row, _ in self.store.rows(self.keep)]

    @property
    def frames(self) -> list[Any]:
        """ASE ``Atoms`` of the accepted rows, same order (as read back from the extxyz)."""
        import io

        import ase.io

        text = "".join(xyz for _, xyz in self.store.rows(self.keep))
        return ase.io.read(io.StringIO(text), index=":", format="extxyz") if text else []

    @cached_property
    def parent(self) -> ParentCrystal | None:
        """The parent crystal of the accepted runs when they share one composition
        (:func:`dkluq_cli.crystal.parent.parent_crystal`), else None."""
        if len(self.compositions) != 1:
            return None
        from pymatgen.io.ase import AseAtomsAdaptor

        frames = self.frames
        energies = [float(a.info.get("energy_eV", "nan")) for a in frames]
        structures = [AseAtomsAdaptor.get_structure(a) for a in frames]
        return parent_crystal(structures, "the ingested runs", energies)

    @cached_property
    def frames_key(self) -> str:
        """A digest of what the parent crystal is computed from: the accepted runs' frames
        (structures and energies), the symmetry tolerance and the dkluq version."""
        digest = hashlib.sha256(f"dkluq {__version__} symprec {SYMPREC}\n".encode())
        for _, xyz in self.store.rows(self.keep):
            digest.update(xyz.encode())
        return digest.hexdigest()[:16]

    @property
    def rejected(self) -> list[dict[str, str]]:
        """Rejected ``{run, source, category, reason}``, sorted by run."""
        return list(self.store.rejected(self.keep))

    def close(self) -> None:
        """Remove the temporary store."""
        self.store.close()


def reduced_formula(formula: str) -> str:
    """``formula`` as pymatgen's reduced formula (``"Sr2Ti2O6"`` → ``"SrTiO3"``).

    Raises:
        InputError: Not a chemical formula.
    """
    from pymatgen.core.composition import Composition

    try:
        comp = Composition(formula)
    except (ValueError, KeyError, TypeError):
        comp = None
    if comp is None or not comp.valid or not comp.reduced_formula:
        raise InputError(
            f"--formula {formula!r} is not a chemical formula", hint="give one like SrTiO3"
        )
    return comp.reduced_formula


def ingest(
    paths: Sequence[str | os.PathLike[str]],
    *,
    energy_kind: str = "sigma0",
    include_unconverged: bool = False,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    scheduler: str = "processes",
    cross_check: bool = False,
    reuse: str | os.PathLike[str] | None = None,
    formula: str | None = None,
) -> IngestResult:
    """Walk ``paths``, read every run, split accepted rows from rejected runs.

    Args:
        paths: Folders (recursive) or single files.
        energy_kind: ``"sigma0"`` (energy(sigma→0), eV) or ``"free"`` (TOTEN, eV).
        include_unconverged: Keep unconverged runs (flags in ``converged_*``).
        workers: Worker processes (``None``: all cores).
        progress: ``progress(done, found)`` callback.
        scheduler: ``"processes"``, ``"dask"`` or a Dask scheduler address.
        cross_check: Read every file with both pymatgen and ASE.
        reuse: An ``--update`` sidecar; runs whose files are unchanged are taken from it.
        formula: Keep the runs of this composition only (any formula of it: ``Sr2Ti2O6``);
            the others are rejected with category ``composition``.

    Returns:
        The :class:`IngestResult` (call :meth:`IngestResult.close` when done).

    Raises:
        InputError: No paths, a path missing, an unknown energy kind, or a bad formula.
        SchedulerError: The scheduler cannot be used.
    """
    if energy_kind not in ENERGY_KINDS:
        raise InputError(
            f"unknown energy kind {energy_kind!r}", hint=f"use one of {', '.join(ENERGY_KINDS)}"
        )
    if not paths:
        raise InputError("no input paths given", hint="give folders of VASP runs")
    check_scheduler(scheduler)
    keep = Selection(include_unconverged, None if formula is None else reduced_formula(formula))
    found = discover(paths)
    head = header(energy_kind, cross_check)
    store = ResultStore()
    try:
        entries = read_sidecar(Path(reuse), head) if reuse is not None else None
        cached = store.load_cache(entries) if entries is not None else 0
        settings = ReadSettings(energy_kind, cross_check, scheduler, workers)
        stats = read_tree(found, store, settings, use_cache=cached > 0, progress=progress)
    except BaseException:
        store.close()
        raise
    logger.debug(
        "found %d run folder(s): %d reused, %d read (%s); %d tree problem(s)",
        stats.found,
        stats.reused,
        stats.read,
        stats.executor,
        stats.problems,
    )
    out = IngestResult(store, energy_kind, keep, stats, head)
    comps = out.compositions
    if len(comps) > 1:
        listing = ", ".join(f"{f} ({n})" for f, n in sorted(comps.items()))
        out.warnings.append(
            f"the table mixes {len(comps)} compositions: {listing}; a model is trained per"
            f" composition: --formula keeps one (e.g. --formula {comps.most_common(1)[0][0]})"
        )
    return out


def write_outputs(result: IngestResult, paths: OutputPaths, *, force: bool = False) -> list[Path]:
    """Write every output: the rejected CSV and the sidecar, then the table and extxyz when any
    run was accepted.

    Args:
        result: From :func:`ingest`.
        paths: From :func:`check_outputs`.
        force: Replace existing files.

    Returns:
        The files written.

    Raises:
        NothingAcceptedError: No run was accepted (after writing the rejected CSV and sidecar).
    """
    replace = force or paths.update
    keep = result.keep
    write_csv(paths.rejected, REJECTED_COLUMNS, result.store.rejected(keep), force=replace)
    write_sidecar(paths.sidecar, result.sidecar_header, result.store.records())
    written = [paths.rejected, paths.sidecar]
    if not result.n_rows:
        raise NothingAcceptedError(
            f"no run was accepted ({result.n_rejected} rejected; reasons in {paths.rejected})",
            hint=_nothing_hint(result),
        )
    _write_table(result, paths.table, force=replace)
    with atomic_write(paths.extxyz, force=replace) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for _, xyz in result.store.rows(keep):
            fh.write(xyz)
    written = [*written, paths.table, paths.extxyz]
    if paths.reference is not None and len(result.compositions) == 1:
        key = result.frames_key
        kept = reusable_reference(paths.reference, key) if paths.update else None
        if kept is not None:
            result.parent_line = kept
            written.append(paths.reference)
        elif (parent := result.parent) is not None:
            written.append(write_reference(parent, paths.reference, key))
            result.parent_line = parent.describe()
    return written


def _nothing_hint(result: IngestResult) -> str:
    if result.keep.formula is not None:
        found = result.store.counts(Selection(result.keep.include_unconverged))[2]
        if found:
            listing = ", ".join(f"{f} ({n})" for f, n in sorted(found.items()))
            return f"no run is {result.keep.formula}; the runs read are {listing}"
    return "see the reasons; --include-unconverged keeps unconverged runs"


def _write_table(result: IngestResult, path: Path, *, force: bool) -> None:
    rows = (row for row, _ in result.store.rows(result.keep))
    if path.suffix.lower() == ".parquet":
        import pandas as pd

        write_table(pd.DataFrame(list(rows), columns=list(ROW_COLUMNS)), path, force=force)
        return
    write_csv(path, ROW_COLUMNS, rows, force=force)


def write_csv(
    path: Path,
    columns: Sequence[str],
    rows: Iterable[dict[str, Any]],
    *,
    force: bool,
    chunk_rows: int = CSV_CHUNK_ROWS,
) -> None:
    """Write ``rows`` as CSV with pandas (``to_csv(index=False, lineterminator="\\n")``),
    ``chunk_rows`` rows at a time, atomically."""
    import pandas as pd

    rows = iter(rows)
    with atomic_write(path, force=force) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        first = True
        while (chunk := list(islice(rows, chunk_rows))) or first:
            frame = pd.DataFrame(chunk, columns=list(columns))
            frame.to_csv(fh, index=False, header=first, lineterminator="\n")
            first = False
