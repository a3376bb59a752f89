"""The per-run reader (dkluq_cli.ingest.vasp.run.read_run) on run folders made here from the sample tree.

Every fixture is generated in ``tmp_path`` from ``sample_data/vasp_runs`` (a 6-step SrTiO3
relaxation with vasprun.xml, OUTCAR, OSZICAR, CONTCAR, POSCAR, and a static run): truncated,
emptied, garbled or edited copies. Each case checks the category and reason, the value read where
there is one, and that the default reading and ``cross_check=True`` (ASE compared with pymatgen
on every vasprun.xml and CONTCAR) give the same result.
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest

from dkluq_cli.ingest.vasp import convergence
from dkluq_cli.ingest.vasp.files import RunFiles, classify
from dkluq_cli.ingest.vasp.result import (
    DISAGREE,
    EL_UNCONV,
    ION_UNCONV,
    NO_SOURCE,
    UNREADABLE,
    RunResult,
)
from dkluq_cli.ingest.vasp.run import read_run
from tests.conftest import SAMPLE

RELAX = SAMPLE / "vasp_runs" / "relaxations" / "SrTiO3 full relax (ISIF 3)"
STATIC = SAMPLE / "vasp_runs" / "static batch 1" / "run_00"
NELM_HIT = SAMPLE / "vasp_runs" / "problems" / "unconverged (NELM hit)"

pytestmark = pytest.mark.skipif(not RELAX.is_dir(), reason="sample_data/vasp_runs not generated")


def step_energies(xml: str) -> list[float]:
    """e_0_energy of each ionic step (the calculation's own energy block), from the text."""
    out = []
    for calc in xml.split("<calculation>")[1:]:
        block = re.findall(r"<energy>(.*?)</energy>", calc.split("</calculation>")[0], re.S)[-1]
        out.append(float(re.search(r'"e_0_energy">\s*(\S+)', block)[1]))
    return out


def make_run(folder: Path, files: dict[str, bytes | Path]) -> RunFiles:
    """A run folder holding ``files`` (name → bytes, or a sample file to copy)."""
    folder.mkdir(parents=True, exist_ok=True)
    run = RunFiles(folder.name, str(folder))
    for name, content in files.items():
        dest = folder / name
        if isinstance(content, Path):
            shutil.copyfile(content, dest)
        else:
            dest.write_bytes(content)
        kind, suffix = classify(name)
        run.add(kind, suffix, str(dest))
    return run


def read_both(run: RunFiles, energy_kind: str = "sigma0") -> RunResult:
    """The run read by default, after checking the cross-checked reading gives the same."""
    fast = read_run(run, energy_kind)
    checked = read_run(run, energy_kind, cross_check=True)
    assert (fast.row, fast.category, fast.reason, fast.source) == (
        checked.row,
        checked.category,
        checked.reason,
        checked.source,
    )
    assert (fast.frame is None) == (checked.frame is None)
    if fast.frame is not None:
        assert fast.frame.extxyz() == checked.frame.extxyz()
    return fast


def relax_files(**changes: bytes | None) -> dict[str, bytes | Path]:
    files: dict[str, bytes | Path] = {
        n: RELAX / n for n in ("vasprun.xml", "OUTCAR", "OSZICAR", "CONTCAR", "POSCAR")
    }
    for name, content in changes.items():
        if content is None:
            files.pop(name)
        else:
            files[name] = content
    return files


XML = (RELAX / "vasprun.xml").read_text(encoding="latin-1") if RELAX.is_dir() else ""
OUTCAR = (RELAX / "OUTCAR").read_text() if RELAX.is_dir() else ""


def test_complete_relaxation_confirmed_by_outcar(tmp_path):
    res = read_both(make_run(tmp_path / "relax", relax_files()))
    assert res.category is None and res.unconverged == []
    assert res.row["source"] == "vasprun.xml"
    assert res.row["n_ionic_steps"] == len(step_energies(XML)) == 6
    assert res.row["energy_eV"] == step_energies(XML)[-1]
    assert res.row["converged_ionic"] is True


def test_relaxation_without_reached_accuracy_is_ionically_unconverged(tmp_path):
    outcar = OUTCAR.replace("reached required accuracy", "stopped").encode()
    res = read_both(make_run(tmp_path / "r", relax_files(OUTCAR=outcar)))
    assert res.category == ION_UNCONV
    assert "no 'reached required accuracy' in OUTCAR" in res.reason
    assert res.row is not None and res.row["converged_ionic"] is False


@pytest.mark.parametrize("steps_kept", [1, 3, 5])
def test_killed_vasprun_reports_the_last_complete_step(tmp_path, steps_kept):
    # cut inside the next step, after its first electronic iteration
    calcs = [m.start() for m in re.finditer("<calculation>", XML)]
    cut = XML.index("</scstep>", calcs[steps_kept]) + len("</scstep>")
    run = make_run(tmp_path / "killed", relax_files(**{"vasprun.xml": XML[:cut].encode("latin-1")}))
    res = read_both(run)
    assert res.category == ION_UNCONV
    assert "killed part-way (vasprun.xml truncated)" in res.reason
    assert f"after {steps_kept} complete ionic step(s) of NSW=50" in res.reason
    assert res.row["energy_eV"] == step_energies(XML)[steps_kept - 1]
    assert res.row["n_ionic_steps"] == steps_kept


@pytest.mark.parametrize("steps_kept", [1, 4])
def test_vasprun_cut_in_a_steps_energy_block_keeps_the_steps_before(tmp_path, steps_kept):
    # the last energy block of the next step is cut after its first number
    calcs = [m.start() for m in re.finditer("<calculation>", XML)]
    end = XML.index("</calculation>", calcs[steps_kept])
    block = XML.rindex('<i name="e_fr_energy">', calcs[steps_kept], end)
    cut = XML.index("</i>", block) + len("</i>")
    run = make_run(tmp_path / "k", relax_files(**{"vasprun.xml": XML[:cut].encode("latin-1")}))
    res = read_both(run)
    assert res.category == ION_UNCONV
    assert f"after {steps_kept} complete ionic step(s) of NSW=50" in res.reason
    assert res.row["n_ionic_steps"] == steps_kept
    assert res.row["energy_eV"] == step_energies(XML)[steps_kept - 1]


def test_vasprun_damaged_mid_file_is_read_up_to_the_damage(tmp_path):
    calcs = [m.start() for m in re.finditer("<calculation>", XML)]
    at = XML.index("<scstep>", calcs[3])
    line = XML[:at].count("\n") + 1
    xml = XML[:at] + "x" + XML[at + 1 :]  # the rest of the file, </modeling> included, intact
    run = make_run(tmp_path / "d", relax_files(**{"vasprun.xml": xml.encode("latin-1")}))
    res = read_both(run)
    assert res.category == ION_UNCONV
    # the parser notices at the step's closing </scstep>, a few lines below the edit
    found = int(re.search(r"vasprun\.xml damaged at line (\d+) \(", res.reason)[1])
    assert line <= found < XML[: XML.index("</calculation>", at)].count("\n") + 1
    assert "after 3 complete ionic step(s) of NSW=50" in res.reason
    assert res.row["n_ionic_steps"] == 3
    assert res.row["energy_eV"] == step_energies(XML)[2]


def test_vasprun_cut_in_its_header_falls_back_to_outcar(tmp_path):
    cut = XML.index("<parameters>") + 200
    run = make_run(tmp_path / "h", relax_files(**{"vasprun.xml": XML[:cut].encode("latin-1")}))
    res = read_both(run)
    assert res.row is not None and res.row["source"] == "OUTCAR"
    assert res.row["energy_eV"] == pytest.approx(step_energies(XML)[-1], abs=1e-5)


def test_pstress_makes_the_two_parsers_disagree(tmp_path):
    xml = XML.replace(
        '<i name="PSTRESS">       0.00000000</i>', '<i name="PSTRESS">      50.00000000</i>'
    )
    assert xml != XML
    res = read_both(make_run(tmp_path / "p", {"vasprun.xml": xml.encode("latin-1")}))
    assert res.row is None and res.category == DISAGREE
    assert "final energy" in res.reason and "(ASE)" in res.reason


def test_empty_vasprun_uses_the_outcar(tmp_path):
    res = read_both(make_run(tmp_path / "e", relax_files(**{"vasprun.xml": b""})))
    assert res.row is not None and res.row["source"] == "OUTCAR"
    assert res.category is None


def test_noise_everywhere_leaves_oszicar_and_contcar(tmp_path):
    noise = bytes(range(256)) * 8
    files = relax_files(**{"vasprun.xml": noise, "OUTCAR": noise, "INCAR": b"NSW = 0\n"})
    res = read_both(make_run(tmp_path / "n", files))
    assert res.row is not None and res.row["source"] == "OSZICAR+CONTCAR"


def test_corrupt_gzip_is_unreadable(tmp_path):
    data = gzip.compress(XML.encode("latin-1"))[:-200]
    res = read_both(make_run(tmp_path / "g", {"vasprun.xml.gz": data}))
    assert res.row is None and res.category == UNREADABLE
    assert "vasprun.xml.gz: corrupt gz data" in res.reason


def test_outcar_that_pymatgen_cannot_parse_is_rejected(tmp_path):
    outcar = "\n".join(ln for ln in OUTCAR.splitlines() if "NBANDS=" not in ln).encode()
    res = read_both(make_run(tmp_path / "o", {"OUTCAR": outcar}))
    assert res.row is None and res.category == UNREADABLE
    assert "OUTCAR: pymatgen cannot parse it" in res.reason


def test_killed_outcar_energy_is_cross_checked(tmp_path):
    # cut in the middle of the last ionic step's electronic iterations
    last = OUTCAR.rindex("FREE ENERGIE OF THE ION-ELECTRON SYSTEM")
    cut = OUTCAR.rindex("Iteration", 0, last)
    res = read_both(make_run(tmp_path / "k", {"OUTCAR": OUTCAR[:cut].encode()}))
    assert res.category == ION_UNCONV
    assert (
        "killed part-way (OUTCAR has no final timing) after 5 complete ionic step(s)" in res.reason
    )
    # the last complete step, whose energy pymatgen's and ASE's readings agree on
    assert res.row["n_ionic_steps"] == 5 and res.row["source"] == "OUTCAR"
    assert res.row["energy_eV"] == pytest.approx(step_energies(XML)[4], abs=1e-4)


def test_electronically_unconverged_static_run(tmp_path):
    files = {n: NELM_HIT / n for n in ("vasprun.xml", "OUTCAR", "OSZICAR", "POSCAR")}
    res = read_both(make_run(tmp_path / "u", files))
    assert res.category == EL_UNCONV and "NELM=" in res.reason


def test_poscar_only_has_no_energy_source(tmp_path):
    res = read_both(make_run(tmp_path / "p", {"POSCAR": STATIC / "POSCAR"}))
    assert res.row is None and res.category == NO_SOURCE


def test_latest_suffix_wins_over_a_killed_earlier_one(tmp_path):
    files = {
        "vasprun.xml.relax1": XML[: len(XML) // 2].encode("latin-1"),
        "vasprun.xml.relax2": RELAX / "vasprun.xml",
    }
    res = read_both(make_run(tmp_path / "s", files))
    assert res.row["source"] == "vasprun.xml.relax2"


def test_free_energy_kind_reads_toten(tmp_path):
    run = make_run(tmp_path / "f", {"vasprun.xml": STATIC / "vasprun.xml"})
    sigma0, free = read_both(run, "sigma0"), read_both(run, "free")
    assert free.row["energy_kind"] == "free" and sigma0.row["energy_kind"] == "sigma0"
    assert free.row["energy_eV"] != sigma0.row["energy_eV"]


def test_unknown_energy_kind_raises():
    with pytest.raises(ValueError, match="energy_kind"):
        read_run(RunFiles("x", "."), "total")


@pytest.mark.parametrize(
    ("nsw", "ibrion", "steps", "ended", "converged", "words"),
    [
        (0, -1, 1, None, True, None),
        (50, 0, 50, None, False, "molecular dynamics"),
        (50, 2, 50, False, False, "NSW=50 reached"),
        (50, 2, 6, True, True, None),
        (50, 2, 6, None, True, None),
        (50, 2, 6, False, False, "after 6 complete ionic step(s) of NSW=50"),
    ],
)
def test_ionic_rule(nsw, ibrion, steps, ended, converged, words):
    ok, problem = convergence.ionic_check(nsw, ibrion, steps, ended_itself=ended, how="stopped")
    assert ok is converged
    assert (problem is None) == (words is None)
    if words:
        assert words in problem


def test_outcar_electronic_rule():
    # step 1 hit NELM=3 without the EDIFF line; step 2 reached EDIFF on iteration 3
    its = [("1", "1", ""), ("1", "2", ""), ("1", "3", ""), ("2", "1", ""), ("2", "3", "")]
    assert convergence.outcar_electronic(its, 1, 3) == (
        False,
        convergence.nelm_problem(3, 3),
    )
    assert convergence.outcar_electronic([*its, ("None", "None", "aborting")], 2, 3) == (
        True,
        None,
    )
