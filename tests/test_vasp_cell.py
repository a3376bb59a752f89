"""Cell computes lattice parameters as pymatgen does and writes extxyz frames as ASE does."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dkluq_cli.ingest.vasp.cell import Cell, extxyz_frame

floats = st.floats(min_value=-50, max_value=50, allow_nan=False, allow_infinity=False)
matrices = st.lists(floats, min_size=9, max_size=9).map(lambda v: np.array(v).reshape(3, 3))
symbols = st.lists(st.sampled_from(["Sr", "Ti", "O", "H", "Fe", "Li", "P"]), min_size=1, max_size=6)
names = st.text(
    alphabet=st.sampled_from(list("ab z_-./()[]{}'\"=\\üÅ0123")), min_size=1, max_size=30
)


@settings(max_examples=60, deadline=None)
@given(matrix=matrices, species=symbols, seed=st.integers(0, 2**16))
def test_numbers_equal_pymatgen_bit_for_bit(matrix, species, seed):
    from pymatgen.core import Structure

    if abs(np.linalg.det(matrix)) < 1e-3:
        matrix = matrix + np.eye(3) * 5
    frac = np.random.default_rng(seed).random((len(species), 3))
    structure = Structure(matrix, species, frac)
    cell = Cell.from_fractional(matrix, species, frac)
    assert cell.parameters() == structure.lattice.parameters
    assert cell.volume() == structure.lattice.volume
    assert cell.reduced_formula() == structure.composition.reduced_formula
    assert np.array_equal(cell.cart, structure.cart_coords)
    assert np.array_equal(Cell.from_structure(structure).cart, cell.cart)


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
    assert extxyz_frame(Cell(matrix, species, cart), info) == buf.getvalue()
