"""``dkluq ingest`` over the real VASP corpus in ../shared/vasp (values from its SOURCES.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLE, SHARED_VASP, plain

OUT = "pymatgen-core/test-files/io/vasp/outputs"
FIX = "pymatgen-core/test-files/io/vasp/fixtures"
CUS = "custodian/tests/files"
BTO = f"{FIX}/BTO_221_99_polarization"

# run folder -> [(shared file, name in the run folder)]
CORPUS: dict[str, list[tuple[str, str]]] = {
    "stopped": [(f"{OUT}/OUTCAR.stopped.gz", "OUTCAR.gz")],
    "fe relax": [(f"{OUT}/OUTCAR.vasp.6.2.0.gz", "OUTCAR.gz")],
    "lgo": [(f"{OUT}/OUTCAR_vasp_6.3.gz", "OUTCAR.gz")],
    "nio [soc]": [(f"{OUT}/OUTCAR.NiO_SOC.gz", "OUTCAR.gz")],
    "lini2o4": [(f"{OUT}/OUTCAR.gz", "OUTCAR.gz")],
    "lfpo": [(f"{OUT}/vasprun.xml.gz", "vasprun.xml.relax2.gz")],
    "v2o5": [(f"{OUT}/vasprun.unconverged.xml.gz", "vasprun.xml.gz")],
    "bad": [(f"{OUT}/vasprun.bad.xml.gz", "vasprun.xml.gz")],
    "rb2f": [(f"{OUT}/vasprun.ediffg_set_to_0.xml.gz", "vasprun.xml.gz")],
    "si64 md": [(f"{OUT}/vasprun.md.xml.gz", "vasprun.xml.gz")],
    "si static": [
        (f"{FIX}/static_silicon/OSZICAR", "OSZICAR"),
        (f"{FIX}/static_silicon/OUTCAR", "OUTCAR"),
        (f"{FIX}/static_silicon/vasprun.xml.gz", "vasprun.xml.gz"),
    ],
    **{
        f"bto/{d}": [(f"{BTO}/{d}/OUTCAR", "OUTCAR")]
        for d in [
            "nonpolar_polarization",
            *(f"interpolation_{i}_polarization" for i in range(1, 9)),
            "polar_polarization",
        ]
    },
    "si relax": [
        (f"{CUS}/io/OUTCAR.gz", "OUTCAR.gz"),
        (f"{CUS}/io/vasprun.xml.gz", "vasprun.xml.gz"),
    ],
    "feo (post)": [
        (f"{CUS}/postprocess/{n}", n) for n in ("OUTCAR", "vasprun.xml", "OSZICAR", "CONTCAR")
    ],
    "y2o3": [(f"{CUS}/unconverged/vasprun.xml.unconverged_unfixable", "vasprun.xml")],
    "ag": [(f"{CUS}/unconverged/vasprun.xml.ionic", "vasprun.xml")],
    "nonconv": [(f"{CUS}/nonconv/OSZICAR", "OSZICAR")],
    "si shear": [
        ("atomate/atomate/vasp/test_files/elastic_wf/2/outputs/vasprun.xml.gz", "vasprun.xml.gz")
    ],
    "mgmn2o4/relax_2_3_(afm)/outputs": [
        (
            "atomate2/tests/test_data/vasp/MgMn2O4_magnetic/relax_2_3_(afm)/outputs/vasprun.xml.gz",
            "vasprun.xml.gz",
        )
    ],
    "knbo3": [
        (
            "atomate2/tests/test_data/vasp/KNbO3_ferroelectric/polarization_polar/outputs/vasprun.xml.gz",
            "vasprun.xml.gz",
        )
    ],
}

# run -> (source, formula, n_atoms, energy sigma0 eV, a, b, c, alpha, beta, gamma, volume), SOURCES.md
EXPECTED = {
    "fe relax": (
        "OUTCAR.gz",
        "Fe",
        1,
        -8.270886,
        2.4495,
        2.4495,
        2.4495,
        109.47,
        109.47,
        109.47,
        11.313,
    ),
    "lgo": (
        "OUTCAR.gz",
        "LaGaO3",
        10,
        -72.001532,
        5.5304,
        5.5304,
        5.5304,
        60.79,
        60.79,
        60.79,
        121.733,
    ),
    "nio [soc]": (
        "OUTCAR.gz",
        "NiO",
        4,
        -19.605124,
        5.1072,
        5.1072,
        5.1072,
        33.56,
        33.56,
        33.56,
        36.256,
    ),
    "lini2o4": (
        "OUTCAR.gz",
        "Li(NiO2)2",
        7,
        -34.007267,
        4.8386,
        2.8685,
        5.1269,
        74.79,
        100.39,
        89.14,
        67.395,
    ),
    "lfpo": (
        "vasprun.xml.relax2.gz",
        "LiFe4(PO4)4",
        25,
        -269.383199,
        9.9722,
        5.8988,
        4.8083,
        89.83,
        88.80,
        90.18,
        282.777,
    ),
    "si static": (
        "vasprun.xml.gz",
        "Si",
        2,
        -10.645278,
        3.8670,
        3.8670,
        3.8670,
        60.0,
        60.0,
        60.0,
        40.888,
    ),
    "bto/nonpolar_polarization": (
        "OUTCAR",
        "BaTiO3",
        5,
        -39.886902,
        4.0330,
        4.0330,
        4.0330,
        90,
        90,
        90,
        65.599,
    ),
    "bto/interpolation_1_polarization": (
        "OUTCAR",
        "BaTiO3",
        5,
        -39.939866,
        4.0049,
        4.0049,
        4.1954,
        90,
        90,
        90,
        67.291,
    ),
    "bto/interpolation_2_polarization": (
        "OUTCAR",
        "BaTiO3",
        5,
        -39.932699,
        4.0084,
        4.0084,
        4.1751,
        90,
        90,
        90,
        67.083,
    ),
    "bto/interpolation_3_polarization": (
        "OUTCAR",
        "BaTiO3",
        5,
        -39.923381,
        4.0119,
        4.0119,
        4.1548,
        90,
        90,
        90,
        66.874,
    ),
    "bto/interpolation_4_polarization": (
        "OUTCAR",
        "BaTiO3",
        5,
        -39.913501,
        4.0155,
        4.0155,
        4.1345,
        90,
        90,
        90,
        66.665,
    ),
    "bto/interpolation_5_polarization": (
        "OUTCAR",
        "BaTiO3",
        5,
        -39.904295,
        4.0190,
        4.0190,
        4.1142,
        90,
        90,
        90,
        66.454,
    ),
    "bto/interpolation_6_polarization": (
        "OUTCAR",
        "BaTiO3",
        5,
        -39.896623,
        4.0225,
        4.0225,
        4.0939,
        90,
        90,
        90,
        66.242,
    ),
    "bto/interpolation_7_polarization": (
        "OUTCAR",
        "BaTiO3",
        5,
        -39.891201,
        4.0260,
        4.0260,
        4.0736,
        90,
        90,
        90,
        66.028,
    ),
    "bto/interpolation_8_polarization": (
        "OUTCAR",
        "BaTiO3",
        5,
        -39.888186,
        4.0295,
        4.0295,
        4.0533,
        90,
        90,
        90,
        65.814,
    ),
    "bto/polar_polarization": (
        "OUTCAR",
        "BaTiO3",
        5,
        -39.943106,
        4.0014,
        4.0014,
        4.2157,
        90,
        90,
        90,
        67.498,
    ),
    "si relax": (
        "vasprun.xml.gz",
        "Si",
        2,
        -10.841472,
        3.8677,
        3.8677,
        3.8677,
        60.0,
        60.0,
        60.0,
        40.911,
    ),
    "feo (post)": (
        "vasprun.xml",
        "FeO",
        4,
        -28.218515,
        2.3135,
        3.2734,
        6.2473,
        95.02,
        90.00,
        110.69,
        44.065,
    ),
    "si shear": (
        "vasprun.xml.gz",
        "Si",
        8,
        -43.261127,
        5.4786,
        5.4589,
        5.4687,
        90.0,
        90.0,
        86.57,
        163.258,
    ),
    "mgmn2o4/relax_2_3_(afm)/outputs": (
        "vasprun.xml.gz",
        "MgMn2O4",
        14,
        -104.174531,
        5.7414,
        6.1629,
        5.7414,
        117.77,
        90.00,
        117.77,
        152.831,
    ),
    "knbo3": ("vasprun.xml.gz", "KNbO3", 5, -40.657682, 4.0287, 4.0287, 4.2187, 90, 90, 90, 68.471),
}

# run -> (category, words the reason must hold)
REJECTED = {
    "stopped": ("ionically unconverged", ["stopped by STOPCAR", "NSW=200"]),
    "v2o5": ("electronically unconverged", ["electronic", "NELM=100"]),
    "y2o3": ("electronically unconverged", ["electronic", "NELM=200"]),
    "ag": ("ionically unconverged", ["NSW=2 reached"]),
    "rb2f": ("ionically unconverged", ["NSW=3 reached"]),
    "si64 md": ("ionically unconverged", ["molecular dynamics"]),
    "bad": ("ionically unconverged", ["truncated", "1 complete ionic step"]),
    "nonconv": ("no structure", ["no CONTCAR or POSCAR"]),
}


def build(root: Path, runs: dict[str, list[tuple[str, str]]]) -> Path:
    """Make run folders under ``root`` whose files are links to the shared corpus."""
    for run, files in runs.items():
        d = root / run
        d.mkdir(parents=True, exist_ok=True)
        for src, name in files:
            (d / name).symlink_to(SHARED_VASP / src)
    return root


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def cli(*args) -> object:
    from dkluq_cli.cli.app import app

    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def corpus_run(shared_vasp, tmp_path_factory):
    """One default ingest over a tree holding every file of the shared corpus."""
    del shared_vasp
    tmp = tmp_path_factory.mktemp("corpus")
    root = build(tmp / "vasp runs", CORPUS)
    out = tmp / "out" / "table.csv"
    out.parent.mkdir()
    result = cli("ingest", root, "-o", out, "--workers", "2")
    return result, out


def test_corpus_exit_and_outputs(corpus_run):
    result, out = corpus_run
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert result.stdout.strip().startswith(f"wrote {out}:")
    assert f"{len(EXPECTED)} accepted, {len(REJECTED)} rejected" in result.stdout
    assert out.with_suffix(".extxyz").is_file()
    assert (out.parent / "table.rejected.csv").is_file()
    err = plain(result.stderr)
    assert "accepted" in err and "BaTiO3 10" in err
    assert "warning:" in err and "compositions" in err  # mixed compositions flagged


def test_corpus_values_match_sources(corpus_run):
    _, out = corpus_run
    rows = {r["run"]: r for r in read_csv(out)}
    assert set(rows) == set(EXPECTED)
    assert list(rows) == sorted(rows)
    for run, (source, formula, n, e, a, b, c, al, be, ga, vol) in EXPECTED.items():
        r = rows[run]
        assert r["source"] == source, run
        assert r["formula"] == formula, run
        assert int(r["n_atoms"]) == n, run
        assert float(r["energy_eV"]) == pytest.approx(e, abs=2e-6), run
        assert float(r["energy_per_atom_eV"]) == pytest.approx(e / n, abs=1e-6), run
        for key, want in zip("abc", (a, b, c), strict=True):
            assert float(r[key]) == pytest.approx(want, abs=1e-4), (run, key)
        for key, want in zip(("alpha", "beta", "gamma"), (al, be, ga), strict=True):
            assert float(r[key]) == pytest.approx(want, abs=6e-3), (run, key)
        assert float(r["volume"]) == pytest.approx(vol, abs=1e-3), run
        assert r["energy_kind"] == "sigma0"
        assert r["converged_electronic"] == "True" and r["converged_ionic"] == "True"
    assert rows["lfpo"]["n_ionic_steps"] == "29" and rows["lfpo"]["vasp_version"] == "5.2.2"
    assert rows["fe relax"]["n_ionic_steps"] == "4" and rows["fe relax"]["vasp_version"] == "6.2.0"


def test_corpus_rejections(corpus_run):
    _, out = corpus_run
    rej = {r["run"]: r for r in read_csv(out.parent / "table.rejected.csv")}
    assert set(rej) == set(REJECTED)
    for run, (category, words) in REJECTED.items():
        assert rej[run]["category"] == category, (run, rej[run])
        for w in words:
            assert w in rej[run]["reason"], (run, rej[run]["reason"])
        assert "\n" not in rej[run]["reason"]


def test_corpus_extxyz_matches_rows(corpus_run):
    import ase.io

    _, out = corpus_run
    frames = ase.io.read(out.with_suffix(".extxyz"), index=":")
    rows = read_csv(out)
    assert [f.info["run"] for f in frames] == [r["run"] for r in rows]
    for f, r in zip(frames, rows, strict=True):
        assert len(f) == int(r["n_atoms"])
        assert f.cell.cellpar()[0] == pytest.approx(float(r["a"]), abs=1e-6)


def test_include_unconverged_keeps_last_complete_step(shared_vasp, tmp_path):
    root = build(
        tmp_path / "runs",
        {
            "bad": CORPUS["bad"],
            "nonconv": [*CORPUS["nonconv"], (f"{CUS}/postprocess/CONTCAR", "CONTCAR")],
            "stopped": CORPUS["stopped"],
        },
    )
    out = tmp_path / "t.csv"
    result = cli("-q", "ingest", root, "-o", out, "--include-unconverged")
    assert result.exit_code == 0, result.output
    rows = {r["run"]: r for r in read_csv(out)}
    assert float(rows["bad"]["energy_eV"]) == pytest.approx(-269.005514, abs=2e-6)
    assert float(rows["bad"]["a"]) == pytest.approx(9.9749, abs=1e-4)
    assert rows["bad"]["n_ionic_steps"] == "1" and rows["bad"]["converged_ionic"] == "False"
    # custodian nonconv: every ionic step stopped at NELM, energy still falling
    assert rows["nonconv"]["source"] == "OSZICAR+CONTCAR"
    assert float(rows["nonconv"]["energy_eV"]) == pytest.approx(-3.507894, abs=2e-6)
    assert rows["nonconv"]["converged_electronic"] == "False"
    assert rows["nonconv"]["n_ionic_steps"] == "4"
    # STOPCAR soft stop after 1 ionic step; EDIFF was reached at iteration NELM itself
    assert rows["stopped"]["converged_ionic"] == "False"
    assert rows["stopped"]["converged_electronic"] == "True"
    assert float(rows["stopped"]["a"]) == pytest.approx(9.5143, abs=1e-4)
    assert float(rows["stopped"]["energy_eV"]) == pytest.approx(-396.104188, abs=2e-6)


def test_free_energy_kind(shared_vasp, tmp_path):
    root = build(tmp_path / "runs", {"rb2f": CORPUS["rb2f"], "si relax": CORPUS["si relax"]})
    out = tmp_path / "t.parquet"
    result = cli("ingest", root, "-o", out, "--energy", "free", "--include-unconverged")
    assert result.exit_code == 0, result.output
    import pandas as pd

    df = pd.read_parquet(out).set_index("run")
    assert (df["energy_kind"] == "free").all()
    assert df.loc["rb2f", "energy_eV"] == pytest.approx(-34.603297, abs=2e-6)
    assert df.loc["si relax", "energy_eV"] == pytest.approx(-10.841473, abs=2e-6)
    assert (tmp_path / "t.rejected.csv").is_file() and (tmp_path / "t.extxyz").is_file()


def test_fallback_sources_outcar_and_oszicar(shared_vasp, tmp_path):
    root = build(
        tmp_path / "runs",
        {
            "outcar only": [(f"{CUS}/postprocess/OUTCAR", "OUTCAR.relax1")],
            "oszicar contcar incar": [
                (f"{CUS}/postprocess/OSZICAR", "OSZICAR"),
                (f"{CUS}/postprocess/CONTCAR", "CONTCAR"),
            ],
            "si oszicar": [(f"{FIX}/static_silicon/OSZICAR", "OSZICAR")],
        },
    )
    (root / "oszicar contcar incar" / "INCAR").write_text("NSW = 1\nIBRION = -1\n")
    out = tmp_path / "t.csv"
    result = cli("ingest", root, "-o", out, "--include-unconverged")
    assert result.exit_code == 0, result.output
    rows = {r["run"]: r for r in read_csv(out)}
    r = rows["outcar only"]
    assert r["source"] == "OUTCAR.relax1" and r["n_ionic_steps"] == "28"
    assert float(r["energy_eV"]) == pytest.approx(-28.218515, abs=2e-6)
    assert float(r["gamma"]) == pytest.approx(110.69, abs=6e-3)
    r = rows["oszicar contcar incar"]
    assert r["source"] == "OSZICAR+CONTCAR"
    assert float(r["energy_eV"]) == pytest.approx(-28.218515, abs=2e-6)
    assert float(r["c"]) == pytest.approx(6.2473, abs=1e-4)
    rej = {x["run"]: x for x in read_csv(tmp_path / "t.rejected.csv")}
    assert rej["si oszicar"]["category"] == "no structure"


def test_rerun_is_byte_identical_and_refuses_overwrite(shared_vasp, tmp_path):
    runs = {k: CORPUS[k] for k in ("lgo", "knbo3", "bad", "si static")}
    root = build(tmp_path / "runs", runs)
    first, second = tmp_path / "a" / "t.csv", tmp_path / "b" / "t.csv"
    first.parent.mkdir()
    second.parent.mkdir()
    assert cli("ingest", root, "-o", first, "--workers", "1").exit_code == 0
    assert cli("ingest", root, "-o", second, "--workers", "2").exit_code == 0
    for name in ("t.csv", "t.extxyz", "t.rejected.csv"):
        assert (first.parent / name).read_bytes() == (second.parent / name).read_bytes(), name
    again = cli("ingest", root, "-o", first)
    assert again.exit_code == 1
    assert "already exists" in plain(again.stderr) and "--force" in plain(again.stderr)
    assert cli("ingest", root, "-o", first, "--force").exit_code == 0


def test_single_file_and_several_roots(shared_vasp, tmp_path):
    f = SHARED_VASP / OUT / "OUTCAR_vasp_6.3.gz"
    root = build(tmp_path / "tree", {"lgo": CORPUS["lgo"]})
    out = tmp_path / "t.csv"
    result = cli("ingest", f, root, "-o", out)
    assert result.exit_code == 0, result.output
    runs = [r["run"] for r in read_csv(out)]
    assert runs == ["outputs/OUTCAR_vasp_6.3.gz", "tree/lgo"]


def test_nothing_accepted_writes_rejections_and_exits_1(shared_vasp, tmp_path):
    root = build(tmp_path / "runs", {"nonconv": CORPUS["nonconv"]})
    out = tmp_path / "t.csv"
    result = cli("ingest", root, "-o", out)
    assert result.exit_code == 1
    err = plain(result.stderr)
    assert "error: no run was accepted" in err
    assert not out.exists()
    assert read_csv(tmp_path / "t.rejected.csv")[0]["run"] == "nonconv"


def test_output_checked_before_parsing(tmp_path, monkeypatch):
    import dkluq_cli.ingest.pipeline as core

    monkeypatch.setattr(core, "discover", lambda *_: pytest.fail("parsed before output check"))
    (tmp_path / "runs").mkdir()
    (tmp_path / "t.extxyz").write_text("x")
    result = cli("ingest", tmp_path / "runs", "-o", tmp_path / "t.csv")
    assert result.exit_code == 1
    assert "t.extxyz already exists" in plain(result.stderr)


def test_help_lists_options():
    text = plain(cli("ingest", "--help").output)
    for opt in ("--output", "--energy", "--include-unconverged", "--workers", "--force"):
        assert opt in text


SAMPLE_RUNS = SAMPLE / "vasp_runs"
SAMPLE_INDEX = SAMPLE / "vasp_runs_index.csv"


EXPECTED_CATEGORY = {
    "truncated": "ionically unconverged",
    "unconverged_electronic": "electronically unconverged",
    "no_energy": "no energy file",
}


@pytest.mark.skipif(not SAMPLE_RUNS.is_dir(), reason="sample_data/vasp_runs not generated yet")
def test_sample_vasp_runs_reproduce_sample_csv(tmp_path):
    import pandas as pd

    index = pd.read_csv(SAMPLE_INDEX)
    sample = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv")
    out = tmp_path / "t.csv"
    result = cli("-q", "ingest", SAMPLE_RUNS, "-o", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out).set_index("run")
    rejected = pd.read_csv(tmp_path / "t.rejected.csv").set_index("run")
    loose = tmp_path / "all.csv"
    assert cli("-q", "ingest", SAMPLE_RUNS, "-o", loose, "--include-unconverged").exit_code == 0
    kept = pd.read_csv(loose).set_index("run")
    lattice = ["a", "b", "c", "alpha", "beta", "gamma"]
    for _, item in index.iterrows():
        run, expected = str(item["run"]), str(item["expected"])
        if expected == "accepted":
            assert run in table.index, (run, rejected.to_dict("index").get(run))
            got = table.loc[run]
            # the index's own values, and the sample CSV row they came from when it names one
            refs = [item] + ([sample.iloc[int(item["row"])]] if pd.notna(item["row"]) else [])
            for ref in refs:
                for key in lattice:
                    assert got[key] == pytest.approx(float(ref[key]), abs=1e-4), (run, key)
                assert got["energy_eV"] == pytest.approx(float(ref["energy_eV"]), abs=1e-5), run
            continue
        assert run not in table.index, run
        assert rejected.loc[run, "category"] == EXPECTED_CATEGORY[expected], run
        if pd.notna(item["energy_eV"]):  # kept with --include-unconverged: last complete step
            got = kept.loc[run]
            assert got["energy_eV"] == pytest.approx(float(item["energy_eV"]), abs=1e-5), run
            for key in lattice:
                assert got[key] == pytest.approx(float(item[key]), abs=1e-4), (run, key)
