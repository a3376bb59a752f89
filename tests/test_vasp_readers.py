"""The default reading of every file is the cross-checked one, unless ASE disagrees.

By default a vasprun.xml is read by pymatgen alone (ASE only for killed and damaged files and
PSTRESS runs); ``cross_check=True`` compares every one with ASE. For each vasprun.xml and OUTCAR
(the sample tree, the ../shared/vasp corpus when present, and truncated or edited copies made
here) the two readings give the same energy, structure, step count, version, convergence flags
and problems, or the same rejection, or the cross-check rejects the file because ASE reads it
otherwise. OUTCARs are read by both libraries in either mode (pymatgen's ``Outcar`` has no
structure): their energies are those of pymatgen's ``Outcar`` itself.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest

from dkluq_cli.ingest.vasp import outcar, vasprun
from dkluq_cli.ingest.vasp.files import RunFiles, classify, read_text
from dkluq_cli.ingest.vasp.result import DISAGREE, Reject
from tests.conftest import SAMPLE, SHARED_VASP

SAMPLE_RUNS = SAMPLE / "vasp_runs"


def folders(root: Path) -> list[Path]:
    return sorted({p.parent for p in root.rglob("*") if p.is_file() and classify(p.name)})


def run_of(folder: Path) -> RunFiles:
    run = RunFiles(folder.name, str(folder))
    for p in folder.iterdir():
        if p.is_file() and (found := classify(p.name)):
            run.add(found[0], found[1], str(p))
    return run


def read(kind: str, run: RunFiles, path: Path, energy_kind: str, cross_check: bool):
    """A comparable summary of one reading: the values, or the rejection."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if kind == "vasprun":
                p = vasprun.read_vasprun(run, path, energy_kind, cross_check)
            else:
                p = outcar.read_outcar(run, path, energy_kind)
        except Reject as rej:
            return ("reject", rej.category, rej.reason)
    structure = p.structure
    return (
        p.source,
        p.energy,
        p.n_steps,
        p.version,
        p.conv_el,
        p.conv_ion,
        p.problems,
        structure.lattice.matrix.tolist(),
        [site.specie.symbol for site in structure],
        structure.cart_coords.tolist(),
    )


def same_as_checked(run: RunFiles, kind: str, energy_kind: str = "sigma0") -> bool:
    """Assert the default reading is the cross-checked one; ``False`` where ASE disagrees."""
    path = run.pick(kind)
    default = read(kind, run, path, energy_kind, cross_check=False)
    checked = read(kind, run, path, energy_kind, cross_check=True)
    if checked[:2] == ("reject", DISAGREE) and default[0] != "reject":
        return False
    assert default == checked, (run.directory, kind)
    return True


@pytest.mark.skipif(not SAMPLE_RUNS.is_dir(), reason="sample_data/vasp_runs missing")
@pytest.mark.parametrize("energy_kind", ["sigma0", "free"])
def test_sample_tree(energy_kind):
    kept = 0
    for folder in folders(SAMPLE_RUNS):
        run = run_of(folder)
        for kind in ("vasprun", "OUTCAR"):
            if run.pick(kind) is not None:
                kept += same_as_checked(run, kind, energy_kind)
    assert kept >= 38  # all but the never-started run's POSCAR


def test_shared_corpus(shared_vasp, tmp_path):
    kept = total = 0
    for src in sorted(shared_vasp.rglob("*")):
        name = src.name.split(".")[0] if src.name.startswith("vasprun") else src.name
        kind = "vasprun" if "vasprun" in src.name else "OUTCAR" if "OUTCAR" in name else None
        if kind is None or not src.is_file() or src.stat().st_size > 400_000:
            continue  # the largest files only make the cross-checked reading slow
        folder = tmp_path / f"r{total}"
        folder.mkdir()
        dest = folder / (
            "vasprun.xml.gz"
            if kind == "vasprun" and src.suffix == ".gz"
            else "vasprun.xml"
            if kind == "vasprun"
            else "OUTCAR.gz"
            if src.suffix == ".gz"
            else "OUTCAR"
        )
        dest.symlink_to(src)
        total += 1
        kept += same_as_checked(run_of(folder), kind)
    assert total >= 20 and kept == total  # ASE agrees with pymatgen on every real file


