"""What pymatgen's ``Outcar`` and its ``read_pattern`` find in an OUTCAR's text, found faster.

pymatgen splits the text into lines and tries each of its regular expressions on every line.
Each expression here only looks at the lines holding a literal that any match must contain
(found with ``str.find``), and applies pymatgen's own expression to each such line, so the
matches are the same. The text must break lines only at ``\\n`` (the caller checks).
"""

from __future__ import annotations

import re

from dkluq_cli.ingest.vasp.crosscheck import OUTCAR_PATTERNS

LITERALS = {
    "nsw": ("NSW",),
    "ibrion": ("IBRION",),
    "nelm": ("NELM",),
    "iteration": ("Iteration", "aborting loop because EDIFF is reached"),
    "summary": ("FREE ENERGIE OF THE ION-ELECTRON SYSTEM",),
    "reached": ("reached required accuracy",),
    "version": ("vasp.",),
}
"""For each of :data:`~dkluq_cli.ingest.vasp.crosscheck.OUTCAR_PATTERNS`, what a matching line holds."""

_PATTERNS = {key: re.compile(p) for key, p in OUTCAR_PATTERNS.items()}
_STOP = "soft stop encountered!  aborting job"
_TIME = re.compile(r"\((sec|kb)\)")
_EFERMI = re.compile(r"E-fermi\s*:\s*(\S+)")
_NELECT = re.compile(r"number of electron\s+(\S+)\s+magnetization")
_MAG = re.compile(r"number of electron\s+\S+\s+magnetization\s+(\S+)")
_ENERGIES = {
    "e_fr": re.compile(r"free  energy   TOTEN\s+=\s+([\d\-\.]+)"),
    "e_wo": re.compile(r"energy  without entropy\s*=\s+([\d\-\.]+)"),
    "e_0": re.compile(r"energy\(sigma->0\)\s*=\s+([\d\-\.]+)"),
}
_TAIL_LITERALS = (
    _STOP,
    "(sec)",
    "(kb)",
    "E-fermi",
    "number of electron",
    "free  energy   TOTEN",
    "energy  without entropy",
    "energy(sigma->0)",
)
# Outcar.__init__ parses these whatever the run; each raises when absent or garbled
_REQUIRED = {
    "NBANDS=": re.compile(r"number\s+of\s+bands\s+NBANDS=\s+(\d+)"),
    "NPLWV": re.compile(r"total plane-waves  NPLWV =\s+(\*{6}|\d+)"),
    "IBRION =": re.compile(r"IBRION =\s+([\-\d]+)"),
}
# runs whose extra tables pymatgen parses (and may fail on): left to the cross-checked reader
_SPECIAL = {
    "LEPSILON": re.compile(r"LEPSILON\s*=\s*T"),
    "LCALCPOL": re.compile(r"LCALCPOL\s*=\s*T"),
    "LCHIMAG": re.compile(r"LCHIMAG\s*=\s*(T)"),
    "NMR quadrupolar parameters": re.compile(r"NMR quadrupolar parameters"),
    "onsite density matrix": re.compile(r"onsite density matrix"),
}
_DRIFT = ("total drift:", re.compile(r"total drift:\s+([\.\-\d]+)\s+([\.\-\d]+)\s+([\.\-\d]+)"))
_CONTRIBS = (
    *(
        (key, re.compile(rf"{key}\s+=\s+([\d\-\.]+)"))
        for key in ("PSCENC", "TEWEN", "DENC", "EXHF", "XCENC", "EENTRO", "EBANDS", "EATOM")
    ),
    ("Ediel_sol", re.compile(r"Ediel_sol\s+=\s+([\d\-\.]+)")),
    (
        "PAW double counting",
        re.compile(r"PAW double counting\s+=\s+([\.\-\d]+)\s+([\.\-\d]+)"),
    ),
)
_ELECTROSTATIC = "average (electrostatic) potential at core"
_TABLES = ("total charge", "magnetization (x)", "magnetization (y)", "magnetization (z)")
_TABLE_ROW = re.compile(r"\s*(\d+)\s+(([\d\.\-]+)\s+)+")
_TABLE_NUMBER = re.compile(r"[\d\.\-]+")
_NGF = (
    "NGXF=",
    re.compile(r"\s+dimension x,y,z NGXF=\s+([\.\-\d]+)\sNGYF=\s+([\.\-\d]+)\sNGZF=\s+([\.\-\d]+)"),
)
_RADII = ("the test charge radii are", re.compile(r"the test charge radii are((?:\s+[\.\-\d]+)+)"))


def lines_with(text: str, literals: tuple[str, ...]) -> list[tuple[int, str]]:
    """``(start, line)`` of every line holding one of ``literals``, in file order."""
    found: dict[int, str] = {}
    for literal in literals:
        i = text.find(literal)
        while i >= 0:
            start = text.rfind("\n", 0, i) + 1
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            found.setdefault(start, text[start:end])
            i = text.find(literal, end)
    return sorted(found.items())


def _matches(text: str, literals: tuple[str, ...], pattern: re.Pattern) -> list[re.Match]:
    """The first match of ``pattern`` on each line, in file order."""
    return [m for _, line in lines_with(text, literals) if (m := pattern.search(line))]


