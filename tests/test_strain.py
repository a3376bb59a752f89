"""Strain relative to a reference lattice, Mandel vectors, and symmetric strain polynomials."""

from __future__ import annotations

import numpy as np
import pytest

from dkluq_cli.crystal.strain import (
    StrainCoordinates,
    StrainPolynomial,
    fractional_to_cartesian,
    from_mandel,
    mandel_action,
    metric_tensor,
    params_from_metric,
    strain,
    to_mandel,
)

REF = np.array([3.914, 3.914, 3.914, 90.0, 90.0, 90.0])
RNG = np.random.default_rng(0)


def _cells(n: int) -> np.ndarray:
    return REF * RNG.uniform(0.9, 1.1, size=(n, 6))


def test_metric_matches_pymatgen_and_round_trips():
    from pymatgen.core import Lattice

    cells = _cells(5)
    for p, g in zip(cells, metric_tensor(cells), strict=True):
        np.testing.assert_allclose(g, Lattice.from_parameters(*p).metric_tensor, rtol=1e-12)
    np.testing.assert_allclose(params_from_metric(metric_tensor(cells)), cells, rtol=1e-12)


@pytest.mark.parametrize("measure", ["hencky", "green"])
def test_strain_is_zero_at_the_reference(measure):
    other = np.array([4.0, 3.8, 4.1, 85.0, 95.0, 100.0])
    for ref in (REF, other):
        assert np.abs(strain(ref, ref, measure)).max() < 1e-12


def test_uniaxial_stretch_gives_the_textbook_strains():
    e = 0.07
    cell = REF.copy()
    cell[0] *= 1 + e
    green = strain(cell, REF, "green")[0]
    hencky = strain(cell, REF, "hencky")[0]
    assert green[0, 0] == pytest.approx(((1 + e) ** 2 - 1) / 2, rel=1e-12)
    assert hencky[0, 0] == pytest.approx(np.log(1 + e), rel=1e-12)
    off = np.ones((3, 3), bool)
    off[0, 0] = False
    assert np.abs(green[off]).max() < 1e-12 and np.abs(hencky[off]).max() < 1e-12


def test_unknown_measure_is_refused():
    with pytest.raises(ValueError, match="unknown strain measure"):
        strain(REF, REF, "almansi")


def test_mandel_round_trip_keeps_the_norm_and_actions_are_orthogonal():
    e = strain(_cells(4), REF)
    v = to_mandel(e)
    np.testing.assert_allclose(from_mandel(v), e, atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), np.linalg.norm(e, axis=(1, 2)))
    angle = 0.3
    rot = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    a = mandel_action(rot)
    np.testing.assert_allclose(a.T @ a, np.eye(6), atol=1e-12)
    np.testing.assert_allclose(v @ a.T, to_mandel(rot.T @ e @ rot), atol=1e-15)


def test_coordinates_default_to_the_box_centre_and_round_trip():
    cells = _cells(30)
    coords = StrainCoordinates.from_training(cells)
    np.testing.assert_allclose(coords.lattice, (cells.min(0) + cells.max(0)) / 2)
    u = coords.apply(cells)
    assert np.max(np.ptp(u, axis=0)) == pytest.approx(2.0)
    again = StrainCoordinates.from_dict(coords.to_dict())
    np.testing.assert_array_equal(again.apply(cells), u)


def _cubic_actions() -> np.ndarray:
    """The 24 distinct Mandel maps of m-3m (the 48 signed permutations; −M acts like M)."""
    rots = fractional_to_cartesian(_signed_permutations(), REF)
    acts = np.round([mandel_action(r) for r in rots], 12) + 0.0
    return np.unique(acts, axis=0)


def _signed_permutations() -> np.ndarray:
    import itertools

    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3), dtype=np.int64)
            for i, j in enumerate(perm):
                m[i, j] = signs[i]
            mats.append(m)
    return np.array(mats)


def test_cubic_invariant_counts_follow_the_molien_series():
    # invariants of O_h on symmetric 3x3 tensors: 1, 1, 3, 6, 11 new ones at degrees 0-4
    acts = _cubic_actions()
    assert len(acts) == 24
    basis = StrainPolynomial.build(4, acts)
    assert np.bincount(basis.degrees).tolist() == [1, 1, 3, 6, 11]


def test_symmetric_basis_is_invariant_and_plain_basis_is_not():
    acts = _cubic_actions()
    x = RNG.normal(size=(7, 6))
    sym = StrainPolynomial.build(3, acts)
    plain = StrainPolynomial.build(3, None)
    assert len(plain.exponents) == 84
    for a in acts[1:]:
        np.testing.assert_allclose(sym.design(x @ a.T), sym.design(x), atol=1e-12)
    assert np.abs(plain.design(x @ acts[1].T) - plain.design(x)).max() > 1e-3
    again = StrainPolynomial.from_dict(sym.to_dict())
    np.testing.assert_array_equal(again.design(x), sym.design(x))
