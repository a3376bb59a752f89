"""Single-pass reader of OUTCAR: the file decompressed and decoded once, scanned as text.

What the cross-checked reading (:func:`~dkluq_cli.vasp.crosscheck.read_outcar_checked`) takes
from pymatgen's ``Outcar`` (the final energies, the STOPCAR flag, the final timing) and from its
``read_pattern`` (NSW, IBRION, NELM, the electronic iterations, the complete ionic steps,
"reached required accuracy", the version) is found here by the same regular expressions on the
same text, without the rest of ``Outcar`` (magnetisation, DFPT, NMR, ... tables). The structure
still comes from ASE's ``vasp-out`` reader, fed the text already in memory; when ASE cannot read
it, the neighbouring CONTCAR/POSCAR as before.

The reader gives up (:class:`~dkluq_cli.vasp.vasprun.Unsure`) on what it does not handle
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

from dkluq_cli.vasp.crosscheck import OUTCAR_PATTERNS, outcar_end, outcar_parsed
from dkluq_cli.vasp.files import RunFiles, load
from dkluq_cli.vasp.parsers import ase_images
from dkluq_cli.vasp.result import Parsed
from dkluq_cli.vasp.vasprun import Unsure

# str.splitlines() also breaks at these; pymatgen reads lines that way, ASE does not
_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_TIME = re.compile(r"\((sec|kb)\)")
_EFERMI = re.compile(r"E-fermi\s*:\s*(\S+)")
_NELECT = re.compile(r"number of electron\s+(\S+)\s+magnetization")
_MAG = re.compile(r"number of electron\s+\S+\s+magnetization\s+(\S+)")
_E_FR = re.compile(r"free  energy   TOTEN\s+=\s+([\d\-\.]+)")
_E_WO = re.compile(r"energy  without entropy\s*=\s+([\d\-\.]+)")
_E_0 = re.compile(r"energy\(sigma->0\)\s*=\s+([\d\-\.]+)")
_REQUIRED = {
    "nbands": r"number\s+of\s+bands\s+NBANDS=\s+(\d+)",
    "nplwv": r"total plane-waves  NPLWV =\s+(\*{6}|\d+)",
}
_DFPT = r"IBRION =\s+([\-\d]+)"
# runs whose extra tables pymatgen's Outcar parses (and may fail on): left to it
_SPECIAL = (
    r"LEPSILON\s*=\s*T",
    r"LCALCPOL\s*=\s*T",
    r"LCHIMAG\s*=\s*(T)",
    r"NMR quadrupolar parameters",
    r"onsite density matrix",
)
_DRIFT = r"total drift:\s+([\.\-\d]+)\s+([\.\-\d]+)\s+([\.\-\d]+)"
_CONTRIBS = (
    *(
        rf"{key}\s+=\s+([\d\-\.]+)"
        for key in ("PSCENC", "TEWEN", "DENC", "EXHF", "XCENC", "EENTRO", "EBANDS", "EATOM")
    ),
    r"Ediel_sol\s+=\s+([\d\-\.]+)",
    r"PAW double counting\s+=\s+([\.\-\d]+)\s+([\.\-\d]+)",
)


class _NamedText(io.StringIO):
    """Text in memory that ASE can read as the file it came from (ASE reads the folder's
    CONTCAR/POSCAR for constraints, as it does for the file on disk)."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name


def _in_line(pattern: str) -> re.Pattern:
    """``pattern`` for a whole text, matching within one line as it does on each line alone."""
    return re.compile(pattern.replace(r"\s", r"[^\S\n]"), re.MULTILINE)


_PATTERNS = {key: _in_line(p) for key, p in OUTCAR_PATTERNS.items()}
_REQUIRED_RE = {key: _in_line(p) for key, p in _REQUIRED.items()}
_DFPT_RE = _in_line(_DFPT)
_SPECIAL_RE = tuple(_in_line(p) for p in _SPECIAL)
_DRIFT_RE = _in_line(_DRIFT)
_NGF_RE = _in_line(
    r"\s+dimension x,y,z NGXF=\s+([\.\-\d]+)\sNGYF=\s+([\.\-\d]+)\sNGZF=\s+([\.\-\d]+)"
)
_RADII_RE = _in_line(r"the test charge radii are((?:\s+[\.\-\d]+)+)")
_CONTRIBS_RE = tuple(_in_line(p) for p in _CONTRIBS)


def _line_matches(pattern: re.Pattern, text: str) -> list[re.Match]:
    """The first match on each line, in file order (what a per-line ``search`` finds)."""
    out: list[re.Match] = []
    last_line = -2
    for m in pattern.finditer(text):
        line = text.rfind("\n", 0, m.start())
        if line != last_line:
            out.append(m)
            last_line = line
    return out


