"""The blocks of a vasprun.xml, parsed and checked as pymatgen's ``Vasprun`` and ASE would.

Each function takes one lxml element (a parameter block, ``<atominfo>``, ``<kpoints>``, a
``<structure>``, a ``<calculation>``) and returns what the table needs from it, after converting
every number the two libraries would convert, in the same way. Anything either library would
fail on, or would read differently from the other, raises
:class:`~dkluq_cli.ingest.vasp.result.Unsure`. Lengths in Å, energies in eV.
"""

from __future__ import annotations

from typing import Any

from dkluq_cli.ingest.vasp.result import Unsure

_KPOINT_STYLES = "agmlc"  # initials pymatgen accepts (r: an explicit list, left to pymatgen)
_TYPES = ("", "int", "logical", "string", "float")
_FALSE = (False, "F", ".FALSE.", "False", "FALSE", ".F.", "f", ".false.")


def param_value(ptype: str, text: str | None, vector: bool) -> Any:
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


def merged_params(elem) -> dict[str, tuple[str, Any]]:
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
                out[name] = (ptype, param_value(ptype, c.text, c.tag == "v"))
        return out

    return {k.upper(): v for k, v in merged(elem).items()}


def check_ase_params(elem) -> None:
    """Check the parameters as ASE reads them: every one named, PSTRESS zero (else P·V differs)."""
    for c in elem.iter("i", "v"):
        name = c.get("name")
        if name is None:
            raise Unsure("a parameter without a name")
        if name.strip().upper() == "PSTRESS":
            value = param_value(c.get("type", ""), c.text, c.tag == "v")
            if isinstance(value, list) or float(value) != 0.0:
                raise Unsure("PSTRESS set: ASE subtracts P·V from the energy, pymatgen does not")


def int_param(params: dict, key: str, default: Any = None) -> Any:
    """The value of an integer parameter (``default`` when absent), else :class:`Unsure`."""
    found = params.get(key)
    if found is None:
        return default
    if found[0] != "int" or isinstance(found[1], list):
        raise Unsure(f"{key} is not one integer")
    return found[1]


def _child(elem, tag: str, name: str | None = None):
    """The first child ``<tag>`` (with ``name="..."`` when given), as ``find`` would give it."""
    for c in elem.iterchildren(tag):
        if name is None or c.get("name") == name:
            return c
    return None


def varray_floats(elem, rows: int | None, cols: int) -> list[list[float]]:
    """The rows of a ``<varray>`` as floats, checking the shape."""
    texts = []
    for v in elem:
        if v.tag != "v":
            raise Unsure(f"varray {elem.get('name')!r} holds more than <v> rows")
        row = v.text.split()
        if len(row) != cols:
            raise Unsure(f"varray {elem.get('name')!r} has a row of {len(row)}, not {cols}")
        texts.append(row)
    if rows is not None and len(texts) != rows:
        raise Unsure(f"varray {elem.get('name')!r} has {len(texts)} rows, not {rows}")
    return [list(map(float, row)) for row in texts]


def structure_arrays(elem, n_atoms: int) -> tuple[list, list]:
    """``(basis, fractional positions)`` of a ``<structure>`` (pymatgen reads the first varrays)."""
    crystal = _child(elem, "crystal")
    basis = None if crystal is None else _child(crystal, "varray")
    positions = _child(elem, "varray")
    if (
        basis is None
        or positions is None
        or basis.get("name") != "basis"
        or positions.get("name") != "positions"
    ):
        raise Unsure("a structure without basis or positions first")
    return varray_floats(basis, 3, 3), varray_floats(positions, n_atoms, 3)


