"""dkluq_cli.crystal.structure_io: the one POSCAR reader (and its messages), the POSCAR writer, the ingest
sidecar, one composition per table."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.lattice import structure_to_params
from dkluq_cli.crystal.structure_io import (
    check_single_composition,
    is_poscar_name,
    read_poscar,
    read_structure,
    write_poscar,
)
from dkluq_cli.crystal.table_reference import reference_for_table
from dkluq_cli.errors import InputError, TableError
from tests.conftest import REPO
from tests.stub_model import POSCAR_TEXT

BAD = REPO / "tests" / "bad_inputs"


def test_read_poscar(tmp_path):
    poscar = tmp_path / "POSCAR"
    poscar.write_text(POSCAR_TEXT)
    ref = read_poscar(poscar)
    assert ref.lattice == pytest.approx([3.95, 3.95, 3.95, 90, 90, 90])
    assert ref.formula == "SrTiO3" and len(ref.species) == 5
    (tmp_path / "junk").write_text("not a poscar\n")
    with pytest.raises(InputError, match="POSCAR"):
        read_poscar(tmp_path / "junk")
    with pytest.raises(InputError, match="does not exist"):
        read_poscar(tmp_path / "missing")


def test_crystal_dict_is_plain(tmp_path):
    poscar = tmp_path / "CONTCAR"
    poscar.write_text(POSCAR_TEXT)
    ref = read_poscar(poscar)
    stored = ref.to_dict()
    assert set(stored) == {"species", "frac_coords", "lattice", "formula", "source"}
    assert stored["species"] == ["Sr", "Ti", "O", "O", "O"] and stored["source"] == str(poscar)
    assert stored["frac_coords"][1] == [0.5, 0.5, 0.5]
    assert all(type(v) is float for row in stored["frac_coords"] for v in row)
    assert Crystal.from_dict(stored) == ref


@pytest.mark.parametrize(
    ("name", "what", "needle"),
    [
        ("POSCAR_noise", "reference", "as a POSCAR: binary data, not a POSCAR text file"),
        ("POSCAR_counts_mismatch", "", "as a POSCAR: atom counts 3 add up to 3 atoms but only 2"),
        ("POSCAR_not_a_poscar", "", "as a POSCAR: only 2 line(s); a POSCAR needs at least 8"),
        ("CONTCAR_empty", "reference", "as a POSCAR: empty file"),
    ],
)
def test_broken_poscars_are_named_in_plain_words(name, what, needle):
    with pytest.raises(InputError) as exc:
        read_structure(BAD / name, what)
    prefix = f"cannot read {what + ' ' if what else ''}{BAD / name}"
    assert exc.value.message.startswith(prefix) and needle in exc.value.message


def test_reader_messages(tmp_path):
    with pytest.raises(InputError, match=r"^reference .*gone does not exist"):
        read_structure(tmp_path / "gone", "reference")
    with pytest.raises(InputError, match=r"is a folder"):
        read_structure(tmp_path, "reference")
    latin = tmp_path / "POSCAR_latin1"
    latin.write_bytes(POSCAR_TEXT.replace("SrTiO3", "Sr\xe9").encode("latin-1"))
    with pytest.raises(InputError, match=r"not UTF-8 text \(byte 2\)"):
        read_structure(latin)
    # sound layout, unparsable numbers: pymatgen's error, with its type
    bad_number = tmp_path / "POSCAR_bad_number"
    bad_number.write_text(POSCAR_TEXT.replace("3.95 0 0", "x 0 0"))
    with pytest.raises(InputError) as exc:
        read_structure(bad_number)
    assert exc.value.message.startswith(f"cannot read {bad_number} as a POSCAR: ValueError")


def test_other_formats_only_for_non_poscar_names(tmp_path):
    structure = read_structure(_write(tmp_path / "POSCAR", POSCAR_TEXT))
    cif = tmp_path / "cell.cif"
    structure.to(filename=str(cif))
    np.testing.assert_allclose(structure_to_params(read_structure(cif)), [3.95] * 3 + [90] * 3)
    assert is_poscar_name(tmp_path / "CONTCAR_relaxed") and is_poscar_name(tmp_path / "x.vasp")
    assert not is_poscar_name(cif) and not is_poscar_name(tmp_path / "poscar.csv")


def test_write_poscar_round_trip(tmp_path):
    crystal = read_poscar(_write(tmp_path / "POSCAR", POSCAR_TEXT))
    params = [3.9, 3.95, 4.0, 89.0, 90.5, 91.0]
    out = write_poscar(crystal.structure(params), tmp_path / "new", "rank 1\n  batch")
    assert out.read_text().splitlines()[0] == "rank 1 batch"
    again = read_poscar(out)
    np.testing.assert_allclose(again.lattice, params, atol=1e-10)
    assert again.species == crystal.species


def test_reference_for_table(tmp_path, caplog):
    from ase.io import write

    table = tmp_path / "table.csv"
    assert reference_for_table(table, "SrTiO3") is None
    atoms = read_structure(_write(tmp_path / "POSCAR", POSCAR_TEXT)).to_ase_atoms()
    write(table.with_suffix(".extxyz"), atoms, format="extxyz")
    ref = reference_for_table(table, None)
    assert ref.formula == "SrTiO3" and ref.source == "table.extxyz"
    assert ref.lattice == pytest.approx([3.95] * 3 + [90] * 3)
    assert ref.species == ("Sr", "Ti", "O", "O", "O")
    assert reference_for_table(table, "BaTiO3") is None  # no crystal of that composition
    table.with_suffix(".extxyz").write_text("garbage\n")
    with caplog.at_level(logging.WARNING, logger="dkluq_cli"):
        assert reference_for_table(table, None) is None
    assert any("ignoring unreadable structures file" in r.getMessage() for r in caplog.records)


def test_check_single_composition():
    assert check_single_composition(pd.DataFrame({"a": [1.0]}), "t.csv") is None
    assert check_single_composition(pd.DataFrame({"formula": ["SrTiO3"] * 2}), "t") == "SrTiO3"
    with pytest.raises(TableError, match=r"t\.csv mixes 2 compositions"):
        check_single_composition(pd.DataFrame({"formula": ["SrTiO3", "BaTiO3"]}), "t.csv")


def _write(path, text):
    path.write_text(text)
    return path
