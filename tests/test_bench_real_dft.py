"""The real-DFT benchmark runs in ``--quick`` mode, and skips without the shared data."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from tests.conftest import REPO

BENCH = REPO / "benchmarks"
pytestmark = pytest.mark.slow


def _script():
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("_bench_real_dft", BENCH / "bench_real_dft.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_real_dft_quick(tmp_path):
    mod = _script()
    if not mod.DFT_CSV.is_file():
        pytest.skip(f"{mod.DFT_CSV} is not available")
    assert mod.main(["--quick", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "real_dft.json").read_text(encoding="utf-8"))
    assert res["quick"] is True and (tmp_path / "real_dft.md").read_text().startswith("## ")
    names = [m["model"] for m in res["models"]]
    assert names[0] == "plain exact GP" and len(names) == 3
    for m in res["models"]:
        assert set(m["directions"]) == {"1->2", "2->1"}
        for d in m["directions"].values():
            med, lo, hi = d["in_range"]["rmse_meV_atom"]
            assert 0 < lo <= med <= hi
            assert 0 <= d["shell"]["coverage_95"][0] <= 1
    extra = res["models"][1]["directions"]["1->2"]["extra"]
    assert 0 <= extra["reported_coverage_95"][0] <= 1 and extra["in_domain_train"][0] >= 0.95
    assert {c["met"] for c in res["target_checks"]} <= {"met", "MISSED"}
    assert (
        res["eos"]["symmetric"]["sets"][0]["a0_lo95"]
        < res["eos"]["symmetric"]["sets"][0]["a0_hi95"]
    )


def test_bench_real_dft_skips_without_the_shared_set(tmp_path, monkeypatch, capsys):
    mod = _script()
    monkeypatch.setattr(mod, "DFT_CSV", tmp_path / "absent.csv")
    assert mod.main(["--quick", "--out", str(tmp_path / "out")]) == 0
    assert "skipped" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()
