"""Single-pass reader of OUTCAR: the file decompressed and decoded once, scanned as text.

What the cross-checked reading (:func:`~dkluq_cli.ingest.vasp.crosscheck.read_outcar_checked`) takes
from pymatgen's ``Outcar`` (the final energies, the STOPCAR flag, the final timing) and from its
``read_pattern`` (NSW, IBRION, NELM, the electronic iterations, the complete ionic steps,
"reached required accuracy", the version) is found here by the same regular expressions on the
same text, without the rest of ``Outcar`` (magnetisation, DFPT, NMR, ... tables). The structure
still comes from ASE's ``vasp-out`` reader, fed the text already in memory; when ASE cannot read
it, the neighbouring CONTCAR/POSCAR as before.

The reader gives up (:class:`~dkluq_cli.ingest.vasp.result.Unsure`) on what it does not handle
exactly as pymatgen does: an unreadable or non-UTF-8 file, line breaks other than ``\\n``,
``\\r\\n`` or ``\\r``, DFPT, dielectric, polarisation, NMR and on-site density-matrix runs, a
missing NBANDS or NPLWV line, or a number in the lines it reads that does not parse. pymatgen's
tables of charges and magnetisation are not parsed: an OUTCAR corrupted only there is read
here, where pymatgen would fail. Energies in eV.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from dkluq_cli.ingest.vasp.crosscheck import outcar_end, outcar_parsed
from dkluq_cli.ingest.vasp.files import RunFiles, load
from dkluq_cli.ingest.vasp.outcar_text import patterns, tail_scan, would_fail
from dkluq_cli.ingest.vasp.parsers import ase_images
from dkluq_cli.ingest.vasp.result import Parsed, Unsure

# str.splitlines() also breaks at these; pymatgen reads lines that way, ASE does not
_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


class _NamedText(io.StringIO):
    """Text in memory that ASE can read as the file it came from (ASE reads the folder's
    CONTCAR/POSCAR for constraints, as it does for the file on disk)."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name


def read_outcar_fast(run: RunFiles, path: Path, energy_kind: str) -> Parsed:
    """Read an OUTCAR in one pass (energies and flags from its text, the structure by ASE).

    Args:
        run: The run's files (for a CONTCAR/POSCAR when ASE cannot give the structure).
        path: The OUTCAR.
        energy_kind: ``"sigma0"`` or ``"free"``.

    Returns:
        The reading, identical to :func:`~dkluq_cli.ingest.vasp.crosscheck.read_outcar_checked`'s.

    Raises:
        Unsure: Hand the file to the cross-checked reader.
        Reject: No complete ionic step, no structure, or pymatgen's and ASE's energies differ.
    """
    data, cause = load(path)
    if data is None:
        raise Unsure(cause or "unreadable")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unsure("not UTF-8") from exc
    del data
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as a text-mode read sees it
    if _OTHER_BREAKS.search(text):
        raise Unsure("line breaks other than \\n")
    try:
        tail = tail_scan(text)
        why = would_fail(text)
    except (ValueError, IndexError) as exc:
        raise Unsure(f"pymatgen would fail: {exc}") from exc
    if why:
        raise Unsure(why)
    return outcar_parsed(
        run,
        path,
        energy_kind,
        raw=tail["e_0"] if energy_kind == "sigma0" else tail["e_fr"],
        data=patterns(text),
        end=outcar_end(tail["stopped"], tail["run_stats"]),
        images=lambda: ase_images(_NamedText(text, str(path)), "vasp-out"),
    )
