"""dkluq scan: reference choice, grids, σ growth, the EOS minimum, CLI outputs (the lattice
helpers are tests/test_lattice.py, the POSCAR reader tests/test_crystal.py)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.analysis.centre import choose_centre
from dkluq_cli.analysis.grids import grid_1d, grid_2d, grid_iso
from dkluq_cli.analysis.lattice_model import check_scannable
from dkluq_cli.analysis.scan import predict_params, run_scan
from dkluq_cli.analysis.scan_report import summarise
from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.lattice import parse_pair
from dkluq_cli.errors import DkluqError, ModelInputMismatchError
from tests.conftest import REPO, SAMPLE, plain
from tests.stub_model import POSCAR_TEXT

LATTICE = ["a", "b", "c", "alpha", "beta", "gamma"]


@pytest.fixture(scope="module")
def trained(lattice_run):
    """The committed plumbing model (tests/plumbing_model.py), as a run folder + surrogate."""
    from dkluq_cli.model.io import load_model

    run_dir = lattice_run
    return SimpleNamespace(run_dir=run_dir, surrogate=load_model(run_dir / "model.pt"))


@pytest.fixture(scope="module")
def sur(trained):
    return trained.surrogate


@pytest.fixture(scope="module")
def wide(sur):
    """A 0.8–1.2 scan around the default reference (the training-domain centre)."""
    return run_scan(sur, choose_centre(sur), lattice_range=(0.8, 1.2), points=41, points_2d=21)


def oracle_cubic_minimum() -> float:
    """Lattice constant (Å) of the oracle's cubic minimum: parabola through the 7 lowest-lying
    points of sample_data/srtio3_cubic.csv around its lowest point."""
    df = pd.read_csv(SAMPLE / "srtio3_cubic.csv")
    a, e = df["a"].to_numpy(float), df["energy_eV"].to_numpy(float)
    k = int(np.argmin(e))
    sl = slice(max(k - 3, 0), k + 4)
    c2, c1, _ = np.polyfit(a[sl], e[sl], 2)
    assert c2 > 0
    return float(-c1 / (2 * c2))


# ----------------------------------------------------------------------------- grids, reference


def test_grids_long_form():
    ref = np.array([4.0, 4.1, 4.2, 90, 91, 92])
    s = np.linspace(0.9, 1.1, 5)
    g1 = grid_1d(ref, s)
    assert len(g1) == 30 and list(g1.columns[:2]) == ["scan", "scale"]
    row = g1[(g1["scan"] == "1d:beta") & (g1["scale"] == 0.9)].iloc[0]
    assert row["beta"] == pytest.approx(0.9 * 91) and row["a"] == 4.0 and row["gamma"] == 92
    iso = grid_iso(ref, s)
    np.testing.assert_allclose(
        iso[["a", "b", "c"]].to_numpy() / ref[:3], np.repeat(s[:, None], 3, 1)
    )
    assert (iso["alpha"] == 90).all()
    g2 = grid_2d(ref, ("a", "alpha"), s)
    assert len(g2) == 25 and (g2["scan"] == "2d:a,alpha").all()
    assert g2.loc[1, "a"] == pytest.approx(0.9 * 4.0) and g2.loc[1, "alpha"] == pytest.approx(
        0.95 * 90
    )
    assert parse_pair("α, b") == ("alpha", "b")
    with pytest.raises(DkluqError):
        parse_pair("a,a")
    with pytest.raises(DkluqError):
        parse_pair("a")


def test_scannable_needs_all_six_lattice_features():
    check_scannable(SimpleNamespace(features=["gamma", "a", "b", "c", "alpha", "beta", "volume"]))
    with pytest.raises(ModelInputMismatchError, match="lacks alpha, beta, gamma"):
        check_scannable(SimpleNamespace(features=["a", "b", "c"]))
    with pytest.raises(ModelInputMismatchError, match="pressure cannot be set"):
        check_scannable(SimpleNamespace(features=[*LATTICE, "pressure"]))


def test_reference_choice(sur, tmp_path):
    dom = sur.domain
    centre = choose_centre(sur)
    assert centre.kind == "domain-centre"
    expected = [(lo + hi) / 2 for lo, hi in zip(dom.min, dom.max, strict=True)]
    np.testing.assert_allclose(centre.params, expected)
    at = choose_centre(sur, at="a=4.0,alpha=88")
    assert at.params[0] == 4.0 and at.params[3] == 88 and at.params[1] == centre.params[1]
    full = choose_centre(sur, at="a=3.9,b=3.9,c=3.9,alpha=90,beta=90,gamma=90")
    assert full.kind == "at"
    poscar = tmp_path / "POSCAR"
    poscar.write_text(POSCAR_TEXT)
    ref = choose_centre(sur, poscar=poscar, at="gamma=91")
    assert ref.kind == "poscar" and ref.params[0] == pytest.approx(3.95) and ref.params[5] == 91
    stored = SimpleNamespace(
        crystal=Crystal(lattice=[3.9, 3.91, 3.92, 90, 90, 90], formula="SrTiO3"), domain=dom
    )
    assert choose_centre(stored).kind == "model"
    assert choose_centre(stored).params[2] == 3.92
    with pytest.raises(DkluqError, match="no real cell"):
        choose_centre(sur, at="alpha=170,beta=170,gamma=90")
    with pytest.raises(DkluqError, match="neither a reference"):
        choose_centre(SimpleNamespace(crystal=None, domain=None), at="a=3.9")


# ----------------------------------------------------------------------------- the checks


def test_sigma_grows_beyond_the_training_domain(wide):
    """σ at both ends of the 0.8–1.2 isotropic scan is ≥ 3× σ at the reference, and every row
    beyond the training range is flagged."""
    s = summarise(wide)
    lo, hi = s["edge_std"]["iso"]
    assert min(lo, hi) >= 3.0 * s["std_reference"], (lo, hi, s["std_reference"])
    for name, df in [*wide.scan_1d.groupby("scan"), ("iso", wide.scan_iso)]:
        out = df.iloc[[0, -1]]
        assert not out["in_domain"].any(), name
    for p in LATTICE:
        lo_p, hi_p = wide.training_range[p]
        d = wide.scan_1d[wide.scan_1d["scan"] == f"1d:{p}"]
        beyond = (d[p] < lo_p) | (d[p] > hi_p)
        assert beyond.any() and not d.loc[beyond, "in_domain"].any(), p


@pytest.mark.slow
def test_iso_minimum_matches_oracle_cubic_minimum(default_run):
    """The model the defaults train on the sample table finds the oracle's cubic minimum."""
    from dkluq_cli.model.io import load_model

    model = load_model(default_run / "model.pt")
    scan = run_scan(model, choose_centre(model), lattice_range=(0.8, 1.2), points=41, points_2d=5)
    a0 = oracle_cubic_minimum()
    best = summarise(scan)["iso_minimum"]
    assert not best["at_edge"]
    assert abs(best["a"] - a0) <= 0.02, (best["a"], a0)


