"""Single-pass reader of vasprun.xml: one streaming parse of the file, nothing kept but the last step.

The XML is parsed once, as it is decompressed (lxml ``iterparse``; each ionic step is dropped
once read), for exactly what the table needs: the VASP version, NSW/IBRION/NELM, the species,
and the energy, structure and electronic iterations of the last ionic step. Every number the
cross-checked reading (:mod:`dkluq_cli.vasp.crosscheck`: pymatgen ``Vasprun`` against ASE)
would parse is parsed and checked the same way, and its agreement checks (atom counts, energies)
are applied to the two ways the libraries compute them.

The reader gives up (:class:`Unsure`) on whatever it does not handle exactly as that reading
does, so the caller hands the file to it: a truncated or malformed XML (a killed run), response
function, DFPT, NMR or machine-learned force field runs, a PSTRESS that makes the two libraries'
energies differ, explicit k-point lists, odd parameter types, or any number that does not parse.
Energies in eV, lengths in Å.
"""

from __future__ import annotations

import codecs
import math
from pathlib import Path
from typing import Any

from dkluq_cli.vasp.convergence import nelm_problem, vasprun_ionic
from dkluq_cli.vasp.files import RunFiles, open_bytes
from dkluq_cli.vasp.result import ENERGY_TOL_EV, Parsed

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
_KPOINT_STYLES = "agmlc"  # initials pymatgen accepts (r: an explicit list, left to pymatgen)
_TYPES = ("", "int", "logical", "string", "float")
_FALSE = (False, "F", ".FALSE.", "False", "FALSE", ".F.", "f", ".false.")


class Unsure(Exception):
    """The single-pass reader does not read this file exactly as the cross-checked one would."""


class _Tail:
    """A read-only stream that remembers its last 512 bytes (for the ``</modeling>`` check).

    With ``utf8=True`` it also decodes what passes as UTF-8, raising on invalid bytes: ASE
    reads the XML as UTF-8 text and fails on them, whatever encoding the XML declares.
    """

    def __init__(self, fh, utf8: bool = False) -> None:
        self.fh = fh
        self.tail = b""
        self.decoder = codecs.getincrementaldecoder("utf-8")() if utf8 else None

    def read(self, n: int = -1) -> bytes:
        chunk = self.fh.read(n if n and n > 0 else 1 << 20)
        self.tail = (self.tail + chunk)[-512:]
        if self.decoder is not None:
            self.decoder.decode(chunk, final=not chunk)
        return chunk


def xml_complete(path: Path) -> bool:
    """Whether the (decompressed) XML ends with its closing ``</modeling>`` tag."""
    with open_bytes(path) as fh:
        stream = _Tail(fh)
        while stream.read(1 << 20):
            pass
    return b"</modeling>" in stream.tail


def read_vasprun_fast(run: RunFiles, path: Path, energy_kind: str) -> Parsed:
    """Read a complete vasprun.xml in one pass.

    Args:
        run: The run's files (for the OUTCAR that confirms a relaxation's end).
        path: The vasprun.xml.
        energy_kind: ``"sigma0"`` or ``"free"``.

    Returns:
        The reading, identical to :func:`~dkluq_cli.vasp.crosscheck.read_vasprun_checked`'s.

    Raises:
        Unsure: Hand the file to the cross-checked reader.
    """
    try:
        doc = _parse(path)
    except Unsure:
        raise
    except Exception as exc:  # unreadable, malformed, truncated: not ours
        raise Unsure(f"{type(exc).__name__}: {exc}") from exc
    return _parsed(run, path, doc, energy_kind)


def _parse(path: Path) -> dict[str, Any]:
    from lxml import etree

    doc: dict[str, Any] = {"n_steps": 0}
    in_calc = False
    with open_bytes(path) as fh:
        stream = _Tail(fh, utf8=True)
        for event, elem in etree.iterparse(stream, events=("start", "end"), tag=_TAGS):
            tag = elem.tag
            if event == "start":
                if tag == "calculation":
                    if "parameters" not in doc:
                        raise Unsure("a calculation before the parameters")
                    in_calc = True
                continue
            if tag == "calculation":
                doc["last"] = _calculation(elem, doc)
                doc["n_steps"] += 1
                in_calc = False
                _drop(elem)
            elif tag in ("dynmat", "dielectricfunction", *_TAGS[-2:]):
                raise Unsure(f"<{tag}> is read by pymatgen only")
            elif tag == "varray":
                if elem.get("name") == "opticaltransitions":
                    raise Unsure("optical transitions are read by pymatgen only")
            elif tag == "structure" and not in_calc:
                name = elem.get("name")
                if name in ("initialpos", "finalpos"):
                    if "symbols" not in doc:
                        raise Unsure(f"{name} before atominfo")
                    doc[name] = _structure(elem, len(doc["symbols"]))
            elif doc["n_steps"] == 0 and tag in ("generator", "incar", "parameters"):
                if tag == "parameters":
                    _ase_params(elem)
                doc[tag] = _params(elem)
                elem.clear()
            elif doc["n_steps"] == 0 and tag == "atominfo":
                doc["symbols"] = _atominfo(elem)
            elif tag == "kpoints":
                doc["kpoints"] = _kpoints(elem)
        while stream.read(1 << 20):  # to the end, so a corrupt compressed tail still shows
            pass
    if b"</modeling>" not in stream.tail:
        raise Unsure("no </modeling> at the end")
    return doc


