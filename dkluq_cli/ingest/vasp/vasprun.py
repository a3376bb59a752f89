"""Single-pass reader of vasprun.xml: one streaming parse of the file, nothing kept but the last step.

The XML is parsed once, as it is decompressed (lxml ``iterparse``; each ionic step is dropped
once read), for exactly what the table needs: the VASP version, NSW/IBRION/NELM, the species,
and the energy, structure and electronic iterations of the last ionic step. Every number the
cross-checked reading (:mod:`dkluq_cli.ingest.vasp.crosscheck`: pymatgen ``Vasprun`` against ASE)
would parse is parsed and checked the same way, and its agreement checks (atom counts, energies)
are applied to the two ways the libraries compute them.

The reader gives up (:class:`~dkluq_cli.ingest.vasp.result.Unsure`) on whatever it does not handle exactly as that reading
does, so the caller hands the file to it: an XML that is malformed before its end (a damaged
file; a killed run's truncated XML is read here, and checked against ASE), response
function, DFPT, NMR or machine-learned force field runs, a PSTRESS that makes the two libraries'
energies differ, explicit k-point lists, odd parameter types, or any number that does not parse.
Energies in eV, lengths in Å.
"""

from __future__ import annotations

import codecs
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from dkluq_cli.ingest.vasp.cell import Cell
from dkluq_cli.ingest.vasp.convergence import nelm_problem, vasprun_ionic
from dkluq_cli.ingest.vasp.files import RunFiles, _one_line, open_bytes
from dkluq_cli.ingest.vasp.parsers import ase_energy, ase_images, compare
from dkluq_cli.ingest.vasp.result import DISAGREE, ENERGY_TOL_EV, Parsed, Reject, Unsure
from dkluq_cli.ingest.vasp.xmlblocks import (
    atom_symbols,
    check_ase_params,
    check_kpoints,
    check_run_type,
    int_param,
    ionic_step,
    merged_params,
    structure_arrays,
    vasp_version,
)
from dkluq_cli.ingest.vasp.xmlcut import CHUNK, steps_copy

_TAGS = (
    "generator",
    "incar",
    "kpoints",
    "parameters",
    "atominfo",
    "structure",
    "calculation",
    "dynmat",
    "dielectricfunction",
    "varray",
    "eigenvalues_kpoints_opt",
    "projected_kpoints_opt",
)
_PYMATGEN_ONLY = (
    "dynmat",
    "dielectricfunction",
    "eigenvalues_kpoints_opt",
    "projected_kpoints_opt",
)


def read_vasprun_fast(run: RunFiles, path: Path, energy_kind: str) -> Parsed:
    """Read a complete vasprun.xml in one pass.

    Args:
        run: The run's files (for the OUTCAR that confirms a relaxation's end).
        path: The vasprun.xml.
        energy_kind: ``"sigma0"`` or ``"free"``.

    Returns:
        The reading, identical to :func:`~dkluq_cli.ingest.vasp.crosscheck.read_vasprun_checked`'s.

    Raises:
        Unsure: Hand the file to the cross-checked reader.
    """
    try:
        doc = _parse(path)
    except Unsure:
        raise
    except Exception as exc:  # unreadable, or read as pymatgen would not: not ours
        raise Unsure(f"{type(exc).__name__}: {exc}") from exc
    if doc["malformed"]:
        raise Unsure("malformed before its end (a damaged file)")
    if not doc["truncated"] and not (doc["complete"] and doc["utf8"]):
        raise Unsure("not a complete UTF-8 XML document")
    return _parsed(run, path, doc, energy_kind)


def _parse(path: Path) -> dict[str, Any]:
    """Parse the file in chunks as it is decompressed, keeping what the row needs.

    A truncated XML stops the parse, as it stops pymatgen's lenient one: the ionic steps
    completed before it are kept and ``truncated`` is set. An XML that breaks before its end
    also sets ``malformed`` (see :func:`~dkluq_cli.ingest.vasp.xmlcut.xml_end`).
    """
    from lxml import etree

    doc: dict[str, Any] = {
        "n_steps": 0,
        "in_calc": False,
        "truncated": False,
        "malformed": False,
        "utf8": True,
    }
    parser = etree.XMLPullParser(events=("start", "end"), tag=_TAGS)
    # ASE reads the XML as UTF-8 text and fails on invalid bytes, whatever the XML declares
    utf8 = codecs.getincrementaldecoder("utf-8")()
    tail = b""
    with open_bytes(path) as fh:
        while chunk := fh.read(CHUNK):
            tail = (tail + chunk)[-512:]
            doc["utf8"] = doc["utf8"] and _decodes(utf8, chunk)
            if not doc["truncated"]:
                doc["truncated"] = doc["malformed"] = not _feed(parser, doc, chunk)
        doc["utf8"] = doc["utf8"] and _decodes(utf8, b"")
    if not doc["truncated"]:
        doc["truncated"] = not _feed(parser, doc, None)
    doc["complete"] = b"</modeling>" in tail
    return doc


def _decodes(decoder, chunk: bytes) -> bool:
    try:
        decoder.decode(chunk, final=not chunk)
    except UnicodeDecodeError:
        return False
    return True


def _feed(parser, doc: dict[str, Any], chunk: bytes | None) -> bool:
    """Feed a chunk (``None``: the end); ``False`` when the XML breaks off in it."""
    from lxml import etree

    try:
        if chunk is None:
            parser.close()
        else:
            parser.feed(chunk)
        ok = True
    except etree.XMLSyntaxError:
        ok = False
    # a truncated document's close() ends every open element: those are not complete steps
    if ok or chunk is not None:
        for event, elem in parser.read_events():
            _handle(doc, event, elem)
    return ok


