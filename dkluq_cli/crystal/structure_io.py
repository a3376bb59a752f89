"""Structure files: the one reader of POSCAR/CONTCAR, CIF, extxyz and every other file ASE or
pymatgen reads, the POSCAR writer, and the reference crystal read from them.

A :class:`~dkluq_cli.crystal.crystal.Crystal` is what ``--reference POSCAR`` reads
(:func:`read_poscar`); the one ``ingest`` leaves beside a table is
:mod:`dkluq_cli.crystal.table_reference`'s.

Every POSCAR/CONTCAR is read by :func:`read_structure`: common breakages (empty, binary, not
UTF-8, atom counts that do not match the coordinates) are named in plain words before pymatgen
parses the file. :func:`read_structures` reads every structure of a file (the frames of an
extxyz, the blocks of a CIF) or of the structure files under a folder, each with a name;
:func:`as_structure` takes a pymatgen ``Structure`` or an ASE ``Atoms`` as they are.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.data.output import write_text
from dkluq_cli.errors import InputError, TableError

if TYPE_CHECKING:
    from pymatgen.core import Structure

logger = logging.getLogger(__name__)

#: File-name prefixes of VASP structure files.
POSCAR_NAMES = ("POSCAR", "CONTCAR")
#: Suffixes of the files a folder is searched for (besides POSCAR*/CONTCAR*); a file named
#: directly may be in any format ASE or pymatgen reads.
STRUCTURE_SUFFIXES = (".cif", ".mcif", ".xyz", ".extxyz", ".vasp", ".poscar", ".traj", ".xsf")
#: Information of an ASE frame kept as columns (ingest's extxyz: the run, its energy).
_INFO_TYPES = (str, int, float, bool)


@dataclass
class NamedStructure:
    """One structure read from a file, with a name that tells it from the others.

    Attributes:
        name: The file (relative to the folder searched), with ``#k`` for the k-th frame of a
            file holding several, or the frame's ``run`` (an ingest extxyz).
        structure: The structure.
        info: Scalar information the file gave with it (an extxyz frame's ``energy_eV`` ...).
    """

    name: str
    structure: Structure
    info: dict[str, Any] = field(default_factory=dict)


def is_poscar_name(path: Path) -> bool:
    """Whether a file looks like a POSCAR/CONTCAR by name (``POSCAR*``, ``CONTCAR*``, ``*.vasp``,
    ``*.poscar``)."""
    return path.name.startswith(POSCAR_NAMES) or path.suffix.lower() in (".vasp", ".poscar")


def poscar_problem(path: Path) -> str | None:
    """A plain-words cause for the common ways a POSCAR is broken, or None if it looks sound.

    Checks what pymatgen reports only as an index or decode error: empty, binary or non-UTF-8
    content, and atom counts that do not match the coordinate lines.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return f"not readable ({exc.strerror or exc})"
    if not raw.strip():
        return "empty file"
    if b"\0" in raw[:4096]:
        return "binary data, not a POSCAR text file"
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte {exc.start})"
    if len(lines) < 8:
        return f"only {len(lines)} line(s); a POSCAR needs at least 8"
    # counts are on line 6, or line 7 when line 6 holds the element symbols
    for idx in (5, 6):
        words = lines[idx].split()
        if words and all(w.isdigit() for w in words):
            counts = [int(w) for w in words]
            break
    else:
        return None  # leave unusual layouts to pymatgen
    start = idx + 1
    if start < len(lines) and lines[start].strip()[:1] in ("S", "s"):  # Selective dynamics
        start += 1
    coords = [ln for ln in lines[start + 1 :] if len(ln.split()) >= 3]
    n = sum(counts)
    if len(coords) < n:
        return f"atom counts {' '.join(words)} add up to {n} atoms but only {len(coords)} coordinate line(s) follow"
    return None


