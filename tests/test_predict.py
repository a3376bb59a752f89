"""dkluq_cli.analysis.predict: inputs from a table, a POSCAR or a VASP tree; the unit check; the
prediction columns and the in_domain flag (on a stub model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.analysis.predict import load_inputs, output_columns, predict_frame, summarise
from dkluq_cli.errors import InputError, ModelInputMismatchError
from dkluq_cli.uq.metrics import Z_95
from tests.conftest import REPO, SAMPLE
from tests.stub_model import LATTICE, POSCAR_TEXT, StubSurrogate

CUBIC = [3.9, 3.9, 3.9, 90.0, 90.0, 90.0]


def test_output_columns():
    assert output_columns("energy_eV") == {
        "mean": "energy_mean_eV",
        "std": "energy_std_eV",
        "lo95": "energy_lo95_eV",
        "hi95": "energy_hi95_eV",
        "error": "energy_error_eV",
        "z": "energy_z",
    }
    assert output_columns("energy_per_atom_eV")["std"] == "energy_per_atom_std_eV"
    assert output_columns("y")["mean"] == "y_mean" and output_columns("y")["z"] == "y_z"


def test_load_csv_poscar_and_tree(tmp_path):
    csv = tmp_path / "in.csv"
    pd.DataFrame([CUBIC], columns=LATTICE).to_csv(csv, index=False)
    assert load_inputs(csv)[LATTICE].to_numpy().tolist() == [CUBIC]
    poscar = tmp_path / "CONTCAR"
    poscar.write_text(POSCAR_TEXT)
    row = load_inputs(poscar)
    assert len(row) == 1 and row.loc[0, "formula"] == "SrTiO3" and row.loc[0, "n_atoms"] == 5
    assert row.loc[0, "volume"] == pytest.approx(3.95**3)
    np.testing.assert_allclose(row.loc[0, LATTICE].to_numpy(float), [3.95] * 3 + [90] * 3)
    run = SAMPLE / "vasp_runs" / "strain scan (batch 2)" / "run_02"
    tree = load_inputs(run)
    assert len(tree) == 1 and {"energy_eV", *LATTICE} <= set(tree.columns)
    with pytest.raises(InputError, match="does not exist"):
        load_inputs(tmp_path / "nope.csv")
    empty = tmp_path / "no_runs"
    empty.mkdir()
    with pytest.raises(InputError, match="no usable VASP run"):
        load_inputs(empty)
    with pytest.raises(InputError, match=r"cannot read .* as a POSCAR: empty file"):
        load_inputs(REPO / "tests" / "bad_inputs" / "CONTCAR_empty")


def test_predict_frame_columns_and_domain():
    sur = StubSurrogate()
    rows = [CUBIC, [4.2, 3.9, 3.9, 90, 90, 90], [3.8, 3.9, 3.9, 90, 90, 90]]
    df = pd.DataFrame(rows, columns=LATTICE).assign(run=["r0", "r1", "r2"])
    out = predict_frame(sur, df, source="t.csv")
    cols = output_columns("energy_eV")
    assert list(out.columns) == [
        *LATTICE,
        "run",
        *(cols[k] for k in ("mean", "std", "lo95", "hi95")),
        "in_domain",
        "domain_reason",
    ]
    mean, std = sur.predict(np.array(rows, dtype=float))
    np.testing.assert_allclose(out[cols["mean"]], mean)
    np.testing.assert_allclose(out[cols["hi95"]] - out[cols["lo95"]], 2 * Z_95 * std)
    # row 1 is outside the training range of a; row 2 inside but σ = 0.02 ≤ std_q99
    assert out["in_domain"].tolist() == [True, False, True] and out["in_domain"].dtype == bool
    assert out["domain_reason"].tolist()[0] == "" and out["domain_reason"].tolist()[2] == ""
    assert out["domain_reason"][1].startswith("a 4.2 outside the training range 3.705–4.095")
    assert list(out["run"]) == ["r0", "r1", "r2"]  # other columns pass through
    # with the truth: error and z columns, and the metrics in the summary
    truth = df.assign(energy_eV=mean + std * np.array([1.0, -1.0, 0.5]))
    scored = predict_frame(sur, truth)
    np.testing.assert_allclose(scored[cols["z"]], [-1.0, 1.0, -0.5])
    s = summarise(scored, "energy_eV")
    assert s["n"] == 3 and s["n_in_domain"] == 2 and s["metrics"]["rmse"] > 0
    assert s["n_compared"] == 3
    assert "metrics" not in summarise(out, "energy_eV")
    # rows without a value are left out of the metrics and counted; one value is too few
    gaps = truth.assign(energy_eV=[truth.energy_eV[0], np.nan, truth.energy_eV[2]])
    s = summarise(predict_frame(sur, gaps), "energy_eV")
    assert s["n_compared"] == 2 and np.isfinite(s["metrics"]["rmse"])
    one = truth.assign(energy_eV=[truth.energy_eV[0], np.nan, np.nan])
    s = summarise(predict_frame(sur, one), "energy_eV")
    assert s["n_compared"] == 1 and "metrics" not in s


def test_predict_frame_refuses_wrong_inputs():
    sur = StubSurrogate()
    with pytest.raises(ModelInputMismatchError, match=r"t\.csv lacks the model's feature column"):
        predict_frame(sur, pd.DataFrame([CUBIC[:3]], columns=LATTICE[:3]), source="t.csv")
    nm = pd.DataFrame([[0.39, 0.39, 0.39, 90, 90, 90]], columns=LATTICE)
    with pytest.raises(ModelInputMismatchError, match=r"different units .*a \(median 0\.39"):
        predict_frame(sur, nm, source="nm.csv")
    # no stored domain: no unit check, and every row counts as in domain
    out = predict_frame(StubSurrogate(domain=None), nm)
    assert out["in_domain"].all()


def test_other_compositions_are_refused_unless_allowed():
    """Composition is part of the domain: rows of another formula than the model's are one
    error naming both, or (opted in) predicted out of domain with the reason."""
    from tests.stub_model import StubRecord

    sur = StubSurrogate(record=StubRecord(formula="SrTiO3"))
    df = pd.DataFrame([CUBIC, CUBIC], columns=LATTICE).assign(formula=["SrTiO3", "BaTiO3"])
    with pytest.raises(
        ModelInputMismatchError,
        match=r"t\.csv holds BaTiO3 \(1 of 2 rows\) but the model was trained on SrTiO3",
    ):
        predict_frame(sur, df, source="t.csv")
    out = predict_frame(sur, df, source="t.csv", allow_other_compositions=True)
    assert out["in_domain"].tolist() == [True, False]
    assert out["domain_reason"][1] == "composition BaTiO3, model trained on SrTiO3"
    # the same composition written another way is the same composition
    same = df.assign(formula=["Sr2Ti2O6", "TiSrO3"])
    assert predict_frame(sur, same)["in_domain"].all()
    # a model without a formula, or rows without one, cannot be checked: no refusal
    assert predict_frame(StubSurrogate(), df)["in_domain"].all()
