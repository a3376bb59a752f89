"""The ingest CSV writer, streaming rows to pandas in chunks, writes what one ``to_csv`` writes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**12), 10**12),
    st.booleans(),
    st.text(alphabet=st.sampled_from(list('ab ,"\n\r\t;=üÅ0')), max_size=12),
)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.tuples(cells, cells, cells), max_size=8), chunk=st.integers(1, 4))
def test_csv_writer_equals_pandas(tmp_path_factory, rows, chunk):
    import pandas as pd

    from dkluq_cli.ingest.pipeline import write_csv

    # one type per column, as in the ingest table
    typed = [(float(a) if not isinstance(a, str) else 0.5, str(b), c is True) for a, b, c in rows]
    dicts = [dict(zip("xyz", r, strict=True)) for r in typed]
    folder = tmp_path_factory.mktemp("csv")
    write_csv(folder / "mine.csv", list("xyz"), dicts, force=False, chunk_rows=chunk)
    pd.DataFrame(dicts, columns=list("xyz")).to_csv(
        folder / "pandas.csv", index=False, lineterminator="\n"
    )
    assert (folder / "mine.csv").read_bytes() == (folder / "pandas.csv").read_bytes()