def patterns(text: str) -> dict[str, list[list[str]]]:
    """``read_pattern(OUTCAR_PATTERNS, postprocess=str)``'s ``data``."""
    return {
        key: [[str(g) for g in m.groups()] for m in _matches(text, LITERALS[key], pattern)]
        for key, pattern in _PATTERNS.items()
    }


def tail_scan(text: str) -> dict:
    """``Outcar``'s backward scan: the last final energies (eV), STOPCAR flag, timing (s).

    pymatgen reads lines from the end until it has the electron count, the magnetisation, the
    Fermi energy and a timing line; only lines holding one of their literals change anything,
    so only those are visited (with a check for the gaps between them).

    Raises:
        ValueError, IndexError: Where pymatgen's scan raises them.
    """
    stats: dict[str, float | None] = {}
    found: dict = {"e_fr": None, "e_wo": None, "e_0": None, "stopped": False}
    state = {"nelect": None, "mag": None, "efermi": None}

    def complete() -> bool:
        return None not in state.values() and bool(stats)

    lines = lines_with(text, _TAIL_LITERALS)
    for k in range(len(lines) - 1, -1, -1):
        start, line = lines[k]
        if not _tail_line(line, found, stats, state) and complete():
            break
        # after a line that skips pymatgen's check, the check comes with the line before it,
        # or with a line in between that holds none of the literals
        previous = text.rfind("\n", 0, start - 1) + 1 if start > 0 else None
        gap = previous is not None and (k == 0 or lines[k - 1][0] != previous)
        if gap and complete():
            break
    found["run_stats"] = stats
    return found


def _tail_line(line: str, found: dict, stats: dict, state: dict) -> bool:
    """One line of the backward scan; ``True`` when pymatgen skips its stop check after it."""
    clean = line.strip()
    if clean.find(_STOP) != -1:
        found["stopped"] = True
        return False
    if _TIME.search(line):
        tok = line.strip().split(":")
        try:
            stats[tok[0].strip()] = float(tok[1].strip())
        except ValueError:
            stats[tok[0].strip()] = None
        return True
    if m := _EFERMI.search(clean):
        try:
            state["efermi"] = float(m[1])
        except ValueError:
            state["efermi"] = None
        return True
    if m := _NELECT.search(clean):
        state["nelect"] = float(m[1])
    if m := _MAG.search(clean):
        state["mag"] = float(m[1])
    for key, pattern in _ENERGIES.items():
        if found[key] is None and (m := pattern.search(clean)):
            found[key] = float(m[1])
    return False


def would_fail(text: str) -> str | None:
    """Why ``Outcar`` would raise, or read extra tables, on parts the row does not use.

    Raises:
        ValueError, IndexError: Where pymatgen would raise them.
    """
    for literal, pattern in _SPECIAL.items():
        if _matches(text, (literal,), pattern):
            return f"a run pymatgen reads more of ({literal})"
    for literal, pattern in _REQUIRED.items():
        found = _matches(text, (literal,), pattern)
        if not found:
            return f"no {literal} line"
    if int(found[0][1]) > 6:  # the IBRION line, checked last above
        return "a DFPT run (IBRION > 6)"
    for m in _matches(text, (_DRIFT[0],), _DRIFT[1]):
        list(map(float, m.groups()))
    for literal, pattern in _CONTRIBS:
        found = _matches(text, (literal,), pattern)
        if found:
            list(map(float, found[-1].groups()))
    if _ELECTROSTATIC in text:
        ngf, radii = _matches(text, (_NGF[0],), _NGF[1]), _matches(text, (_RADII[0],), _RADII[1])
        if not ngf or not radii:
            return "an electrostatic potential without its grid or radii"
        [int(g) for m in ngf for g in m.groups()]
        list(map(float, radii[-1][1].split()))
    _tables(text)
    _cores(text)
    return None


def _tables(text: str) -> None:
    """Parse the charge and magnetisation tables as pymatgen does (only what can raise).

    pymatgen reads each table from its title line to a line starting "tot" (or saying
    "electrostatic", or the next title), matching each row's numbers to the last header.
    """
    header: list[str] = []
    for start, _ in lines_with(text, ("total charge", "magnetization (")):
        if text[start : text.find("\n", start) % (len(text) + 1)].strip() not in _TABLES:
            continue
        pos = text.find("\n", start)
        while pos >= 0:
            end = text.find("\n", pos + 1)
            clean = text[pos + 1 : end if end >= 0 else len(text)].strip()
            pos = end
            if clean.startswith("# of ion"):
                header = re.split(r"\s{2,}", clean.strip())[1:]
            elif _TABLE_ROW.match(clean):
                tokens = [float(t) for t in _TABLE_NUMBER.findall(clean)][1:]
                dict(zip(header, tokens, strict=True))
            elif clean.startswith("tot"):
                break
            if clean in _TABLES or "electrostatic" in clean:
                break


def _cores(text: str) -> None:
    """pymatgen reads the core count from the first line saying "serial" or "running"."""
    first = lines_with(text, ("serial", "running"))
    if first and "serial" not in first[0][1]:
        parts = first[0][1].split()
        int(parts[2] if parts[1] == "on" else parts[1])
