"""``ingest --formula`` keeps one composition of a mixed tree; the others are rejected for it."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from dkluq_cli.errors import InputError
from dkluq_cli.ingest.pipeline import ingest
from tests.conftest import SAMPLE, plain

STATIC = SAMPLE / "vasp_runs" / "static batch 1"
pytestmark = pytest.mark.skipif(not STATIC.is_dir(), reason="sample_data/vasp_runs missing")


@pytest.fixture
def mixed(tmp_path) -> Path:
    """Three SrTiO3 runs and two BaTiO3 ones (the same files with Ba for Sr)."""
    root = tmp_path / "mixed"
    for i in range(3):
        shutil.copytree(STATIC / f"run_0{i}", root / f"srtio3_{i}")
    for i in range(2):
        xml = (STATIC / f"run_0{i + 3}" / "vasprun.xml").read_text(encoding="latin-1")
        folder = root / f"batio3_{i}"
        folder.mkdir()
        (folder / "vasprun.xml").write_text(xml.replace("<c>Sr</c>", "<c>Ba</c>"), "latin-1")
    return root


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_formula_keeps_one_composition(mixed):
    res = ingest([mixed], workers=1, formula="Sr2Ti2O6")
    try:
        assert [r["run"] for r in res.rows] == ["srtio3_0", "srtio3_1", "srtio3_2"]
        assert {r["formula"] for r in res.rows} == {"SrTiO3"}
        rejected = {r["run"]: r for r in res.rejected}
        assert set(rejected) == {"batio3_0", "batio3_1"}
        assert {r["category"] for r in rejected.values()} == {"composition"}
        assert rejected["batio3_0"]["reason"] == "BaTiO3, not SrTiO3"
        assert res.rejected_by_category == {"composition": 2}
        assert res.compositions == {"SrTiO3": 3} and not res.warnings
    finally:
        res.close()
    every = ingest([mixed], workers=1)
    try:
        assert every.compositions == {"SrTiO3": 3, "BaTiO3": 2}
        assert "--formula keeps one" in every.warnings[0]
    finally:
        every.close()


def test_formula_on_the_command_line(mixed, tmp_path, invoke):
    out = tmp_path / "t.csv"
    result = invoke("ingest", mixed, "-o", out, "-j", "1", "--formula", "BaTiO3")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out}: 2 accepted, 3 rejected")
    assert [r["formula"] for r in read_csv(out)] == ["BaTiO3", "BaTiO3"]
    rejected = read_csv(tmp_path / "t.rejected.csv")
    assert [(r["run"], r["category"]) for r in rejected] == [
        (f"srtio3_{i}", "composition") for i in range(3)
    ]
    assert "composition 3" in plain(result.stderr)


def test_a_formula_no_run_has_says_which_there_are(mixed, tmp_path, invoke):
    result = invoke("ingest", mixed, "-o", tmp_path / "t.csv", "-j", "1", "--formula", "PbTiO3")
    assert result.exit_code == 1
    err = plain(result.stderr)
    assert "error: no run was accepted (5 rejected" in err
    # pymatgen's reduced formula, as in the formula column
    assert "no run is TiPbO3; the runs read are BaTiO3 (2), SrTiO3 (3)" in err


def test_a_bad_formula_is_refused_before_reading(tmp_path):
    for bad in ("Xx2", "SrTiO3)", ""):
        with pytest.raises(InputError, match="not a chemical formula"):
            ingest([tmp_path], formula=bad)
