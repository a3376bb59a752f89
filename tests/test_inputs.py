"""Constant feature columns are dropped and equal ones tied; the map survives the model file."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dkluq_cli.model.inputs import InputMap
from tests.conftest import SAMPLE

LATTICE = ["a", "b", "c", "alpha", "beta", "gamma"]


def _eos_rows(n: int = 7) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(SAMPLE / "srtio3_cubic.csv")
    df = df.iloc[np.linspace(0, len(df) - 1, n).round().astype(int)]
    return df[LATTICE].to_numpy(float), df["energy_eV"].to_numpy(float)


def test_cubic_line_ties_lengths_and_drops_angles():
    x, _ = _eos_rows()
    imap = InputMap.from_training(x, LATTICE)
    assert imap.groups == [[0, 1, 2]]
    assert imap.fixed == {3: 90.0, 4: 90.0, 5: 90.0}
    assert imap.names == ["a=b=c"]
    assert "tied a=b=c" in imap.describe() and "alpha = 90" in imap.describe()
    np.testing.assert_allclose(imap.apply(x)[:, 0], x[:, 0])
    off = x[:2].copy()
    off[0, 1] += 0.05  # b off the a = b = c line
    off[1, 3] = 91.0  # an angle off 90°
    np.testing.assert_allclose(imap.deviation(off), [0.05, 1.0])
    assert np.all(imap.deviation(x) == 0)


def test_general_table_is_the_identity_and_round_trips():
    x = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:50][LATTICE].to_numpy(float)
    imap = InputMap.from_training(x, LATTICE)
    assert imap.is_identity and imap.describe() == ""
    assert imap.apply(x) is not None and np.array_equal(imap.apply(x), x)
    eos = InputMap.from_training(_eos_rows()[0], LATTICE)
    assert InputMap.from_dict(eos.to_dict()) == eos


def test_a_tied_model_predicts_the_same_after_save_and_load(tmp_path, tiny_config):
    from dkluq_cli.model.io import load_model, save_model
    from dkluq_cli.training.train import train

    x, y = _eos_rows(9)
    sur = train(x, y, tiny_config(epochs=5)).surrogate
    assert sur.inputs.names == ["a=b=c"] and len(sur.x_mean) == 1
    save_model(sur, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.inputs == sur.inputs
    m1, s1 = sur.predict(x)
    m2, s2 = loaded.predict(x)
    assert np.array_equal(m1, m2) and np.array_equal(s1, s2)


def test_rows_off_the_trained_manifold_are_out_of_domain(tiny_config):
    from dkluq_cli.analysis.lattice_model import in_domain_flags
    from dkluq_cli.training.train import train

    x, y = _eos_rows(9)
    sur = train(x, y, tiny_config(epochs=2)).surrogate
    probe = np.repeat(x[4:5], 3, axis=0)
    probe[1, 1] += 0.02  # b off the a = b = c line
    probe[2, 4] = 90.5  # beta off 90°
    flags = in_domain_flags(sur, probe, np.zeros(3))
    assert flags.tolist() == [True, False, False]
