"""Property tests of the table reader: a DataFrame/array or a DkluqError, nothing else.

``DKLUQ_FUZZ_SECONDS=120`` scales the example counts up for a long fuzz run (see the README).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dkluq_cli.data.table import numeric_block, read_table
from dkluq_cli.errors import DkluqError

FUZZ_SECONDS = float(os.environ.get("DKLUQ_FUZZ_SECONDS", "0") or 0)
EXAMPLES = max(40, int(FUZZ_SECONDS * 25)) if FUZZ_SECONDS else 40
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
COLUMNS = ["a", "b", "alpha", "energy_eV"]

cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["", "nan", "NaN", "inf", "-inf", "N/A", "3.9 Å", "1e400", "0x10", "1,5"]),
    st.text(max_size=8),
)


def _outcome(path, columns):
    """Read and extract; return what happened. Any other exception fails the test."""
    try:
        df = read_table(path)
    except DkluqError as exc:
        assert exc.message and "\n" not in exc.message
        event(f"read_table: {type(exc).__name__}")
        return None
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    try:
        x = numeric_block(df, columns, source=str(path))
    except DkluqError as exc:
        assert exc.message and "\n" not in exc.message
        event(f"numeric_block: {type(exc).__name__}")
        return None
    assert x.shape == (len(df), len(columns)) and np.isfinite(x).all()
    event("array")
    return x


@SETTINGS
@given(data=st.binary(max_size=600), header=st.booleans())
def test_random_bytes(tmp_path_factory, data, header):
    path = tmp_path_factory.mktemp("tp") / "t.csv"
    path.write_bytes((",".join(COLUMNS) + "\n").encode() + data if header else data)
    _outcome(path, COLUMNS[:2])


@SETTINGS
@given(
    rows=st.lists(st.lists(cell, min_size=4, max_size=4), min_size=0, max_size=6),
    names=st.permutations(COLUMNS),
    rename=st.one_of(st.none(), st.sampled_from(COLUMNS)),
)
def test_structured_tables(tmp_path_factory, rows, names, rename):
    header = [f" {n.upper()}" if n == rename else n for n in names]
    path = tmp_path_factory.mktemp("tp") / "t.csv"
    df = pd.DataFrame(rows, columns=header, dtype=object)
    df.to_csv(path, index=False)
    x = _outcome(path, COLUMNS)
    if x is None:
        return
    # a returned array holds exactly the finite numbers that were written, in column order
    assert rename is None
    for j, col in enumerate(COLUMNS):
        k = names.index(col)
        for i, row in enumerate(rows):
            want = float(row[k])
            assert math.isfinite(want) and math.isclose(x[i, j], want, rel_tol=1e-12), (col, i)
