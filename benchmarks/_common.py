"""Helpers shared by the benchmark scripts: machine record, data, scoring, result files.

Every script writes ``<name>.json`` (all numbers, the machine, the settings) and ``<name>.md``
(the tables) into its ``--out`` folder; :mod:`run_all` assembles ``README.md`` from them.
Nothing in a results folder is typed by hand.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: The shared data folder (``../shared`` beside the checkout; ``DKLUQ_SHARED`` overrides it).
SHARED = Path(os.environ.get("DKLUQ_SHARED", REPO.parent / "shared"))
SAMPLE = REPO / "sample_data"
SRTIO3_CSV = SAMPLE / "srtio3_lattice_energy.csv"
OOD_CSV = SAMPLE / "srtio3_ood.csv"
SINUSOID_CSV = SAMPLE / "sinusoid.csv"
RESULTS = REPO / "benchmarks" / "results"
WORK = REPO / "benchmarks" / "_work"
LATTICE = ["a", "b", "c", "alpha", "beta", "gamma"]
#: Reference parameters of the sample box (Å, degrees); the box is ±10 % around them.
P0 = np.array([3.914, 3.914, 3.914, 90.0, 90.0, 90.0])
N_ATOMS = 5
#: Seed of the independent oracle draw (the sample files used seeds 0, 1 and 2).
DRAW_SEED = 12345


def single_thread() -> int:
    """Pin torch (and BLAS via OMP_NUM_THREADS for child processes) to one thread."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    return torch.get_num_threads()


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """The machine a result was measured on."""
    import gpytorch
    import torch

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "torch": torch.__version__,
        "gpytorch": gpytorch.__version__,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def read_lattice_csv(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x (n×6), energy_eV (n,), n_atoms (n,))`` of a sample-format table."""
    import pandas as pd

    df = pd.read_csv(path)
    n_atoms = df["n_atoms"].to_numpy(float) if "n_atoms" in df else np.full(len(df), N_ATOMS)
    return df[LATTICE].to_numpy(float), df["energy_eV"].to_numpy(float), n_atoms


def quick_subset(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Sorted seeded subset of ``range(n)`` used by ``--quick`` runs."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(n)[: min(size, n)])


def chgnet_available() -> bool:
    """Whether the CHGNet oracle of sample_data/oracle.py can be imported."""
    try:
        import chgnet  # noqa: F401
        import pymatgen  # noqa: F401
    except ImportError:
        return False
    return True


def independent_draw(
    n: int, seed: int = DRAW_SEED, work: Path = WORK
) -> tuple[np.ndarray, np.ndarray, Path] | None:
    """``n`` new uniform ±10 % SrTiO3 structures scored by the CHGNet oracle (cached).

    Drawn like ``srtio3_lattice_energy.csv`` (each parameter uniform in P0 × [0.9, 1.1], rounded
    to 1e-6 before the oracle is called) but with another seed. Cached as CSV in ``work``.

    Returns:
        ``(x, energy_eV, cache_path)``, or None when chgnet is not importable.
    """
    import pandas as pd

    path = work / f"independent_draw_seed{seed}_n{n}.csv"
    if path.is_file():
        df = pd.read_csv(path)
        return df[LATTICE].to_numpy(float), df["energy_eV"].to_numpy(float), path
    if not chgnet_available():
        return None
    from sample_data.oracle import srtio3_energies

    rng = np.random.default_rng(seed)
    x = np.round(P0 * rng.uniform(0.9, 1.1, size=(n, 6)), 6)
    t0 = time.perf_counter()
    e = srtio3_energies(x)
    secs = time.perf_counter() - t0
    work.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(x, columns=LATTICE)
    df["energy_eV"] = e
    df["n_atoms"] = N_ATOMS
    tmp = path.with_suffix(".tmp")
    df.to_csv(tmp, index=False, float_format="%.17g")
    tmp.replace(path)
    print(f"oracle: {n} structures in {secs:.1f} s -> {path}", flush=True)
    return x, e, path


def score(
    y: np.ndarray, mean: np.ndarray, std: np.ndarray, n_atoms: np.ndarray | float = N_ATOMS
) -> dict[str, float]:
    """dkluq's :func:`regression_metrics` plus RMSE/MAE in meV/atom."""
    from dkluq_cli.uq.metrics import regression_metrics

    out = {k: float(v) for k, v in regression_metrics(y, mean, std).items()}
    err = (np.asarray(mean) - np.asarray(y)) / n_atoms * 1000.0
    out["rmse_meV_atom"] = float(np.sqrt(np.mean(err**2)))
    out["mae_meV_atom"] = float(np.mean(np.abs(err)))
    return out


def fmt(v: Any, digits: int = 3) -> str:
    """Format a table cell (None → '–')."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return str(v)
        a = abs(float(v))
        if a != 0 and (a < 10 ** -(digits - 1) or a >= 1e5):
            return f"{float(v):.{digits - 1}e}"
        return f"{float(v):.{digits}g}" if a >= 1000 else f"{float(v):.{digits}f}"
    return str(v)


def md_table(rows: Sequence[dict[str, Any]], cols: Sequence[tuple[str, str]]) -> str:
    """Markdown table of ``rows`` with ``cols`` = [(key, header), ...]."""
    head = "| " + " | ".join(h for _, h in cols) + " |"
    sep = "|" + "|".join("---" for _ in cols) + "|"
    body = ["| " + " | ".join(fmt(r.get(k)) for k, _ in cols) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def machine_line(m: dict[str, Any]) -> str:
    """One-line machine description for a results fragment."""
    return (
        f"Machine: {m['cpu_model']}, {m['cpu_count']} CPUs ({m['cpus_usable']} usable), "
        f"torch {m['torch']}, gpytorch {m['gpytorch']}, {m['torch_threads']} torch thread(s)."
    )


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_results(out: Path, name: str, data: dict[str, Any], md: str) -> tuple[Path, Path]:
    """Write ``out/name.json`` and ``out/name.md``; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    jp, mp = out / f"{name}.json", out / f"{name}.md"
    jp.write_text(json.dumps(_plain(data), indent=2) + "\n", encoding="utf-8")
    mp.write_text(md.rstrip() + "\n", encoding="utf-8")
    return jp, mp


def add_common_args(ap: Any) -> None:
    """``--quick`` and ``--out``, shared by every script."""
    ap.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for the tests")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results folder")


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
