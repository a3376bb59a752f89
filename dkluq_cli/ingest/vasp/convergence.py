"""Convergence rules shared by every reader.

* electronic: the reported ionic step used NELM electronic iterations (VASP stopped without
  reaching EDIFF); for an OSZICAR source also a final ``dE`` larger than EDIFF.
* ionic: a static run (NSW ≤ 1 or IBRION = -1) is converged; a relaxation or MD run (NSW > 1,
  IBRION ≥ 0) is converged only when it ended on its own before NSW ("reached required
  accuracy" in the OUTCAR; for a vasprun.xml: complete XML with fewer than NSW steps, confirmed
  by the OUTCAR next to it when there is one). MD runs never reach a required accuracy, so
  their final frame is flagged ionically unconverged. This is stricter than pymatgen's
  ``Vasprun.converged_ionic``, which accepts MD runs and EDIFFG = 0 runs that reach NSW.
"""

from __future__ import annotations

from pathlib import Path

from dkluq_cli.ingest.vasp.files import RunFiles, load


def ionic_check(
    nsw: int, ibrion: int, n_steps: int, *, ended_itself: bool | None, how: str
) -> tuple[bool, str | None]:
    """Apply the ionic convergence rule.

    Args:
        nsw: NSW.
        ibrion: IBRION.
        n_steps: Complete ionic steps.
        ended_itself: ``True`` when the run reached its required accuracy, ``False`` when it
            did not, ``None`` when the file cannot tell (and it ended before NSW).
        how: Phrase saying how the run ended when ``ended_itself`` is false.

    Returns:
        ``(converged, problem)``.
    """
    if nsw <= 1 or ibrion == -1:
        return True, None
    if ibrion == 0:
        return False, (
            f"ionic: molecular dynamics (IBRION=0, NSW={nsw}) never reaches a required accuracy;"
            f" {n_steps} steps run"
        )
    if ended_itself:
        return True, None
    if n_steps >= nsw:
        return False, (
            f"ionic: NSW={nsw} reached without 'reached required accuracy' (IBRION={ibrion})"
        )
    if ended_itself is None:
        return True, None
    return False, f"ionic: {how} after {n_steps} complete ionic step(s) of NSW={nsw}"


def nelm_problem(n_elec: int, nelm: int) -> str:
    """The problem line of a final ionic step that used all NELM electronic iterations."""
    return (
        f"electronic: final ionic step used {n_elec} of NELM={nelm} iterations without reaching"
        " EDIFF"
    )


def outcar_electronic(
    iterations: list[tuple[str, str, str]], n_steps: int, nelm: int
) -> tuple[bool, str | None]:
    """Electronic convergence of an OUTCAR's last complete ionic step.

    Args:
        iterations: In file order, ``(ionic step, electronic step, "")`` for each
            ``Iteration  N(  M)`` line and ``("", "", text)`` for each "aborting loop because
            EDIFF is reached" line (empty groups may read ``"None"``).
        n_steps: Complete ionic steps.
        nelm: NELM.

    Returns:
        ``(converged, problem)``.
    """
    n_elec = 0
    current, reached_ediff = 0, set()
    for ion, elec, aborted in iterations:
        if aborted not in ("", "None"):
            reached_ediff.add(current)
            continue
        current = int(ion)
        if current == n_steps:
            n_elec = max(n_elec, int(elec))
    # VASP may reach EDIFF on iteration NELM itself; it then says so
    conv_el = n_elec < nelm or n_steps in reached_ediff
    return conv_el, None if conv_el else nelm_problem(n_elec, nelm)


def vasprun_ionic(
    run: RunFiles,
    path: Path,
    *,
    complete: bool,
    n_steps: int,
    nsw: int,
    ibrion: int,
    damage: str | None = None,
) -> tuple[bool, str | None]:
    """Ionic convergence of a run read from its vasprun.xml.

    A truncated XML was killed part-way; a damaged one (malformed before its end) was read only
    up to the damage, so whether the run ended is unknown. A complete relaxation that stopped
    before NSW is confirmed by "reached required accuracy" in the OUTCAR next to it (same
    suffix) when that OUTCAR can be read; without one it is taken as converged.

    Args:
        run: The run's files.
        path: The vasprun.xml.
        complete: Whether the XML ends with ``</modeling>``.
        n_steps: Complete ionic steps.
        nsw: NSW.
        ibrion: IBRION.
        damage: Where a damaged XML breaks (``"line 528 (...)"``), or ``None``.

    Returns:
        ``(converged, problem)``.
    """
    ended: bool | None = None
    how = "stopped"
    if damage:
        ended, how = False, f"vasprun.xml damaged at {damage}, read up to there,"
    elif not complete:
        ended, how = False, "killed part-way (vasprun.xml truncated)"
    elif n_steps < nsw and ibrion > 0:
        outcar = run.pick("OUTCAR", prefer_suffix=run.suffix_of(path))
        data = load(outcar)[0] if outcar is not None else None
        if data is not None:
            ended = b"reached required accuracy" in data
            how = "stopped (no 'reached required accuracy' in OUTCAR)"
    return ionic_check(nsw, ibrion, n_steps, ended_itself=ended, how=how)
