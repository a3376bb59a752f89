"""The extxyz frame of a run is written as ASE writes it; the row's numbers are pymatgen's."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dkluq_cli.ingest.vasp.extxyz import extxyz_frame
from dkluq_cli.ingest.vasp.result import Parsed, make_result

floats = st.floats(min_value=-50, max_value=50, allow_nan=False, allow_infinity=False)
matrices = st.lists(floats, min_size=9, max_size=9).map(lambda v: np.array(v).reshape(3, 3))
symbols = st.lists(st.sampled_from(["Sr", "Ti", "O", "H", "Fe", "Li", "P"]), min_size=1, max_size=6)
names = st.text(
    alphabet=st.sampled_from(list("ab z_-./()[]{}'\"=\\üÅ0123")), min_size=1, max_size=30
)


@settings(max_examples=60, deadline=None)
@given(matrix=matrices, species=symbols, seed=st.integers(0, 2**16))
def test_row_numbers_are_pymatgens(matrix, species, seed):
    from pymatgen.core import Structure

    if abs(np.linalg.det(matrix)) < 1e-3:
        matrix = matrix + np.eye(3) * 5
    frac = np.random.default_rng(seed).random((len(species), 3))
    structure = Structure(matrix, species, frac)
    res = make_result("r", Parsed("vasprun.xml", -1.5, structure, 1, "", True, True, []), "free")
    row = res.row
    abc = tuple(row[k] for k in ("a", "b", "c", "alpha", "beta", "gamma"))
    assert abc == structure.lattice.parameters
    assert row["volume"] == structure.lattice.volume
    assert row["formula"] == structure.composition.reduced_formula
    assert row["energy_per_atom_eV"] == -1.5 / len(species)
    assert np.array_equal(res.frame.positions, structure.cart_coords)


@settings(max_examples=80, deadline=None)
@given(
    matrix=matrices,
    species=symbols,
    run=names,
    source=names,
    energy=st.floats(allow_nan=False, allow_infinity=False),
    zero=st.booleans(),
)
def test_extxyz_frame_equals_ase(matrix, species, run, source, energy, zero):
    import ase.io
    from ase import Atoms

    if zero:
        matrix = np.zeros((3, 3))
    cart = np.linspace(-3.0, 7.0, 3 * len(species)).reshape(-1, 3)
    info = {"run": run, "source": source, "energy_eV": energy, "energy_kind": "sigma0"}
    atoms = Atoms(symbols=species, positions=cart, cell=matrix, pbc=True)
    atoms.info.update(info)
    buf = io.StringIO()
    ase.io.write(buf, atoms, format="extxyz")
    assert extxyz_frame(species, cart, matrix, info) == buf.getvalue()