def test_invalid_cells_are_flagged_and_counted(sur, caplog):
    ref = choose_centre(sur, at="alpha=90,beta=90,gamma=90")
    with caplog.at_level(logging.WARNING, logger="dkluq_cli"):
        res = run_scan(sur, ref, lattice_range=(0.5, 2.0), points=11, pairs=[("alpha", "beta")])
    m = res.maps[("alpha", "beta")]
    bad = ~m["valid_cell"]
    assert bad.any() and m.loc[bad, "energy_mean_eV"].isna().all()
    assert not m.loc[bad, "in_domain"].any()
    assert np.isfinite(m.loc[~bad, "energy_std_eV"]).all()
    assert any("no real cell" in r.getMessage() for r in caplog.records)


def test_201_map_takes_seconds(sur):
    ref = choose_centre(sur).params
    params = grid_2d(ref, ("a", "alpha"), np.linspace(0.8, 1.2, 201))[LATTICE].to_numpy(float)
    t0 = time.perf_counter()
    pred = predict_params(sur, params)
    seconds = time.perf_counter() - t0
    assert np.isfinite(pred["std"]).all()
    assert seconds < 15.0, seconds  # ~0.2 s on one idle core; generous for a shared box


# ----------------------------------------------------------------------------- CLI


def test_scan_cli_outputs(invoke, trained, tmp_path):
    out = tmp_path / "scan"
    r = invoke(
        "scan",
        trained.run_dir / "model.pt",
        "--lattice-range",
        "0.8",
        "1.2",
        "--points",
        "21",
        "--pair",
        "a,alpha",
        "--pair",
        "c,gamma",
        "-o",
        out,
    )
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == str(out)
    err = plain(r.stderr)
    assert (
        "σ at reference" in err
        and "isotropic minimum" in err
        and "outside the training domain" in err
    )
    for name in (
        "scan_1d.csv",
        "scan_iso.csv",
        "scan_2d_a_alpha.csv",
        "scan_2d_c_gamma.csv",
        "scan_summary.json",
        "scan_1d.png",
        "scan_iso.png",
        "scan_2d_a_alpha.png",
        "scan_2d_c_gamma.png",
        "scan_overview.png",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    common = [*LATTICE, "energy_mean_eV", "energy_std_eV", "in_domain"]
    d1 = pd.read_csv(out / "scan_1d.csv")
    assert {"scan", "scale", *common} <= set(d1.columns)
    assert sorted(d1["scan"].unique()) == sorted(f"1d:{p}" for p in LATTICE) and len(d1) == 6 * 21
    iso = pd.read_csv(out / "scan_iso.csv")
    assert {"scan", "scale", *common} <= set(iso.columns) and (iso["scan"] == "iso").all()
    for p, q in [("a", "alpha"), ("c", "gamma")]:
        d2 = pd.read_csv(out / f"scan_2d_{p}_{q}.csv")
        assert {"scan", f"scale_{p}", f"scale_{q}", *common} <= set(d2.columns)
        assert len(d2) == 21 * 21 and (d2["scan"] == f"2d:{p},{q}").all()
    for df in (d1, iso):
        assert df[LATTICE].notna().all().all() and df["in_domain"].dtype == bool
        assert (~df["in_domain"]).any() and (df["energy_std_eV"] > 0).all()
    summary = json.loads((out / "scan_summary.json").read_text())
    assert summary["reference"]["chosen"].startswith("centre of the training domain")
    # a non-empty output folder is refused without --force, accepted with it
    r2 = invoke("scan", trained.run_dir, "--points", "5", "-o", out)
    assert r2.exit_code == 1 and "not empty" in plain(r2.stderr)
    r3 = invoke("scan", trained.run_dir, "--points", "5", "--no-plots", "-o", out, "--force")
    assert r3.exit_code == 0, r3.output


def test_scan_cli_svg_and_reference(invoke, trained, tmp_path):
    poscar = tmp_path / "POSCAR"
    poscar.write_text(POSCAR_TEXT)
    out = tmp_path / "svg"
    r = invoke(
        "scan",
        trained.run_dir / "model.pt",
        "--points",
        "7",
        "--points-2d",
        "5",
        "--reference",
        poscar,
        "--at",
        "c=4.0",
        "--format",
        "svg",
        "-o",
        out,
    )
    assert r.exit_code == 0, r.output
    assert {p.suffix for p in out.iterdir()} == {".csv", ".svg", ".json"}
    iso = pd.read_csv(out / "scan_iso.csv")
    assert iso.loc[3, "a"] == pytest.approx(3.95) and iso.loc[3, "c"] == pytest.approx(4.0)
    assert len(pd.read_csv(out / "scan_2d_a_alpha.csv")) == 25


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--lattice-range", "1.1", "0.9"], 1, "LO must be smaller than HI"),
        (["--lattice-range", "0", "1.1"], 1, "must be > 0"),
        (["--pair", "a,a"], 1, "twice"),
        (["--pair", "a,delta"], 1, "not a lattice parameter"),
        (["--at", "alpha=1.5e3"], 1, "between 0 and 180"),
        (["--at", "a=3.9;b=4"], 1, "not a number"),
        (["--format", "jpg"], 1, "jpg"),
    ],
)
def test_scan_cli_bad_options(invoke, trained, tmp_path, args, code, needle):
    out = tmp_path / "bad"
    r = invoke("scan", trained.run_dir / "model.pt", *args, "-o", out)
    assert r.exit_code == code, r.output
    assert needle in plain(r.output), plain(r.output)
    assert plain(r.stderr).startswith("error:") and "Usage" not in r.output  # no usage panel
    assert not out.exists() or not any(out.iterdir())


def test_scan_cli_missing_model(invoke, tmp_path):
    r = invoke("scan", tmp_path / "nope.pt", "-o", tmp_path / "o")
    assert r.exit_code == 1 and plain(r.stderr).startswith("error:")


def test_scan_help_imports_no_heavy_modules():
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom dkluq_cli.cli.app import app\n"
        "r = CliRunner().invoke(app, ['scan', '--help'])\nassert r.exit_code == 0, r.output\n"
        "assert '--lattice-range' in r.output\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'pymatgen', 'gpytorch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]


def test_bench_scan_quick(trained, tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_scan.py"),
            "--quick",
            "--model",
            str(trained.run_dir / "model.pt"),
            "--threads",
            "1",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads((tmp_path / "scan.json").read_text())
    assert result["runs"][0]["structures"] == 21 * 21 and result["best"]["structures_per_s"] > 0
    assert "structures/s" in (tmp_path / "scan.md").read_text()
