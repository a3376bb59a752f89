"""Find the VASP output files of one run folder and check that they can be opened.

A run folder holds any of ``vasprun.xml``, ``OUTCAR``, ``OSZICAR``, ``CONTCAR``, ``POSCAR`` (and
``INCAR``, read for NSW/IBRION/NELM/EDIFF when only an OSZICAR is there), each possibly
compressed (``.gz``, ``.bz2``, ``.xz``) and possibly suffixed as workflow tools write them
(``vasprun.xml.relax2``, ``OUTCAR.relax1.gz``, ``OUTCAR_static``). Files that share a suffix
are one calculation; a folder whose energy files (vasprun.xml, OUTCAR, OSZICAR) carry several
suffixes holds several calculations, each read as its own run (:meth:`RunFiles.calculations`).
When one kind appears with several suffixes in one run, the unsuffixed file is taken as the
latest, else the suffix that sorts last naturally (``relax10`` after ``relax2``).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from dkluq_cli.errors import one_line

KINDS: tuple[str, ...] = ("vasprun", "OUTCAR", "OSZICAR", "CONTCAR", "POSCAR", "INCAR")
"""File kinds a run may hold, energy sources first."""

ENERGY_SOURCES: tuple[str, ...] = KINDS[:3]
"""The kinds that give a run's energy, in the order they are tried."""

COMPRESSIONS: tuple[str, ...] = (".gz", ".bz2", ".xz")

_NAME = re.compile(
    r"^(?P<base>vasprun\.xml|OUTCAR|OSZICAR|CONTCAR|POSCAR|INCAR)"
    r"(?P<suffix>[._-][^/]*?)??(?P<comp>\.gz|\.bz2|\.xz)?$"
)
_BASE_KIND = {
    "vasprun.xml": "vasprun",
    "OUTCAR": "OUTCAR",
    "OSZICAR": "OSZICAR",
    "CONTCAR": "CONTCAR",
    "POSCAR": "POSCAR",
    "INCAR": "INCAR",
}
# names that match the pattern but are not outputs of a run
_IGNORE_SUFFIXES = (".tmp", ".swp", "~", ".orig_backup")


def classify(name: str) -> tuple[str, str] | None:
    """Return ``(kind, suffix)`` for a VASP file name, or ``None`` for any other name.

    Args:
        name: A file name (no folder), e.g. ``"vasprun.xml.relax2.gz"``.

    Returns:
        The kind (one of :data:`KINDS`) and the suffix between the base name and the
        compression extension (``".relax2"``; ``""`` for none).
    """
    m = _NAME.match(name)
    if not m:
        return None
    suffix = m.group("suffix") or ""
    if suffix.endswith(_IGNORE_SUFFIXES) or suffix.startswith((".tar", ".zip")):
        return None
    return _BASE_KIND[m.group("base")], suffix


def _natural_key(suffix: str) -> tuple:
    parts = re.split(r"(\d+)", suffix)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def suffix_rank(suffix: str) -> tuple:
    """Sort key of a suffix: the unsuffixed file last (latest), others in natural order."""
    return (1,) if suffix == "" else (0, _natural_key(suffix))


@dataclass
class RunFiles:
    """The VASP files found in one run folder.

    Attributes:
        name: The run's name as written in the table (path relative to the root given).
        directory: The folder (as a string, so the object pickles cheaply).
        files: Kind → list of ``(suffix, path)`` found, in no particular order.
    """

    name: str
    directory: str
    files: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, kind: str, suffix: str, path: str) -> None:
        """Record one file of ``kind``."""
        self.files.setdefault(kind, []).append((suffix, path))

    def pick(self, kind: str, prefer_suffix: str | None = None) -> Path | None:
        """Choose the file of ``kind`` to read.

        Args:
            kind: One of :data:`KINDS`.
            prefer_suffix: Take the file with this suffix when there is one (so that the
                CONTCAR of ``OUTCAR.relax2`` is ``CONTCAR.relax2``).

        Returns:
            The path, or ``None`` when the run has no file of that kind.
        """
        found = self.files.get(kind)
        if not found:
            return None
        if prefer_suffix is not None:
            same = [p for s, p in found if s == prefer_suffix]
            if same:
                return Path(sorted(same)[0])
        suffix, path = max(found, key=lambda sp: (suffix_rank(sp[0]), sp[1]))
        del suffix
        return Path(path)

    def calculations(self) -> list[RunFiles]:
        """The folder's calculations, each a run of its own.

        Returns:
            ``[self]`` when the energy files share one suffix (or there are none); else one run
            per suffix holding the files with that suffix, named after the folder and its
            energy file (``"run_07/vasprun.xml.relax1"``), unsuffixed last.
        """
        suffixes = {s for kind in ENERGY_SOURCES for s, _ in self.files.get(kind, ())}
        if len(suffixes) <= 1:
            return [self]
        calcs = []
        for suffix in sorted(suffixes, key=suffix_rank):
            calc = RunFiles(self.name, self.directory)
            for kind, found in self.files.items():
                for s, p in found:
                    if s == suffix:
                        calc.add(kind, s, p)
            energy_file = next(p for k in ENERGY_SOURCES if (p := calc.pick(k)) is not None)
            calc.name = f"{self.name}/{energy_file.name}"
            calcs.append(calc)
        return calcs

    def paths(self) -> set[str]:
        """Every file of the run."""
        return {p for found in self.files.values() for _, p in found}

    def suffix_of(self, path: Path) -> str:
        """The suffix recorded for ``path``."""
        for found in self.files.values():
            for s, p in found:
                if p == str(path):
                    return s
        return ""