def _drop(elem) -> None:
    """Free a parsed element and everything before it."""
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def _value(ptype: str, text: str | None, vector: bool) -> Any:
    """A parameter's value as pymatgen converts it (and ASE accepts it), else :class:`Unsure`."""
    if ptype not in _TYPES:
        raise Unsure(f"parameter type {ptype!r}")
    val = text.strip() if text else ""
    if vector:
        if ptype == "logical":
            return [t == "T" for t in val.split()]
        if ptype == "string":
            return val.split()
        conv = int if ptype == "int" else float
        return [conv(t) for t in val.split()]
    if ptype == "logical":
        return val == "T"
    if ptype == "string":
        return val
    return int(val) if ptype == "int" else float(val)


def _params(elem) -> dict[str, tuple[str, Any]]:
    """Parameters as pymatgen merges them: name (upper case) → ``(type, value)``.

    Nested separators are merged in order, later names overriding earlier ones, except that
    the "response functions" separator only adds names not seen before.
    """

    def merged(node) -> dict[str, tuple[str, Any]]:
        out: dict[str, tuple[str, Any]] = {}
        for c in node:
            name = (c.get("name") or "").strip()
            if c.tag not in ("i", "v"):
                inner = merged(c)
                if name == "response functions":
                    inner = {k: v for k, v in inner.items() if k not in out}
                out |= inner
            else:
                ptype = c.get("type", "")
                out[name] = (ptype, _value(ptype, c.text, c.tag == "v"))
        return out

    return {k.upper(): v for k, v in merged(elem).items()}


def _ase_params(elem) -> None:
    """Check the parameters as ASE reads them: every one named, PSTRESS zero (else P·V differs)."""
    for c in elem.iter("i", "v"):
        name = c.get("name")
        if name is None:
            raise Unsure("a parameter without a name")
        if name.strip().upper() == "PSTRESS":
            value = _value(c.get("type", ""), c.text, c.tag == "v")
            if isinstance(value, list) or float(value) != 0.0:
                raise Unsure("PSTRESS set: ASE subtracts P·V from the energy, pymatgen does not")


def _one(params: dict, key: str, default: Any = None) -> Any:
    """The value of an integer parameter (``default`` when absent), else :class:`Unsure`."""
    found = params.get(key)
    if found is None:
        return default
    if found[0] != "int" or isinstance(found[1], list):
        raise Unsure(f"{key} is not one integer")
    return found[1]


def _floats(elem, rows: int | None, cols: int) -> list[list[float]]:
    """The rows of a ``<varray>`` as floats, checking the shape."""
    if any(v.tag != "v" for v in elem):
        raise Unsure(f"varray {elem.get('name')!r} holds more than <v> rows")
    out = [[float(t) for t in v.text.split()] for v in elem]
    if (rows is not None and len(out) != rows) or any(len(r) != cols for r in out):
        raise Unsure(f"varray {elem.get('name')!r} is not {rows}×{cols}")
    return out


def _structure(elem, n_atoms: int) -> tuple[list, list]:
    """``(basis, fractional positions)`` of a ``<structure>`` (pymatgen reads the first varrays)."""
    crystal = elem.find("crystal")
    basis = None if crystal is None else crystal.find("varray")
    positions = elem.find("varray")
    if (
        basis is None
        or positions is None
        or basis.get("name") != "basis"
        or positions.get("name") != "positions"
    ):
        raise Unsure("a structure without basis or positions first")
    return _floats(basis, 3, 3), _floats(positions, n_atoms, 3)


def _atominfo(elem) -> list[str]:
    atoms = elem.find("array[@name='atoms']/set")
    types = elem.find("array[@name='atomtypes']/set")
    if atoms is None or types is None or any(len(rc.findall("c")) < 5 for rc in types):
        raise Unsure("atominfo without atoms or atom types")
    symbols = [rc.find("c").text.strip() for rc in atoms]
    if any(s in ("X", "r") for s in symbols):  # pymatgen renames these; ASE does not
        raise Unsure("an atom named X or r")
    elem.clear()
    return symbols


def _kpoints(elem) -> bool:
    gen = elem.find("generation")
    style = (elem if gen is None else gen).get("param", "Reciprocal")
    if not style or style.lower()[0] not in _KPOINT_STYLES:
        raise Unsure(f"k-point style {style!r}")
    for v in (elem if gen is None else gen).iter("v", "i"):
        if v.get("type", "") not in ("", "int", "float"):
            raise Unsure(f"k-point parameter of type {v.get('type')!r}")
        conv = int if v.get("name") == "divisions" or v.get("type") == "int" else float
        [conv(t) for t in (v.text or "").split()]
    _floats(elem.find("varray[@name='kpointlist']"), None, 3)
    _floats(elem.find("varray[@name='weights']"), None, 1)
    elem.clear()
    return True


