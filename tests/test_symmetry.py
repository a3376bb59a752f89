"""The reference's point group acting on lattice parameters and on strain."""

from __future__ import annotations

import numpy as np
import pytest

from dkluq_cli.crystal.point_group import PointGroup, cubic_perovskite, symmetrised
from dkluq_cli.crystal.strain import StrainCoordinates, strain, to_mandel

CELL = np.array([4.0, 3.8, 3.9, 85.0, 95.0, 100.0])


@pytest.fixture(scope="module")
def cubic() -> PointGroup:
    return PointGroup.from_structure(cubic_perovskite(3.914))


def test_cubic_perovskite_has_m3m_and_24_images(cubic):
    assert cubic.order == 48 and cubic.symbol == "m-3m"
    images = cubic.distinct_images(CELL[None])[0]
    assert len(images) == 24
    # lengths are permuted with their angles; an angle is kept or flipped to 180° − angle
    for img in images:
        assert sorted(img[:3]) == pytest.approx(sorted(CELL[:3]))
        for length, angle in zip(img[:3], img[3:], strict=True):
            k = int(np.argmin(np.abs(CELL[:3] - length)))
            assert min(abs(angle - CELL[3 + k]), abs(angle - (180 - CELL[3 + k]))) < 1e-9


def test_a_cubic_cell_is_its_own_single_image(cubic):
    assert len(cubic.distinct_images(cubic.lattice[None])[0]) == 1


def test_images_share_one_canonical_form(cubic):
    images = cubic.images(CELL[None])[0]
    canon = cubic.canonical(images)
    np.testing.assert_allclose(canon, np.repeat(canon[:1], len(canon), axis=0), atol=1e-9)
    other = cubic.canonical(np.array([[4.0, 3.8, 3.9, 85.0, 95.0, 99.0]]))
    assert np.abs(other - canon[:1]).max() > 0.5


def test_strain_actions_map_strain_of_a_cell_to_strain_of_its_image(cubic):
    acts = cubic.strain_actions()
    assert acts.shape == (24, 6, 6)
    np.testing.assert_allclose(acts[0], np.eye(6), atol=1e-12)
    np.testing.assert_allclose(
        np.einsum("kji,kjl->kil", acts, acts), np.broadcast_to(np.eye(6), acts.shape), atol=1e-12
    )
    coords = StrainCoordinates(cubic.lattice, "hencky", 0.1)
    u = coords.apply(CELL[None])[0]
    image_coords = coords.apply(cubic.images(CELL[None])[0])
    mapped = u @ acts.transpose(0, 2, 1)
    for v in image_coords:
        assert np.abs(mapped - v).max(axis=1).min() < 1e-12


def test_hexagonal_holohedry_and_round_trip():
    hexa = PointGroup.holohedry(np.array([3.0, 3.0, 5.0, 90.0, 90.0, 120.0]))
    assert hexa.symbol == "6/mmm" and hexa.order == 24
    assert hexa.strain_actions().shape == (12, 6, 6)
    again = PointGroup.from_dict(hexa.to_dict())
    np.testing.assert_array_equal(again.rotations, hexa.rotations)
    np.testing.assert_allclose(again.images(CELL[None]), hexa.images(CELL[None]))


def test_trivial_group_changes_nothing():
    g = PointGroup.trivial(CELL)
    np.testing.assert_allclose(g.images(CELL[None])[0], CELL[None], atol=1e-12)
    assert g.strain_actions().shape == (1, 6, 6)


def test_a_slightly_off_reference_is_made_exactly_symmetric(cubic):
    off = np.array([3.914, 3.9141, 3.9139, 90.0, 90.0001, 90.0])
    sym = symmetrised(off, cubic.rotations)
    assert np.ptp(sym[:3]) < 1e-12 and np.abs(sym[3:] - 90).max() < 1e-9
    assert np.abs(to_mandel(strain(sym, sym))).max() < 1e-12