def atom_symbols(elem) -> list[str]:
    """The atoms' symbols from ``<atominfo>`` (pymatgen also reads the POTCAR titles)."""
    names = [a.get("name") for a in elem.iterchildren("array")]
    if None in names or names.count("atoms") != 1 or names.count("atomtypes") > 1:
        raise Unsure("atominfo arrays unnamed or repeated")
    atoms = _child(_child(elem, "array", "atoms"), "set")
    types = _child(_child(elem, "array", "atomtypes"), "set")
    if any(len(rc.findall("c")) < 5 for rc in types):
        raise Unsure("atom types without their POTCAR titles")
    symbols = [_child(rc, "c").text.strip() for rc in atoms]
    if any(s in ("X", "r") for s in symbols):  # pymatgen renames these; ASE does not
        raise Unsure("an atom named X or r")
    elem.clear()
    return symbols


def check_kpoints(elem) -> bool:
    """Check the k-points parse as both libraries parse them (the values are not kept)."""
    gen = _child(elem, "generation")
    block = elem if gen is None else gen
    style = block.get("param", "Reciprocal")
    if not style or style.lower()[0] not in _KPOINT_STYLES:
        raise Unsure(f"k-point style {style!r}")
    for v in block.iter("v", "i"):
        if v.get("type", "") not in ("", "int", "float"):
            raise Unsure(f"k-point parameter of type {v.get('type')!r}")
        conv = int if v.get("name") == "divisions" or v.get("type") == "int" else float
        list(map(conv, (v.text or "").split()))
    for name, cols in (("kpointlist", 3), ("weights", 1)):
        for v in _child(elem, "varray", name):
            row = v.text.split()
            if v.tag != "v" or len(row) != cols:
                raise Unsure(f"k-point {name} rows are not {cols} numbers")
            for t in row:
                float(t)
    elem.clear()
    return True


def energies(elem) -> dict[str, float]:
    """An ``<energy>`` block: name → value (eV)."""
    return {i.attrib["name"]: float(i.text) for i in elem.iterchildren("i")}


def _numbers(elem) -> None:
    if elem is not None:
        list(map(float, elem.text.split()))


def ionic_step(elem, doc: dict) -> dict[str, Any]:
    """Parse (and check) one ionic step as both libraries would; keep what the row needs."""
    n_atoms = len(doc["symbols"])
    block = _child(elem, "energy")
    energy = {} if block is None else energies(block)
    scf = []
    for step in elem.iterchildren("scstep"):
        block = _child(step, "energy")
        if block is not None:
            scf.append(energies(block))
        for dipole in step.iterchildren("dipole"):
            for v in dipole.iterchildren("v"):
                _numbers(v)
    if not scf or not {"e_fr_energy", "e_0_energy"} <= set(energy) & set(scf[-1]):
        raise Unsure("an ionic step without its energies")
    structure = _child(elem, "structure")
    if structure is None:
        raise Unsure("an ionic step without a structure")
    basis, positions = structure_arrays(structure, n_atoms)
    for va in elem.iterchildren("varray"):
        name = va.get("name")
        if name is None:
            raise Unsure("a varray without a name")
        varray_floats(va, n_atoms if name == "forces" else 3 if name == "stress" else None, 3)
    for dos in elem.iterchildren("dos"):
        _numbers(_child(dos, "i", "efermi"))
    for dipole in elem.iterchildren("dipole"):
        _numbers(_child(dipole, "v", "dipole"))
    for eig in elem.iterchildren("eigenvalues"):  # ASE reads eigenvalue and occupation
        for r in eig.iterfind("array/set//r"):
            tokens = r.text.split()
            float(tokens[0]), float(tokens[1])
    return {"energy": energy, "scf": scf[-1], "n_elec": len(scf), "basis": basis, "pos": positions}


def vasp_version(params: dict) -> str:
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


def flag_set(params: dict, key: str) -> bool:
    """Whether a logical INCAR flag is given as anything but false."""
    return key in params and params[key][1] not in _FALSE


def check_run_type(incar: dict, params: dict) -> None:
    """Give up on runs pymatgen reads differently (response functions, DFPT, NMR, MLFF)."""
    for key in ("LEPSILON", "ML_LMLFF"):
        if flag_set(incar, key):
            raise Unsure(f"{key} set")
    if flag_set(params, "LCHIMAG"):
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
