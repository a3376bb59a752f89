"""The committed sample data: reproducible, physically sensible, readable by pymatgen and ASE.

Regeneration tests need chgnet (the ``sample-data`` extra) and skip without it (as in CI, which
installs only ``dev``). The other tests read only the committed files.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
RUNS = SAMPLE / "vasp_runs"
COLUMNS = [
    "a",
    "b",
    "c",
    "alpha",
    "beta",
    "gamma",
    "volume",
    "energy_eV",
    "energy_per_atom_eV",
    "formula",
    "n_atoms",
]
P0 = np.array([3.914, 3.914, 3.914, 90.0, 90.0, 90.0])
PARAMS = ["a", "b", "c", "alpha", "beta", "gamma"]
MARKER = "written by dkluq sample_data/generate.py"


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(SAMPLE / name)


def _index() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "vasp_runs_index.csv", dtype={"run": str, "expected": str})


def _vasp_files() -> list[Path]:
    return sorted(p for p in RUNS.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------------
# Regeneration (needs chgnet)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generator():
    """The generator module, importable only with chgnet installed."""
    pytest.importorskip(
        "chgnet", reason="chgnet (sample-data extra) not installed: cannot regenerate sample data"
    )
    warnings.filterwarnings("ignore")
    from sample_data import generate

    return generate


def test_generator_reproduces_csv_prefixes(generator) -> None:
    assert generator.check(5) == []


def test_generator_reproduces_vasp_tree(generator) -> None:
    from sample_data.vasp_writer import check_vasp

    assert check_vasp(SAMPLE, n_runs=None) == []


def test_oracle_batched_matches_single(generator) -> None:
    from sample_data.oracle import srtio3_energies

    frame = _csv("srtio3_lattice_energy.csv").head(4)
    params = frame[PARAMS].to_numpy()
    batched = srtio3_energies(params, batch_size=4)
    single = np.array([srtio3_energies(p)[0] for p in params])
    np.testing.assert_array_equal(batched, single)
    np.testing.assert_array_equal(batched, frame["energy_eV"].to_numpy())


def test_generator_check_cli_flags_mismatch(generator, tmp_path: Path) -> None:
    for name in generator.FILES.values():
        lines = (SAMPLE / name).read_text().splitlines(keepends=True)[:4]
        (tmp_path / name).write_text("".join(lines))
    assert generator.main(["--check", "3", "--only", "cubic", "--out", str(tmp_path)]) == 0
    broken = (tmp_path / "srtio3_cubic.csv").read_text().replace("SrTiO3", "SrTiO4", 1)
    (tmp_path / "srtio3_cubic.csv").write_text(broken)
    assert generator.main(["--check", "3", "--only", "cubic", "--out", str(tmp_path)]) == 1


# ---------------------------------------------------------------------------------------------
# The committed CSVs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "n_rows"),
    [("srtio3_lattice_energy.csv", 5000), ("srtio3_ood.csv", 500), ("srtio3_cubic.csv", 61)],
)
def test_energy_csv_layout(name: str, n_rows: int) -> None:
    raw = (SAMPLE / name).read_bytes()
    assert b"\r" not in raw
    frame = _csv(name)
    assert list(frame.columns) == COLUMNS
    assert len(frame) == n_rows
    num = frame[COLUMNS[:9]].to_numpy(dtype=float)
    assert np.isfinite(num).all()
    assert (frame["formula"] == "SrTiO3").all()
    assert (frame["n_atoms"] == 5).all()
    np.testing.assert_allclose(
        frame["energy_per_atom_eV"] * 5, frame["energy_eV"], rtol=0, atol=1e-12
    )
    assert (frame["volume"] > 0).all()
    # Volume from the six parameters (triclinic formula), Å^3.
    a, b, c = (frame[k].to_numpy() for k in "abc")
    al, be, ga = (np.radians(frame[k].to_numpy()) for k in ("alpha", "beta", "gamma"))
    cosines = (
        1
        - np.cos(al) ** 2
        - np.cos(be) ** 2
        - np.cos(ga) ** 2
        + 2 * np.cos(al) * np.cos(be) * np.cos(ga)
    )
    np.testing.assert_allclose(frame["volume"], a * b * c * np.sqrt(cosines), rtol=1e-10)
    assert frame["energy_eV"].between(-60, 0).all()


def test_main_csv_inside_box() -> None:
    frame = _csv("srtio3_lattice_energy.csv")
    rel = np.abs(frame[PARAMS].to_numpy() / P0 - 1)
    assert rel.max() <= 0.10 + 1e-12
    # Uniform draw: every parameter spans most of the box.
    assert (rel.max(axis=0) > 0.099).all()
    assert frame["energy_eV"].between(-42.5, -36.0).all()


def test_ood_csv_outside_box() -> None:
    frame = _csv("srtio3_ood.csv")
    dev = np.max(np.abs(frame[PARAMS].to_numpy() / P0 - 1), axis=1)
    assert (dev > 0.10).all()
    assert (dev <= 0.20).all()


def _birch_murnaghan(v: np.ndarray, e0: float, v0: float, b0: float, bp: float) -> np.ndarray:
    eta = (v0 / v) ** (2.0 / 3.0)
    return e0 + 9.0 * v0 * b0 / 16.0 * ((eta - 1) ** 3 * bp + (eta - 1) ** 2 * (6 - 4 * eta))


def test_cubic_line_minimum_and_bulk_modulus() -> None:
    frame = _csv("srtio3_cubic.csv")
    a = frame["a"].to_numpy()
    assert (frame["a"] == frame["b"]).all() and (frame["b"] == frame["c"]).all()
    assert (frame[["alpha", "beta", "gamma"]] == 90.0).all().all()
    np.testing.assert_allclose(a[[0, -1]], [0.9 * 3.914, 1.1 * 3.914], atol=1e-6)
    e = frame["energy_eV"].to_numpy()
    i = int(np.argmin(e))
    assert 0 < i < len(e) - 1
    sl = slice(max(i - 4, 0), i + 5)
    c2, c1, _ = np.polyfit(a[sl], e[sl], 2)
    a_min = -c1 / (2 * c2)
    assert abs(a_min - 3.944) < 0.02
    # Birch-Murnaghan on the central part of the line (within ±6 % of the minimum).
    scipy_optimize = pytest.importorskip("scipy.optimize")
    v = frame["volume"].to_numpy()
    near = np.abs(a / a_min - 1) < 0.06
    popt, _ = scipy_optimize.curve_fit(
        _birch_murnaghan, v[near], e[near], p0=[e[i], v[i], 1.0, 4.0]
    )
    a0 = popt[1] ** (1 / 3)
    b0_gpa = popt[2] * 160.21766208
    assert abs(a0 - 3.944) < 0.02
    assert 120 < b0_gpa < 230


def test_sinusoid_csv() -> None:
    frame = _csv("sinusoid.csv")
    assert list(frame.columns) == ["x", "y"]
    assert len(frame) == 500
    assert np.isfinite(frame.to_numpy()).all()
    x = frame["x"].to_numpy()
    assert ((x >= -1) & (x <= 1)).all()
    assert not ((x > -0.3) & (x < 0.3)).any()  # the gap without training data
    resid = frame["y"] - np.sin(2 * np.pi * x)
    assert 0.07 < resid.std() < 0.13


def test_sample_data_size() -> None:
    total = sum(
        p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    assert total < 10 * 2**20
    assert sum(p.stat().st_size for p in _vasp_files()) < 5 * 2**20


def test_generator_does_not_leak_into_package() -> None:
    for path in (REPO / "dkluq_cli").rglob("*.py"):
        text = path.read_text()
        assert "import chgnet" not in text and "from chgnet" not in text, path
        assert "sample_data.oracle" not in text, path


# ---------------------------------------------------------------------------------------------
# The VASP tree
# ---------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode("ascii")
    return path.read_text(encoding="ascii")


def _params_of(lattice) -> np.ndarray:
    return np.array([*lattice.abc, *lattice.angles])


def _ase_params(atoms) -> np.ndarray:
    return np.array(atoms.cell.cellpar())


def test_index_layout() -> None:
    index = _index()
    assert list(index.columns) == ["run", "row", "expected", "energy_eV", *PARAMS]
    assert 35 <= len(index) <= 45
    assert index["run"].is_unique
    folders = {str(p.parent.relative_to(RUNS).as_posix()) for p in _vasp_files()}
    assert folders == set(index["run"])
    assert {"accepted", "truncated", "unconverged_electronic", "no_energy"} <= set(
        index["expected"]
    )
    assert any(" " in r and "(" in r for r in index["run"])
    names = {p.name for p in _vasp_files()}
    assert {
        "vasprun.xml.gz",
        "OUTCAR.gz",
        "vasprun.xml",
        "OUTCAR",
        "POSCAR",
        "CONTCAR",
        "OSZICAR",
    } <= names


def test_static_runs_reproduce_csv_rows() -> None:
    index = _index()
    main = _csv("srtio3_lattice_energy.csv")
    static = index[index["row"].notna()]
    assert len(static) >= 30
    rows = static["row"].astype(int).to_numpy()
    assert (static["expected"] == "accepted").all()
    np.testing.assert_array_equal(
        static["energy_eV"].to_numpy(), main["energy_eV"].to_numpy()[rows]
    )
    np.testing.assert_array_equal(static[PARAMS].to_numpy(), main[PARAMS].to_numpy()[rows])


def test_every_file_has_generator_marker() -> None:
    for path in _vasp_files():
        text = _read_text(path)
        if path.name == "OSZICAR":
            continue  # documented: a marker line would be read as an ionic step by pymatgen
        if "vasprun" in path.name:
            assert f"<!-- {MARKER} -->" in text.splitlines()[1], path
        else:
            assert MARKER in text.splitlines()[0], path


def _expected(path: Path) -> pd.Series:
    index = _index().set_index("run")
    return index.loc[path.parent.relative_to(RUNS).as_posix()]


def _check_params(found: np.ndarray, exp: pd.Series, path: Path) -> None:
    np.testing.assert_allclose(
        found, exp[PARAMS].to_numpy(dtype=float), rtol=0, atol=1e-9, err_msg=str(path)
    )


@pytest.mark.parametrize("path", _vasp_files(), ids=lambda p: str(p.relative_to(RUNS)))
def test_vasp_file_parses_with_pymatgen_and_ase(path: Path) -> None:
    import ase.io
    from pymatgen.io.vasp import Oszicar, Outcar, Poscar, Vasprun

    exp = _expected(path)
    base = path.name.removesuffix(".gz")
    has_energy = not (isinstance(exp["energy_eV"], float) and math.isnan(exp["energy_eV"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if base == "OSZICAR":  # ASE has no OSZICAR reader
            osz = Oszicar(str(path))
            if exp["expected"] != "truncated":
                assert osz.ionic_steps[-1]["E0"] == pytest.approx(exp["energy_eV"], abs=1e-6)
            return
        images = ase.io.read(str(path), index=":")
        assert images, path
        if base in ("POSCAR", "CONTCAR"):
            poscar = Poscar.from_file(str(path))
            assert poscar.structure.composition.reduced_formula == "SrTiO3"
            assert MARKER in poscar.comment
            assert images[0].get_chemical_formula(mode="metal") == "SrTiO3"
            # The index holds the final cell: that of CONTCAR, or of POSCAR for one-step runs.
            one_step = (
                not path.parent.joinpath("CONTCAR").exists() and exp["expected"] != "truncated"
            )
            if base == "CONTCAR" or one_step:
                _check_params(_params_of(poscar.structure.lattice), exp, path)
                _check_params(_ase_params(images[0]), exp, path)
            return
        assert has_energy
        e_ase = images[-1].get_potential_energy()  # energy(sigma->0)
        free_ase = images[-1].get_potential_energy(force_consistent=True)  # TOTEN
        assert e_ase == pytest.approx(exp["energy_eV"], abs=1e-9)
        assert free_ase == pytest.approx(exp["energy_eV"] - 0.005, abs=1e-9)
        assert images[-1].get_chemical_formula(mode="metal") == "SrTiO3"
        _check_params(_ase_params(images[-1]), exp, path)
        if base == "OUTCAR":
            out = Outcar(str(path))
            assert out.final_energy == pytest.approx(exp["energy_eV"], abs=1e-12)
            assert out.final_fr_energy == pytest.approx(exp["energy_eV"] - 0.005, abs=1e-12)
            relaxed = "reached required accuracy" in _read_text(path)
            assert relaxed == (path.parent.joinpath("CONTCAR").exists())
            return
        assert base == "vasprun.xml"
        if exp["expected"] == "truncated":
            with pytest.raises(Exception):  # noqa: B017 - lxml XMLSyntaxError or similar
                Vasprun(str(path), parse_dos=False, parse_eigen=False, parse_potcar_file=False)
            vr = Vasprun(
                str(path),
                parse_dos=False,
                parse_eigen=False,
                parse_potcar_file=False,
                exception_on_bad_xml=False,
            )
            assert len(vr.ionic_steps) == len(images) == 2
        else:
            vr = Vasprun(str(path), parse_dos=False, parse_eigen=False, parse_potcar_file=False)
            assert len(vr.ionic_steps) == len(images)
            assert vr.converged_electronic == (exp["expected"] != "unconverged_electronic")
            assert vr.converged_ionic
            assert vr.vasp_version == "6.4.2"
            for key in ("NSW", "IBRION", "NELM", "EDIFF", "ISIF", "ISMEAR", "SIGMA"):
                assert key in vr.parameters
        assert vr.final_energy == exp["energy_eV"] or vr.final_energy == pytest.approx(
            exp["energy_eV"], abs=1e-12
        )
        assert vr.ionic_steps[-1]["e_fr_energy"] == pytest.approx(
            exp["energy_eV"] - 0.005, abs=1e-12
        )
        _check_params(_params_of(vr.ionic_steps[-1]["structure"].lattice), exp, path)
        assert vr.ionic_steps[-1]["structure"].composition.reduced_formula == "SrTiO3"


def test_relaxation_has_several_changing_steps() -> None:
    import ase.io
    from pymatgen.io.vasp import Vasprun

    (run,) = list(RUNS.rglob("CONTCAR"))
    vr = Vasprun(
        str(run.parent / "vasprun.xml"), parse_dos=False, parse_eigen=False, parse_potcar_file=False
    )
    abcs = [s["structure"].lattice.abc for s in vr.ionic_steps]
    assert len(abcs) >= 4
    assert len({tuple(np.round(x, 6)) for x in abcs}) == len(abcs)
    assert vr.converged_ionic and vr.converged_electronic
    images = ase.io.read(str(run.parent / "OUTCAR"), index=":")
    assert len(images) == len(abcs)
    energies = [s["e_0_energy"] for s in vr.ionic_steps]
    assert energies[-1] < energies[0]


@pytest.mark.parametrize(
    ("name", "entry"),
    [("oracle", "srtio3_energies"), ("generate", "main"), ("vasp_writer", "write_vasp_tree")],
)
def test_all_generated_python_is_importable(name: str, entry: str) -> None:
    """Every generator module imports without the sample-data extra (chgnet is imported only
    when the oracle is called) and has its entry point."""
    module = importlib.import_module(f"sample_data.{name}")
    assert callable(getattr(module, entry))
