"""The small inputs most users start from, built in tests: a 10-row BaTiO3 table with its ingest
sidecar, and a 7-run VASP equation-of-state tree of 8-atom Si.

Energies come from closed forms (a cubic elastic energy; a Birch–Murnaghan curve), not DFT: the
tests check that such tables train, rerun and predict, not how accurate the model is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: BaTiO3 (cubic perovskite): edge (Å), energy (eV), cubic elastic constants (eV/Å³).
BTO_A0, BTO_E0 = 4.0, -40.0
BTO_C11, BTO_C12, BTO_C44 = 2.0, 0.7, 0.8
#: Si (diamond, 8-atom conventional cell): edge (Å), energy (eV), B0 (eV/Å³), B'.
SI_A0, SI_E0, SI_B0, SI_B1 = 5.47, -43.4, 0.6, 4.0


def batio3_structure(params=(BTO_A0, BTO_A0, BTO_A0, 90.0, 90.0, 90.0)):
    """Cubic-perovskite BaTiO3 (pymatgen) with the given lattice parameters."""
    from pymatgen.core import Lattice, Structure

    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Structure(Lattice.from_parameters(*params), ["Ba", "Ti", "O", "O", "O"], frac)


def batio3_energy(params: np.ndarray) -> np.ndarray:
    """A cubic elastic energy (with a small anharmonic term) of lattices (n × 6), eV."""
    p = np.atleast_2d(params)
    e = np.log(p[:, :3] / BTO_A0)
    g = np.radians(90.0 - p[:, 3:])
    v0 = BTO_A0**3
    quad = (
        BTO_C11 * (e**2).sum(1)
        + 2 * BTO_C12 * (e[:, 0] * e[:, 1] + e[:, 1] * e[:, 2] + e[:, 2] * e[:, 0])
        + BTO_C44 * (g**2).sum(1)
    )
    return BTO_E0 + 0.5 * v0 * quad - 3.0 * v0 * (e**3).sum(1)


def batio3_table(folder: Path, n: int = 10, seed: int = 0) -> Path:
    """``folder/batio3.csv`` (n rows within ±4 % and ±2° of the cubic cell) and its ingest
    sidecar ``batio3.extxyz`` (the cubic crystal); returns the table's path."""
    import pandas as pd
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    rng = np.random.default_rng(seed)
    lengths = BTO_A0 * (1 + rng.uniform(-0.04, 0.04, (n, 3)))
    angles = 90.0 + rng.uniform(-2.0, 2.0, (n, 3))
    params = np.hstack([lengths, angles])
    df = pd.DataFrame(params, columns=["a", "b", "c", "alpha", "beta", "gamma"])
    df.insert(0, "run", [f"run_{k:02d}" for k in range(n)])
    df["formula"] = "BaTiO3"
    df["n_atoms"] = 5
    df["energy_eV"] = batio3_energy(params)
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "batio3.csv"
    df.to_csv(table, index=False)
    atoms = AseAtomsAdaptor.get_atoms(batio3_structure())
    atoms.info["run"] = "reference"
    write(table.with_suffix(".extxyz"), atoms, format="extxyz")
    return table


def si_eos_tree(root: Path, n: int = 7) -> Path:
    """``n`` static VASP runs (INCAR, CONTCAR, OSZICAR) of diamond Si scaled ±4 %; returns root."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.vasp import Poscar

    v0 = SI_A0**3
    for s in np.linspace(0.96, 1.04, n):
        a = SI_A0 * s
        si = Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["Si"], [[0, 0, 0]])
        eta = (v0 / si.volume) ** (2 / 3)
        e = SI_E0 + 9 * v0 * SI_B0 / 16 * ((eta - 1) ** 3 * SI_B1 + (eta - 1) ** 2 * (6 - 4 * eta))
        run = root / f"a_{a:.4f}"
        run.mkdir(parents=True)
        Poscar(si, comment="Si8 EOS").write_file(run / "CONTCAR")
        (run / "INCAR").write_text("SYSTEM = Si EOS\nNSW = 0\nIBRION = -1\nEDIFF = 1E-6\n")
        (run / "OSZICAR").write_text(
            "       N       E                     dE             d eps       ncg     rms\n"
            f"DAV:   1    {e:.8E}   {e:.5E}   -0.1E+03   100   0.1E+02\n"
            f"DAV:   2    {e:.8E}   -0.1E-06   -0.1E-07   100   0.1E-03\n"
            f"   1 F= {e:.8E} E0= {e:.8E}  d E ={e:.6E}\n"
        )
    return root


def small_run_dir(base: Path) -> Path:
    """What a new user with a 7-run EOS does: ``dkluq ingest`` the Si tree, then ``dkluq train``
    with every default (figures on). Built once under ``base``, shared by the xdist workers;
    returns the run folder (its table ``si.csv`` and sidecar ``si.extxyz`` lie beside it)."""
    from filelock import FileLock
    from typer.testing import CliRunner

    from dkluq_cli.cli.app import app

    home = base / "dkluq_small_run"
    run_dir = home / "run"
    done = base / "dkluq_small_run.done"
    with FileLock(str(base / "dkluq_small_run.lock")):
        if not done.is_file():
            runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200"})
            tree = si_eos_tree(home / "vasp")
            result = runner.invoke(app, ["ingest", str(tree), "-o", str(home / "si.csv")])
            assert result.exit_code == 0, result.output
            result = runner.invoke(app, ["train", str(home / "si.csv"), "-o", str(run_dir)])
            assert result.exit_code == 0, result.output
            (home / "train_stderr.txt").write_text(result.stderr)
            done.write_text("trained\n")
    return run_dir