def _reversed_lines(text: str):
    end = len(text)
    while end >= 0:
        start = text.rfind("\n", 0, end) + 1
        yield text[start:end]
        end = start - 1


def _tail_scan(text: str) -> dict:
    """pymatgen ``Outcar``'s backward scan: final energies, STOPCAR flag, timing (eV, s)."""
    stats: dict[str, float | None] = {}
    found: dict = {"e_fr": None, "e_wo": None, "e_0": None, "stopped": False}
    nelect = mag = efermi = None
    for line in _reversed_lines(text):
        clean = line.strip()
        if clean.find("soft stop encountered!  aborting job") != -1:
            found["stopped"] = True
        else:
            if _TIME.search(line):
                tok = line.strip().split(":")
                try:
                    stats[tok[0].strip()] = float(tok[1].strip())
                except ValueError:
                    stats[tok[0].strip()] = None
                continue
            if m := _EFERMI.search(clean):
                try:
                    efermi = float(m[1])
                except ValueError:
                    efermi = None
                continue
            if m := _NELECT.search(clean):
                nelect = float(m[1])
            if m := _MAG.search(clean):
                mag = float(m[1])
            for key, pattern in (("e_fr", _E_FR), ("e_wo", _E_WO), ("e_0", _E_0)):
                if found[key] is None and (m := pattern.search(clean)):
                    found[key] = float(m[1])
        if nelect is not None and mag is not None and efermi is not None and stats:
            break
    found["run_stats"] = stats
    return found


def _would_fail(text: str) -> str | None:
    """Why pymatgen's ``Outcar`` would raise on parts of the file the row does not use.

    Raises:
        ValueError, IndexError: Where pymatgen would raise them.
    """
    for key, pattern in _REQUIRED_RE.items():
        if pattern.search(text) is None:
            return f"no {key} line"
    for pattern in _SPECIAL_RE:
        if pattern.search(text):
            return f"a special run ({pattern.pattern})"
    dfpt = _DFPT_RE.search(text)
    if dfpt is None or int(dfpt[1]) > 6:
        return "no IBRION line, or a DFPT run (IBRION > 6)"
    for m in _DRIFT_RE.finditer(text):
        [float(g) for g in m.groups()]
    if "average (electrostatic) potential at core" in text:
        ngf, radii = _line_matches(_NGF_RE, text), _line_matches(_RADII_RE, text)
        if not ngf or not radii:
            return "an electrostatic potential without its grid or radii"
        [int(g) for m in ngf for g in m.groups()]
        [float(t) for t in radii[-1][1].split()]
    for pattern in _CONTRIBS_RE:
        found = _line_matches(pattern, text)
        if found:
            [float(g) for g in found[-1].groups()]
    serial, running = text.find("serial"), text.find("running")
    if running >= 0 and (serial < 0 or running < serial):  # pymatgen reads the core count
        start, end = text.rfind("\n", 0, running) + 1, text.find("\n", running)
        line = text[start : end if end >= 0 else len(text)]
        if "serial" not in line:
            parts = line.split()
            int(parts[2] if parts[1] == "on" else parts[1])
    return None


def _patterns(text: str) -> dict[str, list[list[str]]]:
    """The matches of :data:`~dkluq_cli.vasp.crosscheck.OUTCAR_PATTERNS`, as ``read_pattern``."""
    return {
        key: [[str(g) for g in m.groups()] for m in _line_matches(pattern, text)]
        for key, pattern in _PATTERNS.items()
    }


def read_outcar_fast(run: RunFiles, path: Path, energy_kind: str) -> Parsed:
    """Read an OUTCAR in one pass (energies and flags from its text, the structure by ASE).

    Args:
        run: The run's files (for a CONTCAR/POSCAR when ASE cannot give the structure).
        path: The OUTCAR.
        energy_kind: ``"sigma0"`` or ``"free"``.

    Returns:
        The reading, identical to :func:`~dkluq_cli.vasp.crosscheck.read_outcar_checked`'s.

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
        tail = _tail_scan(text)
        why = _would_fail(text)
    except (ValueError, IndexError) as exc:
        raise Unsure(f"pymatgen would fail: {exc}") from exc
    if why:
        raise Unsure(why)
    return outcar_parsed(
        run,
        path,
        energy_kind,
        raw=tail["e_0"] if energy_kind == "sigma0" else tail["e_fr"],
        data=_patterns(text),
        end=outcar_end(tail["stopped"], tail["run_stats"]),
        images=lambda: ase_images(_NamedText(text, str(path)), "vasp-out"),
    )
