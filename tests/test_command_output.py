"""Issue 27.2: commands rerun. Default outputs go next to the model and replace that command's own
previous output there; an explicit -o that exists needs --force; a forced rerun leaves no stale
file of the run before; a failed command leaves nothing half-written."""

from __future__ import annotations

import json
import shutil

import pytest

from dkluq_cli.data.output import command_output, manifest_name
from dkluq_cli.errors import OutputError
from tests.conftest import plain


def _write(folder, *names):
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)


def test_a_rerun_replaces_only_its_own_previous_output(tmp_path):
    out = tmp_path / "scan"
    with command_output(out, "scan") as staged:
        _write(staged.staging, "scan_1d.csv", "scan_2d_a_alpha.csv", "figs/map.png")
    _write(out, "my_notes.txt")  # the user's
    with command_output(out, "eos", force=True) as staged:  # another command's, same folder
        _write(staged.staging, "eos.json")
    with command_output(out, "scan", owned=True) as staged:
        _write(staged.staging, "scan_1d.csv", "scan_2d_b_beta.csv")
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == [
        manifest_name("eos"),
        manifest_name("scan"),
        "eos.json",
        "my_notes.txt",
        "scan_1d.csv",
        "scan_2d_b_beta.csv",
    ]
    record = json.loads((out / manifest_name("scan")).read_text())
    assert record == {"command": "scan", "files": ["scan_1d.csv", "scan_2d_b_beta.csv"]}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_an_existing_folder_needs_force_and_a_failure_changes_nothing(tmp_path):
    out = tmp_path / "deep" / "er" / "out"
    with pytest.raises(RuntimeError), command_output(out, "eos") as staged:
        _write(staged.staging, "eos.json")
        raise RuntimeError("the fit failed")
    assert not (tmp_path / "deep").exists()  # parents made for it are gone too
    out.mkdir(parents=True)
    _write(out, "keep.txt")
    with pytest.raises(OutputError, match="not empty"), command_output(out, "eos"):
        pass
    with pytest.raises(OutputError, match="not a folder"), command_output(out / "keep.txt", "e"):
        pass
    with pytest.raises(ValueError), command_output(out, "eos", force=True) as staged:
        _write(staged.staging, "eos.json")
        raise ValueError
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_derived_outputs_go_when_their_model_is_replaced(tmp_path):
    run = tmp_path / "run"
    with command_output(run, "train") as staged:
        _write(staged.staging, "model.pt")
    with command_output(run / "eos", "eos", owned=True) as staged:
        _write(staged.staging, "eos.json")
    (run / "notes").mkdir()
    with command_output(run, "train", force=True, derived_go_too=True) as staged:
        _write(staged.staging, "model.pt")
    assert sorted(p.name for p in run.iterdir()) == [manifest_name("train"), "model.pt", "notes"]


def test_eos_and_scan_rerun_next_to_the_model(invoke, small_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    eos = ("--lattice-range", "0.97", "1.03", "--samples", "30", "--points", "11", "--no-plots")
    for _ in range(2):
        r = invoke("eos", run, *eos)
        assert r.exit_code == 0, r.output
    assert (run / "eos" / "eos.json").is_file()
    assert r.stdout.splitlines()[0] == str(run / "eos" / "eos.json")
    for pair in ("a,alpha", "b,beta"):
        r = invoke("scan", run / "model.pt", "--points", "5", "--points-2d", "3", "--pair", pair,
                   "--no-plots")  # fmt: skip
        assert r.exit_code == 0, r.output
    assert r.stdout.strip() == str(run / "scan")
    scan = {p.name for p in (run / "scan").iterdir()}
    assert "scan_2d_b_beta.csv" in scan and "scan_2d_a_alpha.csv" not in scan


def test_scan_force_removes_the_files_of_the_scan_before(invoke, small_run, tmp_path):
    out = tmp_path / "my_scan"
    args = ("--points", "5", "--points-2d", "3", "-o", out)
    r = invoke("scan", small_run, *args, "--pair", "a,alpha", "--format", "svg")
    assert r.exit_code == 0, r.output
    (out / "README.txt").write_text("mine")
    r = invoke("scan", small_run, *args, "--pair", "c,gamma")
    assert r.exit_code == 1 and "--force" in plain(r.stderr)
    r = invoke("scan", small_run, *args, "--pair", "c,gamma", "--force", "--no-plots")
    assert r.exit_code == 0, r.output
    names = {p.name for p in out.iterdir()}
    assert "scan_2d_c_gamma.csv" in names and "README.txt" in names
    assert not [n for n in names if n.endswith(".svg") or "a_alpha" in n]
