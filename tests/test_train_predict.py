"""train and predict: accuracy on a short run, exact reload, σ growth, model-file safety."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dkluq_cli.cli.train_report import draw_figures
from dkluq_cli.errors import ModelFileError
from dkluq_cli.model.io import load_model, read_model_dict
from dkluq_cli.training.config import TrainConfig
from dkluq_cli.training.job import run_training
from tests.conftest import SAMPLE, plain
from tests.stub_model import POSCAR_TEXT

FEATURES = ["a", "b", "c", "alpha", "beta", "gamma"]
#: A short run on a few hundred rows (~15 s on one core): natural-gradient q(u) updates and a
#: gentler Adam step converge fastest at this size (measured: 6.9 meV/atom test RMSE).
QUICK = {
    "head": "svgp",
    "epochs": 100,
    "batch_size": 64,
    "inducing": 20,
    "lr": 3e-3,
    "ngd": True,
    "patience": 100,
}


@pytest.fixture(scope="module")
def small_table(tmp_path_factory) -> Path:
    """800 sample rows: a few hundred, as the issue asks."""
    df = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:800]
    path = tmp_path_factory.mktemp("data") / "small.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(small_table, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "small"
    job = run_training(small_table, TrainConfig(**QUICK, device="cpu"), run_dir)
    draw_figures(job)
    return job


def test_run_directory_contents(trained):
    run = trained.run_dir
    for name in (
        "model.pt",
        "config.json",
        "splits.json",
        "history.csv",
        "metrics.json",
        "parity.png",
        "calibration.png",
        "history.png",
        "inducing.png",
    ):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("train", "val", "test", "test_raw"):
        for key in (
            "rmse",
            "mae",
            "r2",
            "nll",
            "crps",
            "miscal_area",
            "rms_cal",
            "sharp",
            "coverage_68",
            "coverage_95",
            "spearman",
        ):
            assert key in metrics[split], (split, key)
    assert metrics["units"]["rmse"] == "eV"
    assert metrics["inducing_init"]["method"] in ("fcm", "kmeans-fallback")
    assert "fuzzifier" in metrics["inducing_init"]
    splits = json.loads((run / "splits.json").read_text())
    assert len(splits["train"]) + len(splits["val"]) + len(splits["test"]) == 800
    hist = pd.read_csv(run / "history.csv")
    assert list(hist.columns[:5]) == ["epoch", "loss", "val_rmse", "val_nll", "seconds"]
    assert len(hist) == QUICK["epochs"]


def test_beats_mean_predictor_tenfold(trained, small_table):
    df = pd.read_csv(small_table)
    splits = json.loads((trained.run_dir / "splits.json").read_text())
    y = df["energy_eV"].to_numpy()
    test = splits["test"]
    mean_rmse = np.sqrt(np.mean((y[test] - y[splits["train"]].mean()) ** 2))
    assert trained.metrics["test"]["rmse"] * 10 <= mean_rmse


def test_reload_on_cpu_reproduces_predictions_exactly(trained, small_table):
    df = pd.read_csv(small_table)
    x = df[FEATURES].to_numpy(float)
    m1, s1 = trained.result.surrogate.predict(x)
    loaded = load_model(trained.run_dir / "model.pt", device="cpu")
    m2, s2 = loaded.predict(x)
    assert np.array_equal(m1, m2)
    assert np.array_equal(s1, s2)


def test_sigma_grows_out_of_domain(lattice_run):
    """Mean σ on the out-of-domain set ≥ 3× mean σ on held-out in-range rows (sample-data model)."""
    run = lattice_run
    sur = load_model(run / "model.pt")
    df = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv")
    test = json.loads((run / "splits.json").read_text())["test"]
    _, s_in = sur.predict(df[FEATURES].to_numpy(float)[test])
    ood = pd.read_csv(SAMPLE / "srtio3_ood.csv")
    _, s_out = sur.predict(ood[FEATURES].to_numpy(float))
    assert s_out.mean() >= 3.0 * s_in.mean(), (s_out.mean(), s_in.mean())


def test_predict_cli_columns(invoke, trained, tmp_path):
    out = tmp_path / "pred.csv"
    r = invoke("predict", trained.run_dir / "model.pt", SAMPLE / "srtio3_ood.csv", "-o", out)
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == str(out)
    df = pd.read_csv(out)
    for col in (
        "energy_mean_eV",
        "energy_std_eV",
        "energy_lo95_eV",
        "energy_hi95_eV",
        "in_domain",
        "energy_error_eV",
        "energy_z",
        "formula",
    ):
        assert col in df.columns, col
    assert (df["energy_std_eV"] > 0).all()
    assert not df["in_domain"].all()  # OOD rows are flagged
    # refuses to overwrite
    r2 = invoke("predict", trained.run_dir / "model.pt", SAMPLE / "srtio3_ood.csv", "-o", out)
    assert r2.exit_code == 1 and "already exists" in plain(r2.stderr)


def test_predict_only_needs_features(invoke, trained, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame(
        {c: [v] for c, v in zip(FEATURES, [3.9, 3.9, 3.9, 90, 90, 90], strict=True)}
    ).to_csv(src, index=False)
    r = invoke("predict", trained.run_dir, src, "-o", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "p.csv")
    assert "energy_error_eV" not in df.columns and len(df) == 1


def test_predict_missing_columns_is_one_line(invoke, trained, tmp_path):
    src = tmp_path / "bad.csv"
    pd.DataFrame({"a": [3.9], "b": [3.9], "c": [3.9]}).to_csv(src, index=False)
    r = invoke("predict", trained.run_dir / "model.pt", src, "-o", tmp_path / "p.csv")
    assert r.exit_code == 1
    err = plain(r.stderr)
    assert err.startswith("error:") and "alpha, beta, gamma" in err
    assert not (tmp_path / "p.csv").exists()


def test_predict_refuses_wrong_units(invoke, trained, tmp_path):
    src = tmp_path / "radians.csv"
    pd.DataFrame(
        {c: [v] for c, v in zip(FEATURES, [3.9, 3.9, 3.9, 1.57, 1.57, 1.57], strict=True)}
    ).to_csv(src, index=False)
    r = invoke("predict", trained.run_dir / "model.pt", src, "-o", tmp_path / "p.csv")
    assert r.exit_code == 1
    assert "alpha" in plain(r.stderr) and "units" in plain(r.stderr)


def test_predict_poscar(invoke, trained, tmp_path):
    poscar = tmp_path / "POSCAR"
    poscar.write_text(
        "SrTiO3\n1.0\n3.95 0 0\n0 3.95 0\n0 0 3.95\nSr Ti O\n1 1 3\nDirect\n"
        "0 0 0\n0.5 0.5 0.5\n0.5 0.5 0\n0.5 0 0.5\n0 0.5 0.5\n"
    )
    r = invoke("predict", trained.run_dir / "model.pt", poscar, "-o", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "p.csv")
    assert df.loc[0, "formula"] == "SrTiO3" and abs(df.loc[0, "a"] - 3.95) < 1e-9


BATIO3_POSCAR = (
    "BaTiO3\n1.0\n4.00 0 0\n0 4.00 0\n0 0 4.00\nBa Ti O\n1 1 3\nDirect\n"
    "0 0 0\n0.5 0.5 0.5\n0.5 0.5 0\n0.5 0 0.5\n0 0.5 0.5\n"
)


def test_predict_refuses_another_composition(invoke, lattice_run, tmp_path):
    """A BaTiO3 POSCAR given to a SrTiO3 model: one error line naming both, exit 1; opted in,
    it is predicted and flagged out of domain with the reason."""
    poscar = tmp_path / "POSCAR"
    poscar.write_text(BATIO3_POSCAR)
    r = invoke("predict", lattice_run, poscar, "-o", tmp_path / "p.csv")
    err = plain(r.stderr)
    assert r.exit_code == 1 and err.count("error:") == 1, r.output
    assert "BaTiO3" in err and "SrTiO3" in err and "--allow-other-compositions" in err
    assert not (tmp_path / "p.csv").exists()
    r = invoke(
        "predict", lattice_run, poscar, "--allow-other-compositions", "-o", tmp_path / "q.csv"
    )
    assert r.exit_code == 0, r.output
    row = pd.read_csv(tmp_path / "q.csv", keep_default_na=False).iloc[0]
    assert (
        not row["in_domain"]
        and "composition BaTiO3, model trained on SrTiO3" in row["domain_reason"]
    )


def test_own_training_rows_and_fresh_rows_are_in_domain_shell_rows_are_not(lattice_run):
    """The domain of the shared sample model: its training rows and rows it never saw from the
    same box are in domain (≥ 95 %), rows 10–20 % outside the box are not."""
    from dkluq_cli.analysis.lattice_model import in_domain_flags

    sur = load_model(lattice_run / "model.pt")
    splits = json.loads((lattice_run / "splits.json").read_text())
    df = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv")
    x = df[FEATURES].to_numpy(float)
    for rows, least in ((splits["train"], 0.95), (splits["val"] + splits["test"], 0.95)):
        std = sur.predict(x[rows])[1]
        assert in_domain_flags(sur, x[rows], std).mean() >= least
    ood = pd.read_csv(SAMPLE / "srtio3_ood.csv")[FEATURES].to_numpy(float)
    assert in_domain_flags(sur, ood, sur.predict(ood)[1]).mean() <= 0.05


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_PICKLE",))


def test_model_with_pickled_code_is_refused(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = torch.load(trained.run_dir / "model.pt", weights_only=True)
    data["config"]["evil"] = _Evil()
    bad = tmp_path / "evil.pt"
    torch.save(data, bad)
    with pytest.raises(ModelFileError, match="could run code"):
        load_model(bad)
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()
    # plain pickle file too
    pk = tmp_path / "evil2.pt"
    pk.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ModelFileError):
        load_model(pk)
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()


def test_model_format_version_and_truncation(trained, tmp_path):
    data = torch.load(trained.run_dir / "model.pt", weights_only=True)
    data["format_version"] = 999
    other = tmp_path / "v999.pt"
    torch.save(data, other)
    with pytest.raises(ModelFileError, match="format version 999"):
        read_model_dict(other)
    raw = (trained.run_dir / "model.pt").read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        load_model(cut)


def test_cuda_request_without_gpu_is_one_line(invoke, small_table, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    r = invoke("train", small_table, "--device", "cuda", "-o", tmp_path / "r")
    assert r.exit_code == 1
    assert "CUDA" in plain(r.stderr) and "--device cpu" in plain(r.stderr)


def test_train_cli_end_to_end_and_resume(invoke, small_table, tmp_path):
    args = ["--epochs", "12", "--batch-size", "64", "--inducing", "10", "--no-plots", "--seed", "3"]
    args += ["--head", "svgp"]
    full = tmp_path / "full"
    r = invoke("train", small_table, *args, "-o", full)
    assert r.exit_code == 0, r.output
    part = tmp_path / "part"
    r = invoke("train", small_table, *args, "-o", part, "--stop-after-epoch", "5")
    assert r.exit_code == 130, r.output
    assert (part / "checkpoint.pt").is_file() and (part / "INTERRUPTED.txt").is_file()
    assert (part / "model.pt").is_file()  # best state so far
    r = invoke("train", "--resume", part)
    assert r.exit_code == 0, r.output
    assert not (part / "checkpoint.pt").exists()
    x = pd.read_csv(small_table)[FEATURES].to_numpy(float)
    m_full, s_full = load_model(full / "model.pt").predict(x)
    m_res, s_res = load_model(part / "model.pt").predict(x)
    np.testing.assert_allclose(m_res, m_full, rtol=0, atol=1e-9)
    np.testing.assert_allclose(s_res, s_full, rtol=0, atol=1e-9)
    h_full = pd.read_csv(full / "history.csv")
    h_res = pd.read_csv(part / "history.csv")
    np.testing.assert_allclose(h_res["loss"], h_full["loss"], rtol=1e-12)


def test_resume_keeps_the_reference_crystal(invoke, small_table, tmp_path):
    poscar = tmp_path / "POSCAR"
    poscar.write_text(POSCAR_TEXT)
    args = ["--epochs", "6", "--batch-size", "64", "--inducing", "10", "--no-plots"]
    part = tmp_path / "part"
    r = invoke(
        "train",
        small_table,
        *args,
        "--head",
        "svgp",
        "--reference",
        poscar,
        "-o",
        part,
        "--stop-after-epoch",
        "2",
    )
    assert r.exit_code == 130, r.output
    saved = json.loads((part / "config.json").read_text())["crystal"]
    assert saved["formula"] == "SrTiO3" and saved["source"] == str(poscar)
    poscar.unlink()  # the resumed run must not need the file again
    r = invoke("train", "--resume", part)
    assert r.exit_code == 0, r.output
    crystal = load_model(part / "model.pt").crystal
    assert crystal is not None and crystal.source == str(poscar) and crystal.n_atoms == 5


def test_train_refuses_nonempty_run_dir(invoke, small_table, tmp_path):
    out = tmp_path / "occupied"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = invoke("train", small_table, "--epochs", "1", "-o", out)
    assert r.exit_code == 1 and "not empty" in plain(r.stderr)
    assert (out / "keep.txt").read_text() == "mine"


def test_constant_target_and_tiny_table(invoke, tmp_path):
    df = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:50].copy()
    df["energy_eV"] = -40.0
    p = tmp_path / "const.csv"
    df.to_csv(p, index=False)
    r = invoke("train", p, "--epochs", "1", "-o", tmp_path / "r1")
    assert r.exit_code == 1 and "constant" in plain(r.stderr)
    p2 = tmp_path / "tiny.csv"
    df.iloc[:3].to_csv(p2, index=False)
    r = invoke("train", p2, "--epochs", "1", "-o", tmp_path / "r2")
    assert r.exit_code == 1 and "row(s)" in plain(r.stderr)
