"""dkluq suggest: candidates in the box, diverse batches, exact conditioning, POSCARs that
round-trip through pymatgen and ASE, and ingest closing the loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.model.io import load_model
from tests.conditioning_check import dense_conditional_variance
from tests.conftest import plain

FEATURES = ["a", "b", "c", "alpha", "beta", "gamma"]
REFERENCE_POSCAR = """SrTiO3 reference
1.0
3.914 0 0
0 3.914 0
0 0 3.914
Sr Ti O
1 1 3
Direct
0 0 0
0.5 0.5 0.5
0.5 0.5 0
0.5 0 0.5
0 0.5 0.5
"""
P_REF = np.array([3.914, 3.914, 3.914, 90.0, 90.0, 90.0])


@pytest.fixture(scope="module")
def model_path(lattice_run) -> Path:
    """The shared test model (no sidecar: the model has no reference crystal)."""
    return lattice_run / "model.pt"


@pytest.fixture(scope="module")
def surrogate(model_path):
    return load_model(model_path)


@pytest.fixture
def reference(tmp_path) -> Path:
    p = tmp_path / "POSCAR_ref"
    p.write_text(REFERENCE_POSCAR)
    return p


def _run(invoke, model_path, out, *args):
    r = invoke("suggest", model_path, "-o", out, "--no-plots", "--pool", "1024", *args)
    assert r.exit_code == 0, r.output
    return r, pd.read_csv(out / "candidates.csv")


def test_poscars_round_trip_and_candidates_csv(invoke, model_path, reference, tmp_path):
    from ase.io import read as ase_read
    from pymatgen.io.vasp import Poscar

    out = tmp_path / "next_runs"
    r, df = _run(invoke, model_path, out, "--n", "6", "--reference", reference)
    assert r.stdout.strip().splitlines() == [str(out / "candidates.csv")]
    assert list(df["rank"]) == list(range(1, 7))
    for col in ("energy_mean_eV", "energy_std_eV", "energy_std_given_previous_eV", "volume"):
        assert col in df.columns and np.isfinite(df[col]).all(), col
    assert (df["energy_std_eV"] > 0).all()
    ref = Poscar.from_file(str(reference)).structure
    for row in df.itertuples():
        poscar = out / row.folder / "POSCAR"
        s = Poscar.from_file(str(poscar)).structure
        lat = s.lattice
        np.testing.assert_allclose(
            [lat.a, lat.b, lat.c, lat.alpha, lat.beta, lat.gamma],
            [row.a, row.b, row.c, row.alpha, row.beta, row.gamma],
            rtol=0,
            atol=1e-8,
        )
        assert [str(x.specie) for x in s] == [str(x.specie) for x in ref]
        np.testing.assert_allclose(s.frac_coords, ref.frac_coords, atol=1e-10)
        atoms = ase_read(poscar, format="vasp")
        np.testing.assert_allclose(
            atoms.cell.cellpar(), [row.a, row.b, row.c, row.alpha, row.beta, row.gamma], atol=1e-8
        )
        assert atoms.get_chemical_symbols() == ["Sr", "Ti", "O", "O", "O"]
        np.testing.assert_allclose(atoms.get_volume(), row.volume, rtol=1e-10)


@pytest.mark.parametrize("strategy", ["batch", "max-std", "random"])
def test_candidates_inside_the_box(surrogate, strategy):
    from dkluq_cli.analysis.suggest import suggest

    sug = suggest(surrogate, P_REF, 8, lattice_range=(0.95, 1.08), strategy=strategy, pool_size=512)
    lo, hi = P_REF * 0.95, P_REF * 1.08
    assert sug.params.shape == (8, 6)
    assert (sug.params >= lo - 1e-12).all() and (sug.params <= hi + 1e-12).all()
    assert len({tuple(p) for p in sug.params}) == 8  # no duplicates
    fixed = suggest(surrogate, P_REF, 4, strategy=strategy, pool_size=256, fix_angles=True)
    np.testing.assert_array_equal(fixed.params[:, 3:], 90.0)


def mean_nearest_distance(params: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Mean over picks of the distance to the nearest other pick, each axis scaled to [0, 1]."""
    from scipy.spatial.distance import cdist

    z = (params - lo) / (hi - lo)
    d = cdist(z, z)
    np.fill_diagonal(d, np.inf)
    return float(d.min(axis=1).mean())


