"""The walk streams run folders and signs each with its files' names, sizes and mtimes."""

from __future__ import annotations

import os

import pytest

from dkluq_cli.errors import InputError
from dkluq_cli.ingest.walk import TREE_PROBLEM, discover


def test_walk_is_lazy_and_in_name_order(tmp_path, monkeypatch):
    for name in ("b", "a", "a b", "a/x"):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
        (tmp_path / name / "OUTCAR").write_text("x")
    listed = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p: listed.append(str(p)) or real_scandir(p))
    walk = discover([tmp_path])
    assert listed == []  # nothing read before the first run is asked for
    first = next(walk)
    assert first[0].name == "a" and len(listed) == 2  # the root, then "a"
    assert [item[0].name for item in walk] == ["a/x", "a b", "b"]


def test_signature_follows_size_and_mtime(tmp_path):
    (tmp_path / "run").mkdir()
    f = tmp_path / "run" / "OUTCAR"
    f.write_text("x")
    (tmp_path / "run" / "notes.txt").write_text("not a VASP file")
    ((_, sig1),) = discover([tmp_path])
    assert sig1.startswith("OUTCAR\t1\t") and "notes" not in sig1
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    ((_, sig2),) = discover([tmp_path])
    f.write_text("xy")
    ((_, sig3),) = discover([tmp_path])
    assert len({sig1, sig2, sig3}) == 3


def test_a_dangling_file_link_still_signs(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "OUTCAR").symlink_to(tmp_path / "gone")
    ((run, sig),) = discover([tmp_path])
    assert run.pick("OUTCAR") is not None and sig.startswith("OUTCAR\t!")


def test_second_link_to_a_folder_is_a_problem(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "OUTCAR").write_text("x")
    (tmp_path / "zlink").symlink_to(tmp_path / "real", target_is_directory=True)
    items = list(discover([tmp_path]))
    assert items[0][0].name == "real"
    assert items[1].category == TREE_PROBLEM and "same folder as real" in items[1].reason


def test_missing_root_is_refused_before_walking(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        discover([tmp_path / "nope"])
