"""Issue 27.3: predict reads structures in any format ASE or pymatgen reads — ingest's extxyz,
CIF, POSCAR/CONTCAR, folders of them, objects in memory — and names each in a structure column."""

from __future__ import annotations

import pandas as pd
import pytest

from dkluq_cli.analysis.predict import load_inputs
from dkluq_cli.crystal.structure_io import read_structures
from dkluq_cli.errors import InputError
from tests.conftest import plain

SI_A0 = 5.47


def _si(a: float = SI_A0):
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["Si"], [[0, 0, 0]])


def test_predict_reads_the_extxyz_that_ingest_wrote(invoke, small_run, tmp_path):
    extxyz = small_run.parent / "si.extxyz"
    out = tmp_path / "p.csv"
    r = invoke("predict", small_run / "model.pt", extxyz, "-o", out)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    table = pd.read_csv(small_run.parent / "si.csv")
    assert list(df["structure"]) == list(table["run"])  # each frame named by its run
    assert df["a"].to_numpy() == pytest.approx(table["a"].to_numpy())
    # the frames carry their energies: the prediction is checked against them
    assert {"energy_mean_eV", "energy_std_eV", "energy_error_eV", "in_domain"} <= set(df.columns)
    assert "against the energy_eV column" in plain(r.stderr)


def test_cif_poscar_and_folders_of_them(invoke, small_run, tmp_path):
    from pymatgen.io.cif import CifWriter
    from pymatgen.io.vasp import Poscar

    CifWriter(_si(5.45)).write_file(tmp_path / "si.cif")
    for k, a in enumerate((5.40, 5.50)):
        (tmp_path / "next" / f"cand_{k + 1:03d}").mkdir(parents=True)
        Poscar(_si(a)).write_file(tmp_path / "next" / f"cand_{k + 1:03d}" / "POSCAR")
    cif = load_inputs(tmp_path / "si.cif")
    assert list(cif["structure"]) == ["si.cif"] and cif["a"][0] == pytest.approx(5.45)
    assert cif["n_atoms"][0] == 8 and cif["formula"][0] == "Si"
    folder = load_inputs(tmp_path / "next")
    assert list(folder["structure"]) == ["cand_001/POSCAR", "cand_002/POSCAR"]
    out = tmp_path / "p.csv"
    r = invoke("predict", small_run, tmp_path / "next", "-o", out)
    assert r.exit_code == 0, r.output
    assert list(pd.read_csv(out)["structure"]) == ["cand_001/POSCAR", "cand_002/POSCAR"]


def test_structures_in_memory(small_run):
    from pymatgen.io.ase import AseAtomsAdaptor

    from dkluq_cli import load_model

    model = load_model(small_run)
    atoms = AseAtomsAdaptor.get_atoms(_si(5.44))
    atoms.info["name"] = "compressed"
    df = model.predict([_si(), atoms])
    assert list(df["structure"]) == ["0", "compressed"]
    assert df["a"].to_numpy() == pytest.approx([SI_A0, 5.44])
    one = model.predict(_si())
    assert len(one) == 1 and one["energy_std_eV"][0] > 0


def test_multi_frame_files_and_unreadable_ones(tmp_path):
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    frames = [AseAtomsAdaptor.get_atoms(_si(a)) for a in (5.4, 5.5)]
    write(tmp_path / "two.xyz", frames, format="extxyz")
    got = read_structures(tmp_path / "two.xyz")
    assert [g.name for g in got] == ["two.xyz#0", "two.xyz#1"]
    (tmp_path / "notes.xyz").write_text("this is not a structure\n")
    with pytest.raises(InputError):
        load_inputs(tmp_path / "notes.xyz")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(InputError):
        load_inputs(empty)
