"""Regenerate every file under ``sample_data/`` bit for bit (``make sample-data``).

Energies come from CHGNet (see :mod:`sample_data.oracle`), **not** from DFT. Everything is drawn
from fixed seeds with ``numpy.random.default_rng(seed)``, so running this script again rewrites
byte-identical files (CHGNet on CPU with one torch thread is bitwise deterministic).

Files written (all in ``sample_data/``):

* ``srtio3_lattice_energy.csv`` -- 5000 SrTiO3 cells, each of ``a, b, c, alpha, beta, gamma``
  uniform within ±10 % of ``a = b = c = 3.914 Å, alpha = beta = gamma = 90°`` (seed 0).
* ``srtio3_ood.csv`` -- 500 cells whose largest relative deviation ``max_i |p_i / p0_i - 1|`` lies
  in ``(0.10, 0.20]`` (seed 1): the maximum ``m`` is drawn uniform on ``[0.10, 0.20]``, one parameter
  (chosen at random) gets ``±m`` and the other five are uniform in ``[-m, m]``.
* ``srtio3_cubic.csv`` -- cubic equation-of-state line, 61 cells ``a = b = c`` from 0.90 x 3.914 Å
  to 1.10 x 3.914 Å, angles 90°.
* ``sinusoid.csv`` -- the Fig. 1 toy problem (seed 2): 500 points ``y = sin(2 pi x) + eps`` with
  ``eps ~ Normal(0, 0.1**2)``, ``x`` uniform on ``[-1, -0.3] ∪ [0.3, 1]`` (each interval drawn with
  probability 1/2), sorted by ``x``. No training data in the gap ``(-0.3, 0.3)`` nor outside
  ``[-1, 1]``.
* ``vasp_runs/`` and ``vasp_runs_index.csv`` -- about 40 VASP-format run directories (see
  :mod:`sample_data.vasp_writer`).

Lattice parameters are rounded to 6 decimals (1e-6 Å / 1e-6 degree) *before* the energy is
computed, so the CSV values are exactly the inputs of the oracle. Floats are written with Python's
shortest round-trip ``repr``; line endings are ``\\n``.

The CSV columns are ``a,b,c,alpha,beta,gamma,volume,energy_eV,energy_per_atom_eV,formula,n_atoms``
(Å, degrees, Å³, eV, eV/atom; ``formula`` is ``SrTiO3``, ``n_atoms`` is 5).

Usage::

    python sample_data/generate.py                 # everything (~2 min on one CPU core)
    python sample_data/generate.py --only csv      # one product: csv | ood | cubic | vasp | sinusoid
    python sample_data/generate.py --check 5       # regenerate the first 5 rows of each CSV in
                                                   # memory and compare with the files (exit 1 if not)
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # allow ``python sample_data/generate.py`` from the repo root
    sys.path.insert(0, str(HERE.parent))

from sample_data.oracle import FORMULA, N_ATOMS, P0, srtio3_energies, srtio3_structure  # noqa: E402

SEED_MAIN = 0
SEED_OOD = 1
SEED_SINUSOID = 2
N_MAIN = 5000
N_OOD = 500
N_CUBIC = 61
N_SINUSOID = 500
BOX = 0.10
OOD_MAX = 0.20
DECIMALS = 6
SINUSOID_NOISE = 0.1
SINUSOID_SUPPORT = ((-1.0, -0.3), (0.3, 1.0))

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
FILES = {
    "csv": "srtio3_lattice_energy.csv",
    "ood": "srtio3_ood.csv",
    "cubic": "srtio3_cubic.csv",
    "sinusoid": "sinusoid.csv",
}


# ---------------------------------------------------------------------------------------------
# Parameter sets (cheap, no CHGNet): always drawn in full so a prefix is identical to the file.
# ---------------------------------------------------------------------------------------------


def max_relative_deviation(params: np.ndarray) -> np.ndarray:
    """Largest relative deviation from the reference cell.

    Args:
        params: Shape ``(n, 6)`` lattice parameters (Å, degrees).

    Returns:
        Shape ``(n,)``: ``max_i |p_i / p0_i - 1|`` (dimensionless).
    """
    return np.max(np.abs(np.asarray(params) / P0 - 1.0), axis=1)


def main_params() -> np.ndarray:
    """The 5000 in-box parameter sets of ``srtio3_lattice_energy.csv``.

    Returns:
        Shape ``(5000, 6)``; every parameter uniform within ±10 % of :data:`P0`, rounded to 1e-6.
    """
    rng = np.random.default_rng(SEED_MAIN)
    rel = rng.uniform(-BOX, BOX, size=(N_MAIN, 6))
    return np.clip(np.round(P0 * (1.0 + rel), DECIMALS), P0 * (1 - BOX), P0 * (1 + BOX))


def ood_params() -> np.ndarray:
    """The 500 out-of-distribution parameter sets of ``srtio3_ood.csv``.

    Returns:
        Shape ``(500, 6)``; the largest relative deviation of each row is in ``(0.10, 0.20]`` and
        every row is a valid lattice (positive volume). Rounded to 1e-6.
    """
    rng = np.random.default_rng(SEED_OOD)
    rows: list[np.ndarray] = []
    while len(rows) < N_OOD:
        m = rng.uniform(BOX, OOD_MAX)
        rel = rng.uniform(-m, m, size=6)
        k = rng.integers(6)
        rel[k] = m if rng.random() < 0.5 else -m
        p = np.round(P0 * (1.0 + rel), DECIMALS)
        dev = max_relative_deviation(p[None, :])[0]
        if not (BOX < dev <= OOD_MAX):
            continue
        try:
            srtio3_structure(p)
        except ValueError:
            continue
        rows.append(p)
    return np.array(rows)


def cubic_params() -> np.ndarray:
    """The 61 cubic cells of ``srtio3_cubic.csv``.

    Returns:
        Shape ``(61, 6)``; ``a = b = c`` from 0.90 x 3.914 Å to 1.10 x 3.914 Å, angles 90°.
    """
    a = np.round(np.linspace(1 - BOX, 1 + BOX, N_CUBIC) * P0[0], DECIMALS)
    out = np.tile(P0, (N_CUBIC, 1))
    out[:, :3] = a[:, None]
    return out


def sinusoid_frame() -> pd.DataFrame:
    """The Fig. 1 toy data set: noisy sinusoid with bounded support and a gap.

    Returns:
        Frame with columns ``x`` and ``y`` (dimensionless), 500 rows sorted by ``x``:
        ``y = sin(2 pi x) + eps``, ``eps ~ Normal(0, 0.1**2)``, ``x`` uniform on
        ``[-1, -0.3] ∪ [0.3, 1]``.
    """
    rng = np.random.default_rng(SEED_SINUSOID)
    side = rng.integers(0, 2, size=N_SINUSOID)
    lo = np.array([s[0] for s in SINUSOID_SUPPORT])[side]
    hi = np.array([s[1] for s in SINUSOID_SUPPORT])[side]
    x = lo + (hi - lo) * rng.random(N_SINUSOID)
    y = np.sin(2 * np.pi * x) + SINUSOID_NOISE * rng.standard_normal(N_SINUSOID)
    order = np.argsort(x, kind="stable")
    return pd.DataFrame({"x": x[order], "y": y[order]})


# ---------------------------------------------------------------------------------------------
# Tables with energies
# ---------------------------------------------------------------------------------------------


def energy_frame(params: np.ndarray, energies: np.ndarray | None = None) -> pd.DataFrame:
    """Build the standard table for a set of SrTiO3 cells.

    Args:
        params: Shape ``(n, 6)`` lattice parameters (Å, degrees).
        energies: Total energies in eV; computed with the CHGNet oracle when ``None``.

    Returns:
        Frame with the columns of :data:`COLUMNS`.
    """
    params = np.asarray(params, dtype=float)
    if energies is None:
        energies = srtio3_energies(params)
    volumes = np.array([srtio3_structure(p).lattice.volume for p in params])
    frame = pd.DataFrame(params, columns=COLUMNS[:6])
    frame["volume"] = volumes
    frame["energy_eV"] = energies
    frame["energy_per_atom_eV"] = energies / N_ATOMS
    frame["formula"] = FORMULA
    frame["n_atoms"] = N_ATOMS
    return frame[COLUMNS]


def to_csv_text(frame: pd.DataFrame) -> str:
    """Serialise a frame deterministically (shortest round-trip floats, ``\\n`` line endings).

    Args:
        frame: Any frame.

    Returns:
        CSV text with a header line.
    """
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


PARAMS: dict[str, Callable[[], np.ndarray]] = {
    "csv": main_params,
    "ood": ood_params,
    "cubic": cubic_params,
}


def build_frame(kind: str, n: int | None = None) -> pd.DataFrame:
    """Build the table of one product, or its first ``n`` rows.

    Args:
        kind: ``csv``, ``ood``, ``cubic`` or ``sinusoid``.
        n: Number of leading rows; all when ``None``.

    Returns:
        The table as it is (or would be) written.
    """
    if kind == "sinusoid":
        return sinusoid_frame().iloc[:n]
    return energy_frame(PARAMS[kind]()[:n])


def write_text(path: Path, text: str) -> None:
    """Write text as UTF-8 with ``\\n`` line endings, whatever the platform.

    Args:
        path: Destination.
        text: Content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def check(n: int, out_dir: Path = HERE, kinds: list[str] | None = None) -> list[str]:
    """Regenerate the first ``n`` rows of each CSV in memory and compare with the files.

    Args:
        n: Rows to regenerate per file.
        out_dir: Folder holding the committed files.
        kinds: Products to check; all CSVs when ``None``.

    Returns:
        A list of human-readable mismatches (empty when everything matches exactly).
    """
    problems: list[str] = []
    for kind in kinds or list(FILES):
        path = out_dir / FILES[kind]
        if not path.exists():
            problems.append(f"{path.name}: missing")
            continue
        expected = to_csv_text(build_frame(kind, n)).splitlines()
        actual = path.read_text(encoding="utf-8").splitlines()[: len(expected)]
        if b"\r" in path.read_bytes():
            problems.append(f"{path.name}: contains CR line endings")
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            if e != a:
                problems.append(f"{path.name} line {i + 1}: expected {e!r}, file has {a!r}")
                break
        if len(actual) < len(expected):
            problems.append(f"{path.name}: only {len(actual)} lines")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    Args:
        argv: Arguments (default ``sys.argv[1:]``).

    Returns:
        Process exit status: 0 on success, 1 when ``--check`` finds a mismatch.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=["csv", "ood", "cubic", "vasp", "sinusoid"], action="append"
    )
    parser.add_argument(
        "--check", type=int, metavar="N", help="compare the first N rows of each CSV"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="output folder (default: sample_data/)"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    kinds = args.only or ["csv", "ood", "cubic", "sinusoid", "vasp"]

    if args.check is not None:
        csv_kinds = [k for k in kinds if k in FILES]
        problems = check(args.check, args.out, csv_kinds)
        if "vasp" in kinds:
            from sample_data.vasp_writer import check_vasp

            problems += check_vasp(args.out, n_runs=1)
        for p in problems:
            print(f"MISMATCH {p}")
        print("check OK" if not problems else f"check FAILED ({len(problems)} problems)")
        return 1 if problems else 0

    for kind in kinds:
        t0 = time.perf_counter()
        if kind == "vasp":
            from sample_data.vasp_writer import write_vasp_tree

            n = write_vasp_tree(args.out)
            print(f"vasp_runs: {n} run folders in {time.perf_counter() - t0:.1f} s")
            continue
        frame = build_frame(kind)
        write_text(args.out / FILES[kind], to_csv_text(frame))
        print(f"{FILES[kind]}: {len(frame)} rows in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
