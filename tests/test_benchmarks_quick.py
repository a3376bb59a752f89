"""Every benchmark script of issues 5 and 7 runs in ``--quick`` mode, so none can rot.

The scripts are imported and their ``main(argv)`` called in this process (one torch import for
all of them); options trim the quick runs further where the full code path is still exercised.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO

BENCH = REPO / "benchmarks"
pytestmark = pytest.mark.slow


def _script(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _json(out: Path, name: str) -> dict:
    data = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
    assert data["machine"]["cpu_model"] and data["machine"]["torch"] and data["quick"] is True
    assert (out / f"{name}.md").read_text(encoding="utf-8").startswith("## ")
    return data


def test_bench_train_quick(tmp_path):
    assert _script("bench_train").main(["--quick", "--inducing", "50", "--out", str(tmp_path)]) == 0
    r = _json(tmp_path, "train")
    assert r["rows"][0]["test"]["rmse_meV_atom"] > 0
    assert r["due"]["config"]["kernel"] == "rbf" and r["due"]["config"]["lr_min_factor"] == 1.0
    assert r["command"]["rc"] == 0 and r["command"]["seconds"] > 0
    assert {c["met"] for c in r["target_checks"]} <= {"met", "MISSED"}
    if r["chgnet_available"]:
        assert "draw" in r["rows"][0] and "draw" in r["time_to_due_rmse"]


def test_bench_fig1_quick(tmp_path):
    assert _script("bench_fig1").main(["--quick", "--inducing", "10", "--out", str(tmp_path)]) == 0
    r = _json(tmp_path, "fig1")
    assert r["fits"][0]["sigma_outside"] > 0 and (tmp_path / "fig1.png").stat().st_size > 0


def test_bench_fig3_quick(tmp_path):
    assert _script("bench_fig3").main(["--quick", "--inducing", "10", "--out", str(tmp_path)]) == 0
    r = _json(tmp_path, "fig3")
    assert r["maps"][0]["sigma_ratio_out_in"] > 0
    assert (tmp_path / "fig3.png").is_file() and (tmp_path / "fig3_grid.csv").is_file()


def test_bench_methods_quick(tmp_path):
    only = ["FCM", "exact", "ensemble", "dropout", "SVGP"]
    assert _script("bench_methods").main(["--quick", "--out", str(tmp_path), "--only", *only]) == 0
    r = _json(tmp_path, "methods")
    for regime in ("full", "small"):
        rows = r["tables"][regime]
        assert len(rows) == 5
        assert all(0 <= row["ood_auroc"] <= 1 and row["rmse_meV_atom"] > 0 for row in rows)
    assert r["tables"]["small"][0]["n_train"] == r["n_small"]


def test_bench_scaling_quick(tmp_path):
    mod = _script("bench_scaling")
    assert mod.main(["--quick", "--sizes", "300", "--out", str(tmp_path)]) == 0
    r = _json(tmp_path, "scaling")
    assert {row["method"] for row in r["rows"]} == {"dkl", "exact_gp"}
    assert all(row["status"] == "measured" and row["peak_delta_mb"] >= 0 for row in r["rows"])


def test_scaling_stops_on_estimate(monkeypatch):
    mod = _script("bench_scaling")
    calls = []

    def fake(method, n, coef, timeout):
        calls.append(n)
        return {
            "method": method,
            "n": n,
            "status": "measured",
            "seconds_per_epoch": 1.0 * (n / 1000) ** 3,
            "peak_delta_mb": 100.0,
        }

    monkeypatch.setattr(mod, "run_child", fake)
    rows = mod.plan("exact_gp", [1000, 10_000, 100_000], {}, 16.0)
    assert calls == [1000]  # 10k estimated at 1000 s > 600 s
    assert rows[1]["status"].startswith("not run") and rows[2]["status"].startswith("skipped")


def test_run_all_report_keeps_analysis(tmp_path):
    mod = _script("run_all")
    assert {p.name for p in mod.discover()} >= {
        "bench_ingest.py",
        "bench_train.py",
        "bench_fig1.py",
        "bench_fig3.py",
        "bench_methods.py",
        "bench_scaling.py",
    }
    (tmp_path / "x.md").write_text("## x fragment\n", encoding="utf-8")
    assert mod.main(["--report-only", "--out", str(tmp_path)]) == 0
    readme = tmp_path / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert "<!-- analysis -->" in text and "## x fragment" in text
    readme.write_text(text.replace(mod.ANALYSIS_PLACEHOLDER, "dkluq wins here."), encoding="utf-8")
    assert mod.main(["--report-only", "--out", str(tmp_path)]) == 0
    assert "dkluq wins here." in readme.read_text(encoding="utf-8")


def test_bench_exact_speed_quick(tmp_path):
    mod = _script("bench_exact_speed")
    args = ["--quick", "--baseline-rev", "none", "--out", str(tmp_path)]
    assert mod.main(args) == 0
    r = _json(tmp_path, "exact_speed")
    assert [m["images"] for m in r["models"]] == [24, 1]
    for run in r["runs"]:
        assert run["rows_per_s_wall"]["median"] > 0 and run["increase_mb"] >= 0
        assert run["raw"]["package"].startswith(str(mod.REPO))
        assert set(run["raw"]["breakdown"]["us_per_row"]) >= {"basis", "matern", "solve"}
    assert {t["met"] for t in r["targets"]} <= {"met", "MISSED"}
    # the baseline is the package of another revision, exported beside the run
    root = mod.baseline_tree("HEAD", tmp_path)
    assert root is not None and (root / "dkluq_cli" / "model" / "exact" / "head.py").is_file()
