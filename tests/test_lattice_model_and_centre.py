"""dkluq_cli.analysis.lattice_model (what a model stores about its lattice) and
dkluq_cli.analysis.centre (the one rule for the lattice scan, suggest and eos centre on), on a
stub model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dkluq_cli.analysis.centre import DOMAIN_CENTRE_DESCRIPTION, choose_centre, require_atoms
from dkluq_cli.analysis.lattice_model import (
    check_lattice_features,
    check_scannable,
    domain_centre,
    feature_ranges,
    in_domain_flags,
    sigma_limit,
    stored_crystal,
    trained_formula,
    training_ranges,
)
from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.errors import DkluqError, ModelInputMismatchError
from dkluq_cli.uq.domain import Domain
from tests.stub_model import LATTICE, POSCAR_TEXT, StubRecord, StubSurrogate

STORED = Crystal.from_dict(
    {
        "species": ["Sr", "Ti", "O", "O", "O"],
        "frac_coords": [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        "lattice": [3.91, 3.92, 3.93, 90.0, 90.0, 90.0],
        "formula": "SrTiO3",
        "source": "table.extxyz",
    }
)


@pytest.fixture
def poscar(tmp_path):
    path = tmp_path / "POSCAR"
    path.write_text(POSCAR_TEXT)
    return path


# ----------------------------------------------------------------------------- frame


def test_ranges_centre_and_sigma_limit():
    sur = StubSurrogate()
    dom = sur.domain
    dom.features, dom.min, dom.max = [*LATTICE, "volume"], [*dom.min, 50.0], [*dom.max, 70.0]
    assert feature_ranges(sur)["volume"] == (50.0, 70.0)
    ranges = training_ranges(sur)
    assert list(ranges) == LATTICE and ranges["a"] == (3.705, 4.095)
    centre = domain_centre(sur)
    assert centre["a"] == pytest.approx(3.9) and centre["gamma"] == pytest.approx(90.0)
    assert sigma_limit(sur) == 0.05
    bare = StubSurrogate(domain=None)
    assert feature_ranges(bare) == training_ranges(bare) == domain_centre(bare) == {}
    assert sigma_limit(bare) is None


def test_in_domain_flags():
    sur = StubSurrogate()
    x = np.array([[3.9] * 3 + [90] * 3, [4.2] + [3.9] * 2 + [90] * 3, [3.9] * 3 + [90] * 3])
    std = np.array([0.01, 0.01, 0.06])  # the last is above std_q99
    assert in_domain_flags(sur, x, std).tolist() == [True, False, False]
    # no stored domain (or an incomplete one): everything counts as in domain
    for stored in ({}, {"features": LATTICE, "min": [0] * 6, "max": [1] * 6}):
        flags = in_domain_flags(StubSurrogate(domain=Domain.from_dict(stored)), x, std)
        assert flags.dtype == bool and flags.all()


def test_stored_crystal_and_formula():
    assert stored_crystal(StubSurrogate()) is None
    assert stored_crystal(StubSurrogate(crystal=STORED)) is STORED
    assert trained_formula(StubSurrogate()) is None
    assert trained_formula(StubSurrogate(crystal=STORED)) == "SrTiO3"
    recorded = StubSurrogate(crystal=STORED, record=StubRecord(formula="BaTiO3"))
    assert trained_formula(recorded) == "BaTiO3"


def test_feature_checks():
    check_lattice_features(StubSurrogate(), "eos")
    with pytest.raises(DkluqError, match="dkluq suggest needs a model trained on a, b, c"):
        check_lattice_features(StubSurrogate(features=LATTICE[::-1]), "suggest")
    check_scannable(SimpleNamespace(features=[*LATTICE[::-1], "volume"]))
    with pytest.raises(ModelInputMismatchError, match="lacks alpha, beta, gamma"):
        check_scannable(SimpleNamespace(features=["a", "b", "c"]))


# ----------------------------------------------------------------------------- reference


def test_reference_order(poscar):
    """--reference, else the stored crystal, else the domain centre; --at on top."""
    bare, stored = StubSurrogate(), StubSurrogate(crystal=STORED)
    ref = choose_centre(stored, poscar)
    assert ref.kind == "poscar" and ref.params.tolist() == pytest.approx([3.95] * 3 + [90] * 3)
    assert ref.crystal.source == str(poscar)
    assert ref.description == f"{poscar} (SrTiO3)" and ref.source == f"reference {poscar}"
    ref = choose_centre(stored)
    assert ref.kind == "model" and ref.params.tolist() == list(STORED.lattice)
    assert ref.crystal is STORED and ref.source == "the model's reference crystal"
    assert ref.description == "the model's reference structure (SrTiO3, table.extxyz)"
    ref = choose_centre(bare)
    assert ref.kind == "domain-centre" and ref.crystal is None
    np.testing.assert_allclose(ref.params, [3.9] * 3 + [90] * 3)
    assert ref.description == DOMAIN_CENTRE_DESCRIPTION
    assert ref.source == f"the {DOMAIN_CENTRE_DESCRIPTION}"
    # a model whose stored reference has a lattice but no atoms still centres on it
    lattice_only = StubSurrogate(crystal=Crystal(lattice=STORED.lattice))
    ref = choose_centre(lattice_only)
    assert ref.kind == "model" and ref.crystal is None


def test_at_overrides_and_completes():
    ref = choose_centre(StubSurrogate(), at="c=4.0,gamma=91")
    assert ref.params[2] == 4.0 and ref.params[5] == 91 and ref.params[0] == pytest.approx(3.9)
    assert ref.description.endswith("with --at c=4, gamma=91")
    full = choose_centre(
        StubSurrogate(domain=None), at={k: 4.0 if len(k) == 1 else 90.0 for k in LATTICE}
    )
    assert full.kind == "at" and full.description == "--at"
    with pytest.raises(DkluqError, match=r"reference \(with --at\): .*no real cell"):
        choose_centre(StubSurrogate(), at="alpha=170,beta=170,gamma=90")


def test_no_base_and_composition(poscar):
    with pytest.raises(DkluqError) as exc:
        choose_centre(StubSurrogate(domain=None), at="a=3.9", command="scan")
    assert "neither a reference" in exc.value.message and "b, c, alpha" in exc.value.message
    assert "--at" in exc.value.hint
    with pytest.raises(DkluqError) as exc:
        choose_centre(StubSurrogate(domain=None), command="eos")
    assert "dkluq eos has no reference" in exc.value.message and "--at" not in exc.value.hint
    other = StubSurrogate(record=StubRecord(formula="BaTiO3"))
    assert choose_centre(other, poscar).kind == "poscar"  # scan uses the lattice only
    with pytest.raises(DkluqError, match="is SrTiO3 but the model was trained on BaTiO3"):
        choose_centre(other, poscar, match_composition=True)


def test_require_atoms(poscar):
    from_file = choose_centre(StubSurrogate(), poscar)
    assert require_atoms(from_file).species[0] == "Sr" and from_file.n_atoms == 5
    assert choose_centre(StubSurrogate()).n_atoms is None
    assert require_atoms(choose_centre(StubSurrogate(crystal=STORED))) is STORED
    with pytest.raises(DkluqError, match="no atoms to put into the POSCARs"):
        require_atoms(choose_centre(StubSurrogate()))
