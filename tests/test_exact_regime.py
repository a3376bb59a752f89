"""The exact regime of ``dkluq train`` end to end: chosen by table size, tiny EOS tables, the
reference crystal's symmetry, σ inflation beyond the box through the model file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.training.config import EXACT_MAX_ROWS, TrainConfig
from tests.conditioning_check import dense_conditional_variance
from tests.conftest import SAMPLE, plain
from tests.stub_model import POSCAR_TEXT

LATTICE = ["a", "b", "c", "alpha", "beta", "gamma"]
#: Two restarts fewer than the default keeps these fits at a second or two.
FAST = {"restarts": 0, "device": "cpu", "threads": 1}


def _table(tmp_path, rows: pd.DataFrame, name: str):
    path = tmp_path / name
    rows.to_csv(path, index=False)
    return path


def test_auto_head_follows_the_table_size():
    assert TrainConfig().resolved(48).head == "exact"  # a 60-row table's training split
    assert TrainConfig().resolved(2400).head == "svgp"  # a 3000-row table's
    assert TrainConfig().resolved(EXACT_MAX_ROWS).head == "exact"
    assert TrainConfig(head="svgp").resolved(48).head == "svgp"
    with pytest.raises(ValueError, match="head"):
        TrainConfig(head="big").resolved(48)


def test_a_seven_row_eos_table_trains_with_defaults_and_eos_gives_a0(invoke, tmp_path):
    df = pd.read_csv(SAMPLE / "srtio3_cubic.csv")
    eos_rows = df.iloc[np.round(np.linspace(5, 55, 7)).astype(int)]
    table = _table(tmp_path, eos_rows, "eos7.csv")
    r = invoke("train", table, "--no-plots", "-o", tmp_path / "run")
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["regime"]["head"] == "exact"
    assert "out-of-sample coverage_95" in plain(r.stderr)
    assert "hyperparameters refitted" in metrics["held_out"]["method"]
    r = invoke("eos", tmp_path / "run", "--samples", "100", "-o", tmp_path / "eos")
    assert r.exit_code == 0, r.output
    a0 = json.loads((tmp_path / "eos" / "eos.json").read_text())["a0"]
    assert a0["ci95"][0] < 3.944 < a0["ci95"][1]  # the dense CHGNet line's minimum
    assert a0["ci95"][1] - a0["ci95"][0] < 0.05


def test_symmetric_lattices_predict_alike_with_a_reference(invoke, tmp_path):
    from dkluq_cli.crystal.point_group import PointGroup, cubic_perovskite
    from dkluq_cli.model.io import load_model

    table = _table(tmp_path, pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:60], "t.csv")
    poscar = tmp_path / "POSCAR"
    poscar.write_text(POSCAR_TEXT)
    r = invoke(
        "train",
        table,
        "--reference",
        poscar,
        "--restarts",
        "0",
        "--trend",
        "4",
        "--no-plots",
        "-o",
        tmp_path / "sym",
    )
    assert r.exit_code == 0, r.output
    assert "point group m-3m" in plain(r.stderr)
    sur = load_model(tmp_path / "sym" / "model.pt")
    cell = np.array([[4.02, 3.80, 3.95, 86.0, 93.0, 91.0]])
    images = PointGroup.from_structure(cubic_perovskite(3.95)).distinct_images(cell)[0]
    assert len(images) == 24
    mean, std = sur.predict(images)
    np.testing.assert_allclose(mean, mean[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(std, std[0], rtol=1e-9)
    r = invoke(
        "train", table, "--restarts", "0", "--trend", "3", "--no-plots", "-o", tmp_path / "plain"
    )
    assert r.exit_code == 0 and "no symmetry" in plain(r.stderr)
    plain_mean, _ = load_model(tmp_path / "plain" / "model.pt").predict(images)
    assert np.ptp(plain_mean) > 1e-6  # without the group the images differ


def test_inflation_is_one_inside_grows_outside_and_survives_the_model_file(tmp_path):
    from dkluq_cli.model.io import load_model, save_model
    from dkluq_cli.training.train import train
    from tests.conftest import sample_xy

    x, y = sample_xy(60)
    res = train(x, y, TrainConfig(trend=3, **FAST))
    sur = res.surrogate
    assert sur.beyond is not None and sur.beyond.kind == "inflation"
    save_model(sur, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt", device="cpu")
    centre = np.array([[3.914] * 3 + [90.0] * 3])
    line = centre * np.linspace(1.0, 1.3, 7)[:, None] ** np.array([1, 0, 0, 0, 0, 0])
    factor = sur.beyond.factor(sur.coordinates(line))
    assert factor[0] == 1.0 and np.all(np.diff(factor) >= 0)
    if sur.beyond.law.gamma > 0:
        assert factor[-1] > 1.0
    m1, s1 = sur.predict(line)
    m2, s2 = loaded.predict(line)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(s1, s2)
    raw = sur.predict(line, calibrated=False)[1] * sur.sigma_scale
    np.testing.assert_allclose(s1, raw * factor, rtol=1e-12)


def test_held_out_metrics_and_regime_are_recorded(tmp_path):
    from dkluq_cli.training.job import run_training

    table = _table(tmp_path, pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:40], "t.csv")
    job = run_training(table, TrainConfig(**FAST), tmp_path / "run", plots=False)
    m = job.metrics
    assert m["regime"]["head"] == "exact" and m["regime"]["reason"].startswith("auto:")
    held = m["held_out"]
    assert held["n"] == len(job.result.splits.train) and 0 <= held["coverage_95"] <= 1
    assert "rmse_meV_per_atom" in held and "refitted" in held["method"]
    calib = m["regime"]["calibration"]
    assert calib["sigma_scale"] == m["sigma_scale"] and calib["folds"] == 20
    assert calib["noise"]["learned_std"] > 0 and calib["noise"]["held_out_std"] > 0
    assert [s["degree"] for s in m["regime"]["selection"]] == [2, 3, 4, 5]
    assert all("held_out_nll" in s for s in m["regime"]["selection"])
    assert job.result.splits.val == []  # the validation rows are fitted; cross-validation checks
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["head"] == "exact" and config["trend"] == m["regime"]["degree"]


def test_suggest_conditions_exactly_on_an_exact_head_model(invoke, tmp_path):
    """``suggest`` on a small-table model: candidates in the box, and the rank-one updates
    equal dense Gaussian conditioning of the exact head's joint posterior."""
    from dkluq_cli.analysis.conditioning import PosteriorConditioner
    from dkluq_cli.model.io import load_model

    table = _table(tmp_path, pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:60], "t.csv")
    r = invoke(
        "train", table, "--restarts", "0", "--trend", "3", "--no-plots", "-o", tmp_path / "run"
    )
    assert r.exit_code == 0, r.output
    poscar = tmp_path / "POSCAR"
    poscar.write_text(POSCAR_TEXT)
    out = tmp_path / "next"
    r = invoke("suggest", tmp_path / "run", "--n", "4", "--reference", poscar, "--pool", "256",
               "--no-plots", "-o", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    cands = pd.read_csv(out / "candidates.csv")
    assert len(cands) == 4 and (out / "cand_001" / "POSCAR").exists()
    ratio = cands[["a", "b", "c"]].to_numpy() / 3.95  # POSCAR_TEXT's a
    assert ((ratio >= 0.9 - 1e-9) & (ratio <= 1.1 + 1e-9)).all()
    assert (cands["energy_std_given_previous_eV"] <= cands["energy_std_eV"] + 1e-12).all()

    sur = load_model(tmp_path / "run" / "model.pt")
    assert sur.head.kind == "exact"
    x = np.array([3.914, 3.914, 3.914, 90, 90, 90]) * np.random.default_rng(0).uniform(
        0.92, 1.08, (30, 6)
    )
    cond = PosteriorConditioner(sur, x, chunk=8)
    picks = [2, 11, 23]
    for j in picks:
        cond.add(j)
    expected = dense_conditional_variance(sur, x, picks, cond.noise)
    np.testing.assert_allclose(cond.variance, expected, rtol=0, atol=1e-8)
    assert (cond.variance[picks] < cond.prior_variance[picks]).all()


def test_above_the_hyperparameter_rows_the_unseen_rows_calibrate(tmp_path):
    """More rows than the hyperparameter fit takes: σ is calibrated on the leave-one-out of the
    rows it did not take, and only those are reported as held out."""
    from dkluq_cli.training.fit_exact import HYPER_ROWS
    from dkluq_cli.training.train import train
    from tests.conftest import sample_xy

    x, y = sample_xy(HYPER_ROWS + 30)
    cfg = TrainConfig(trend=2, test_fraction=0.0, **FAST)
    res = train(x, y, cfg)
    pos, mean, std = res.held_out
    assert len(pos) == len(mean) == len(std) == 30 and len(set(pos.tolist())) == 30
    calib = res.regime["calibration"]
    assert calib["method"].startswith("leave-one-out of the 30 rows") and calib["n"] == 30
    assert np.all(std > 0) and np.sqrt(np.mean((mean - y[pos]) ** 2)) < 0.2
