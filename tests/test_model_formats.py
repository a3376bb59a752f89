"""Model files of every readable format load and predict as they did when they were written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO

DATA = REPO / "tests" / "data" / "model_formats"
LATTICE = ["a", "b", "c", "alpha", "beta", "gamma"]
#: Not exact: the files' float32 networks go through BLAS kernels that round differently on
#: other CPUs (measured: 3e-11 relative in the mean, up to 4e-8 in σ between the AMD machine that wrote the files
#: and an Intel one); a few float32 ulps, far below any change a code edit would make.
RTOL = 1e-6  # σ and draws; the means hold to 1e-9


@pytest.mark.parametrize("version", [1, 2])
def test_old_format_predicts_as_written(version):
    from dkluq_cli.model.io import load_model

    sur = load_model(DATA / f"format{version}.pt")
    expected = pd.read_csv(DATA / f"format{version}_expected.csv")
    x = expected[LATTICE].to_numpy(float)
    mean, std = sur.predict(x)
    mean_raw, std_raw = sur.predict(x, calibrated=False)
    np.testing.assert_allclose(mean, expected["mean"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(std, expected["std"], rtol=RTOL, atol=0)
    np.testing.assert_allclose(mean_raw, expected["mean_raw"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(std_raw, expected["std_raw"], rtol=RTOL, atol=0)
    samples = sur.sample_posterior(x[:4], 3, seed=1)
    np.testing.assert_allclose(
        samples, np.loadtxt(DATA / f"format{version}_samples.txt"), rtol=RTOL
    )


def test_format_two_keeps_its_reference_crystal():
    from dkluq_cli.model.io import load_model

    sur = load_model(DATA / "format2.pt")
    ref = sur.crystal
    assert ref is not None
    species = ref.species
    assert sorted(set(species)) == ["O", "Sr", "Ti"]
