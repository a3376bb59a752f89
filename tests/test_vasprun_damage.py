"""Killed and damaged vasprun.xml files are read the same whatever lxml version is installed.

lxml 6.2 drops every parser event of the chunk in which an XML breaks (6.1 kept them), a
truncated document's ``close()`` ends every open element, and ASE fails on a step cut inside
its energy block. Both readers count only the ionic steps whose ``</calculation>`` is in the
file (before the damage, in a damaged one) and give ASE only those.
"""

from __future__ import annotations

import gzip
import warnings

import pytest

from dkluq_cli.ingest.vasp import vasprun, xmlcut
from dkluq_cli.ingest.vasp.files import RunFiles
from dkluq_cli.ingest.vasp.result import Reject
from tests.conftest import SAMPLE

RELAX = SAMPLE / "vasp_runs" / "relaxations" / "SrTiO3 full relax (ISIF 3)" / "vasprun.xml"
pytestmark = pytest.mark.skipif(not RELAX.is_file(), reason="sample vasprun.xml missing")


def _run(path) -> RunFiles:
    run = RunFiles(path.parent.name, str(path.parent))
    run.add("vasprun", "", str(path))
    return run


def _damaged(src: bytes, step: int) -> tuple[bytes, int]:
    """``src`` with the ``<`` of the energy block's first tag in ionic step ``step`` (1-based)
    replaced; returns the bytes and the 1-based line of the damage."""
    at = 0
    for _ in range(step):
        at = src.index(b"<calculation>", at) + 1
    at = src.index(b'<i name="e_fr_energy">', src.index(b"<energy>", src.index(b"</scstep>", at)))
    # the last energy block of the step: after the last electronic step
    end = src.index(b"</calculation>", at)
    at = src.rindex(b'<i name="e_fr_energy">', at, end)
    return src[:at] + b"x" + src[at + 1 :], src[:at].count(b"\n") + 1


def _read(path, cross_check: bool = False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vasprun.read_vasprun(_run(path), path, "sigma0", cross_check)


@pytest.mark.parametrize("step", [2, 4, 6])
@pytest.mark.parametrize("gz", [False, True])
def test_damaged_file_is_read_up_to_its_break(tmp_path, step, gz):
    text, line = _damaged(RELAX.read_bytes(), step)
    path = tmp_path / "run" / ("vasprun.xml.gz" if gz else "vasprun.xml")
    path.parent.mkdir()
    path.write_bytes(gzip.compress(text) if gz else text)

    end = xmlcut.xml_end(path)
    offset, where = end.broken
    assert not end.complete
    assert where.startswith(f"line {line} (")
    assert text[offset:].lstrip(b" ").startswith(b"xi name=")  # the damaged line
    got = _read(path)
    checked = _read(path, cross_check=True)
    assert (got.energy, got.n_steps, got.problems) == (
        checked.energy,
        checked.n_steps,
        checked.problems,
    )
    assert got.n_steps == text[:offset].count(b"</calculation>") == step - 1
    assert not got.conv_ion
    assert any(f"damaged at line {line}" in p for p in got.problems)

    cut = tmp_path / "cut" / "vasprun.xml"
    cut.parent.mkdir()
    cut.write_bytes(text[:offset])
    killed = _read(cut)
    assert (got.energy, got.n_steps) == (killed.energy, killed.n_steps)
    assert got.structure.lattice.parameters == killed.structure.lattice.parameters


def test_damage_in_the_first_step_leaves_no_step(tmp_path):
    text, line = _damaged(RELAX.read_bytes(), 1)
    path = tmp_path / "vasprun.xml"
    path.write_bytes(text)
    with pytest.raises(Reject, match=rf"no complete ionic step \(damaged at line {line} "):
        _read(path)


def test_complete_and_truncated_files_do_not_break(tmp_path):
    src = RELAX.read_bytes()
    assert xmlcut.xml_end(RELAX) == (None, True)
    path = tmp_path / "vasprun.xml"
    path.write_bytes(src[: len(src) * 2 // 3])
    assert xmlcut.xml_end(path) == (None, False)


def test_truncated_inside_a_step_counts_only_complete_steps(tmp_path):
    src = RELAX.read_bytes()
    path = tmp_path / "vasprun.xml"
    kept = partial = 0
    for k in range(len(src) // 4, len(src), 97):
        path.write_bytes(src[:k])
        complete = src[:k].count(b"</calculation>")
        try:
            got = _read(path)
        except Reject as rej:
            assert complete == 0 and "no complete ionic step" in rej.reason, k
            continue
        assert got.n_steps == complete, k
        kept += 1
        partial += src[:k].count(b"<calculation>") > complete
    assert kept > 150 and partial > 100  # many cuts fall inside a step that is not counted


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_line_start_across_chunks(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(xmlcut, "CHUNK", chunk)
    data = b"".join(b"x" * (i % 11) + b"\n" for i in range(200))
    path = tmp_path / "f"
    path.write_bytes(data)
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    for line in (1, 2, 17, 100, 200):
        assert xmlcut.line_start(path, line) == starts[line - 1]


@pytest.mark.parametrize("chunk", [5, 13, 14, 1 << 20])
def test_last_step_end_across_chunks(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(xmlcut, "CHUNK", chunk)
    data = b"<a><calculation>1</calculation>\n<calculation>2</calculation><calculation>3"
    path = tmp_path / "v.xml.gz"
    path.write_bytes(gzip.compress(data))
    ends = [i + len(b"</calculation>") for i in range(len(data)) if data.startswith(b"</calc", i)]
    assert xmlcut.last_step_end(path) == ends[-1]
    assert xmlcut.last_step_end(path, limit=ends[-1] - 1) == ends[0]
    assert xmlcut.last_step_end(path, limit=ends[0] - 1) is None
    with xmlcut.steps_copy(path, limit=ends[-1]) as cut:
        assert cut.read_bytes() == data[: ends[-1]]


def test_damage_the_parser_reports_only_at_the_end_is_found(tmp_path):
    """An attribute cut short inside the last step (a write that resumed elsewhere): the parser
    holds the error back until the data ends, and the file is still read up to the damage."""
    src = RELAX.read_bytes()
    last = src.rindex(b"<calculation>")
    at = src.rindex(b'<i name="e_0_energy">', last, src.rindex(b"</scstep>")) + len(b'<i name="e_0')
    text = src[:at] + src[src.index(b"</scstep>", at) :]
    path = tmp_path / "vasprun.xml"
    path.write_bytes(text)
    line = text[:at].count(b"\n") + 1
    end = xmlcut.xml_end(path)
    assert not end.complete and end.broken is not None
    assert end.broken[1].startswith(f"line {line} (")
    got = _read(path)
    assert got.n_steps == src.count(b"</calculation>") - 1
    assert any(f"damaged at line {line}" in p for p in got.problems)
