"""``ingest --update``: only new or changed runs are read again; the files equal a fresh ingest."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

from dkluq_cli.ingest.pipeline import check_outputs, ingest, output_paths, write_outputs
from dkluq_cli.ingest.update_cache import sidecar_path
from tests.conftest import SAMPLE, plain

SAMPLE_RUNS = SAMPLE / "vasp_runs"
pytestmark = pytest.mark.skipif(not SAMPLE_RUNS.is_dir(), reason="sample_data/vasp_runs missing")
OUTPUTS = ("t.csv", "t.extxyz", "t.rejected.csv")


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "campaign"
    shutil.copytree(SAMPLE_RUNS, root)
    return root


def run_ingest(root: Path, out: Path, *, update: bool, **kw):
    """One ingest writing ``out`` (t.csv, ...); returns the result's stats."""
    out.mkdir(parents=True, exist_ok=True)
    paths = check_outputs(out / "t.csv", update=update, force=not update)
    res = ingest([root], workers=1, reuse=paths.sidecar, **kw)
    try:
        write_outputs(res, paths, force=not update)
        return res.stats
    finally:
        res.close()


def files(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUTS}


def fresh(root: Path, out: Path, **kw) -> dict[str, bytes]:
    run_ingest(root, out, update=False, **kw)
    return files(out)


def test_update_reuses_unchanged_runs_and_equals_a_fresh_ingest(tree, tmp_path):
    want = fresh(tree, tmp_path / "fresh")
    first = run_ingest(tree, tmp_path / "u", update=True)
    assert (first.read, first.reused) == (39, 0)
    assert sidecar_path(tmp_path / "u" / "t.csv").is_file()
    assert files(tmp_path / "u") == want
    again = run_ingest(tree, tmp_path / "u", update=True)
    assert (again.found, again.read, again.reused) == (39, 0, 39)
    assert files(tmp_path / "u") == want


def test_touching_one_run_reads_exactly_that_run(tree, tmp_path):
    run_ingest(tree, tmp_path / "u", update=True)
    touched = tree / "static batch 1" / "run_03" / "OUTCAR"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    stats = run_ingest(tree, tmp_path / "u", update=True)
    assert (stats.read, stats.reused) == (1, 38)
    assert files(tmp_path / "u") == fresh(tree, tmp_path / "fresh")


def test_a_changed_run_gets_its_new_row(tree, tmp_path):
    run_ingest(tree, tmp_path / "u", update=True)
    before = (tmp_path / "u" / "t.csv").read_text()
    target = tree / "static batch 1" / "run_03" / "vasprun.xml"
    shutil.copyfile(tree / "static batch 1" / "run_07" / "vasprun.xml", target)
    stats = run_ingest(tree, tmp_path / "u", update=True)
    assert stats.read == 1
    after = files(tmp_path / "u")
    assert after == fresh(tree, tmp_path / "fresh")
    assert after["t.csv"].decode() != before


def test_deleted_run_is_gone_and_a_new_one_is_read(tree, tmp_path):
    run_ingest(tree, tmp_path / "u", update=True)
    shutil.rmtree(tree / "strain scan (batch 2)" / "run_05")
    shutil.copytree(tree / "static batch 1" / "run_00", tree / "static batch 1" / "run_99")
    stats = run_ingest(tree, tmp_path / "u", update=True)
    assert (stats.found, stats.read, stats.reused) == (39, 1, 38)
    table = (tmp_path / "u" / "t.csv").read_text()
    assert "strain scan (batch 2)/run_05," not in table
    assert "static batch 1/run_99," in table
    assert files(tmp_path / "u") == fresh(tree, tmp_path / "fresh")


def test_other_settings_read_everything_again(tree, tmp_path):
    run_ingest(tree, tmp_path / "u", update=True)
    stats = run_ingest(tree, tmp_path / "u", update=True, energy_kind="free")
    assert (stats.read, stats.reused) == (39, 0)
    assert files(tmp_path / "u") == fresh(tree, tmp_path / "fresh", energy_kind="free")
    # unconverged runs only change the split, not what is read
    stats = run_ingest(
        tree, tmp_path / "u", update=True, energy_kind="free", include_unconverged=True
    )
    assert stats.reused == 39
    want = fresh(tree, tmp_path / "fresh2", energy_kind="free", include_unconverged=True)
    assert files(tmp_path / "u") == want


