"""DkluqCalculator: stress from the energy, ASE's conventions, composition checks, and a cell
relaxed on the surrogate inside the eos a0 interval."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dkluq_cli.errors import DkluqError
from tests.analytic_surface import EV_PER_A3_IN_GPA, AnalyticSurrogate, random_tensor
from tests.conftest import REPO

FRAC = [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]


def srtio3(cell, symbols: str = "SrTiO3"):
    from ase import Atoms

    return Atoms(symbols, scaled_positions=FRAC, cell=cell, pbc=True)


@pytest.fixture(scope="module")
def calc(lattice_run):
    from dkluq_cli import DkluqCalculator

    return DkluqCalculator(lattice_run / "model.pt")


def test_import_is_lazy():
    code = (
        "import sys, dkluq_cli; assert 'ase' not in sys.modules and 'torch' not in sys.modules; "
        "from dkluq_cli import DkluqCalculator; "
        "from ase.calculators.calculator import Calculator; "
        "assert issubclass(DkluqCalculator, Calculator); print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_stress_is_the_derivative_of_the_energy(calc):
    """ASE's sign and Voigt order: σ_I = (1/V) ∂E/∂e_I, checked by finite differences of the
    energy of cells strained through ASE, shear included, on a skewed cell."""
    cell = np.array([[3.95, 0.02, 0.0], [0.05, 3.90, 0.03], [0.0, -0.04, 3.98]])
    atoms = srtio3(cell)
    atoms.calc = calc
    stress = atoms.get_stress()
    assert stress.shape == (6,) and np.sort(np.abs(stress))[-3] > 1e-3  # well above atol
    volume = atoms.get_volume()
    h = 1e-3
    pairs = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
    for k, (i, j) in enumerate(pairs):
        energies = []
        for sign in (1, -1):
            eps = np.zeros((3, 3))
            eps[i, j] = eps[j, i] = sign * h / (1 if i == j else 2)  # engineering e_k = ±h
            strained = srtio3(cell @ (np.eye(3) + eps))
            strained.calc = calc
            energies.append(strained.get_potential_energy())
        fd = (energies[0] - energies[1]) / (2 * h) / volume
        # float32 network: ~1e-7 eV of round-off per energy, ~1e-6 eV/Å³ in a difference
        np.testing.assert_allclose(stress[k], fd, rtol=2e-3, atol=1e-5)


def test_results_and_sigma(calc, lattice_run):
    from dkluq_cli.model.io import load_model

    atoms = srtio3(np.eye(3) * 3.95)
    atoms.calc = calc
    energy = atoms.get_potential_energy()
    assert atoms.get_potential_energy(force_consistent=True) == energy
    assert np.allclose(atoms.get_forces(), 0.0) and atoms.get_forces().shape == (5, 3)
    mean, std = load_model(lattice_run / "model.pt").predict(np.array([[3.95] * 3 + [90.0] * 3]))
    assert energy == pytest.approx(mean[0], rel=1e-7)  # float32 network: batch round-off
    assert calc.results["energy_std"] == pytest.approx(std[0], rel=1e-5) and std[0] > 0


def test_refuses_other_compositions_and_supercells(calc):
    other = srtio3(np.eye(3) * 3.95, "BaTiO3")
    other.calc = calc
    with pytest.raises(DkluqError, match="BaTiO3"):
        other.get_potential_energy()
    from dkluq_cli.analysis.calculator import DkluqCalculator
    from dkluq_cli.crystal.crystal import Crystal

    sur = AnalyticSurrogate(np.array([3.9] * 3 + [90.0] * 3), random_tensor(0), formula="SrTiO3")
    sur.crystal = Crystal(("Sr", "Ti", "O", "O", "O"), FRAC, (3.9,) * 3 + (90.0,) * 3, "SrTiO3")
    guarded = DkluqCalculator(sur)
    big = srtio3(np.eye(3) * 3.9).repeat((2, 1, 1))
    big.calc = guarded
    with pytest.raises(DkluqError, match="10 atoms"):
        big.get_potential_energy()


def test_known_surface_stress_and_relaxation():
    """On a surface with a known C the calculator's stress is C e at a small strain, and ASE's
    FrechetCellFilter + BFGS relaxes to its zero-stress cell."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    from dkluq_cli.analysis.calculator import DkluqCalculator

    ref = np.array([3.9, 3.9, 3.9, 90.0, 90.0, 90.0])
    c = random_tensor(1)
    calc = DkluqCalculator(AnalyticSurrogate(ref, c))
    e = np.array([0.002, -0.001, 0.0015, 0.001, 0.0, -0.002])
    eps = np.array(
        [[e[0], e[5] / 2, e[4] / 2], [e[5] / 2, e[1], e[3] / 2], [e[4] / 2, e[3] / 2, e[2]]]
    )
    atoms = srtio3(np.eye(3) * 3.9 @ (np.eye(3) + eps))
    atoms.calc = calc
    np.testing.assert_allclose(atoms.get_stress() * EV_PER_A3_IN_GPA, c @ e, rtol=0.02, atol=0.02)
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=1e-6, steps=200)
    np.testing.assert_allclose(atoms.cell.cellpar(), ref, atol=1e-4)


def test_relaxed_cell_lies_in_the_eos_a0_interval(calc, lattice_run):
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    from dkluq_cli.analysis.centre import choose_centre
    from dkluq_cli.analysis.eos import eos_analysis

    atoms = srtio3(np.eye(3) * 3.914)
    atoms.calc = calc
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=2e-4, steps=300)
    assert np.abs(atoms.get_stress()).max() * EV_PER_A3_IN_GPA < 0.1
    sur = calc.surrogate
    res = eos_analysis(sur, choose_centre(sur, command="eos").params, n_samples=200)
    lo, hi = res.stats()["a0"]["ci95"]
    edge = atoms.get_volume() ** (1 / 3)
    assert lo <= edge <= hi, (lo, edge, hi)
