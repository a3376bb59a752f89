"""dkluq_cli.crystal.lattice: parameter names, cell validity and volume, --at / --pair, structures."""

from __future__ import annotations

import numpy as np
import pytest

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.lattice import (
    canonical_name,
    cell_volume,
    check_cell,
    parse_at,
    parse_pair,
    structure_to_params,
    valid_cells,
)
from dkluq_cli.errors import DkluqError

CRYSTAL = {
    "species": ["Sr", "Ti", "O", "O", "O"],
    "frac_coords": [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
}


def test_cell_volume_matches_pymatgen():
    from pymatgen.core import Lattice

    rng = np.random.default_rng(0)
    params = np.column_stack([rng.uniform(3, 5, (50, 3)), rng.uniform(70, 110, (50, 3))])
    vol = cell_volume(params)
    expected = [Lattice.from_parameters(*p).volume for p in params]
    np.testing.assert_allclose(vol, expected, rtol=1e-10)
    assert cell_volume(np.array([[2.0, 2.0, 2.0, 90, 90, 90]]))[0] == pytest.approx(8.0)


def test_impossible_angles_are_invalid_not_errors():
    params = np.array(
        [
            [4, 4, 4, 90, 90, 90],
            [4, 4, 4, 108, 108, 108],  # 1.2 × 90 on all three: still a real cell
            [4, 4, 4, 170, 170, 90],  # α + β fine but no real volume
            [4, 4, 4, 120, 120, 120],  # flat cell (volume 0)
            [4, 4, 4, 180, 90, 90],
            [4, -1, 4, 90, 90, 90],
        ],
        dtype=float,
    )
    assert valid_cells(params).tolist() == [True, True, False, False, False, False]
    vol = cell_volume(params)
    assert np.isfinite(vol[:2]).all() and np.isnan(vol[2:]).all()
    with pytest.raises(DkluqError, match="no real cell"):
        check_cell(params[2], "--at")


def test_check_cell_mapping_and_sequence():
    values = {"a": 4, "b": 4.1, "c": 4.2, "alpha": 90, "beta": 91, "gamma": 92}
    np.testing.assert_array_equal(check_cell(values), [4, 4.1, 4.2, 90, 91, 92])
    np.testing.assert_array_equal(check_cell([4, 4.1, 4.2, 90, 91, 92]), check_cell(values))
    for bad, needle in [
        ({"a": 4, "b": 4, "c": 4}, "missing lattice parameter(s) alpha, beta, gamma"),
        ([4, 4, 4, 90, 90], "expected six lattice parameters, got 5"),
        ([4, 4, np.inf, 90, 90, 90], "c not finite"),
        ([4, 0, 4, 90, 90, 90], "lengths must be > 0 Å (b=0)"),
        ([4, 4, 4, 90, 180, 90], "strictly between 0 and 180 degrees (beta=180)"),
    ]:
        with pytest.raises(DkluqError) as exc:
            check_cell(bad, "--at")
        assert exc.value.message.startswith("--at: ") and needle in exc.value.message, bad


def test_parse_at():
    assert parse_at("a=3.914, alpha=90") == {"a": 3.914, "alpha": 90.0}
    assert parse_at("A=4,γ=91") == {"a": 4.0, "gamma": 91.0}
    for bad, needle in [
        ("", "empty"),
        ("a3.9", "NAME=VALUE"),
        ("alpah=90", "did you mean 'alpha'"),
        ("a=x", "not a number"),
        ("a=nan", "not finite"),
        ("a=3.9,a=4", "twice"),
        ("a=-1", "> 0"),
        ("alpha=1.57e3", "between 0 and 180"),
    ]:
        with pytest.raises(DkluqError) as exc:
            parse_at(bad)
        text = exc.value.message + " " + (exc.value.hint or "")
        assert needle in text, (bad, text)


def test_names_and_pairs():
    assert [canonical_name(n) for n in ("A", " beta ", "γ", "Alpha")] == [
        "a",
        "beta",
        "gamma",
        "alpha",
    ]
    with pytest.raises(DkluqError, match="'delta' is not a lattice parameter"):
        canonical_name("delta")
    assert parse_pair("α, b") == ("alpha", "b")
    for bad, needle in [("a,a", "twice"), ("a", "two parameters"), ("a,b,c", "two parameters")]:
        with pytest.raises(DkluqError, match=needle):
            parse_pair(bad)


def test_structure_round_trip():
    params = [3.9, 4.0, 4.1, 89.0, 91.0, 92.0]
    structure = Crystal.from_dict(CRYSTAL).structure(params)
    np.testing.assert_allclose(structure_to_params(structure), params, atol=1e-10)
    assert [str(s.specie) for s in structure] == CRYSTAL["species"]
    np.testing.assert_allclose(structure.frac_coords, CRYSTAL["frac_coords"], atol=1e-12)
    with pytest.raises(DkluqError, match="no atoms"):
        Crystal().structure(params)
    with pytest.raises(DkluqError, match="no real cell"):
        Crystal.from_dict(CRYSTAL).structure([4, 4, 4, 170, 170, 90])