def _handle(doc: dict[str, Any], event: str, elem) -> None:
    """One parser event: pymatgen's reading of the blocks it cares about, checked."""
    tag = elem.tag
    if event == "start":
        if tag == "calculation":
            if "parameters" not in doc:
                raise Unsure("a calculation before the parameters")
            doc["in_calc"] = True
        return
    if tag == "calculation":
        doc["last"] = ionic_step(elem, doc)
        doc["n_steps"] += 1
        doc["in_calc"] = False
        _drop(elem)
    elif tag in _PYMATGEN_ONLY:
        raise Unsure(f"<{tag}> is read by pymatgen only")
    elif tag == "varray":
        if elem.get("name") == "opticaltransitions":
            raise Unsure("optical transitions are read by pymatgen only")
    elif tag == "structure" and not doc["in_calc"]:
        name = elem.get("name")
        if name in ("initialpos", "finalpos"):
            if "symbols" not in doc:
                raise Unsure(f"{name} before atominfo")
            doc[name] = structure_arrays(elem, len(doc["symbols"]))
    elif doc["n_steps"] == 0 and tag in ("generator", "incar", "parameters"):
        if tag == "parameters":
            check_ase_params(elem)
        doc[tag] = merged_params(elem)
        elem.clear()
    elif doc["n_steps"] == 0 and tag == "atominfo":
        doc["symbols"] = atom_symbols(elem)
    elif tag == "kpoints":
        doc["kpoints"] = check_kpoints(elem)


def _drop(elem) -> None:
    """Free a parsed element and everything before it."""
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def _final_energy(last: dict, energy_kind: str, check: bool) -> float:
    """pymatgen's final energy (eV); with ``check``, after checking ASE would compute the same
    from the same ionic step (within tolerance)."""
    import numpy as np

    e_fr, e_0 = last["energy"]["e_fr_energy"], last["energy"]["e_0_energy"]
    de = last["scf"]["e_0_energy"] - last["scf"]["e_fr_energy"]
    if energy_kind == "free":
        energy, ase = e_fr, e_fr
    else:
        # pymatgen's fix for VASP writing a wrong e_0_energy; ASE always applies it
        fixed = float(np.round(de + e_fr, 8))
        energy = fixed if np.abs(e_0 - fixed) > 1e-7 else e_0
        ase = e_fr + de
    if not np.isfinite(energy) or (check and not abs(energy - ase) <= ENERGY_TOL_EV):
        raise Unsure("pymatgen's and ASE's energies differ, or not finite")
    return float(energy)


def _cross_check(path: Path, cell: Cell, energy: float, energy_kind: str) -> None:
    """Compare with ASE's reading of the file's complete ionic steps (as the cross-checked
    reader does).

    Raises:
        Reject: ASE cannot read it, or reads other atoms, lattice or energy.
    """
    try:
        with steps_copy(path) as cut:
            atoms = ase_images(cut or path, "vasp-xml")[-1]
        other = ase_energy(atoms, energy_kind)
    except Exception as exc:
        raise Reject(
            DISAGREE, f"{path.name}: pymatgen reads it but ASE cannot ({_one_line(exc)})"
        ) from exc
    compare(path.name, cell, atoms, energy, other)


@lru_cache(maxsize=1)
def _elements() -> frozenset[str]:
    """Symbols both pymatgen's ``Element`` and ASE accept."""
    from ase.data import chemical_symbols
    from pymatgen.core.periodic_table import Element

    return frozenset(e.symbol for e in Element) & frozenset(chemical_symbols)


def _parsed(run: RunFiles, path: Path, doc: dict, energy_kind: str) -> Parsed:
    if not doc["n_steps"] or not {"generator", "incar", "kpoints", "initialpos"} <= set(doc):
        raise Unsure("no ionic step, or a missing header block")
    params = doc["parameters"]
    check_run_type(doc["incar"], params)
    nelm = int_param(params, "NELM")
    if nelm is None:
        raise Unsure("no NELM")
    nsw = int(int_param(params, "NSW", 0))
    ibrion = int(int_param(params, "IBRION", -1 if nsw in (-1, 0) else 0))
    version = vasp_version(doc["generator"])
    last = doc["last"]
    killed = doc["truncated"]
    energy = _final_energy(last, energy_kind, check=not killed)
    bad = [sym for sym in doc["symbols"] if sym not in _elements()]
    if bad:
        raise Unsure(f"atoms named {bad[0]!r}: not an element to both pymatgen and ASE")
    structure = Cell.from_fractional(last["basis"], doc["symbols"], last["pos"])
    if not all(math.isfinite(x) for x in structure.parameters()):
        raise Unsure("a degenerate lattice")
    if killed:  # the reading of a killed run is known to be unreliable: ASE's is compared
        _cross_check(path, structure, energy, energy_kind)
    problems: list[str] = []
    conv_el = last["n_elec"] < nelm
    if not conv_el:
        problems.append(nelm_problem(last["n_elec"], int(nelm)))
    conv_ion, problem = vasprun_ionic(
        run, path, complete=doc["complete"], n_steps=doc["n_steps"], nsw=nsw, ibrion=ibrion
    )
    if problem:
        problems.append(problem)
    return Parsed(
        path.name, energy, structure, doc["n_steps"], version, conv_el, conv_ion, problems
    )
