"""Write the ``sample_data/vasp_runs/`` tree: SrTiO3 runs in VASP's own file formats.

No VASP was run. Every file is written from minimal templates in this module, with energies from
the CHGNet oracle (:mod:`sample_data.oracle`), so that ``dkluq ingest`` can be exercised on a
realistic user tree. Formats follow VASP 6.4.2 closely enough that pymatgen
(``Vasprun``, ``Outcar``, ``Oszicar``, ``Poscar``) and ASE (``ase.io.read``) read every file.

Conventions (documented in ``sample_data/README.md``):

* ``energy(sigma->0)`` (``e_0_energy``) is the CHGNet total energy of the 5-atom cell in eV -- for
  the 35 static runs exactly the ``energy_eV`` of the matching row of
  ``srtio3_lattice_energy.csv`` (written with Python's round-trip ``repr``).
* A made-up smearing entropy term ``EENTRO = -0.002 eV/atom x 5 atoms = -0.01 eV`` (ISMEAR = 0,
  SIGMA = 0.05) is applied so the two energy conventions differ:
  ``TOTEN (free energy, e_fr_energy) = E0 + EENTRO / 2 = E0 - 0.005 eV`` and
  ``energy without entropy = E0 - EENTRO / 2 = E0 + 0.005 eV``.
* Forces are zero (every site is an inversion centre of the cell); no stress is written.
* Lattice vectors are written with 16 decimals (VASP writes 8 in vasprun.xml, 9 in OUTCAR), so the
  lattice parameters read back agree with the CSV to ~1e-14.
* Files carry a marker: ``<!-- written by dkluq sample_data/generate.py -->`` in XML, the POSCAR /
  CONTCAR comment line, and the first line of OUTCAR. OSZICAR has no marker: pymatgen's
  ``Oszicar`` would count any extra line as an ionic step.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sample_data.oracle import FRAC_COORDS, N_ATOMS, P0, SPECIES, srtio3_energies, srtio3_structure

MARKER = "written by dkluq sample_data/generate.py"
XML_MARKER = f"<!-- {MARKER} -->"
VASP_VERSION = "6.4.2"
SEED_VASP = 3
EENTRO_PER_ATOM = -0.002  # eV/atom, made-up smearing entropy term -T*S
N_STATIC = 35
INDEX_COLUMNS = ["run", "row", "expected", "energy_eV", "a", "b", "c", "alpha", "beta", "gamma"]
POTCARS = (
    ("Sr", "PAW_PBE Sr_sv 07Sep2000", 87.62, 10.0),
    ("Ti", "PAW_PBE Ti_pv 07Sep2000", 47.88, 10.0),
)
POTCARS += (("O", "PAW_PBE O 08Apr2002", 16.0, 6.0),)
TYPES = (("Sr", 1), ("Ti", 1), ("O", 3))
NELECT = 38.0
NBANDS = 28


@dataclass
class Step:
    """One ionic step: lattice parameters, final energy and its SCF history.

    Attributes:
        params: ``(a, b, c, alpha, beta, gamma)`` in Å and degrees.
        energy: ``energy(sigma->0)`` of the step in eV.
        scf: Successive SCF ``energy(sigma->0)`` values in eV (the last equals ``energy``).
    """

    params: np.ndarray
    energy: float
    scf: list[float] = field(default_factory=list)


@dataclass
class Run:
    """Everything needed to write one run folder.

    Attributes:
        path: Folder relative to ``vasp_runs/`` (POSIX separators).
        steps: Ionic steps, in order.
        files: File names to write (``vasprun.xml``, ``OUTCAR.gz``, ``POSCAR``, ...).
        row: Row of ``srtio3_lattice_energy.csv`` the run reproduces, if any.
        expected: ``accepted`` or the kind of rejection ``dkluq ingest`` should report.
        incar: INCAR parameters (NSW, IBRION, ISIF, NELM, EDIFF, EDIFFG, ISMEAR, SIGMA).
        converged_scf: Whether the final SCF loop reached EDIFF.
        relaxed: Whether the OUTCAR ends with "reached required accuracy".
        truncate_in_step: Cut vasprun.xml inside this (0-based) ionic step; ``None`` keeps it whole.
    """

    path: str
    steps: list[Step]
    files: list[str]
    row: int | None = None
    expected: str = "accepted"
    incar: dict[str, float] = field(default_factory=dict)
    converged_scf: bool = True
    relaxed: bool = False
    truncate_in_step: int | None = None


STATIC_INCAR = {"NSW": 0, "IBRION": -1, "ISIF": 2, "NELM": 60, "EDIFF": 1e-6, "EDIFFG": -0.01}
RELAX_INCAR = {"NSW": 50, "IBRION": 2, "ISIF": 3, "NELM": 60, "EDIFF": 1e-6, "EDIFFG": -0.01}
COMMON_INCAR = {"ISMEAR": 0, "SIGMA": 0.05, "ENCUT": 520.0, "ISPIN": 1}


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


def entropy_terms(e0: float) -> tuple[float, float, float]:
    """Split ``energy(sigma->0)`` into VASP's three energies with the made-up entropy term.

    Args:
        e0: ``energy(sigma->0)`` in eV.

    Returns:
        ``(e_fr_energy, e_wo_entrp, eentro)`` in eV: TOTEN, energy without entropy, -T*S.
    """
    eentro = EENTRO_PER_ATOM * N_ATOMS
    return e0 + eentro / 2, e0 - eentro / 2, eentro


def scf_history(
    e_final: float, n: int, rng: np.random.Generator, converged: bool = True
) -> list[float]:
    """A plausible SCF energy sequence ending at ``e_final``.

    Args:
        e_final: Energy of the last SCF step in eV.
        n: Number of SCF steps.
        rng: Random generator (fixes the first-step offset).
        converged: Decay to ``e_final`` (True) or keep oscillating by ~1e-3 eV (False).

    Returns:
        ``n`` energies in eV; the last is exactly ``e_final``.
    """
    start = 20.0 + 10.0 * rng.random()
    out = []
    for j in range(n - 1):
        if converged:
            d = start * 10.0 ** (-j * 8.0 / (n - 1))
        else:
            d = start * 10.0 ** (-j * 4.0 / (n - 1)) + 2e-3 * (-1) ** j
        out.append(e_final + d)
    out.append(e_final)
    return out


def kpoint_list() -> tuple[np.ndarray, np.ndarray]:
    """Gamma-centred 4x4x4 grid reduced by time reversal only.

    Returns:
        ``(kpoints, weights)``: shape ``(36, 3)`` fractional coordinates and weights summing to 1.
    """
    pts: dict[tuple[float, ...], int] = {}
    for i in range(4):
        for j in range(4):
            for k in range(4):
                q = tuple(((x / 4.0 + 0.5) % 1.0) - 0.5 for x in (i, j, k))
                q = tuple(0.5 if abs(x + 0.5) < 1e-12 else x for x in q)
                mq = tuple(0.5 if abs(-x + 0.5) < 1e-12 or abs(-x - 0.5) < 1e-12 else -x for x in q)
                key = min(q, mq)
                pts[key] = pts.get(key, 0) + 1
    kp = np.array(sorted(pts, key=lambda t: (abs(t[0]) + abs(t[1]) + abs(t[2]), t)))
    w = np.array([pts[tuple(k)] for k in kp], dtype=float) / 64.0
    return kp, w


def lattice_matrix(params: np.ndarray) -> np.ndarray:
    """Lattice vectors (rows, Å) exactly as :func:`sample_data.oracle.srtio3_structure` builds them.

    Args:
        params: ``(a, b, c, alpha, beta, gamma)`` in Å and degrees.

    Returns:
        Shape ``(3, 3)`` matrix.
    """
    return np.array(srtio3_structure(params).lattice.matrix)


def _vec(v: np.ndarray, fmt: str = "{:22.16f}") -> str:
    return "".join(fmt.format(float(x) + 0.0) for x in v)


def _e(x: float) -> str:
    """Energy as text: shortest round-trip repr, right-aligned like VASP's fields."""
    return f"{float(x)!r:>18}"


