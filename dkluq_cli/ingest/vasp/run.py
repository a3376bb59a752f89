"""Read one VASP run folder into one table row, or one rejection with a one-line reason.

Source order, most trustworthy first: ``vasprun.xml``, then ``OUTCAR``, then ``OSZICAR`` (with
the structure from the CONTCAR, or the POSCAR of a static run). A later source is tried only
when an earlier one cannot be read at all; a source that reads but is unconverged is the
answer. The reported energy and structure are those of the last *complete* ionic step. The
convergence rules are in :mod:`dkluq_cli.ingest.vasp.convergence`. Energies are in eV, lengths in Å,
angles in degrees.

Each vasprun.xml and OUTCAR is first read in one pass by dkluq's own reader
(:mod:`dkluq_cli.ingest.vasp.vasprun`, :mod:`dkluq_cli.ingest.vasp.outcar`), which hands any file it is not
sure of (killed runs, unusual layouts) to the cross-checked reading of
:mod:`dkluq_cli.ingest.vasp.crosscheck` (pymatgen against ASE); ``cross_check=True`` uses the
cross-checked reading for every file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dkluq_cli.ingest.vasp.crosscheck import read_outcar_checked, read_vasprun_checked
from dkluq_cli.ingest.vasp.files import RunFiles, _one_line
from dkluq_cli.ingest.vasp.oszicar import read_oszicar
from dkluq_cli.ingest.vasp.outcar import read_outcar_fast
from dkluq_cli.ingest.vasp.result import (
    ENERGY_KINDS,
    INTERNAL,
    NO_SOURCE,
    Parsed,
    Reject,
    RunResult,
    Unsure,
    make_result,
)
from dkluq_cli.ingest.vasp.vasprun import read_vasprun_fast

logger = logging.getLogger(__name__)

_READERS = (
    ("vasprun", read_vasprun_fast, read_vasprun_checked),
    ("OUTCAR", read_outcar_fast, read_outcar_checked),
    ("OSZICAR", None, read_oszicar),
)


def read_run(run: RunFiles, energy_kind: str = "sigma0", cross_check: bool = False) -> RunResult:
    """Read one run folder: the best source that can be read gives the row.

    Args:
        run: The files found in the folder.
        energy_kind: ``"sigma0"`` (energy(sigma→0)) or ``"free"`` (TOTEN).
        cross_check: Read every file with both pymatgen and ASE (slower; same results on
            every file the single-pass readers accept).

    Returns:
        A :class:`RunResult` with a row (possibly with convergence problems) or a rejection.
        Never raises for bad input: every failure is a reason.
    """
    if energy_kind not in ENERGY_KINDS:
        raise ValueError(f"energy_kind must be one of {ENERGY_KINDS}, not {energy_kind!r}")
    try:
        return _read_run(run, energy_kind, cross_check)
    except Exception as exc:
        logger.debug("internal error reading %s", run.directory, exc_info=True)
        return RunResult(
            run.name, "", category=INTERNAL, reason=f"internal error: {_one_line(exc)}"
        )


def _read_source(fast, checked, run: RunFiles, path: Path, energy_kind: str) -> Parsed:
    if fast is not None:
        try:
            return fast(run, path, energy_kind)
        except Unsure as why:
            logger.debug("%s: cross-checking %s (%s)", run.name, path.name, why)
    return checked(run, path, energy_kind)


def _read_run(run: RunFiles, energy_kind: str, cross_check: bool) -> RunResult:
    failures: list[tuple[str, str, str]] = []
    for kind, fast, checked in _READERS:
        path = run.pick(kind)
        if path is None:
            continue
        try:
            parsed = _read_source(None if cross_check else fast, checked, run, path, energy_kind)
        except Reject as rej:
            failures.append((path.name, rej.category, rej.reason))
            logger.debug("%s: %s unusable: %s", run.name, path.name, rej.reason)
            continue
        if failures:
            logger.info(
                "%s: used %s (%s)", run.name, parsed.source, "; ".join(f[2] for f in failures)
            )
        return make_result(run.name, parsed, energy_kind)
    if failures:
        return RunResult(
            run.name,
            failures[0][0],
            category=failures[0][1],
            reason="; ".join(f[2] for f in failures),
        )
    present = sorted(Path(p).name for found in run.files.values() for _, p in found)
    return RunResult(
        run.name,
        ",".join(present),
        category=NO_SOURCE,
        reason=f"no vasprun.xml, OUTCAR or OSZICAR (only {', '.join(present)}): no energy",
    )
