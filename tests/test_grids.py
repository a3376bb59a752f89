"""dkluq_cli.analysis.grids: the one --lattice-range rule, the scan grids, the isotropic line, the box."""

from __future__ import annotations

import numpy as np
import pytest

from dkluq_cli.analysis.grids import (
    check_lattice_range,
    grid_iso,
    iso_params,
    lattice_range_problem,
    make_box,
    random_points,
    scale_grid,
    sobol_pool,
)
from dkluq_cli.crystal.lattice import valid_cells
from dkluq_cli.errors import DkluqError

REF = np.array([4.0, 4.1, 4.2, 90.0, 91.0, 92.0])


@pytest.mark.parametrize(
    ("lo", "hi", "problem"),
    [
        (0.9, 1.1, None),
        (0.5, 2.0, None),
        (1.1, 0.9, "LO must be smaller than HI, got 1.1 0.9"),
        (1.0, 1.0, "LO must be smaller than HI, got 1 1"),
        (0.0, 1.1, "factors must be > 0, got 0 1.1"),
        (-1.0, 1.1, "factors must be > 0, got -1 1.1"),
        (float("nan"), 1.1, "factors must be > 0, got nan 1.1"),
        (0.9, float("inf"), "factors must be finite, got 0.9 inf"),
    ],
)
def test_one_lattice_range_rule(lo, hi, problem):
    assert lattice_range_problem(lo, hi) == problem
    if problem is None:
        assert check_lattice_range([lo, hi]) == (lo, hi)
        return
    # every command applies the same rule, through check_lattice_range or its callers
    for call in (
        lambda: check_lattice_range((lo, hi)),
        lambda: scale_grid(lo, hi, 5),
        lambda: make_box(REF, (lo, hi)),
    ):
        with pytest.raises(DkluqError) as exc:
            call()
        assert exc.value.message == f"--lattice-range {lo:g} {hi:g}: {problem}"


def test_scale_grid_and_iso_line():
    s = scale_grid(0.9, 1.1, 5)
    np.testing.assert_allclose(s, [0.9, 0.95, 1.0, 1.05, 1.1])
    with pytest.raises(DkluqError, match="at least 2 points"):
        scale_grid(0.9, 1.1, 1)
    line = iso_params(REF, s)
    np.testing.assert_array_equal(line[:, :3], REF[:3] * s[:, None])
    np.testing.assert_array_equal(line[:, 3:], np.tile(REF[3:], (5, 1)))
    table = grid_iso(REF, s)
    assert list(table.columns[:2]) == ["scan", "scale"] and (table["scan"] == "iso").all()
    np.testing.assert_array_equal(table[["a", "b", "c", "alpha", "beta", "gamma"]], line)


def test_box_and_its_points():
    lo, hi = make_box(REF, (0.9, 1.2))
    np.testing.assert_allclose(lo, REF * 0.9)
    np.testing.assert_allclose(hi, REF * 1.2)
    flo, fhi = make_box(REF, (0.9, 1.2), fix_angles=True)
    np.testing.assert_array_equal(flo[3:], REF[3:])
    np.testing.assert_array_equal(fhi[3:], REF[3:])
    pool = sobol_pool(lo, hi, 256, seed=0)
    assert 0 < len(pool) <= 256 and valid_cells(pool).all()
    assert (pool >= lo).all() and (pool <= hi).all()
    np.testing.assert_array_equal(pool, sobol_pool(lo, hi, 256, seed=0))
    pts = random_points(lo, hi, 10, seed=3)
    assert pts.shape == (10, 6) and valid_cells(pts).all()
    assert (pts >= lo).all() and (pts <= hi).all()
    # a box of impossible cells only (three angles of 125°–130° sum to over 360°)
    with pytest.raises(DkluqError, match="almost no valid cells"):
        random_points(
            np.array([4, 4, 4, 125, 125, 125.0]), np.array([4, 4, 4, 130, 130, 130.0]), 2, 0
        )
