"""Broken inputs become rejected rows with a reason, never a crash."""

from __future__ import annotations

import gzip
import os
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dkluq_cli.ingest.pipeline import ingest
from dkluq_cli.ingest.vasp.files import classify, probe, read_text
from tests.conftest import SHARED_VASP

STATIC_SI = "pymatgen-core/test-files/io/vasp/fixtures/static_silicon"


@pytest.mark.parametrize(
    ("name", "kind", "suffix"),
    [
        ("vasprun.xml", "vasprun", ""),
        ("vasprun.xml.relax2.gz", "vasprun", ".relax2"),
        ("OUTCAR.gz", "OUTCAR", ""),
        ("OUTCAR_static.bz2", "OUTCAR", "_static"),
        ("CONTCAR.xz", "CONTCAR", ""),
        ("POSCAR.orig", "POSCAR", ".orig"),
        ("OSZICAR", "OSZICAR", ""),
    ],
)
def test_classify(name, kind, suffix):
    assert classify(name) == (kind, suffix)


@pytest.mark.parametrize("name", ["vasprun.xml.tar.gz", "OUTCAR.swp", "DOSCAR", "notes.txt"])
def test_classify_ignores(name):
    assert classify(name) is None


def test_latest_suffix_is_picked(tmp_path):
    from dkluq_cli.ingest.vasp.files import RunFiles

    run = RunFiles("r", str(tmp_path))
    for s in (".relax1", ".relax10", ".relax2"):
        run.add("vasprun", s, str(tmp_path / f"vasprun.xml{s}"))
    assert run.pick("vasprun").name == "vasprun.xml.relax10"
    run.add("vasprun", "", str(tmp_path / "vasprun.xml"))
    assert run.pick("vasprun").name == "vasprun.xml"


def _broken_tree(root: Path) -> dict[str, str]:
    """Folders of broken inputs → a word their rejection reason must hold."""
    cases: dict[str, str] = {}

    def make(run: str, name: str, data: bytes, word: str) -> None:
        d = root / run
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
        cases[run] = word

    rng = random.Random(0)
    noise = bytes(rng.getrandbits(8) for _ in range(4000))
    make("empty outcar", "OUTCAR", b"", "empty file")
    make("noise vasprun", "vasprun.xml", noise, "vasprun.xml")
    make("noise outcar", "OUTCAR", noise, "OUTCAR")
    make("noise poscar only", "POSCAR", noise, "no energy")
    make("bad gzip", "OUTCAR.gz", gzip.compress(noise * 3)[:2000], "corrupt gz data")
    make("latin1 oszicar", "OSZICAR", "Énergie totale ½\n".encode("latin-1"), "OSZICAR")
    make(
        "mismatched poscar",
        "CONTCAR",
        b"Si\n1.0\n5 0 0\n0 5 0\n0 0 5\nSi\n3\nDirect\n0 0 0\n0.5 0.5 0.5\n",
        "",
    )
    (root / "mismatched poscar" / "OSZICAR").write_text(
        "   1 F= -.10E+02 E0= -.10E+02  d E =-.1E+02\n"
    )
    cases["mismatched poscar"] = "CONTCAR"
    loop = root / "loop"
    loop.mkdir()
    (loop / "again").symlink_to(loop, target_is_directory=True)
    cases["loop/again"] = "symbolic link loop"
    (root / "dangling").mkdir()
    (root / "dangling" / "OUTCAR").symlink_to(root / "no such file")
    cases["dangling"] = "broken symbolic link"
    return cases


def test_broken_inputs_become_reasons(tmp_path):
    root = tmp_path / "broken [tree]"
    cases = _broken_tree(root)
    res = ingest([root], workers=1)
    assert res.rows == []
    got = {r["run"]: r for r in res.rejected}
    assert set(got) == set(cases), got
    for run, word in cases.items():
        reason = got[run]["reason"]
        assert reason and "\n" not in reason
        assert word in reason, (run, reason)
        assert "internal error" not in reason, (run, reason)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read chmod 000 files")
def test_unreadable_file_non_root(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    f = d / "OUTCAR"
    f.write_text("x")
    f.chmod(0)
    try:
        assert probe(f) == "not readable (permission denied)"
    finally:
        f.chmod(0o644)


def test_probe_reports_unreadable(tmp_path, monkeypatch):
    """chmod 000 cannot be tested as root, so simulate the PermissionError open() raises."""
    import dkluq_cli.ingest.vasp.files as files

    f = tmp_path / "OUTCAR"
    f.write_text("x")

    def deny(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files, "open_bytes", deny)
    assert probe(f) == "not readable (permission denied)"


# --------------------------------------------------------------------------- fuzzing

FUZZ_SOURCES = [
    (f"{STATIC_SI}/OUTCAR", "OUTCAR", "energy(sigma->0)"),
    (f"{STATIC_SI}/vasprun.xml.gz", "vasprun.xml", "e_0_energy"),
    (f"{STATIC_SI}/OSZICAR", "OSZICAR", "E0="),
]
FUZZ_SECONDS = float(os.environ.get("DKLUQ_FUZZ_SECONDS", "0") or 0)
FUZZ_EXAMPLES = max(6, int(FUZZ_SECONDS * 2)) if FUZZ_SECONDS else 6


@pytest.fixture(scope="module")
def fuzz_texts(shared_vasp):
    return {name: read_text(shared_vasp / src) for src, name, _ in FUZZ_SOURCES}


mutation = st.tuples(
    st.sampled_from(["flip", "truncate", "delete_lines"]),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.floats(min_value=0.0, max_value=1.0),
)


def _mutate(text: str, op: str, seed: int, frac: float) -> bytes:
    rng = random.Random(seed)
    data = bytearray(text.encode("utf-8"))
    if op == "flip":
        for _ in range(1 + int(frac * 50)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        return bytes(data)
    if op == "truncate":
        return bytes(data[: int(len(data) * frac)])
    lines = text.splitlines(keepends=True)
    keep = [ln for ln in lines if rng.random() > 0.05 + 0.5 * frac]
    return "".join(keep).encode("utf-8")


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(which=st.sampled_from(range(len(FUZZ_SOURCES))), mut=mutation)
def test_mutated_real_files_give_row_or_reason(fuzz_texts, tmp_path_factory, which, mut):
    _src, name, energy_token = FUZZ_SOURCES[which]
    data = _mutate(fuzz_texts[name], *mut)
    root = tmp_path_factory.mktemp("fuzz")
    run = root / "run"
    run.mkdir()
    (run / name).write_bytes(data)
    if name == "OSZICAR":
        shutil.copy(SHARED_VASP / "custodian/tests/files/postprocess/CONTCAR", run / "CONTCAR")
        (run / "INCAR").write_text("NSW = 0\nIBRION = -1\n")
    res = ingest([root], workers=1, include_unconverged=True)
    assert len(res.rows) + len(res.rejected) == 1
    for r in res.rejected:
        assert r["reason"] and "\n" not in r["reason"]
        assert not r["reason"].startswith("internal error"), r["reason"]
        event(f"{name} {mut[0]}: rejected ({r['category']})")
    if res.rows:
        event(f"{name} {mut[0]}: row")
        row = res.rows[0]
        assert row["energy_eV"] == row["energy_eV"]  # not NaN
        text = data.decode("utf-8", errors="replace")
        assert energy_token in text, "a finite energy from a file whose energy lines were destroyed"
