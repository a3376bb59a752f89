"""A folder holding the output files of several calculations gives one run per calculation.

Files that share a suffix are one calculation (``vasprun.xml.relax1``, ``OUTCAR.relax1``,
``CONTCAR.relax1``); each calculation of a folder with several is a run of its own, named after
the folder and its energy file, signed with its own files for ``--update``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dkluq_cli.ingest.pipeline import ingest
from dkluq_cli.ingest.walk import discover
from tests.conftest import SAMPLE, plain

STATIC = SAMPLE / "vasp_runs" / "static batch 1"
pytestmark = pytest.mark.skipif(not STATIC.is_dir(), reason="sample_data/vasp_runs missing")


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "tree"
    double = root / "double relax"
    double.mkdir(parents=True)
    for stage, run in (("relax1", "run_00"), ("relax2", "run_01")):
        for name in ("vasprun.xml", "OUTCAR"):
            shutil.copyfile(STATIC / run / name, double / f"{name}.{stage}")
    shutil.copyfile(STATIC / "run_00" / "POSCAR", double / "POSCAR")
    alone = root / "alone"
    alone.mkdir()
    shutil.copyfile(STATIC / "run_02" / "vasprun.xml", alone / "vasprun.xml.relax2")
    return root


def test_each_calculation_is_its_own_run(tree, tmp_path):
    res = ingest([tree], workers=1)
    try:
        rows = {r["run"]: r for r in res.rows}
    finally:
        res.close()
    assert list(rows) == [
        "alone",  # one calculation: the folder is the run, as before
        "double relax/vasprun.xml.relax1",
        "double relax/vasprun.xml.relax2",
    ]
    assert rows["double relax/vasprun.xml.relax1"]["source"] == "vasprun.xml.relax1"
    for name, run in (("relax1", "run_00"), ("relax2", "run_01")):
        (tmp_path / run).mkdir()
        shutil.copyfile(STATIC / run / "vasprun.xml", tmp_path / run / "vasprun.xml")
        alone = ingest([tmp_path / run], workers=1)
        try:
            want = alone.rows[0]
        finally:
            alone.close()
        got = rows[f"double relax/vasprun.xml.{name}"]
        assert {k: v for k, v in got.items() if k not in ("run", "source")} == {
            k: v for k, v in want.items() if k not in ("run", "source")
        }


def test_each_calculation_is_signed_by_its_own_files(tree):
    def signatures() -> dict[str, str]:
        return {run.name: sig for run, sig in discover([tree])}

    before = signatures()
    files = {line.split("\t")[0] for line in before["double relax/vasprun.xml.relax1"].split("\n")}
    assert files == {"OUTCAR.relax1", "vasprun.xml.relax1"}
    touched = tree / "double relax" / "OUTCAR.relax2"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    after = signatures()
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"double relax/vasprun.xml.relax2"}


def test_update_reads_only_the_changed_calculation(tree, tmp_path, invoke):
    out = tmp_path / "t.csv"
    assert invoke("ingest", tree, "-o", out, "-j", "1").exit_code == 0
    touched = tree / "double relax" / "vasprun.xml.relax1"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    result = invoke("ingest", tree, "-o", out, "-j", "1", "--update")
    assert result.exit_code == 0, result.output
    err = plain(result.stderr)
    assert "reused (files unchanged) 2" in err and "read (new or changed) 1" in err