def _energies(elem) -> dict[str, float]:
    if elem is None:
        return {}
    out = {}
    for i in elem.findall("i"):
        out[i.attrib["name"]] = float(i.text)
    return out


def _calculation(elem, doc: dict) -> dict[str, Any]:
    """Parse (and check) one ionic step as both libraries would; keep what the row needs."""
    n_atoms = len(doc["symbols"])
    energy = _energies(elem.find("energy"))
    scf = [
        _energies(s.find("energy")) for s in elem.findall("scstep") if s.find("energy") is not None
    ]
    if not scf or not {"e_fr_energy", "e_0_energy"} <= set(energy) & set(scf[-1]):
        raise Unsure("an ionic step without its energies")
    structure = elem.find("structure")
    if structure is None:
        raise Unsure("an ionic step without a structure")
    basis, positions = _structure(structure, n_atoms)
    for va in elem.findall("varray"):
        name = va.get("name")
        if name is None:
            raise Unsure("a varray without a name")
        _floats(va, n_atoms if name == "forces" else 3 if name == "stress" else None, 3)
    for path in ("dos/i[@name='efermi']", "dipole/v[@name='dipole']"):
        found = elem.find(path)
        if found is not None:
            [float(t) for t in found.text.split()]
    for sc in elem.findall("scstep/dipole/v"):
        [float(t) for t in sc.text.split()]
    for r in elem.iterfind("eigenvalues/array/set//r"):  # ASE reads eigenvalue and occupation
        tokens = r.text.split()
        float(tokens[0]), float(tokens[1])
    return {"energy": energy, "scf": scf[-1], "n_elec": len(scf), "basis": basis, "pos": positions}


def _version(params: dict) -> str:
    """The VASP version as pymatgen's ``Incar`` turns the generator's string into a value."""
    found = params.get("VERSION")
    if found is None:
        raise Unsure("no VASP version in the generator")
    val = str(found[1])
    for conv in (int, float):
        try:
            return str(conv(val)) if conv(val) else ""
        except ValueError:
            pass
    if "true" in val.lower():
        return "True"
    if "false" in val.lower():
        return ""
    return val.strip().capitalize()


def _final_energy(last: dict, energy_kind: str) -> float:
    """pymatgen's final energy (eV), after checking ASE would compute the same within tolerance."""
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
    if not (np.isfinite(energy) and abs(energy - ase) <= ENERGY_TOL_EV):
        raise Unsure("pymatgen's and ASE's energies differ")
    return float(energy)


def _flag_set(params: dict, key: str) -> bool:
    """Whether a logical INCAR flag is given as anything but false."""
    return key in params and params[key][1] not in _FALSE


def _check_run_type(incar: dict, params: dict) -> None:
    """Give up on runs pymatgen reads differently (response functions, DFPT, NMR, MLFF)."""
    for key in ("LEPSILON", "ML_LMLFF"):
        if _flag_set(incar, key):
            raise Unsure(f"{key} set")
    if _flag_set(params, "LCHIMAG"):
        raise Unsure("LCHIMAG set")
    if "ALGO" in incar:
        ptype, value = incar["ALGO"]
        text = str(value).strip().lower()
        if (
            ptype != "string"
            or text in ("chi", "bse", "exact")
            or "true" in text
            or "false" in text
        ):
            raise Unsure(f"ALGO={value}")
        for conv in (int, float):
            try:
                conv(text)
            except ValueError:
                continue
            raise Unsure(f"ALGO={value} is a number")


def _parsed(run: RunFiles, path: Path, doc: dict, energy_kind: str) -> Parsed:
    from pymatgen.core import Structure

    if not doc["n_steps"] or not {"generator", "incar", "kpoints", "initialpos"} <= set(doc):
        raise Unsure("no ionic step, or a missing header block")
    params = doc["parameters"]
    _check_run_type(doc["incar"], params)
    nelm = _one(params, "NELM")
    if nelm is None:
        raise Unsure("no NELM")
    nsw = int(_one(params, "NSW", 0))
    ibrion = int(_one(params, "IBRION", -1 if nsw in (-1, 0) else 0))
    version = _version(doc["generator"])
    last = doc["last"]
    energy = _final_energy(last, energy_kind)
    try:
        structure = Structure(last["basis"], doc["symbols"], last["pos"])
    except Exception as exc:  # e.g. an unknown element: pymatgen says why
        raise Unsure(f"pymatgen Structure: {exc}") from exc
    if not all(math.isfinite(x) for x in structure.lattice.parameters):
        raise Unsure("a degenerate lattice")
    problems: list[str] = []
    conv_el = last["n_elec"] < nelm
    if not conv_el:
        problems.append(nelm_problem(last["n_elec"], int(nelm)))
    conv_ion, problem = vasprun_ionic(
        run, path, complete=True, n_steps=doc["n_steps"], nsw=nsw, ibrion=ibrion
    )
    if problem:
        problems.append(problem)
    return Parsed(
        path.name, energy, structure, doc["n_steps"], version, conv_el, conv_ion, problems
    )