def read_structure(path: str | os.PathLike[str], what: str = "") -> Structure:
    """Read a POSCAR/CONTCAR (whatever its name) into a pymatgen structure.

    Only when that fails and the name does not look like a POSCAR (:func:`is_poscar_name`) is
    the file tried as another structure file pymatgen reads by its extension (e.g. ``.cif``).

    Args:
        path: The file.
        what: What the file is, for messages (``"reference"``; empty for an input).

    Returns:
        The structure.

    Raises:
        InputError: The file is missing, a folder, or not a readable POSCAR.
    """
    src = Path(path)
    label = f"{what} {src}" if what else str(src)
    if not src.exists():
        raise InputError(f"{label} does not exist", hint="give a POSCAR or CONTCAR file")
    if src.is_dir():
        raise InputError(f"{label} is a folder", hint="give a POSCAR or CONTCAR file")
    error: Exception | None = None
    cause = poscar_problem(src)
    if cause is None:
        try:
            return _parse_poscar(src)
        except Exception as exc:  # noqa: BLE001 - any parser failure means "not a POSCAR"
            error = exc
            text = " ".join(str(exc).split())[:160]
            cause = type(exc).__name__ + (f": {text}" if text else "")
    other = None if is_poscar_name(src) else _read_other_structure(src)
    if other is None:
        raise InputError(f"cannot read {label} as a POSCAR: {cause}") from error
    return other


def _parse_poscar(src: Path) -> Structure:
    import warnings

    from pymatgen.io.vasp import Poscar

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Poscar.from_file(str(src), check_for_potcar=False).structure


def _read_other_structure(src: Path) -> Structure | None:
    """``src`` read by pymatgen from its extension, or None when it does not parse."""
    try:
        from pymatgen.core import Structure

        return Structure.from_file(str(src))
    except Exception:  # noqa: BLE001 - the POSCAR error is the one reported
        return None


def is_structure_name(path: Path) -> bool:
    """Whether a file in a folder is read as a structure (POSCAR/CONTCAR by name, or a suffix
    of :data:`STRUCTURE_SUFFIXES`)."""
    return is_poscar_name(path) or path.suffix.lower() in STRUCTURE_SUFFIXES


def as_structure(obj: Any) -> Structure:
    """A pymatgen ``Structure`` as it is, or an ASE ``Atoms`` converted.

    Raises:
        InputError: Neither, or an ``Atoms`` without a full cell (a molecule).
    """
    from pymatgen.core import Structure

    if isinstance(obj, Structure):
        return obj
    cell = getattr(obj, "cell", None)
    if cell is None or not hasattr(obj, "get_chemical_symbols"):
        raise InputError(
            f"cannot read a {type(obj).__name__} as a crystal structure",
            hint="give pymatgen Structures, ASE Atoms, a DataFrame or a file path",
        )
    if cell.rank != 3:
        raise InputError(
            f"an ASE Atoms ({obj.get_chemical_formula()}) has no full cell: not a crystal",
            hint="set its cell (Atoms.set_cell) and pbc",
        )
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(obj)


def read_structures(path: str | os.PathLike[str]) -> list[NamedStructure]:
    """Every structure in a file, or in the structure files under a folder (recursively).

    A file may be in any format ASE or pymatgen reads: POSCAR/CONTCAR (:func:`read_structure`),
    CIF (every block), extxyz (every frame, named by its ``run`` when ingest wrote it) ...

    Raises:
        InputError: Missing, unreadable, or a folder without structure files.
    """
    src = Path(path)
    if not src.exists():
        raise InputError(f"input {src} does not exist", hint="check the path")
    if not src.is_dir():
        return _read_file(src, src.name)
    files = structure_files(src)
    if not files:
        raise InputError(
            f"no structure files under {src}",
            hint=f"looked for POSCAR*, CONTCAR* and *{', *'.join(STRUCTURE_SUFFIXES)}",
        )
    out: list[NamedStructure] = []
    for f in files:
        out.extend(_read_file(f, f.relative_to(src).as_posix()))
    return out


def structure_files(folder: Path) -> list[Path]:
    """The structure files (:func:`is_structure_name`) under ``folder``, sorted; symlinked
    folders are not followed (a link back up would never end)."""
    found = []
    for root, _dirs, names in os.walk(folder):
        found += [Path(root) / n for n in names if is_structure_name(Path(n))]
    return sorted(p for p in found if p.is_file())


