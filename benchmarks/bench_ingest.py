"""Benchmark ``dkluq ingest`` against pymatgen's BorgQueen + VaspToComputedEntryDrone.

Builds a tree of N run folders (default 1000) by replicating real-format run folders
(``sample_data/vasp_runs`` when present, else the small files of ``../shared/vasp``), then times

* dkluq: :func:`dkluq_cli.ingest.ingest` (every run becomes a row or a rejection with a reason);
* pymatgen: ``BorgQueen(VaspToComputedEntryDrone(), number_of_drones=W)`` over the same root
  (reads vasprun.xml only; OUTCAR-only or broken runs give ``None`` or are skipped).

Both use the same number of worker processes. Results (runs/s, ratio, runs accounted for) are
written by this script to ``benchmarks/results/ingest.json`` and ``ingest.md``.

Usage::

    python benchmarks/bench_ingest.py            # 1000 runs
    python benchmarks/bench_ingest.py --quick --out /tmp/bench   # tiny tree, used by the tests
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARED = REPO.parent / "shared" / "vasp"
SHARED_RUNS = {
    "si static": "pymatgen-core/test-files/io/vasp/fixtures/static_silicon",
    "si relax": "custodian/tests/files/io",
    "bto": "pymatgen-core/test-files/io/vasp/fixtures/BTO_221_99_polarization/polar_polarization",
    "knbo3": "atomate2/tests/test_data/vasp/KNbO3_ferroelectric/polarization_polar/outputs",
    "nonconv": "custodian/tests/files/nonconv",
}


def template_runs() -> list[Path]:
    """Run folders to replicate: every folder with VASP files in sample_data/vasp_runs."""
    from dkluq_cli.vasp.walk import discover

    sample = REPO / "sample_data" / "vasp_runs"
    if sample.is_dir():
        return [Path(r.directory) for r in discover([sample]).runs]
    if SHARED.is_dir():
        return [SHARED / p for p in SHARED_RUNS.values()]
    raise SystemExit("no template runs: need sample_data/vasp_runs or ../shared/vasp")


def build_tree(root: Path, n: int) -> None:
    """Make ``n`` run folders under ``root`` (hard links to the template files, else copies)."""
    from dkluq_cli.vasp.files import classify

    templates = template_runs()
    for i in range(n):
        src = templates[i % len(templates)]
        dest = root / f"batch_{i // 100:02d}" / f"run_{i:04d}"
        dest.mkdir(parents=True)
        for f in sorted(src.iterdir()):
            if f.is_file() and classify(f.name):
                try:
                    os.link(f.resolve(), dest / f.name)
                except OSError:
                    shutil.copyfile(f, dest / f.name)


def bench_dkluq(root: Path, workers: int) -> dict:
    from dkluq_cli.ingest import ingest

    t0 = time.perf_counter()
    res = ingest([root], workers=workers)
    wall = time.perf_counter() - t0
    return {
        "seconds": wall,
        "rows": len(res.rows),
        "rejected": len(res.rejected),
        "accounted": len(res.rows) + len(res.rejected),
    }


from pymatgen.apps.borg.hive import VaspToComputedEntryDrone  # noqa: E402


class SafeDrone(VaspToComputedEntryDrone):
    """The stock drone, returning None instead of raising: unwrapped, one broken run ends the
    whole BorgQueen walk (e.g. ``ValueError: max() arg is an empty sequence``)."""

    def assimilate(self, path):
        try:
            return super().assimilate(path)
        except Exception:  # noqa: BLE001 - counted as an unaccounted run
            return None


def _safe_drone():
    return SafeDrone()


def bench_borg(root: Path, workers: int) -> dict:
    from pymatgen.apps.borg.queen import BorgQueen

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        queen = BorgQueen(_safe_drone(), number_of_drones=workers)
        queen.parallel_assimilate(str(root))
    wall = time.perf_counter() - t0
    data = queen.get_data()
    entries = [d for d in data if d is not None]
    return {
        "seconds": wall,
        "entries": len(entries),
        "none": len(data) - len(entries),
        "accounted": len(entries),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="run folders in the tree")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--quick", action="store_true", help="tiny tree (12 runs), for the tests")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args(argv)
    n = 12 if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="dkluq-bench-") as tmp:
        root = Path(tmp) / "tree"
        build_tree(root, n)
        dk = bench_dkluq(root, args.workers)
        borg = bench_borg(root, args.workers)
    result = {
        "benchmark": "ingest",
        "quick": args.quick,
        "runs_in_tree": n,
        "workers": args.workers,
        "templates": [*[str(p.relative_to(p.anchor)) for p in template_runs()][:3], "..."],
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "dkluq": {**dk, "runs_per_s": n / dk["seconds"]},
        "borgqueen": {**borg, "runs_per_s": n / borg["seconds"]},
    }
    result["speed_ratio_dkluq_over_borgqueen"] = (
        result["dkluq"]["runs_per_s"] / result["borgqueen"]["runs_per_s"]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ingest.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    d, b = result["dkluq"], result["borgqueen"]
    md = (
        f"# ingest benchmark ({'quick' if args.quick else 'full'})\n\n"
        f"Tree: {n} run folders replicated from real-format runs; {args.workers} worker processes;"
        f" Python {platform.python_version()}, {os.cpu_count()} CPUs.\n\n"
        "| reader | seconds | runs/s | runs accounted for |\n|---|---|---|---|\n"
        f"| dkluq ingest | {d['seconds']:.2f} | {d['runs_per_s']:.2f} |"
        f" {d['accounted']} ({d['rows']} rows + {d['rejected']} rejections with a reason) |\n"
        f"| pymatgen BorgQueen + VaspToComputedEntryDrone | {b['seconds']:.2f} |"
        f" {b['runs_per_s']:.2f} | {b['accounted']} entries ({b['none']} None; other runs skipped"
        " silently) |\n\n"
        "BorgQueen's drone is wrapped to return None when it raises: unwrapped, one broken run"
        " (e.g. a truncated vasprun.xml) ends its whole walk with an exception.\n\n"
        f"Speed ratio dkluq / BorgQueen: **{result['speed_ratio_dkluq_over_borgqueen']:.2f}**"
        " (dkluq also cross-checks every file with ASE and checks convergence).\n"
    )
    (args.out / "ingest.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
