"""dkluq eos: the --json shape, a0's 95 % interval against the oracle's own EOS fit, options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.analysis.eos import fit_eos
from dkluq_cli.analysis.posterior_fits import FitTally
from tests.conftest import SAMPLE, plain

QUANTITIES = ("a0", "V0", "B0", "E0")


@pytest.fixture(scope="module")
def model_dir(lattice_run) -> Path:
    """The committed plumbing model (no reference crystal)."""
    return lattice_run


def _eos_json(model_dir: Path, out: Path):
    """``dkluq eos MODEL --json`` on the default line (0.94–1.06)."""
    from typer.testing import CliRunner

    from dkluq_cli.cli.app import app

    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
    r = runner.invoke(app, ["eos", str(model_dir), "--json", "-o", str(out)])
    assert r.exit_code == 0, r.output
    return r, out


@pytest.fixture(scope="module")
def eos_json(model_dir, tmp_path_factory):
    """``dkluq eos`` on the plumbing model, run once."""
    return _eos_json(model_dir, tmp_path_factory.mktemp("eos_out") / "eos")


def oracle_a0(reference: np.ndarray, lattice_range=(0.94, 1.06), eos="birch_murnaghan"):
    """The oracle's a0 (Å) and B0 (GPa): the same EOS fitted by pymatgen to the committed cubic
    line (sample_data/srtio3_cubic.csv) over the same range of edge lengths as the model's line."""
    cub = pd.read_csv(SAMPLE / "srtio3_cubic.csv")
    edge = float(np.cbrt(np.prod(reference[:3])))
    s = cub["a"].to_numpy() / edge
    keep = (s >= lattice_range[0] - 1e-9) & (s <= lattice_range[1] + 1e-9)
    fit, _ = fit_eos(cub["volume"].to_numpy()[keep], cub["energy_eV"].to_numpy()[keep], eos, 1.0)
    return fit.a0, fit.B0


def test_json_shape_and_files(eos_json):
    r, out = eos_json
    obj = json.loads(r.stdout)  # stdout is exactly one JSON object
    assert set(obj) == set(QUANTITIES)
    for q in QUANTITIES:
        v = obj[q]
        assert set(v) == {"mean", "std", "ci95"}
        lo, hi = v["ci95"]
        assert lo <= v["mean"] <= hi and v["std"] > 0
    assert 3.5 < obj["a0"]["mean"] < 4.3 and obj["B0"]["mean"] > 0 and obj["E0"]["mean"] < 0
    np.testing.assert_allclose(obj["V0"]["mean"] ** (1 / 3), obj["a0"]["mean"], rtol=2e-3)
    for name in ("eos.json", "eos_line.csv", "eos_samples.csv", "eos.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    report = json.loads((out / "eos.json").read_text())
    assert report["fit"]["eos"] == "birch_murnaghan"
    assert report["fit"]["n_fitted"] + report["fit"]["n_failed"] == report["fit"]["n_samples"]
    assert report["fit"]["n_failed"] <= 0.05 * report["fit"]["n_samples"]
    line = pd.read_csv(out / "eos_line.csv")
    assert (line["energy_sample_lo95_eV"] <= line["energy_sample_hi95_eV"]).all()
    assert len(pd.read_csv(out / "eos_samples.csv")) == report["fit"]["n_fitted"]
    assert "a0 =" in plain(r.stderr) and "GPa" in plain(r.stderr)


@pytest.mark.slow
def test_a0_interval_contains_oracle_and_is_narrow(default_run, tmp_path):
    """The model the defaults train on the sample table: its a0 interval holds the oracle's."""
    r, out = _eos_json(default_run, tmp_path / "eos")
    obj = json.loads(r.stdout)
    report = json.loads((out / "eos.json").read_text())
    a0_oracle, b0_oracle = oracle_a0(np.array(report["fit"]["reference_lattice"]))
    lo, hi = obj["a0"]["ci95"]
    print(f"a0 {obj['a0']} oracle {a0_oracle:.5f}; B0 {obj['B0']} oracle {b0_oracle:.1f}")
    assert lo <= a0_oracle <= hi, (lo, hi, a0_oracle)
    assert hi - lo < 0.02, hi - lo


def test_other_eos_and_reference(invoke, model_dir, tmp_path):
    poscar = tmp_path / "POSCAR"
    poscar.write_text(
        "SrTiO3\n1.0\n3.914 0 0\n0 3.914 0\n0 0 3.914\nSr Ti O\n1 1 3\nDirect\n"
        "0 0 0\n0.5 0.5 0.5\n0.5 0.5 0\n0.5 0 0.5\n0 0.5 0.5\n"
    )
    got = {}
    for eos in ("vinet", "murnaghan"):
        r = invoke(
            "eos",
            model_dir,
            "--eos",
            eos,
            "--reference",
            poscar,
            "--samples",
            "60",
            "--points",
            "25",
            "--no-plots",
            "--json",
            "-o",
            tmp_path / eos,
        )
        assert r.exit_code == 0, r.output
        got[eos] = json.loads(r.stdout)
        report = json.loads((tmp_path / eos / "eos.json").read_text())
        assert report["fit"]["eos"] == eos
        assert report["fit"]["reference_lattice"] == [3.914, 3.914, 3.914, 90.0, 90.0, 90.0]
        # cubic reference: a0 is exactly the cube root of V0, sample by sample
        s = pd.read_csv(tmp_path / eos / "eos_samples.csv")
        np.testing.assert_allclose(s["a0_A"], s["V0_A3"] ** (1 / 3), rtol=1e-12)
    assert abs(got["vinet"]["a0"]["mean"] - got["murnaghan"]["a0"]["mean"]) < 0.02


def test_bad_options_are_one_line(invoke, model_dir, tmp_path):
    r = invoke("eos", model_dir, "--eos", "polynomial", "-o", tmp_path / "x")
    assert r.exit_code == 1 and "'polynomial' is not one of" in plain(r.stderr)
    r = invoke("eos", model_dir, "--lattice-range", "1.06", "0.94", "-o", tmp_path / "y")
    assert r.exit_code == 1 and "lattice-range" in plain(r.stderr)
    # a line that misses the minimum: no fit has its minimum on the line
    r = invoke(
        "eos", model_dir, "--lattice-range", "0.90", "0.93", "--samples", "20", "-o", tmp_path / "z"
    )
    assert r.exit_code == 1 and "minimum" in plain(r.stderr)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "f").write_text("x")
    r = invoke("eos", model_dir, "-o", busy)
    assert r.exit_code == 1 and "not empty" in plain(r.stderr)