@pytest.mark.skipif(not SAMPLE_RUNS.is_dir(), reason="sample_data/vasp_runs missing")
def test_truncated_and_edited_copies(tmp_path):
    rng = random.Random(7)
    relax = SAMPLE_RUNS / "relaxations" / "SrTiO3 full relax (ISIF 3)"
    sources = {
        "vasprun.xml": read_text(relax / "vasprun.xml"),
        "OUTCAR": read_text(relax / "OUTCAR"),
    }
    kept = 0
    for i in range(60):
        name = "vasprun.xml" if i % 2 else "OUTCAR"
        text = sources[name]
        if i % 3 == 0:  # an edited number or character
            j = rng.randrange(len(text))
            text = text[:j] + rng.choice("0-.*x \n") + text[j + 1 :]
        else:
            text = text[: rng.randrange(len(text) // 4, len(text))]
        folder = tmp_path / f"c{i}"
        folder.mkdir()
        (folder / name).write_text(text, encoding="utf-8")
        kind = "vasprun" if name == "vasprun.xml" else "OUTCAR"
        for energy_kind in ("sigma0", "free"):
            kept += same_as_checked(run_of(folder), kind, energy_kind)
    assert kept > 30


def outcar_texts() -> list[tuple[str, str]]:
    paths = list(SAMPLE_RUNS.rglob("OUTCAR*")) if SAMPLE_RUNS.is_dir() else []
    if SHARED_VASP.is_dir():
        # the largest files (ten BaTiO3 ones alike) only make the test slow
        paths += [
            p for p in SHARED_VASP.rglob("OUTCAR*") if p.is_file() and p.stat().st_size < 150_000
        ]
    return [(str(p), read_text(p).replace("\r\n", "\n")) for p in sorted(paths)]


def test_outcar_reading_is_pymatgens(tmp_path):
    """Real OUTCARs and copies with lines dropped or repeated: the energy, steps and stop flag
    read are pymatgen's own, or the reason says what is missing."""
    from pymatgen.io.vasp.outputs import Outcar

    texts = outcar_texts()
    if not texts:
        pytest.skip("no OUTCAR to compare")
    rng = random.Random(3)
    cases = list(texts)
    for name, text in texts[:6]:  # lines dropped or duplicated, as a damaged copy would be
        lines = text.splitlines(keepends=True)
        for _ in range(3):
            k = rng.randrange(len(lines))
            cases.append((name, "".join(lines[:k] + lines[k + rng.choice([1, 20]) :])))
            cases.append((name, "".join(lines[:k] + lines[k : k + 5] * 2 + lines[k + 5 :])))
    compared = 0
    for i, (_, text) in enumerate(cases):
        folder = tmp_path / f"o{i}"
        folder.mkdir()
        path = folder / "OUTCAR"
        path.write_text(text, encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out = Outcar(str(path))
            except Exception:  # noqa: BLE001 - compared only where pymatgen reads the text
                continue
            out.read_pattern(outcar.OUTCAR_PATTERNS, terminate_on_match=False)
        got = read("OUTCAR", run_of(folder), path, "sigma0", cross_check=False)
        steps = len(out.data["summary"])
        if got[0] == "reject":
            assert out.final_energy is None or steps == 0 or got[1] in ("no structure", DISAGREE)
            continue
        assert got[1] == out.final_energy and got[2] == steps
        assert ("stopped by STOPCAR" in " ".join(got[6])) == (out.is_stopped and not got[5])
        compared += 1
    assert compared >= len(texts) - 1  # every real file but the one with no final energy


@pytest.mark.skipif(not SAMPLE_RUNS.is_dir(), reason="sample_data/vasp_runs missing")
def test_contcar_is_read_by_ase_only_when_cross_checked(tmp_path, monkeypatch):
    from dkluq_cli.ingest.vasp import structures
    from dkluq_cli.ingest.vasp.oszicar import read_oszicar

    relax = SAMPLE_RUNS / "relaxations" / "SrTiO3 full relax (ISIF 3)"
    folder = tmp_path / "osz"
    folder.mkdir()
    for name in ("OSZICAR", "CONTCAR"):
        (folder / name).write_bytes((relax / name).read_bytes())
    (folder / "INCAR").write_text("NSW = 50\nIBRION = 2\n")
    run = run_of(folder)

    def no_ase(*_args, **_kw):
        raise ValueError("ASE was asked")

    monkeypatch.setattr(structures, "ase_images", no_ase)
    got = read_oszicar(run, run.pick("OSZICAR"), "sigma0")
    assert got.source == "OSZICAR+CONTCAR" and len(got.structure) == 5
    with pytest.raises(Reject, match="pymatgen reads it but ASE cannot"):
        read_oszicar(run, run.pick("OSZICAR"), "sigma0", cross_check=True)