def open_bytes(path: str | os.PathLike[str]):  # -> IO[bytes]
    """Open a possibly compressed file for binary reading, by its compression extension."""
    name = str(path)
    if name.endswith(".gz"):
        return gzip.open(name, "rb")
    if name.endswith(".bz2"):
        return bz2.open(name, "rb")
    if name.endswith(".xz"):
        return lzma.open(name, "rb")
    return open(name, "rb")


def _stat_problem(p: Path) -> str | None:
    """What makes ``p`` unreadable before opening it, or ``None``."""
    if p.is_symlink() and not p.exists():
        return f"broken symbolic link to {os.readlink(p)}"
    try:
        size = p.stat().st_size
    except OSError as exc:
        return f"cannot stat: {exc.strerror or exc}"
    if p.is_dir():
        return "is a folder, not a file"
    if not p.is_file():  # a FIFO would block the reader; a device would never end
        return "not a regular file (a FIFO, socket or device)"
    if size == 0:
        return "empty file (0 bytes)"
    return None


def _read_all(p: Path, keep: bool) -> tuple[bytes | None, str | None]:
    """Decompress the whole of ``p`` once: ``(data or None, cause of failure or None)``."""
    cause = _stat_problem(p)
    if cause:
        return None, cause
    total, chunks = 0, []
    try:
        with open_bytes(p) as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
                if keep:
                    chunks.append(chunk)
    except PermissionError:
        return None, "not readable (permission denied)"
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        comp = p.suffix.lstrip(".") if p.suffix in COMPRESSIONS else ""
        what = f"corrupt {comp} data" if comp else "read error"
        return None, f"{what}: {one_line(exc)}"
    if total == 0:
        return None, "empty after decompression"
    return (b"".join(chunks) if keep else b""), None


def probe(path: str | os.PathLike[str]) -> str | None:
    """Check that a file exists, is readable, non-empty and decompresses.

    Reads the whole decompressed stream once (a truncated gzip only shows at its end).

    Args:
        path: The file.

    Returns:
        ``None`` when the file looks readable, else a short cause such as
        ``"empty file (0 bytes)"`` or ``"corrupt gzip data: ..."``.
    """
    return _read_all(Path(path), keep=False)[1]


def end_of(path: str | os.PathLike[str], size: int = 512) -> tuple[bytes | None, str | None]:
    """The last ``size`` bytes of a file, without reading the rest of it.

    Returns:
        ``(bytes, None)``; ``(None, None)`` for a compressed file, whose end is only known once
        all of it is decompressed; ``(None, cause)`` when :func:`probe` would fail before
        reading (missing, empty, a FIFO, permission denied).
    """
    p = Path(path)
    cause = _stat_problem(p)
    if cause or p.suffix in COMPRESSIONS:
        return None, cause
    try:
        with open(p, "rb") as fh:
            fh.seek(max(0, p.stat().st_size - size))
            return fh.read(), None
    except PermissionError:
        return None, "not readable (permission denied)"
    except OSError as exc:
        return None, f"read error: {one_line(exc)}"


def load(path: str | os.PathLike[str]) -> tuple[bytes | None, str | None]:
    """Read a file whole, with the checks of :func:`probe`, in one pass.

    Returns:
        ``(decompressed bytes, None)``, or ``(None, cause)`` with :func:`probe`'s cause.
    """
    return _read_all(Path(path), keep=True)


def read_text(path: str | os.PathLike[str]) -> str:
    """Return the decompressed text of a file (undecodable bytes replaced)."""
    with open_bytes(path) as fh:
        return fh.read().decode("utf-8", errors="replace")