# ---------------------------------------------------------------------------------------------
# POSCAR / CONTCAR
# ---------------------------------------------------------------------------------------------


def poscar_text(params: np.ndarray, comment: str) -> str:
    """POSCAR / CONTCAR in VASP 5 format (species line present).

    Args:
        params: ``(a, b, c, alpha, beta, gamma)`` in Å and degrees.
        comment: Text after ``SrTiO3`` on the comment line.

    Returns:
        File content.
    """
    m = lattice_matrix(params)
    lines = [f"SrTiO3 {MARKER} {comment}".rstrip(), "   1.00000000000000"]
    lines += [" " + _vec(v) for v in m]
    lines += ["   " + "".join(f"{s:<5}" for s, _ in TYPES).rstrip()]
    lines += ["   " + "".join(f"{n:<5}" for _, n in TYPES).rstrip(), "Direct"]
    lines += [_vec(np.array(f), "{:20.16f}") for f in FRAC_COORDS]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# vasprun.xml
# ---------------------------------------------------------------------------------------------


def _xml_structure(params: np.ndarray, indent: str, name: str | None = None) -> list[str]:
    m = lattice_matrix(params)
    rec = np.linalg.inv(m).T
    vol = abs(float(np.linalg.det(m)))
    head = f'{indent}<structure name="{name}" >' if name else f"{indent}<structure>"
    out = [head, f"{indent} <crystal>", f'{indent}  <varray name="basis" >']
    out += [f"{indent}   <v>{_vec(v)} </v>" for v in m]
    out += [f"{indent}  </varray>", f'{indent}  <i name="volume">{vol:20.8f} </i>']
    out += [f'{indent}  <varray name="rec_basis" >']
    out += [f"{indent}   <v>{_vec(v, '{:17.8f}')} </v>" for v in rec]
    out += [f"{indent}  </varray>", f"{indent} </crystal>", f'{indent} <varray name="positions" >']
    out += [f"{indent}  <v>{_vec(np.array(f), '{:17.8f}')} </v>" for f in FRAC_COORDS]
    out += [f"{indent} </varray>", f"{indent}</structure>"]
    return out


