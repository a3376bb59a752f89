"""Read one VASP run folder into one table row, or one rejection with a one-line reason.

Source order, most trustworthy first: ``vasprun.xml`` (:mod:`.vasprun`), then ``OUTCAR``
(:mod:`.outcar`), then ``OSZICAR`` (:mod:`.oszicar`, with the structure from the CONTCAR, or
the POSCAR of a static run). A later source is tried only when an earlier one cannot be read at
all; a source that reads but is unconverged is the answer. The reported energy and structure are
those of the last *complete* ionic step. The convergence rules are in :mod:`.convergence`.
Energies are in eV, lengths in Å, angles in degrees.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dkluq_cli.errors import one_line
from dkluq_cli.ingest.vasp.files import ENERGY_SOURCES, RunFiles
from dkluq_cli.ingest.vasp.oszicar import read_oszicar
from dkluq_cli.ingest.vasp.outcar import read_outcar
from dkluq_cli.ingest.vasp.result import (
    ENERGY_KINDS,
    INTERNAL,
    NO_SOURCE,
    Parsed,
    Reject,
    RunResult,
    make_result,
)
from dkluq_cli.ingest.vasp.vasprun import read_vasprun

logger = logging.getLogger(__name__)


def read_run(run: RunFiles, energy_kind: str = "sigma0", cross_check: bool = False) -> RunResult:
    """Read one run folder: the best source that can be read gives the row.

    Args:
        run: The files found in the folder.
        energy_kind: ``"sigma0"`` (energy(sigma→0)) or ``"free"`` (TOTEN).
        cross_check: Compare pymatgen's reading of every vasprun.xml, CONTCAR and POSCAR with
            ASE's (OUTCARs are always read by both: pymatgen has no structure for them).

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
        return RunResult(run.name, "", category=INTERNAL, reason=f"internal error: {one_line(exc)}")


def _read_source(
    kind: str, run: RunFiles, path: Path, energy_kind: str, cross_check: bool
) -> Parsed:
    reader = {"vasprun": read_vasprun, "OUTCAR": read_outcar}.get(kind, read_oszicar)
    return reader(run, path, energy_kind, cross_check)


def _read_run(run: RunFiles, energy_kind: str, cross_check: bool) -> RunResult:
    failures: list[tuple[str, str, str]] = []
    for kind in ENERGY_SOURCES:
        path = run.pick(kind)
        if path is None:
            continue
        try:
            parsed = _read_source(kind, run, path, energy_kind, cross_check)
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
