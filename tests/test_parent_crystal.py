"""The parent crystal of a strain campaign (dkluq_cli.crystal.parent) and how ingest and train use
it: the point group comes from the campaign, not from one strained cell."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from dkluq_cli.crystal.parent import parent_crystal
from dkluq_cli.crystal.point_group import PointGroup, cubic_perovskite
from dkluq_cli.crystal.structure_io import read_poscar
from dkluq_cli.crystal.table_reference import reference_file, reference_for_table
from tests.conftest import SAMPLE


def _strained(parent: Structure, params: np.ndarray) -> Structure:
    """The parent's sites (fractional) in a cell with ``params`` (a strain campaign's run)."""
    return Structure(Lattice.from_parameters(*params), parent.species, parent.frac_coords)


def _box(parent: Structure, n: int, half: float, seed: int) -> list[Structure]:
    p0 = np.array([*parent.lattice.abc, *parent.lattice.angles])
    rng = np.random.default_rng(seed)
    return [_strained(parent, p0 * rng.uniform(1 - half, 1 + half, 6)) for _ in range(n)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_box_recovers_the_cubic_parent(seed):
    runs = _box(cubic_perovskite(3.9), 40, 0.08, seed)
    assert PointGroup.from_structure(runs[0]).symbol == "-1"  # a strained run has no symmetry
    parent = parent_crystal(runs, "test")
    assert parent is not None and parent.crystal.point_group == "m-3m"
    a = parent.crystal.lattice
    assert a[0] == pytest.approx(a[1]) == pytest.approx(a[2])
    assert a[0] == pytest.approx(3.9, rel=0.02) and a[3:] == pytest.approx((90, 90, 90))
    group = PointGroup.from_structure(parent.crystal.structure())
    assert group.symbol == "m-3m" and group.order == 48


def test_tetragonal_parent_stays_tetragonal():
    """Ti off-centre along c (a ferroelectric-like cell): the campaign's group is 4mm, not the
    cubic group of its sites' average lattice."""
    lattice = Lattice.tetragonal(3.9, 4.1)
    coords = [[0, 0, 0], [0.5, 0.5, 0.53], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    parent0 = Structure(lattice, ["Pb", "Ti", "O", "O", "O"], coords)
    parent = parent_crystal(_box(parent0, 30, 0.02, 0), "test")
    assert parent is not None and parent.crystal.point_group == "4mm"
    assert parent.crystal.frac_coords[1][2] == pytest.approx(0.53, abs=5e-3)


def test_one_sided_campaign_with_its_relaxed_run():
    """Uniaxial strains in one direction only: the centre of the box is itself strained, the
    lowest-energy run (the relaxed parent) carries the cubic group."""
    cubic = cubic_perovskite(3.9)
    runs = [cubic] + [_strained(cubic, [3.9 * (1 + s), 3.9, 3.9, 90, 90, 90]) for s in (0.03, 0.06)]
    energies = [-40.0, -39.9, -39.7]
    assert parent_crystal(runs, "t").crystal.point_group == "4/mmm"
    parent = parent_crystal(runs, "t", energies)
    assert parent.crystal.point_group == "m-3m" and parent.origin == "lowest-energy run"


def test_no_campaign_no_parent():
    assert parent_crystal([], "t") is None
    mixed = [cubic_perovskite(3.9), cubic_perovskite(4.0, ("Ba", "Ti", "O"))]
    assert parent_crystal(mixed, "t") is None


def test_ingest_writes_the_parent_and_train_uses_m3m(tmp_path, invoke):
    out = tmp_path / "table.csv"
    r = invoke("ingest", SAMPLE / "vasp_runs", "-o", out)
    assert r.exit_code == 0, r.output
    assert "reference crystal: SrTiO3 m-3m" in r.output
    crystal = read_poscar(reference_file(out))
    assert crystal.formula == "SrTiO3"
    assert PointGroup.from_structure(crystal.structure()).symbol == "m-3m"
    run = tmp_path / "run"
    # the degree and restarts do not change which crystal and group are used
    r = invoke("train", out, "--trend", "2", "--restarts", "0", "--no-plots", "-o", run)
    assert r.exit_code == 0, r.output
    regime = json.loads((run / "metrics.json").read_text())["regime"]
    assert regime["symmetry"]["point_group"] == "m-3m"
    assert regime["crystal"]["source"] == str(reference_file(out))
    assert "reference crystal: SrTiO3" in r.output and "point group m-3m" in r.output


def test_old_ingest_without_reference_file_rebuilds_the_parent(tmp_path):
    """A table ingested before the reference POSCAR existed: the parent comes from its extxyz."""
    from ase.io import write

    runs = _box(cubic_perovskite(3.9), 20, 0.08, 5)
    table = tmp_path / "old.csv"
    pd.DataFrame({"a": [1.0]}).to_csv(table, index=False)
    write(table.with_suffix(".extxyz"), [s.to_ase_atoms() for s in runs], format="extxyz")
    crystal = reference_for_table(table, "SrTiO3")
    assert crystal is not None and crystal.point_group == "m-3m"
    assert crystal.source == "old.extxyz"