def _xml_energy(e0: float, indent: str) -> list[str]:
    fr, wo, _ = entropy_terms(e0)
    return [
        f"{indent}<energy>",
        f'{indent} <i name="e_fr_energy">{_e(fr)} </i>',
        f'{indent} <i name="e_wo_entrp">{_e(wo)} </i>',
        f'{indent} <i name="e_0_energy">{_e(e0)} </i>',
        f"{indent}</energy>",
    ]


def _i(name: str, value: object, indent: str) -> str:
    if isinstance(value, bool):
        return f'{indent}<i type="logical" name="{name}"> {"T" if value else "F"}  </i>'
    if isinstance(value, int):
        return f'{indent}<i type="int" name="{name}">{value:6d}</i>'
    if isinstance(value, float):
        return f'{indent}<i name="{name}">{value:17.8f}</i>'
    return f'{indent}<i type="string" name="{name}">{value}</i>'


def vasprun_text(run: Run) -> str:
    """Full vasprun.xml of a run (cut inside an ionic step when ``run.truncate_in_step`` is set).

    Args:
        run: The run.

    Returns:
        XML text (ISO-8859-1 compatible ASCII).
    """
    inc = {**COMMON_INCAR, **run.incar}
    out = ['<?xml version="1.0" encoding="ISO-8859-1"?>', XML_MARKER, "<modeling>", " <generator>"]
    out += [
        ' <i name="program" type="string">vasp </i>',
        f' <i name="version" type="string">{VASP_VERSION}  </i>',
        ' <i name="subversion" type="string">20Jul23 (build Mar 15 2024 10:12:04) complex parallel </i>',
        ' <i name="platform" type="string">LinuxGNU </i>',
        ' <i name="date" type="string">2024 05 14 </i>',
        ' <i name="time" type="string">10:00:00 </i>',
    ]
    out = out[:4] + ["  " + s.strip() for s in out[4:]] + [" </generator>", " <incar>"]
    incar_items: list[tuple[str, object]] = [
        ("SYSTEM", "SrTiO3"),
        ("PREC", "accurate"),
        ("ENCUT", float(inc["ENCUT"])),
        ("EDIFF", float(inc["EDIFF"])),
        ("NELM", int(inc["NELM"])),
        ("ISMEAR", int(inc["ISMEAR"])),
        ("SIGMA", float(inc["SIGMA"])),
        ("NSW", int(inc["NSW"])),
        ("IBRION", int(inc["IBRION"])),
        ("ISIF", int(inc["ISIF"])),
        ("EDIFFG", float(inc["EDIFFG"])),
        ("LWAVE", False),
        ("LCHARG", False),
    ]
    out += [_i(k, v, "  ") for k, v in incar_items] + [" </incar>", " <kpoints>"]
    kp, w = kpoint_list()
    out += [
        '  <generation param="Gamma">',
        '   <v type="int" name="divisions">       4        4        4 </v>',
    ]
    out += [
        '   <v name="usershift">      0.00000000       0.00000000       0.00000000 </v>',
        "  </generation>",
    ]
    out += ['  <varray name="kpointlist" >'] + [f"   <v>{_vec(k, '{:17.8f}')} </v>" for k in kp]
    out += ["  </varray>", '  <varray name="weights" >'] + [f"   <v>{x:17.8f} </v>" for x in w]
    out += ["  </varray>", " </kpoints>", " <parameters>"]
    sections: list[tuple[str, list[tuple[str, object]]]] = [
        ("general", [("SYSTEM", "SrTiO3"), ("LCOMPAT", False)]),
        (
            "electronic",
            [
                ("PREC", "accura"),
                ("ENMAX", float(inc["ENCUT"])),
                ("EDIFF", float(inc["EDIFF"])),
                ("NBANDS", NBANDS),
                ("NELECT", NELECT),
                ("ISMEAR", int(inc["ISMEAR"])),
                ("SIGMA", float(inc["SIGMA"])),
                ("ISPIN", int(inc["ISPIN"])),
                ("NELM", int(inc["NELM"])),
                ("NELMIN", 2),
                ("NELMDL", -5),
            ],
        ),
        (
            "ionic",
            [
                ("NSW", int(inc["NSW"])),
                ("IBRION", int(inc["IBRION"])),
                ("ISIF", int(inc["ISIF"])),
                ("PSTRESS", 0.0),
                ("EDIFFG", float(inc["EDIFFG"])),
                ("POTIM", 0.5),
            ],
        ),
        (
            "electronic exchange-correlation",
            [("GGA", "PE"), ("LHFCALC", False), ("AEXX", 0.0), ("HFSCREEN", 0.0), ("LDAU", False)],
        ),
    ]
    for name, items in sections:
        out += (
            [f'  <separator name="{name}" >']
            + [_i(k, v, "   ") for k, v in items]
            + ["  </separator>"]
        )
    out += [
        " </parameters>",
        " <atominfo>",
        f"  <atoms>{N_ATOMS:8d} </atoms>",
        f"  <types>{len(TYPES):8d} </types>",
    ]
    out += [
        '  <array name="atoms" >',
        '   <dimension dim="1">ion</dimension>',
        '   <field type="string">element</field>',
    ]
    out += ['   <field type="int">atomtype</field>', "   <set>"]
    type_index = {s: i + 1 for i, (s, _) in enumerate(TYPES)}
    out += [f"    <rc><c>{s:<2}</c><c>{type_index[s]:4d}</c></rc>" for s in SPECIES]
    out += [
        "   </set>",
        "  </array>",
        '  <array name="atomtypes" >',
        '   <dimension dim="1">type</dimension>',
    ]
    out += ['   <field type="int">atomspertype</field>', '   <field type="string">element</field>']
    out += [
        "   <field>mass</field>",
        "   <field>valence</field>",
        '   <field type="string">pseudopotential</field>',
    ]
    out += ["   <set>"]
    for (s, n), (_, titel, mass, zval) in zip(TYPES, POTCARS, strict=True):
        out += [
            f"    <rc><c>{n:4d}</c><c>{s:<2}</c><c>{mass:16.8f}</c><c>{zval:16.8f}</c><c>  {titel}</c></rc>"
        ]
    out += ["   </set>", "  </array>", " </atominfo>"]
    out += _xml_structure(run.steps[0].params, " ", "initialpos")
    for k, step in enumerate(run.steps):
        out += [" <calculation>"]
        for e in step.scf:
            out += ["  <scstep>", '   <time name="total">    1.20    1.21</time>']
            out += _xml_energy(e, "   ")
            out += ["  </scstep>"]
            if run.truncate_in_step == k and e == step.scf[len(step.scf) // 2]:
                # Job killed mid-step: the file stops here, inside <calculation>.
                return "\n".join(out) + "\n" + "  <scstep>\n   <time name"
        out += _xml_structure(step.params, "  ")
        out += ['  <varray name="forces" >'] + [
            "   <v>" + _vec(np.zeros(3), "{:17.8f}") + " </v>"
        ] * N_ATOMS
        out += ["  </varray>", *_xml_energy(step.energy, "  ")]
        out += ['  <time name="totalsc">   15.60   15.71</time>', " </calculation>"]
    out += _xml_structure(run.steps[-1].params, " ", "finalpos")
    out += ["</modeling>"]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# OUTCAR and OSZICAR
# ---------------------------------------------------------------------------------------------

_DASH = " " + "-" * 104


def _outcar_cell(params: np.ndarray) -> list[str]:
    m = lattice_matrix(params)
    rec = np.linalg.inv(m).T
    vol = abs(float(np.linalg.det(m)))
    out = [
        "  volume of cell :" + f"{vol:14.2f}",
        "      direct lattice vectors                 reciprocal lattice vectors",
    ]
    out += ["   " + _vec(a) + "  " + _vec(r, "{:13.9f}") for a, r in zip(m, rec, strict=True)]
    out += ["", "  length of vectors"]
    out += [
        "   "
        + _vec(np.linalg.norm(m, axis=1), "{:13.9f}")
        + _vec(np.linalg.norm(rec, axis=1), "{:13.9f}")
    ]
    return out


def outcar_text(run: Run) -> str:
    """OUTCAR of a run: header, SCF iterations and one summary block per ionic step.

    Args:
        run: The run.

    Returns:
        File content. The first line is the generator marker (both parsers skip it).
    """
    inc = {**COMMON_INCAR, **run.incar}
    out = [
        f" {MARKER} (CHGNet 0.3.0 energies, not DFT)",
        f" vasp.{VASP_VERSION} 20Jul23 (build Mar 15 2024 10:12:04) complex",
        "  ",
        " executed on             LinuxGNU date 2024.05.14  10:00:00",
        " running on    8 total cores",
        " distrk:  each k-point on    8 cores,    1 groups",
        " distr:  one band on NCORE=   1 cores,    8 groups",
        "",
        _DASH,
        "",
        " INCAR:",
    ]
    out += [f"   {k:<7}= {v}" for k, v in sorted(inc.items())]
    for _, titel, _, _ in POTCARS:
        out += [f" POTCAR:    {titel}"]
    for _, titel, mass, zval in POTCARS:
        out += [
            f" POTCAR:    {titel}",
            f"   TITEL  = {titel}",
            f"   POMASS = {mass:8.3f}; ZVAL   = {zval:8.3f}    mass and valenz",
        ]
    kp, w = kpoint_list()
    out += [
        "",
        " Dimension of arrays:",
        f"   k-points           NKPTS = {len(kp):6d}   k-points in BZ     NKDIM = {len(kp):6d}"
        f"   number of bands    NBANDS= {NBANDS:6d}",
        f"   number of dos      NEDOS =    301   number of ions     NIONS = {N_ATOMS:6d}",
        "   total plane-waves  NPLWV =  27000",
        "   dimension x,y,z NGX =    30 NGY =   30 NGZ =   30",
        "   ions per type =               " + "".join(f"{n:4d}" for _, n in TYPES),
        "",
        " SYSTEM =  SrTiO3",
        " POSCAR =  SrTiO3",
        "",
        " Electronic Relaxation 1",
        f"   ENCUT  = {inc['ENCUT']:7.1f} eV",
        f"   NELM   = {int(inc['NELM']):6d};   NELMIN=  2; NELMDL= -5     # of ELM steps",
        f"   EDIFF  = {inc['EDIFF']:.1E}   stopping-criterion for ELM",
        "",
        " Ionic relaxation",
        f"   EDIFFG = {inc['EDIFFG']:.1E}   stopping-criterion for IOM",
        f"   NSW    = {int(inc['NSW']):6d}    number of steps for IOM",
        f"   IBRION = {int(inc['IBRION']):6d}    ionic relax: 0-MD 1-quasi-New 2-CG",
        f"   ISIF   = {int(inc['ISIF']):6d}    stress and relaxation",
        f"   ISPIN  = {int(inc['ISPIN']):6d}    spin polarized calculation?",
        "   LNONCOLLINEAR =      F non collinear calculations",
        "",
        f"   NELECT = {NELECT:12.4f}    total number of electrons",
        f"   ISMEAR = {int(inc['ISMEAR']):6d};   SIGMA  = {inc['SIGMA']:6.2f}  broadening in eV -4-tet -1-fermi 0-gaus",
        "",
    ]
    out += _outcar_cell(run.steps[0].params)
    out += ["", " k-points in reciprocal lattice and weights: SrTiO3 Gamma 4x4x4"]
    out += [_vec(k, "{:14.8f}") + f"{x:14.6f}" for k, x in zip(kp, w, strict=True)]
    out += ["", _DASH, ""]
    m_final = None
    for n_ion, step in enumerate(run.steps, start=1):
        for n_el, e in enumerate(step.scf, start=1):
            fr, wo, eentro = entropy_terms(e)
            out += [
                f"--------------------------------------- Iteration {n_ion:6d}({n_el:4d})  "
                + "-" * 39,
                "",
            ]
            out += [f" number of electron {NELECT:15.7f} magnetization ", ""]
            out += [" Free energy of the ion-electron system (eV)", "  " + "-" * 51]
            out += [f"  entropy T*S    EENTRO = {eentro:18.8f}", "  " + "-" * 51]
            out += [f"  free energy    TOTEN  = {_e(fr)} eV", ""]
            out += [f"  energy without entropy = {_e(wo)}  energy(sigma->0) = {_e(e)}", "", ""]
        out += [" E-fermi :   6.1234     XC(G=0):  -9.8765     alpha+bet :-12.3456", ""]
        if run.converged_scf:
            out += [
                "------------------------ aborting loop because EDIFF is reached " + "-" * 40,
                "",
            ]
        out += ["", " VOLUME and BASIS-vectors are now :", " " + "-" * 77]
        out += [f"  energy-cutoff  :  {inc['ENCUT']:10.2f}", *_outcar_cell(step.params), "", ""]
        m_final = lattice_matrix(step.params)
        cart = np.array(FRAC_COORDS) @ m_final
        out += [" POSITION                                       TOTAL-FORCE (eV/Angst)"]
        out += [" " + "-" * 83]
        out += [_vec(r, "{:13.5f}") + "   " + _vec(np.zeros(3), "{:15.6f}") for r in cart]
        out += [
            " " + "-" * 83,
            "    total drift:                               0.000000      0.000000      0.000000",
            "",
        ]
        out += ["", _DASH, "", "", ""]
        fr, wo, _ = entropy_terms(step.energy)
        out += ["  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)", "  " + "-" * 51]
        out += [f"  free  energy   TOTEN  = {_e(fr)} eV", ""]
        out += [
            f"  energy  without entropy= {_e(wo)}  energy(sigma->0) = {_e(step.energy)}",
            " ",
            "",
        ]
        out += [_DASH, ""]
    if run.relaxed:
        out += ["", " reached required accuracy - stopping structural energy minimisation"]
    out += [
        "",
        " General timing and accounting informations for this job:",
        " ========================================================",
        "  ",
        "                  Total CPU time used (sec):       42.123",
        "                            User time (sec):       41.001",
        "                          System time (sec):        1.122",
        "                         Elapsed time (sec):       43.456",
        "  ",
        "                   Maximum memory used (kb):      123456.",
        "                   Average memory used (kb):          N/A",
        "",
    ]
    return "\n".join(out) + "\n"


def oszicar_text(run: Run) -> str:
    """OSZICAR of a run (no marker line: pymatgen would read it as an ionic step).

    Args:
        run: The run.

    Returns:
        File content.
    """
    out: list[str] = []
    for n_ion, step in enumerate(run.steps, start=1):
        out += [
            "       N       E                     dE             d eps       ncg     rms          rms(c)"
        ]
        prev = 0.0
        for n_el, e in enumerate(step.scf, start=1):
            fr, _, _ = entropy_terms(e)
            de = fr - prev
            prev = fr
            out += [
                f"DAV: {n_el:3d}    {fr:.12E}   {de:.5E}   {de * 0.3:.5E}   {96:4d}   {abs(de) ** 0.5:.3E}"
            ]
        fr, _, _ = entropy_terms(step.energy)
        out += [f"{n_ion:4d} F= {fr:.8E} E0= {step.energy:.8E}  d E ={0.0:.6E}"]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------------------------


def _relax_path(p_start: np.ndarray, p_end: np.ndarray, n: int, ratio: float) -> np.ndarray:
    k = np.arange(n)[:, None]
    return np.round(p_end + (p_start - p_end) * ratio**k, 6)


def build_runs() -> list[Run]:
    """Describe every run folder (computes the CHGNet energies: about 60 structures, ~2 s).

    Returns:
        The runs, in a fixed order.
    """
    from sample_data.generate import main_params

    rng = np.random.default_rng(SEED_VASP)
    static_p = main_params()[:N_STATIC]
    static_e = srtio3_energies(static_p)
    runs: list[Run] = []
    layouts = (
        [
            (f"static batch 1/run_{i:02d}", ["POSCAR", "vasprun.xml", "OUTCAR", "OSZICAR"])
            for i in range(12)
        ]
        + [
            (
                f"strain scan (batch 2)/run_{i:02d}",
                ["POSCAR", "vasprun.xml.gz", "OUTCAR.gz", "OSZICAR"],
            )
            for i in range(12)
        ]
        + [(f"outcar only/row {24 + i}", ["POSCAR", "OUTCAR", "OSZICAR"]) for i in range(3)]
        + [(f"outcar only/row {27 + i}", ["POSCAR", "OUTCAR.gz"]) for i in range(3)]
        + [
            (f"cluster export/2024-05-14/job_{1201 + i} (static)/calc", ["POSCAR", "vasprun.xml"])
            for i in range(5)
        ]
    )
    for row, (path, files) in enumerate(layouts):
        e = float(static_e[row])
        step = Step(static_p[row], e, scf_history(e, int(rng.integers(10, 17)), rng))
        runs.append(Run(path, [step], files, row=row, incar=dict(STATIC_INCAR)))

    # Relaxation (ISIF = 3): 6 ionic steps towards the cubic minimum, CONTCAR = final cell.
    p_end = np.array([3.944, 3.944, 3.944, 90.0, 90.0, 90.0])
    relax_p = _relax_path(np.array([4.081, 3.802, 3.993, 92.6, 88.3, 90.9]), p_end, 6, 0.35)
    # Truncated relaxation: killed inside the 3rd ionic step.
    trunc_p = _relax_path(np.array([3.851, 4.034, 3.912, 89.1, 91.7, 87.8]), p_end, 4, 0.4)
    # Electronically unconverged static run (hits NELM = 40).
    unconv_p = np.round(P0 * (1.0 + rng.uniform(-0.08, 0.08, size=6)), 6)
    # Calculation that never started: POSCAR only.
    never_p = np.round(P0 * (1.0 + rng.uniform(-0.08, 0.08, size=6)), 6)
    energies = srtio3_energies(np.vstack([relax_p, trunc_p, unconv_p[None, :]]))
    relax_e, trunc_e, unconv_e = energies[:6], energies[6:10], float(energies[10])

    relax_steps = [
        Step(p, float(e), scf_history(float(e), 14 - 2 * min(k, 4), rng))
        for k, (p, e) in enumerate(zip(relax_p, relax_e, strict=True))
    ]
    runs.append(
        Run(
            "relaxations/SrTiO3 full relax (ISIF 3)",
            relax_steps,
            ["POSCAR", "CONTCAR", "vasprun.xml", "OUTCAR", "OSZICAR"],
            incar=dict(RELAX_INCAR),
            relaxed=True,
        )
    )
    trunc_steps = [
        Step(p, float(e), scf_history(float(e), 12, rng))
        for p, e in zip(trunc_p, trunc_e, strict=True)
    ]
    runs.append(
        Run(
            "problems/killed by walltime (truncated)",
            trunc_steps,
            ["POSCAR", "vasprun.xml"],
            expected="truncated",
            incar=dict(RELAX_INCAR),
            truncate_in_step=2,
        )
    )
    # Unconverged: SCF stops at NELM with the energy still 0.042 eV off the converged value.
    e_bad = unconv_e + 0.042
    nelm = 40
    runs.append(
        Run(
            "problems/unconverged (NELM hit)",
            [Step(unconv_p, e_bad, scf_history(e_bad, nelm, rng, converged=False))],
            ["POSCAR", "vasprun.xml", "OUTCAR", "OSZICAR"],
            expected="unconverged_electronic",
            incar={**STATIC_INCAR, "NELM": nelm},
            converged_scf=False,
        )
    )
    runs.append(
        Run(
            "problems/never started",
            [Step(never_p, float("nan"))],
            ["POSCAR"],
            expected="no_energy",
        )
    )
    return runs


def _final_step(run: Run) -> Step:
    """The step whose energy and lattice ``ingest`` would report (last complete one)."""
    if run.truncate_in_step is not None:
        return run.steps[run.truncate_in_step - 1]
    return run.steps[-1]


def render_run(run: Run) -> dict[str, bytes]:
    """All files of one run folder.

    Args:
        run: The run.

    Returns:
        Mapping of file name to bytes (gzip members are written with mtime 0, no file name).
    """
    files: dict[str, bytes] = {}
    for name in run.files:
        base = name.removesuffix(".gz")
        if base == "POSCAR":
            comment = f"(row {run.row})" if run.row is not None else "(initial)"
            text = poscar_text(run.steps[0].params, comment)
        elif base == "CONTCAR":
            text = poscar_text(run.steps[-1].params, "(final)")
        elif base == "vasprun.xml":
            text = vasprun_text(run)
        elif base == "OUTCAR":
            text = outcar_text(run)
        elif base == "OSZICAR":
            text = oszicar_text(run)
        else:  # pragma: no cover - programming error
            raise ValueError(name)
        data = text.encode("ascii")
        files[name] = (
            gzip.compress(data, compresslevel=9, mtime=0) if name.endswith(".gz") else data
        )
    return files


def index_frame(runs: list[Run]) -> pd.DataFrame:
    """The table ``vasp_runs_index.csv``: what ``dkluq ingest`` should make of each run.

    Args:
        runs: The runs.

    Returns:
        Frame with columns :data:`INDEX_COLUMNS`; ``row`` is a nullable integer, ``energy_eV`` is
        ``energy(sigma->0)`` of the last complete ionic step (empty when there is none).
    """
    recs = []
    for run in runs:
        step = _final_step(run)
        recs.append(
            [run.path, run.row, run.expected, step.energy, *(float(x) for x in step.params)]
        )
    frame = pd.DataFrame(recs, columns=INDEX_COLUMNS)
    frame["row"] = frame["row"].astype("Int64")
    return frame


def render_tree() -> dict[str, bytes]:
    """Every file of ``vasp_runs/`` plus ``vasp_runs_index.csv``, in memory.

    Returns:
        Mapping of path relative to ``sample_data/`` (POSIX) to bytes.
    """
    from sample_data.generate import to_csv_text

    runs = build_runs()
    out: dict[str, bytes] = {}
    for run in runs:
        for name, data in render_run(run).items():
            out[f"vasp_runs/{run.path}/{name}"] = data
    out["vasp_runs_index.csv"] = to_csv_text(index_frame(runs)).encode("utf-8")
    return out


def write_vasp_tree(out_dir: Path) -> int:
    """Write ``vasp_runs/`` (replacing generated files) and ``vasp_runs_index.csv``.

    Args:
        out_dir: The ``sample_data`` folder.

    Returns:
        Number of run folders written.
    """
    import shutil

    tree = render_tree()
    root = out_dir / "vasp_runs"
    if root.exists():
        shutil.rmtree(root)
    for rel, data in tree.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return len({rel.rsplit("/", 1)[0] for rel in tree if rel.startswith("vasp_runs/")})


def check_vasp(out_dir: Path, n_runs: int | None = None) -> list[str]:
    """Regenerate the tree in memory and compare it with the files on disk, byte for byte.

    Args:
        out_dir: The ``sample_data`` folder.
        n_runs: Compare only the first ``n_runs`` run folders (plus the index); all when ``None``.

    Returns:
        Human-readable mismatches (empty when identical).
    """
    tree = render_tree()
    folders: list[str] = []
    for rel in tree:
        folder = rel.rsplit("/", 1)[0]
        if rel.startswith("vasp_runs/") and folder not in folders:
            folders.append(folder)
    keep = set(folders if n_runs is None else folders[:n_runs])
    problems = []
    for rel, data in tree.items():
        if rel.startswith("vasp_runs/") and rel.rsplit("/", 1)[0] not in keep:
            continue
        path = out_dir / rel
        if not path.exists():
            problems.append(f"{rel}: missing")
        elif path.read_bytes() != data:
            digest = hashlib.sha256(data).hexdigest()[:12]
            problems.append(f"{rel}: differs from regenerated content (sha256 {digest}...)")
    return problems