def test_damaged_sidecar_is_read_up_to_the_damage(tree, tmp_path):
    run_ingest(tree, tmp_path / "u", update=True)
    side = sidecar_path(tmp_path / "u" / "t.csv")
    lines = gzip.decompress(side.read_bytes()).splitlines(keepends=True)
    run, sig, _record = lines[3].split(b"\t", 2)
    lines[3] = run + b"\t" + sig + b"\t[broken\n"  # a damaged record: that run is read again
    side.write_bytes(gzip.compress(b"".join(lines[:11]) + lines[11][:40]))
    stats = run_ingest(tree, tmp_path / "u", update=True)
    assert (stats.reused, stats.read) == (9, 30)
    assert files(tmp_path / "u") == fresh(tree, tmp_path / "fresh")


def test_cli_update_replaces_outputs_without_force(tree, tmp_path, invoke):
    out = tmp_path / "t.csv"
    assert invoke("ingest", tree, "-o", out, "-j", "1").exit_code == 0
    result = invoke("ingest", tree, "-o", out, "-j", "1", "--update")
    assert result.exit_code == 0, result.output
    result = invoke("ingest", tree, "-o", out, "-j", "1", "--update")
    assert result.exit_code == 0, result.output
    err = plain(result.stderr)
    assert "reused (files unchanged) 39" in err and "read (new or changed) 0" in err
    assert result.stdout.startswith(f"wrote {out}: 36 accepted, 3 rejected")
    other = output_paths(tmp_path / "plain" / "t.csv")
    other.table.parent.mkdir()
    assert invoke("ingest", tree, "-o", other.table, "-j", "1").exit_code == 0
    for a, b in [(out, other.table), (out.with_suffix(".extxyz"), other.extxyz)]:
        assert a.read_bytes() == b.read_bytes()


def test_a_plain_ingest_leaves_what_the_first_update_reuses(tree, tmp_path, invoke):
    out = tmp_path / "t.csv"
    assert invoke("ingest", tree, "-o", out, "-j", "1").exit_code == 0
    assert sidecar_path(out).is_file()
    result = invoke("ingest", tree, "-o", out, "-j", "1", "--update")
    assert result.exit_code == 0, result.output
    err = plain(result.stderr)
    assert "reused (files unchanged) 39" in err and "read (new or changed) 0" in err


def test_update_keeps_the_parent_crystal_of_unchanged_runs(tree, tmp_path, monkeypatch):
    from dkluq_cli.ingest import pipeline

    out = tmp_path / "u"
    run_ingest(tree, out, update=False)
    reference = out / "t.reference.vasp"
    written = reference.read_bytes()
    assert written.splitlines()[0].decode().endswith("]")  # the key of the runs it came from

    def no_analysis(*args, **kwargs):
        raise AssertionError("the parent crystal was analysed again")

    monkeypatch.setattr(pipeline, "parent_crystal", no_analysis)
    paths = check_outputs(out / "t.csv", update=True, force=False)
    res = ingest([tree], workers=1, reuse=paths.sidecar)
    try:
        write_outputs(res, paths)
        assert res.parent_line is not None and "m-3m" in res.parent_line
    finally:
        res.close()
    assert reference.read_bytes() == written

    # one run fewer: another set of runs, so the parent is analysed (and written) again
    monkeypatch.undo()
    shutil.rmtree(next(p.parent for p in sorted(tree.rglob("vasprun.xml"))))
    paths = check_outputs(out / "t.csv", update=True, force=False)
    res = ingest([tree], workers=1, reuse=paths.sidecar)
    try:
        write_outputs(res, paths)
        assert "m-3m" in res.parent_line
    finally:
        res.close()
    assert reference.read_bytes().splitlines()[0] != written.splitlines()[0]