def test_batch_is_more_diverse_than_max_std(surrogate):
    from dkluq_cli.analysis.grids import min_pairwise_distance
    from dkluq_cli.analysis.suggest import suggest

    kw = {"lattice_range": (0.9, 1.1), "pool_size": 1024, "seed": 1}
    batch = suggest(surrogate, P_REF, 12, strategy="batch", **kw)
    top = suggest(surrogate, P_REF, 12, strategy="max-std", **kw)
    rand = suggest(surrogate, P_REF, 12, strategy="random", **kw)
    # diversity = mean distance of each pick to its nearest other pick (box units); the minimum
    # over pairs can tie, since both strategies share their first picks at the box corners
    d_batch = mean_nearest_distance(batch.params, batch.box_lo, batch.box_hi)
    d_top = mean_nearest_distance(top.params, top.box_lo, top.box_hi)
    assert d_batch > d_top, (d_batch, d_top)
    assert min_pairwise_distance(batch.params, batch.box_lo, batch.box_hi) >= min_pairwise_distance(
        top.params, top.box_lo, top.box_hi
    )
    # the batch still goes where σ is high (above what random points get) ...
    assert batch.std.mean() > rand.std.mean()
    # ... and each pick keeps more of its σ after conditioning on the earlier picks
    assert batch.std_given_previous.mean() > top.std_given_previous.mean()
    # the first pick is the largest-σ point of the pool in both strategies
    np.testing.assert_allclose(batch.params[0], top.params[0])


def test_conditioning_is_exact(surrogate):
    """The rank-one updates equal the dense Gaussian conditioning of the joint posterior."""
    from dkluq_cli.analysis.conditioning import PosteriorConditioner

    rng = np.random.default_rng(0)
    x = P_REF * rng.uniform(0.9, 1.1, (40, 6))
    cond = PosteriorConditioner(surrogate, x, chunk=16)  # several chunks per column
    picks = [3, 17, 29, 5]
    for j in picks:
        cond.add(j)
    expected = dense_conditional_variance(surrogate, x, picks, cond.noise)
    # agreement up to gpytorch's diagonal jitter (~1e-6 on the joint covariance's diagonal)
    np.testing.assert_allclose(cond.variance, expected, rtol=0, atol=5e-6)
    assert (cond.variance[picks] < cond.prior_variance[picks]).all()
    # the unconditioned variances match the model's own (single-precision) predictions
    _, std = surrogate.predict(x, calibrated=False)
    np.testing.assert_allclose(
        np.sqrt(cond.prior_variance + cond.noise) * surrogate.y_std, std, rtol=1e-2
    )


def test_needs_reference_without_sidecar(invoke, model_path, tmp_path):
    r = invoke("suggest", model_path, "-o", tmp_path / "x")
    assert r.exit_code == 1
    err = plain(r.stderr)
    assert err.startswith("error:") and "--reference" in err
    assert not (tmp_path / "x").exists()


def test_refuses_non_empty_output_and_bad_options(invoke, model_path, reference, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    r = invoke("suggest", model_path, "-o", out, "--reference", reference)
    assert r.exit_code == 1 and "not empty" in plain(r.stderr)
    assert (out / "mine.txt").read_text() == "keep"
    r = invoke(
        "suggest", model_path, "-o", tmp_path / "s", "--reference", reference, "--strategy", "best"
    )
    assert r.exit_code == 1 and "strategy" in plain(r.stderr)
    r = invoke(
        "suggest",
        model_path,
        "-o",
        tmp_path / "s",
        "--reference",
        reference,
        "--lattice-range",
        "1.1",
        "0.9",
    )
    assert r.exit_code == 1 and "lattice-range" in plain(r.stderr)
    other = tmp_path / "POSCAR_other"
    other.write_text(REFERENCE_POSCAR.replace("Sr Ti O", "Ba Ti O"))
    r = invoke("suggest", model_path, "-o", tmp_path / "s2", "--reference", other)
    assert r.exit_code == 1 and "BaTiO3" in plain(r.stderr)


def test_ingest_of_completed_tree_closes_the_loop(invoke, model_path, reference, tmp_path):
    """Fake the DFT step (vasprun.xml in each folder), ingest, and get the candidates back."""
    from ase.io import read as ase_read

    from sample_data.vasp_writer import STATIC_INCAR, Run, Step, vasprun_text

    out = tmp_path / "loop"
    r, df = _run(
        invoke, model_path, out, "--n", "4", "--reference", reference, "--strategy", "random"
    )
    for row in df.itertuples():
        params = ase_read(out / row.folder / "POSCAR", format="vasp").cell.cellpar()
        energy = float(row.energy_mean_eV)
        run = Run(
            row.folder,
            [Step(params, energy, [energy + 1.0, energy])],
            ["vasprun.xml"],
            incar=dict(STATIC_INCAR),
        )
        (out / row.folder / "vasprun.xml").write_text(vasprun_text(run))
    table = tmp_path / "round2.csv"
    r = invoke("ingest", out, "-o", table)
    assert r.exit_code == 0, r.output
    got = pd.read_csv(table).sort_values("a").reset_index(drop=True)
    want = df.sort_values("a").reset_index(drop=True)
    assert len(got) == len(want) == 4
    np.testing.assert_allclose(got[FEATURES].to_numpy(), want[FEATURES].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(got["energy_eV"], want["energy_mean_eV"], atol=1e-6)
    # the grown table is valid input for dkluq predict (and so for the next training round)
    r = invoke("predict", model_path, table, "-o", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
