"""The single-pass readers read every file exactly as the cross-checked pymatgen+ASE reading does.

For each vasprun.xml and OUTCAR (the sample tree, the ../shared/vasp corpus when present, and
truncated or edited copies made here) the single-pass reader either hands the file over
(``Unsure``) or gives the same energy, structure, step count, version, convergence flags and
problems, or the same rejection. The OUTCAR text scans are also compared with pymatgen's
``Outcar`` itself.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest

from dkluq_cli.ingest.vasp import crosscheck, outcar, outcar_text, vasprun
from dkluq_cli.ingest.vasp.cell import Cell
from dkluq_cli.ingest.vasp.files import RunFiles, classify, read_text
from dkluq_cli.ingest.vasp.result import Reject, Unsure
from tests.conftest import SAMPLE, SHARED_VASP

SAMPLE_RUNS = SAMPLE / "vasp_runs"
FAST = {"vasprun": vasprun.read_vasprun_fast, "OUTCAR": outcar.read_outcar_fast}
CHECKED = {
    "vasprun": crosscheck.read_vasprun_checked,
    "OUTCAR": crosscheck.read_outcar_checked,
}


def folders(root: Path) -> list[Path]:
    return sorted({p.parent for p in root.rglob("*") if p.is_file() and classify(p.name)})


def run_of(folder: Path) -> RunFiles:
    run = RunFiles(folder.name, str(folder))
    for p in folder.iterdir():
        if p.is_file() and (found := classify(p.name)):
            run.add(found[0], found[1], str(p))
    return run


def outcome(reader, run: RunFiles, path: Path, energy_kind: str):
    """A comparable summary of one reading: the values, or the rejection."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p = reader(run, path, energy_kind)
        except Reject as rej:
            return ("reject", rej.category, rej.reason)
    cell = p.structure if isinstance(p.structure, Cell) else Cell.from_structure(p.structure)
    return (
        p.source,
        p.energy,
        p.n_steps,
        p.version,
        p.conv_el,
        p.conv_ion,
        p.problems,
        cell.matrix.tolist(),
        cell.symbols,
        cell.cart.tolist(),
    )


def same_as_checked(run: RunFiles, kind: str, energy_kind: str = "sigma0") -> bool:
    """Assert the two readings agree; ``True`` when the single-pass reader kept the file."""
    path = run.pick(kind)
    try:
        fast = outcome(FAST[kind], run, path, energy_kind)
    except Unsure:
        return False
    assert fast == outcome(CHECKED[kind], run, path, energy_kind), (run.directory, kind)
    return True


@pytest.mark.skipif(not SAMPLE_RUNS.is_dir(), reason="sample_data/vasp_runs missing")
@pytest.mark.parametrize("energy_kind", ["sigma0", "free"])
def test_sample_tree(energy_kind):
    kept = 0
    for folder in folders(SAMPLE_RUNS):
        run = run_of(folder)
        for kind in FAST:
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
    # the others: polarisation OUTCARs and a truncated XML, left to the cross-checked reading
    assert total >= 20 and kept >= 10


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
        paths += [p for p in SHARED_VASP.rglob("OUTCAR*") if p.is_file()]
    return [(str(p), read_text(p).replace("\r\n", "\n")) for p in sorted(paths)]


def test_outcar_text_scans_match_pymatgen(tmp_path):
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
        path = tmp_path / f"OUTCAR{i}"
        path.write_text(text, encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out = Outcar(str(path))
            except Exception:  # noqa: BLE001 - compared only where pymatgen reads the text
                continue
            out.read_pattern(crosscheck.OUTCAR_PATTERNS, terminate_on_match=False)
        tail = outcar_text.tail_scan(text)
        assert (tail["e_0"], tail["e_fr"], tail["e_wo"]) == (
            out.final_energy,
            out.final_fr_energy,
            out.final_energy_wo_entrp,
        )
        assert tail["stopped"] == out.is_stopped
        assert ("Elapsed time (sec)" in tail["run_stats"]) == (
            "Elapsed time (sec)" in out.run_stats
        )
        assert outcar_text.patterns(text) == {k: out.data[k] for k in crosscheck.OUTCAR_PATTERNS}
        compared += 1
    assert compared >= len(texts)  # every real file, and the damaged copies pymatgen reads


def test_lines_with_finds_every_line_holding_a_literal():
    text = "a NSW = 3\nno\nNSW\nx NSW y NSW\n\nlast NSW"
    got = outcar_text.lines_with(text, ("NSW", "no"))
    assert [line for _, line in got] == ["a NSW = 3", "no", "NSW", "x NSW y NSW", "last NSW"]
    assert all(text[start:].startswith(line) for start, line in got)
