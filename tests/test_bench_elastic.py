"""The elastic benchmarks run in ``--quick`` mode (the oracle from the cache, the committed
results or chgnet; the DFT-calls script says it is skipped without chgnet, the real-DFT one
without ../shared)."""

from __future__ import annotations

import json

import pytest

from tests.test_benchmarks_quick import _script

pytestmark = pytest.mark.slow


def test_bench_elastic_curve_quick(tmp_path):
    mod = _script("bench_elastic")
    assert mod.main(["--quick", "--out", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "elastic.json").read_text())
    assert r["quick"] is True and len(r["oracle"]["C"]) == 6
    models = [row for row in r["rows"] if row["config"].startswith("exact")]
    assert {row["N"] for row in models} == {25, 50}
    for row in models:
        assert 0 <= row["covered_99_of_9"] <= 9 and row["C11"] > row["C12"] > 0
    assert (tmp_path / "elastic.md").read_text().startswith("## Elastic constants vs CHGNet")


def test_bench_elastic_dft_quick_or_skipped(tmp_path):
    mod = _script("bench_elastic_dft")
    assert mod.main(["--quick", "--out", str(tmp_path)]) == 0
    path = tmp_path / "elastic_dft.json"
    if mod.DFT.is_dir():
        rows = json.loads(path.read_text())["rows"]
        assert {r["batch"] for r in rows} == {"b1", "b2"}
        assert all(r["C11"] > r["C44"] > 0 and r["B0_eos"] > 0 for r in rows)
    else:
        assert not path.exists()


def test_bench_elastic_calls_quick_or_skipped(tmp_path):
    mod = _script("bench_elastic_calls")
    args = ["--quick", "--out", str(tmp_path), "--strategies", "atomate2"]
    assert mod.main(args) == 0
    path = tmp_path / "elastic_calls.json"
    if path.is_file():
        r = json.loads(path.read_text())
        assert r["rows"][0]["strategy"] == "atomate2" and r["rows"][0]["calls"] == 6
