"""dkluq elastic: C of a known surface, the Voigt/engineering conventions, moduli against
pymatgen, the stencil, the volume-only refusal and the command's files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.analysis.elastic import NAMES, elastic_analysis, parse_cell
from dkluq_cli.analysis.elastic_moduli import born_stable, moduli
from dkluq_cli.analysis.strain_stencil import StrainStencil
from dkluq_cli.crystal.deformation import deformed_params, lattice_matrix
from dkluq_cli.errors import DkluqError
from tests.analytic_surface import EV_PER_A3_IN_GPA, AnalyticSurrogate, random_tensor
from tests.conftest import SAMPLE, plain

TRICLINIC = np.array([3.9, 4.1, 4.3, 85.0, 95.0, 100.0])


def test_lattice_matrix_is_pymatgens_frame():
    from pymatgen.core import Lattice

    cells = np.array([TRICLINIC, [3.9, 3.9, 3.9, 90.0, 90.0, 90.0], [4, 5, 6, 70, 80, 110]])
    for p in cells:
        np.testing.assert_allclose(
            lattice_matrix(p), Lattice.from_parameters(*p).matrix, atol=1e-12
        )


def test_deformed_cell_is_the_stretched_lattice():
    """A symmetric stretch F = √(I + 2η) of the rows gives the parameters deformed_params gives."""
    from scipy.linalg import sqrtm

    lat = lattice_matrix(TRICLINIC)
    e = np.array([0.01, -0.02, 0.015, 0.03, -0.01, 0.02])
    eta = np.array(
        [[e[0], e[5] / 2, e[4] / 2], [e[5] / 2, e[1], e[3] / 2], [e[4] / 2, e[3] / 2, e[2]]]
    )
    stretched = lat @ np.real(sqrtm(np.eye(3) + 2 * eta))
    a, b, c = stretched
    angle = lambda u, v: np.degrees(np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))  # noqa: E731
    want = [*np.linalg.norm(stretched, axis=1), angle(b, c), angle(a, c), angle(a, b)]
    np.testing.assert_allclose(deformed_params(lat, e)[0], want, rtol=1e-12)


def test_stencil_is_exact_on_quartic_polynomials():
    rng = np.random.default_rng(1)
    h = rng.normal(size=(6, 6))
    h = h + h.T
    g = rng.normal(size=6)
    c3, c4 = rng.normal(size=(6, 6, 6)), rng.normal(size=6)
    st = StrainStencil.build(0.03)
    e = st.strains
    energy = (
        2.0
        + e @ g
        + 0.5 * np.einsum("ni,ij,nj->n", e, h, e)
        + np.einsum("ni,nj,nk,ijk->n", e, e, e, c3)
        + (e**4) @ c4
    )
    np.testing.assert_allclose(st.gradient(energy), g, atol=1e-9)
    np.testing.assert_allclose(st.hessian(energy), h, atol=1e-7)
    assert len(e) == 36 * 6 + 1


def test_known_surface_gives_its_tensor_within_one_percent():
    c = random_tensor(0)
    cubic = np.random.default_rng(2).normal(size=(6, 6, 6)) * 300.0
    cubic = sum(np.transpose(cubic, p) for p in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]) / 3.0
    sur = AnalyticSurrogate(TRICLINIC, c, cubic=cubic)
    start = TRICLINIC * np.array([1.02, 0.99, 1.01, 1.01, 0.99, 1.0])
    res = elastic_analysis(sur, start, n_samples=400)
    assert res.search is not None and res.search.converged
    np.testing.assert_allclose(res.at, TRICLINIC, rtol=1e-5)
    np.testing.assert_allclose(res.tensor_of_mean, c, rtol=0, atol=0.01 * np.abs(np.diag(c)).min())
    stats = res.components()
    assert set(stats) == set(NAMES) and len(NAMES) == 21
    for name in NAMES:
        i, j = int(name[1]) - 1, int(name[2]) - 1
        assert abs(stats[name]["mean"] - c[i, j]) <= 0.01 * abs(c[i, i]), name
        lo, hi = stats[name]["ci95"]
        assert lo < c[i, j] < hi, name
    assert np.max(np.abs(res.stress)) < 1e-3


def test_energy_change_is_half_v_strain_c_strain_with_engineering_shear():
    """A uniaxial strain and an engineering shear strain cost ½ V eᵀ C e, as pymatgen's
    ElasticTensor (Voigt, engineering shear) gives it."""
    from pymatgen.analysis.elasticity import ElasticTensor, Strain

    c = random_tensor(3)
    sur = AnalyticSurrogate(TRICLINIC, c)
    res = elastic_analysis(sur, TRICLINIC, n_samples=50)
    found = res.tensor_of_mean
    lat = lattice_matrix(res.at)
    for e in (np.array([0.004, 0, 0, 0, 0, 0]), np.array([0, 0, 0, 0.006, 0, 0])):
        de = sur.predict(deformed_params(lat, e))[0][0] - sur.predict(res.at[None])[0][0]
        want = 0.5 * res.volume * e @ found @ e / EV_PER_A3_IN_GPA
        np.testing.assert_allclose(de, want, rtol=2e-3)
        density = ElasticTensor.from_voigt(found).energy_density(Strain.from_voigt(e))
        np.testing.assert_allclose(de, density * res.volume, rtol=2e-3)


def test_moduli_match_pymatgen_and_born_stability():
    from pymatgen.analysis.elasticity import ElasticTensor

    c = random_tensor(4)
    et = ElasticTensor.from_voigt(c)
    m = moduli(c[None])
    np.testing.assert_allclose(m["B_V"][0], et.k_voigt, rtol=1e-10)
    np.testing.assert_allclose(m["B_R"][0], et.k_reuss, rtol=1e-10)
    np.testing.assert_allclose(m["G_V"][0], et.g_voigt, rtol=1e-10)
    np.testing.assert_allclose(m["G_R"][0], et.g_reuss, rtol=1e-10)
    np.testing.assert_allclose(m["B_VRH"][0], et.k_vrh, rtol=1e-10)
    np.testing.assert_allclose(m["G_VRH"][0], et.g_vrh, rtol=1e-10)
    unstable = c.copy()
    unstable[3, 3] = -5.0
    assert born_stable(np.stack([c, unstable])).tolist() == [True, False]


def test_stability_probability_counts_the_draws():
    """A shear constant near zero with draws of either sign: the probability is the fraction of
    draws with C positive definite, between 0 and 1."""
    c = random_tensor(5)
    w, v = np.linalg.eigh(c)
    w[0] = 0.0
    soft = (v * w) @ v.T
    sur = AnalyticSurrogate(TRICLINIC, soft, draw_scale=2.0)
    res = elastic_analysis(sur, TRICLINIC, at=TRICLINIC, n_samples=400)
    p = res.stable_probability
    assert 0.02 < p < 0.98
    assert p == pytest.approx(np.mean(np.linalg.eigvalsh(res.draws)[:, 0] > 0))


def test_parse_cell():
    base = np.array([3.9, 3.9, 3.9, 90, 90, 90.0])
    np.testing.assert_allclose(parse_cell("4,4,4,90,90,90", base), [4, 4, 4, 90, 90, 90])
    np.testing.assert_allclose(parse_cell("c=4.1", base), [3.9, 3.9, 4.1, 90, 90, 90])
    for bad in ("4,4,4", "4,4,4,90,90,x", "4,4,4,170,170,170"):
        with pytest.raises(DkluqError):
            parse_cell(bad, base)


def test_bad_options_are_refused():
    sur = AnalyticSurrogate(TRICLINIC, random_tensor(0))
    with pytest.raises(DkluqError, match="max-strain"):
        elastic_analysis(sur, TRICLINIC, max_strain=0.5)
    with pytest.raises(DkluqError, match="samples"):
        elastic_analysis(sur, TRICLINIC, n_samples=3)


@pytest.fixture(scope="module")
def eos_only_model(tmp_path_factory):
    """An exact-head model of a 7-row equation-of-state table (a = b = c, right angles)."""
    from typer.testing import CliRunner

    from dkluq_cli.cli.app import app

    base = tmp_path_factory.mktemp("eos7")
    cub = pd.read_csv(SAMPLE / "srtio3_cubic.csv")
    table = base / "eos7.csv"
    cub.iloc[np.linspace(20, 40, 7).astype(int)].to_csv(table, index=False)
    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
    r = runner.invoke(app, ["train", str(table), "-o", str(base / "run"), "--no-plots"])
    assert r.exit_code == 0, r.output
    return base / "run"


def test_volume_only_table_is_refused(invoke, eos_only_model):
    r = invoke("elastic", eos_only_model, "--no-plots")
    assert r.exit_code == 1
    text = plain(r.stderr)
    assert "error:" in text and "only the volume" in text and "only B" in text
    assert "dkluq eos" in text
    assert not (eos_only_model / "elastic" / "elastic.json").exists()


def test_command_files_json_and_output_rules(invoke, lattice_run, tmp_path):
    r = invoke("elastic", lattice_run, "--json", "--samples", "200")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    for name in NAMES:
        assert set(obj[name]) == {"mean", "std", "ci95"}
    for key in ("B_VRH", "G_VRH", "stable_probability", "at", "B0_eos"):
        assert key in obj
    out = lattice_run / "elastic"
    for name in ("elastic.json", "elastic.csv", "elastic.png"):
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "elastic.json").read_text())["C11"] == obj["C11"]
    c11, c12, c44 = (obj[k]["mean"] for k in ("C11", "C12", "C44"))
    assert c11 > c12 > 0 and c44 > 0 and obj["stable_probability"] > 0.9
    assert obj["B_VRH"]["ci95"][0] < obj["B_VRH"]["mean"] < obj["B_VRH"]["ci95"][1]
    csv = pd.read_csv(out / "elastic.csv")
    assert {"C11", "C66", "B_VRH", "G_R"} <= set(csv["quantity"])
    text = plain(r.stderr)
    assert "zero stress of the posterior mean" in text and "eos B0" in text
    # the default folder next to the model is this command's own: a rerun replaces it
    again = invoke("elastic", lattice_run, "--samples", "50", "--no-plots")
    assert again.exit_code == 0, again.output
    # an explicit -o that exists needs --force
    explicit = tmp_path / "el"
    explicit.mkdir()
    (explicit / "keep.txt").write_text("x")
    refused = invoke("elastic", lattice_run, "-o", explicit, "--samples", "50", "--no-plots")
    assert refused.exit_code == 1 and "--force" in plain(refused.stderr)
    at = invoke(
        "elastic",
        lattice_run,
        "-o",
        explicit,
        "--force",
        "--samples",
        "50",
        "--no-plots",
        "--at",
        "3.95,3.95,3.95,90,90,90",
    )
    assert at.exit_code == 0, at.output
    report = json.loads((explicit / "elastic.json").read_text())
    assert report["at"]["a"] == pytest.approx(3.95) and report["cell"]["how"] == "--at"


def test_svgp_draws_carry_the_trend_truncation_and_a_float64_covariance(lattice_run):
    """The sample model's SVGP: its joint covariance on the stencil is computed in float64 and
    is positive semi-definite without jitter; its C draws carry the next-order trend's
    curvature (so σ of C11 is at least |ΔC11| up to Monte Carlo noise)."""
    import torch

    from dkluq_cli.model.io import load_model

    sur = load_model(lattice_run / "model.pt")
    assert sur.head.kind == "svgp"
    res = elastic_analysis(sur, np.array([3.94] * 3 + [90.0] * 3), n_samples=400)
    st = res.stencil
    _, cov = sur.head.joint(sur.standardise(deformed_params(lattice_matrix(res.at), st.strains)))
    assert cov.dtype == torch.float64
    assert float(torch.linalg.eigvalsh(cov).min()) > -1e-9 * float(cov.diagonal().mean())
    assert res.truncation is not None
    stats = res.components()
    assert stats["C11"]["std"] >= 0.8 * abs(res.truncation[0, 0])
    report = res.report()
    assert report["settings"]["trend_truncation"][0][0] == pytest.approx(res.truncation[0, 0])