def _read_file(src: Path, name: str) -> list[NamedStructure]:
    """The structures of one file, named after ``name``."""
    if not src.is_file():  # a FIFO or device would block or stream forever
        raise InputError(f"input {src} is not a regular file")
    if is_poscar_name(src):
        return [NamedStructure(name, read_structure(src))]
    if src.suffix.lower() in (".cif", ".mcif"):
        structures = _read_cif(src)
        return _named(name, [(s, {}) for s in structures])
    frames = _read_with_ase(src)
    if frames is None:
        return [NamedStructure(name, read_structure(src))]
    return _named(name, frames)


def _named(name: str, items: list[tuple[Structure, dict[str, Any]]]) -> list[NamedStructure]:
    out = []
    for k, (structure, info) in enumerate(items):
        label = str(info["run"]) if "run" in info else name if len(items) == 1 else f"{name}#{k}"
        out.append(NamedStructure(label, structure, info))
    return out


def _read_cif(src: Path) -> list[Structure]:
    import warnings

    from pymatgen.io.cif import CifParser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structures = CifParser(str(src)).parse_structures(primitive=False)
    except Exception as exc:  # pymatgen raises many types for a bad CIF
        text = " ".join(str(exc).split())[:160]
        raise InputError(f"cannot read {src} as a CIF: {type(exc).__name__}: {text}") from exc
    if not structures:
        raise InputError(f"{src} holds no structure")
    return structures


def _read_with_ase(src: Path) -> list[tuple[Structure, dict[str, Any]]] | None:
    """Every frame ASE reads from ``src`` with its scalar information, or None when ASE cannot
    read the file."""
    try:
        from ase.io import read

        frames = read(str(src), index=":")
    except Exception:  # noqa: BLE001 - the POSCAR/pymatgen reader is tried next
        return None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames:
        return None
    out = []
    for atoms in frames:
        info = {k: v for k, v in atoms.info.items() if isinstance(v, _INFO_TYPES)}
        out.append((as_structure(atoms), info))
    return out


def read_poscar(path: str | os.PathLike[str]) -> Crystal:
    """Read a ``--reference`` POSCAR/CONTCAR (:func:`read_structure`) into a crystal.

    Raises:
        InputError: The file is missing, a folder, or not a readable POSCAR.
    """
    return Crystal.from_structure(read_structure(path, "reference"), str(Path(path)))


def crystal_of(obj: Any, source: str = "") -> Crystal:
    """The reference crystal of a structure file, a pymatgen ``Structure`` or an ASE ``Atoms``.

    Raises:
        InputError: Not readable as a structure.
    """
    if isinstance(obj, str | os.PathLike):
        return read_poscar(obj)
    return Crystal.from_structure(as_structure(obj), source or type(obj).__name__)


def structure_names(items: Iterable[Any]) -> list[str]:
    """Names of in-memory structures: an ASE frame's ``run`` or ``name`` when it has one, else
    its position."""
    names = []
    for k, obj in enumerate(items):
        info = getattr(obj, "info", None) or {}
        names.append(str(info.get("run", info.get("name", k))))
    return names


def check_single_composition(df: Any, source: str) -> str | None:
    """The one reduced formula of a table's ``formula`` column (a model is trained per
    composition).

    Returns:
        The formula, or None when the table has no formula column or no formulas.

    Raises:
        TableError: The table mixes compositions.
    """
    if "formula" not in df.columns:
        return None
    formulas = sorted({str(f) for f in df["formula"].dropna().unique()})
    if len(formulas) > 1:
        shown = ", ".join(formulas[:5]) + (" ..." if len(formulas) > 5 else "")
        raise TableError(
            f"{source} mixes {len(formulas)} compositions ({shown}); a model is trained per composition",
            hint="filter the table to one formula first",
        )
    return formulas[0] if formulas else None


def write_poscar(structure: Structure, path: str | os.PathLike[str], comment: str) -> Path:
    """Write a POSCAR atomically (replacing an existing file).

    Args:
        structure: The structure.
        path: Destination file.
        comment: First line of the POSCAR (white space collapsed to single spaces).

    Returns:
        The path written.
    """
    from pymatgen.io.vasp import Poscar

    text = Poscar(structure, comment=" ".join(comment.split())).get_str(significant_figures=12)
    return write_text(path, text, force=True)