def test_eos_curves_and_band_for_the_figure():
    """The figure's curves are computed by the core: the EOS refitted to a few samples and the
    fit to the mean on a fine volume grid, and the samples' 95 % band."""
    from dkluq_cli.analysis.eos import EosResult
    from dkluq_cli.analysis.eos_report import eos_curves

    v = np.linspace(50.0, 70.0, 21)
    e = 0.05 * (v - 60.0) ** 2 - 40.0  # eV, minimum at 60 Å³
    samples = e + np.random.default_rng(0).normal(0.0, 1e-3, (40, len(v)))
    mean_fit, curve = fit_eos(v, e, "birch_murnaghan", 1.0)
    res = EosResult(
        eos="birch_murnaghan",
        params=np.zeros((len(v), 6)),
        scales=np.linspace(0.95, 1.05, len(v)),
        volumes=v,
        mean=e,
        std=np.full(len(v), 1e-3),
        samples=samples,
        fits=[],
        tally=FitTally("EOS"),
        mean_fit=mean_fit,
        reference_lattice=np.array([4.0, 4.0, 4.0, 90.0, 90.0, 90.0]),
        curve=curve,
    )
    curves = eos_curves(res, n_curves=5)
    vv = curves["volumes"]
    assert vv.shape == (200,) and vv[0] == v[0] and vv[-1] == v[-1]
    assert curves["samples"].shape == (5, 200)
    np.testing.assert_allclose(curves["mean"], curve.func(vv))
    # a Birch–Murnaghan curve through a parabola of 5 eV depth: within 2 % of that depth
    assert np.abs(curves["mean"] - (0.05 * (vv - 60.0) ** 2 - 40.0)).max() < 0.1
    assert np.abs(curves["samples"] - curves["mean"]).max() < 0.01
    lo, hi = res.sample_band()
    assert lo.shape == hi.shape == (len(v),) and (lo < e).all() and (e < hi).all()
    assert eos_curves(EosResult(**{**res.__dict__, "curve": None}), n_curves=2)["mean"] is None


def test_absurd_lattice_range_fails_loudly(invoke, model_dir, tmp_path):
    """A line far beyond the training box: most sample fits fail, and eos says so (exit 1)
    instead of reporting a bulk modulus from the few that did not."""
    r = invoke(
        "eos", model_dir, "--lattice-range", "0.5", "2", "--samples", "40", "-o", tmp_path / "x"
    )
    err = plain(r.stderr)
    assert r.exit_code == 1, r.output
    assert err.count("error:") == 1 and "EOS" in err and "lattice-range" in err
    assert not (tmp_path / "x" / "eos.json").exists()


def test_fit_tally_rule():
    """The shared failure rule: a few percent of failed fits pass, more (or a mean fit without
    a minimum on the line) raise, naming the counts and the reasons."""
    from dkluq_cli.analysis.posterior_fits import OUTSIDE, check_fits, check_minimum_in_domain
    from dkluq_cli.errors import PosteriorFitError

    tally = FitTally("EOS")
    for i in range(100):
        tally.add(OUTSIDE if i < 5 else None)
    check_fits(tally, "the line", hint="h")
    assert tally.to_dict()["n_failed"] == 5 and tally.n_fitted == 95
    tally.add("the fit did not converge")
    with pytest.raises(PosteriorFitError, match=r"6 of 101 EOS fits failed \(5 minimum"):
        check_fits(tally, "the line", hint="h")
    ok = FitTally("EOS", n_samples=10, mean_failure=OUTSIDE)
    with pytest.raises(PosteriorFitError, match="posterior mean has its minimum outside"):
        check_fits(ok, "the line", hint="h")
    diverged = FitTally("EOS", n_samples=10, mean_failure="the fit did not converge")
    with pytest.raises(PosteriorFitError, match="mean over the line failed: the fit did not"):
        check_fits(diverged, "the line", hint="h")
    check_minimum_in_domain("EOS", "a0 = 3.9 Å", "", hint="h")
    with pytest.raises(
        PosteriorFitError, match=r"minimum \(a0 = 3\.4 Å\) lies outside the training"
    ):
        check_minimum_in_domain("EOS", "a0 = 3.4 Å", "c 3.2 outside the training range", "h")
