"""The exact head's chunked posterior and the expanded strain basis give the numbers of the direct
implementation they replace (kept here as the reference), on random lattices.

The reference is the head as it computed before: every basis function the average of its
monomial over each group image (:func:`averaged_monomials`), the kernel modules' dense
matrices (:mod:`dkluq_cli.model.exact.kernel`) and one triangular solve over all points. The two
agree to 1e-9 of each quantity's scale (the largest |mean|, the largest prior variance): a
variance far below its prior's (at a training row) is a difference of two nearly equal numbers,
and the reference itself moves by more than 1e-9 of such a variance when only its chunking
changes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dkluq_cli.crystal.monomials import averaged_monomials, expansion_plan
from dkluq_cli.crystal.point_group import PointGroup, cubic_perovskite
from dkluq_cli.crystal.strain import StrainCoordinates, StrainPolynomial
from dkluq_cli.model.exact import posterior
from dkluq_cli.model.exact.head import ExactHead, _cholesky
from dkluq_cli.model.exact.hyperparameters import basis_degrees
from dkluq_cli.model.exact.kernel import InvariantMatern, PolynomialKernel, coordinate_blocks

REF = np.array([3.914, 3.914, 3.914, 90.0, 90.0, 90.0])
HEXAGONAL = np.array([3.2, 3.2, 5.1, 90.0, 90.0, 120.0])
RTOL = 1e-9


def _lattices(rng: np.random.Generator, n: int, spread: float, centre=REF) -> np.ndarray:
    return centre * rng.uniform(1 - spread, 1 + spread, size=(n, 6))


def _actions(kind: str) -> np.ndarray | None:
    if kind == "cubic":
        return PointGroup.from_structure(cubic_perovskite()).strain_actions()
    if kind == "hexagonal":
        return PointGroup.holohedry(HEXAGONAL).strain_actions()
    return None


def _head(
    kind: str, degree: int, n: int = 60, seed: int = 0
) -> tuple[ExactHead, StrainCoordinates]:
    """An exact head with set hyperparameters (no fit) on n random lattices."""
    rng = np.random.default_rng(seed)
    centre = HEXAGONAL if kind == "hexagonal" else REF
    cells = _lattices(rng, n, 0.1, centre)
    coords = StrainCoordinates.from_training(cells, lattice=centre)
    x = coords.apply(cells)
    y = np.sin(1.5 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.5 * (x**2).sum(1)
    y = (y - y.mean()) / y.std()
    acts = _actions(kind)
    basis = StrainPolynomial.build(degree, acts, 6, seed=seed)
    blocks = coordinate_blocks(basis.actions)
    params = {
        "blocks": blocks.tolist(),
        "log_lengthscale": rng.uniform(0.0, 1.0, int(blocks.max()) + 1).tolist(),
        "log_outputscale": -0.7,
        "log_tau": rng.uniform(-3.0, 0.0, degree + 1).tolist(),
        "noise": 3e-6,
    }
    return ExactHead(torch.as_tensor(x), torch.as_tensor(y), basis, params), coords


def _modules(head: ExactHead) -> tuple[InvariantMatern, PolynomialKernel]:
    acts = torch.as_tensor(head.basis.actions, dtype=torch.float64)
    blocks = torch.as_tensor(head.params["blocks"], dtype=torch.long)
    matern = InvariantMatern(acts, blocks, (0.0, 1.0))
    poly = PolynomialKernel(basis_degrees(head.basis), (0.0, 1.0))
    with torch.no_grad():
        matern.raw_log_lengthscale.copy_(torch.as_tensor(head.params["log_lengthscale"]))
        matern.raw_log_outputscale.fill_(float(head.params["log_outputscale"]))
        poly.raw_log_tau.copy_(torch.as_tensor(head.params["log_tau"]))
    return matern, poly


@torch.no_grad()
def _reference(head: ExactHead, z: torch.Tensor):
    """``(mean, variance, joint covariance, prior variance)`` computed directly."""
    basis = head.basis

    def design(u: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(averaged_monomials(u.numpy(), basis.actions, basis.exponents))

    matern, poly = _modules(head)
    x, px, pz = head.x, design(head.x), design(z)
    k = matern(x, x) + poly(px, px) + head.noise_variance() * torch.eye(len(x), dtype=x.dtype)
    chol = _cholesky(k)
    alpha = torch.cholesky_solve(head.y[:, None], chol)[:, 0]
    ks = matern(x, z) + poly(px, pz)
    v = torch.linalg.solve_triangular(chol, ks, upper=False)
    prior = matern(z, z, diag=True) + poly(pz, pz, diag=True)
    cov = matern(z, z) + poly(pz, pz) - v.T @ v
    var = (prior - (v * v).sum(0)).clamp_min(0.0)
    return (ks.T @ alpha).numpy(), var.numpy(), ((cov + cov.T) / 2).numpy(), prior.numpy()


def _query(head: ExactHead, coords: StrainCoordinates, seed: int = 1) -> torch.Tensor:
    """Random lattices in and beyond the training box, and the training rows themselves."""
    rng = np.random.default_rng(seed)
    cells = _lattices(rng, 150, 0.18, coords.lattice)
    z = torch.as_tensor(coords.apply(cells))
    return torch.cat([z, head.x[:20]])


@pytest.mark.parametrize(("kind", "degree"), [("plain", 4), ("cubic", 6), ("hexagonal", 4)])
def test_fast_posterior_equals_the_direct_one(kind, degree):
    head, coords = _head(kind, degree)
    z = _query(head, coords)
    mean, var = head.predict(z)
    ref_mean, ref_var, ref_cov, prior = _reference(head, z)
    scale_m, scale_v = np.abs(ref_mean).max(), prior.max()
    np.testing.assert_allclose(mean, ref_mean, rtol=0, atol=RTOL * scale_m)
    np.testing.assert_allclose(var, ref_var, rtol=0, atol=RTOL * scale_v)
    # σ with the noise, as the surrogate reports it, pointwise
    noise = head.noise_variance()
    np.testing.assert_allclose(np.sqrt(var + noise), np.sqrt(ref_var + noise), rtol=RTOL)
    # the training rows are where the variance is smallest: the test reaches that regime
    assert ref_var[-20:].max() < 1e-3 * scale_v
    joint_mean, cov = head.joint(z[:70])
    np.testing.assert_allclose(joint_mean.numpy(), ref_mean[:70], rtol=0, atol=RTOL * scale_m)
    np.testing.assert_allclose(cov.numpy(), ref_cov[:70, :70], rtol=0, atol=RTOL * scale_v)
    cross = head.cross_covariance(z[:40], z[40:55])
    np.testing.assert_allclose(cross, ref_cov[:40, 40:55], rtol=0, atol=RTOL * scale_v)


def test_chunking_does_not_change_the_numbers(monkeypatch):
    head, coords = _head("cubic", 4)
    z = _query(head, coords)
    mean, var = head.predict(z)
    cov = head.joint(z[:50])[1]
    monkeypatch.setattr(posterior, "MAX_ENTRIES", 1)
    monkeypatch.setattr(posterior, "CHUNK_RANGE", (7, 7))
    assert len(list(head.posterior.chunks(len(z)))) == int(np.ceil(len(z) / 7))
    small_mean, small_var = head.predict(z)
    np.testing.assert_allclose(small_mean, mean, rtol=0, atol=1e-12 * np.abs(mean).max())
    np.testing.assert_allclose(small_var, var, rtol=0, atol=1e-12 * var.max())
    torch.testing.assert_close(head.joint(z[:50])[1], cov, rtol=0, atol=1e-12, check_dtype=True)


@pytest.mark.parametrize("keep", [True, False])
def test_fixed_points_give_predict_variances_and_covariance_columns(keep, monkeypatch):
    if not keep:  # too many entries to keep: each column recomputes L⁻¹ K(X, Z)
        monkeypatch.setattr(posterior, "FIXED_MAX_ENTRIES", 0)
    head, coords = _head("cubic", 4)
    z = _query(head, coords)
    points = head.fixed_points(z)
    assert (points.v is not None) == keep
    _, var = head.predict(z)
    np.testing.assert_allclose(points.variance, var, rtol=0, atol=1e-12 * var.max())
    for j in (0, 77, len(z) - 1):
        col = head.cross_covariance(z, z[j : j + 1])[:, 0]
        np.testing.assert_allclose(points.column(j), col, rtol=0, atol=1e-12 * var.max())


@pytest.mark.parametrize(("kind", "degree"), [("plain", 5), ("cubic", 8), ("hexagonal", 6)])
def test_expanded_basis_equals_the_image_average(kind, degree):
    basis = StrainPolynomial.build(degree, _actions(kind))
    x = np.random.default_rng(3).uniform(-1.6, 1.6, size=(500, 6))
    direct = averaged_monomials(x, basis.actions, basis.exponents)
    fast = basis.design(x)
    np.testing.assert_allclose(fast, direct, rtol=0, atol=1e-13 * np.abs(direct).max())
    plan = expansion_plan(basis.actions, basis.exponents)
    # the cubic group's maps are signed permutations: x itself is evaluated, once
    assert (plan.actions is None) == (kind != "hexagonal")


def test_suggest_conditioning_on_the_exact_head_is_exact():
    """The conditioner's rank-one updates on the exact head (through its fixed points) equal
    dense Gaussian conditioning of the joint posterior."""
    from dkluq_cli.analysis.conditioning import PosteriorConditioner, greedy_batch
    from dkluq_cli.crystal.crystal import Crystal
    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.train import train
    from tests.conditioning_check import dense_conditional_variance
    from tests.conftest import sample_xy

    x, y = sample_xy(30)
    crystal = Crystal.from_structure(cubic_perovskite(), "test")
    cfg = TrainConfig(head="exact", test_fraction=0.0, restarts=0, device="cpu", trend=4)
    sur = train(x, y, cfg, crystal=crystal).surrogate
    pool = _lattices(np.random.default_rng(4), 80, 0.1)
    cond = PosteriorConditioner(sur, pool)
    picks, _ = greedy_batch(cond, 5)
    expected = dense_conditional_variance(sur, pool, picks, cond.noise)
    scale = cond.prior_variance.max()
    np.testing.assert_allclose(cond.variance, expected, rtol=0, atol=RTOL * scale)
    # the first pick is the point of largest σ, as the model predicts it
    _, std = sur.predict(pool, calibrated=False)
    assert picks[0] == int(np.argmax(std))


def test_the_torch_matern_equals_the_numpy_one():
    """The element-wise Matérn off the CPU fast path (torch ops, as on CUDA) gives the same."""
    sq = torch.as_tensor(np.random.default_rng(5).uniform(0.0, 30.0, size=(40, 30)))
    on_cpu = posterior._matern52_3(sq.clone())
    generic = posterior._matern52_3(sq.clone().T).T  # not contiguous: the torch branch
    torch.testing.assert_close(generic, on_cpu, rtol=1e-14, atol=1e-300)
    s = np.sqrt(sq.numpy())
    np.testing.assert_allclose(on_cpu.numpy(), 3 * (1 + s + s * s / 3) * np.exp(-s), rtol=1e-14)
