"""dkluq suggest --for elastic|eos: the property's variance after a pick is what refitting the
GP with that run would give, widths shrink, --until-width stops, and the options are checked."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from dkluq_cli.analysis.grids import make_box, sobol_pool
from dkluq_cli.analysis.targeted import (
    TargetConditioner,
    elastic_target,
    eos_target,
    posterior_covariance,
    targeted_batch,
)
from dkluq_cli.errors import DkluqError
from dkluq_cli.model.exact.head import ExactHead
from tests.conftest import plain, sample_xy

P0 = np.array([3.914, 3.914, 3.914, 90.0, 90.0, 90.0])
POSCAR = (
    "SrTiO3\n1.0\n3.914 0 0\n0 3.914 0\n0 0 3.914\nSr Ti O\n1 1 3\nDirect\n"
    "0 0 0\n0.5 0.5 0.5\n0.5 0.5 0\n0.5 0 0.5\n0 0.5 0.5\n"
)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """An exact-head model of 40 sample rows with the cubic reference (degree 4 forced)."""
    from typer.testing import CliRunner

    from dkluq_cli.cli.app import app

    base = tmp_path_factory.mktemp("small")
    x, y = sample_xy(40)
    df = pd.DataFrame(x, columns=["a", "b", "c", "alpha", "beta", "gamma"])
    df["energy_eV"] = y
    df.to_csv(base / "t.csv", index=False)
    (base / "POSCAR").write_text(POSCAR)
    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
    args = ["train", base / "t.csv", "--reference", base / "POSCAR", "--trend", "4"]
    r = runner.invoke(app, [str(a) for a in [*args, "-o", base / "run", "--no-plots"]])
    assert r.exit_code == 0, r.output
    return base


@pytest.fixture(scope="module")
def surrogate(small_run):
    from dkluq_cli.model.io import load_model

    return load_model(small_run / "run" / "model.pt")


def with_observation(sur, params: np.ndarray):
    """The same prior (hyperparameters held) conditioned on one more noisy row at ``params``;
    its value does not matter to any variance."""
    head = sur.head
    z = torch.as_tensor(sur.norm.standardise(params[None]), dtype=torch.float64)
    x = torch.cat([head.x, z])
    y = torch.cat([head.y, torch.zeros(1, dtype=torch.float64)])
    return replace(sur, head=ExactHead(x, y, head.basis, dict(head.params)))


@pytest.mark.parametrize("make", [elastic_target, eos_target])
def test_conditioned_variance_is_the_refitted_one(surrogate, make):
    prop = make(surrogate, P0, None)
    pool = sobol_pool(*make_box(P0, (0.95, 1.05)), 64, 0)
    cond = TargetConditioner(surrogate, pool, prop)
    w = prop.weights * surrogate.y_std * surrogate.sigma_scale
    before = w @ posterior_covariance(surrogate, prop.points, prop.points) @ w.T
    np.testing.assert_allclose(cond.quantity_cov, before, rtol=1e-8)
    picks, widths = targeted_batch(cond, 2)
    after = with_observation(with_observation(surrogate, pool[picks[0]]), pool[picks[1]])
    want = w @ posterior_covariance(after, prop.points, prop.points) @ w.T
    np.testing.assert_allclose(cond.quantity_cov, want, rtol=1e-6, atol=1e-9 * np.abs(want).max())
    assert widths.shape == (3, len(prop.names))
    assert (np.diff(widths, axis=0) <= 1e-9).all() and (widths[-1] < widths[0]).any()


def test_greedy_pick_lowers_the_relative_variance_most(surrogate):
    prop = elastic_target(surrogate, P0, None)
    pool = sobol_pool(*make_box(P0, (0.95, 1.05)), 32, 1)
    cond = TargetConditioner(surrogate, pool, prop)
    scale = surrogate.y_std * surrogate.sigma_scale
    w = prop.weights * scale
    totals = []
    for j in range(len(pool)):
        after = with_observation(surrogate, pool[j])
        var = np.diag(w @ posterior_covariance(after, prop.points, prop.points) @ w.T)
        totals.append(np.sum(var / prop.mean**2))
    picks, _ = targeted_batch(cond, 1)
    assert picks[0] == int(np.argmin(totals))


def test_eos_target_matches_elastic_bulk_modulus(surrogate):
    """For a cubic crystal B0 = (C11 + 2 C12) / 3 at the same cell."""
    el = elastic_target(surrogate, P0, None)
    eos = eos_target(surrogate, P0, None)
    c = dict(zip(el.names, el.mean, strict=True))
    b = (c["C11"] + c["C22"] + c["C33"] + 2 * (c["C12"] + c["C13"] + c["C23"])) / 9
    assert eos.mean[1] == pytest.approx(b, rel=1e-9)
    assert eos.mean[0] == pytest.approx(np.cbrt(np.prod(eos.cell[:3])), rel=1e-4)


def test_cli_for_elastic_until_width(invoke, small_run, tmp_path):
    run = small_run / "run"
    out = tmp_path / "next"
    args = ["suggest", run, "--for", "elastic", "--n", "8", "--pool", "256", "--no-plots"]
    r = invoke(*args, "--until-width", "1000", "-o", out)
    assert r.exit_code == 0, r.output
    assert "every half-width within 1000 %" in plain(r.stderr)
    r = invoke(*args, "--until-width", "0.01", "-o", out, "--force")
    assert r.exit_code == 0, r.output
    text = plain(r.stderr)
    assert "expected 95 % half-widths" in text and "after pick 8" in text and "raise --n" in text
    widths = pd.read_csv(out / "widths.csv")
    assert list(widths["pick"]) == list(range(9)) and "C11_halfwidth95_pct" in widths
    cand = pd.read_csv(out / "candidates.csv")
    assert len(cand) == 8 and (cand["for"] == "elastic").all()
    assert (cand["expected_max_halfwidth95_pct"].diff().dropna() <= 1e-9).all()
    assert (out / "cand_001" / "POSCAR").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--for", "bulk"], "not one of 'energy', 'elastic', 'eos'"),
        (["--until-width", "5"], "needs a property"),
        (["--for", "eos", "--strategy", "random"], "--strategy random"),
        (["--for", "eos", "--until-width", "-1"], "must be > 0"),
    ],
)
def test_bad_for_options(invoke, small_run, tmp_path, extra, message):
    r = invoke("suggest", small_run / "run", "-o", tmp_path / "x", "--no-plots", *extra)
    assert r.exit_code == 1 and message in plain(r.stderr)


def test_core_refuses_width_without_property(surrogate):
    from dkluq_cli.analysis.suggest import suggest

    with pytest.raises(DkluqError, match="needs a property"):
        suggest(surrogate, P0, 2, until_width=5.0)
