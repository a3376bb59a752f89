"""Benchmark ``dkluq ingest`` at campaign scale, against pymatgen's BorgQueen.

For each tree size (default 1000 and 10 000 run folders, made by hard-linking the run folders of
``sample_data/vasp_runs`` in turn, so the trees hold the sample's mix of good, unconverged,
killed, OUTCAR-only and empty runs; else the small files of ``../shared/vasp``), every
measurement runs in a fresh interpreter with the same number of workers:

* dkluq: :func:`dkluq_cli.ingest.pipeline.ingest` with the process pool (every run becomes a row or a
  rejection with a reason), then the outputs written; peak memory of the parent and the workers;
* pymatgen: ``BorgQueen(VaspToComputedEntryDrone(), number_of_drones=W)`` over the same root
  (reads vasprun.xml only; OUTCAR-only or broken runs give ``None`` or are skipped);
* dkluq on a local Dask cluster (``scheduler="dask"``, cluster start included);
* the CLI as a user runs it: a plain ``dkluq ingest TREE -o t.csv`` (which also writes the
  ``--update`` sidecar), then ``--update`` on the unchanged tree; the outputs must be
  byte-identical.

Imports are done before the clock starts for the library calls (both libraries' workers are
forked with them loaded); the CLI timings are wall times of the whole command. Results go to
``benchmarks/results/ingest.json`` and ``ingest.md``, written by this script.

Usage::

    python benchmarks/bench_ingest.py                    # 1000 and 10 000 runs, 2 workers
    python benchmarks/bench_ingest.py --quick --out /tmp/bench   # 12 runs, for the tests
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
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
TARGETS = {"vs_borgqueen": 1.0, "update_speedup": 5.0, "dask_over_pool": 1.5}
"""Issue 24: at least as fast as BorgQueen; issue 27: the first ``--update`` after a plain ingest
several times faster than the plain ingest; the Dask cluster not much slower than the pool."""


def template_runs() -> list[Path]:
    """Run folders to replicate: every folder with VASP files in sample_data/vasp_runs."""
    from dkluq_cli.ingest.walk import discover

    sample = REPO / "sample_data" / "vasp_runs"
    if sample.is_dir():
        return [Path(item[0].directory) for item in discover([sample]) if isinstance(item, tuple)]
    if SHARED.is_dir():
        return [SHARED / p for p in SHARED_RUNS.values()]
    raise SystemExit("no template runs: need sample_data/vasp_runs or ../shared/vasp")


def complete_vasprun_runs() -> list[Path]:
    """The template runs both readers read: those with a complete vasprun.xml."""
    from dkluq_cli.ingest.vasp.xmlcut import xml_end

    out = []
    for run in template_runs():
        xml = [p for p in run.iterdir() if p.name.startswith("vasprun.xml")]
        if xml and xml_end(xml[0]).complete:
            out.append(run)
    return out


def build_tree(root: Path, n: int, templates: list[Path] | None = None) -> None:
    """Make ``n`` run folders under ``root`` (hard links to the template files, else copies)."""
    from dkluq_cli.ingest.vasp.files import classify

    templates = templates or template_runs()
    for i in range(n):
        src = templates[i % len(templates)]
        dest = root / f"batch_{i // 100:03d}" / f"run_{i:05d}"
        dest.mkdir(parents=True)
        for f in sorted(src.iterdir()):
            if f.is_file() and classify(f.name):
                try:
                    os.link(f.resolve(), dest / f.name)
                except OSError:
                    shutil.copyfile(f, dest / f.name)


def _peak_mb() -> dict:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(me, 1), "peak_worker_rss_mb": round(kids, 1)}


def _cpu() -> float:
    """CPU seconds of this process and of every child it has waited for (workers, managers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def child_dkluq(root: str, workers: int, scheduler: str, out: str, cross: bool = False) -> dict:
    """One dkluq ingest in this (fresh) interpreter: read, then write the outputs."""
    from dkluq_cli.ingest.executors import warm_imports
    from dkluq_cli.ingest.pipeline import ingest, output_paths, write_outputs

    warm_imports()  # before the clock, as BorgQueen's imports are

    c0, t0 = _cpu(), time.perf_counter()
    res = ingest([root], workers=workers, scheduler=scheduler, cross_check=cross)
    t1, c1 = time.perf_counter(), _cpu()
    write_outputs(res, output_paths(Path(out) / "t.csv"))
    t2 = time.perf_counter()
    n_rows, n_rej = res.n_rows, res.n_rejected
    res.close()
    return {
        "seconds": t1 - t0,
        "cpu_seconds": c1 - c0,
        "write_seconds": t2 - t1,
        "rows": n_rows,
        "rejected": n_rej,
        "accounted": n_rows + n_rej,
        **_peak_mb(),
    }


def child_borg(root: str, workers: int) -> dict:
    """One BorgQueen walk in this (fresh) interpreter."""
    from pymatgen.apps.borg.queen import BorgQueen

    c0, t0 = _cpu(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        queen = BorgQueen(SafeDrone(), number_of_drones=workers)
        if workers > 1:
            queen.parallel_assimilate(root)
        else:
            queen.serial_assimilate(root)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    data = queen.get_data()
    entries = [d for d in data if d is not None]
    return {
        "seconds": wall,
        "cpu_seconds": cpu,
        "entries": len(entries),
        "none": len(data) - len(entries),
        "accounted": len(entries),
        **_peak_mb(),
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


def _child(kind: str, **kw) -> dict:
    """Run one measurement in a fresh interpreter; returns its JSON result."""
    cmd = [sys.executable, __file__, "--child", json.dumps({"kind": kind, **kw})]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cli(root: Path, out: Path, workers: int, *extra: str) -> float:
    """Wall time (s) of ``dkluq ingest`` as a user runs it."""
    cmd = [sys.executable, "-m", "dkluq_cli", "-q", "ingest", str(root), "-o", str(out)]
    cmd += ["-j", str(workers), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"dkluq ingest failed:\n{proc.stderr[-3000:]}")
    return wall


def _best(kind: str, repeats: int, n: int, **args) -> dict:
    """The fastest of ``repeats`` runs of one measurement (every time kept)."""
    runs = []
    for i in range(repeats):
        if "out" in args:
            dest = Path(args["out"]) / f"rep{i}"
            dest.mkdir(parents=True)
            runs.append(_child(kind, **{**args, "out": str(dest)}))
        else:
            runs.append(_child(kind, **args))
    return _summary(runs, n)


def _summary(runs: list[dict], n: int) -> dict:
    """The fastest of several runs of one measurement, with every wall and CPU time kept; CPU
    time (all processes) is the least disturbed by other jobs on a shared machine."""
    best = min(runs, key=lambda r: r["seconds"])
    cpu = min(r["cpu_seconds"] for r in runs)
    return {
        **best,
        "runs_per_s": n / best["seconds"],
        "all_seconds": [r["seconds"] for r in runs],
        "min_cpu_seconds": cpu,
        "runs_per_cpu_s": n / cpu,
        "all_cpu_seconds": [r["cpu_seconds"] for r in runs],
    }


def measure(n: int, workers: int, tmp: Path, *, dask: bool, extra: bool, repeats: int) -> dict:
    """Every measurement on one tree of ``n`` run folders."""
    root = tmp / f"tree_{n}"
    t0 = time.perf_counter()
    build_tree(root, n)
    out: dict = {"runs_in_tree": n, "build_seconds": time.perf_counter() - t0}
    base = {"root": str(root), "workers": workers}
    for name in ("dkluq", "borgqueen"):  # interleaved: the machine's load changes
        out[name] = []
    for _ in range(repeats):
        dest = tmp / f"out_{n}_{len(out['dkluq'])}"
        dest.mkdir()
        out["dkluq"].append(_child("dkluq", **base, out=str(dest), scheduler="processes"))
        out["borgqueen"].append(_child("borg", **base))
    for name in ("dkluq", "borgqueen"):
        out[name] = _summary(out[name], n)
    if dask:
        out["dkluq_dask"] = _best(
            "dkluq", 1, n, **base, out=str(tmp / f"dask_{n}"), scheduler="dask"
        )
    if extra:
        out["dkluq_cross_check"] = _best(
            "dkluq", 1, n, **base, out=str(tmp / f"cc_{n}"), scheduler="processes", cross=True
        )
        like = tmp / f"like_{n}"
        build_tree(like, n, complete_vasprun_runs())
        lk = {"root": str(like), "workers": workers}
        out["like_for_like"] = {
            "dkluq": _best(
                "dkluq", repeats, n, **lk, out=str(tmp / f"likeout_{n}"), scheduler="processes"
            ),
            "borgqueen": _best("borg", repeats, n, **lk),
        }
        shutil.rmtree(like)
    cli = tmp / f"cli_{n}"
    cli.mkdir()
    fresh = _cli(root, cli / "t.csv", workers)
    first = {p.name: p.read_bytes() for p in cli.glob("t.*") if "ingest" not in p.name}
    update = min(_cli(root, cli / "t.csv", workers, "--update") for _ in range(repeats))
    same = first == {p.name: p.read_bytes() for p in cli.glob("t.*") if "ingest" not in p.name}
    out["cli"] = {
        "fresh_seconds": fresh,
        "update_after_fresh_seconds": update,
        "update_speedup": fresh / update,
        "update_equals_fresh_bytes": same,
    }
    out["speed_ratio_dkluq_over_borgqueen"] = (
        out["dkluq"]["runs_per_s"] / out["borgqueen"]["runs_per_s"]
    )
    out["cpu_ratio_dkluq_over_borgqueen"] = (
        out["dkluq"]["runs_per_cpu_s"] / out["borgqueen"]["runs_per_cpu_s"]
    )
    if dask:
        out["dask_over_pool"] = out["dkluq_dask"]["seconds"] / out["dkluq"]["seconds"]
    shutil.rmtree(root)
    return out


def _verdict(value: float, target: float, higher: bool) -> str:
    ok = value >= target if higher else value <= target
    return "met" if ok else "MISSED"


def _reader_rows(n: int, m: dict, label_suffix: str = "") -> list[str]:
    rows = []
    for key, label in [
        ("dkluq", "dkluq (process pool)"),
        ("dkluq_dask", "dkluq (local Dask cluster, start included)"),
        ("dkluq_cross_check", "dkluq --cross-check (pymatgen and ASE on every file)"),
        ("borgqueen", "pymatgen BorgQueen + VaspToComputedEntryDrone"),
    ]:
        if key not in m:
            continue
        r = m[key]
        acc = (
            f"{r['accounted']} ({r['rows']} rows + {r['rejected']} rejections with a reason)"
            if "rows" in r
            else f"{r['accounted']} entries ({r['none']} None; other runs skipped silently)"
        )
        times = ", ".join(f"{t:.2f}" for t in r["all_seconds"])
        cpu = ", ".join(f"{t:.2f}" for t in r["all_cpu_seconds"])
        mem = f"{r['peak_rss_mb']:.0f} / {r['peak_worker_rss_mb']:.0f}"
        rows.append(
            f"| {n}{label_suffix} | {label} | {times} | {r['runs_per_s']:.0f} | {cpu}"
            f" | {r['runs_per_cpu_s']:.0f} | {acc} | {mem} |"
        )
    return rows


def render(result: dict) -> str:
    """The Markdown fragment of the results."""
    w, quick = result["workers"], result["quick"]
    lines = [
        f"## ingest at campaign scale ({'quick' if quick else 'full'})",
        "",
        f"Trees of run folders hard-linked from the {result['templates']} template runs of the"
        f" sample tree, in turn (its mix of good, unconverged, killed, OUTCAR-only and empty"
        f" runs); {w} workers for every reader; each timing in a fresh interpreter, the best of"
        f" the runs listed kept (runs/s from it), measured {result['date']} on"
        f" {result['machine']['cpus']} CPUs shared with other jobs (load average"
        f" {result['machine'].get('load_average', '?')} at the start): wall times are noisy; the"
        " CPU seconds of every process of a reader (parent, workers, managers) much less so.",
        "",
        "| runs | reader | wall s (each run) | runs/s | CPU s (each run) | runs per CPU s"
        " | accounted for | peak RSS parent / worker (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in result["sizes"]:
        lines += _reader_rows(m["runs_in_tree"], m)
        if "like_for_like" in m:
            lines += _reader_rows(
                m["runs_in_tree"], m["like_for_like"], " (complete vasprun.xml only)"
            )
    lines += ["", "| runs | check | value | target | |", "|---|---|---|---|---|"]
    for m in result["sizes"]:
        n = m["runs_in_tree"]
        ratio = m["speed_ratio_dkluq_over_borgqueen"]
        t = TARGETS["vs_borgqueen"]
        lines.append(
            f"| {n} | Speed ratio dkluq / BorgQueen (runs/s) | {ratio:.2f}× | ≥ {t:g}×"
            f" | {_verdict(ratio, t, True)} |"
        )
        cpu = m["dkluq"]["runs_per_cpu_s"] / m["borgqueen"]["runs_per_cpu_s"]
        lines.append(
            f"| {n} | same, by CPU time (runs per CPU s) | {cpu:.2f}× | ≥ {t:g}×"
            f" | {_verdict(cpu, t, True)} |"
        )
        if "like_for_like" in m:
            lk = m["like_for_like"]
            r = lk["dkluq"]["runs_per_s"] / lk["borgqueen"]["runs_per_s"]
            c = lk["dkluq"]["runs_per_cpu_s"] / lk["borgqueen"]["runs_per_cpu_s"]
            lines.append(
                f"| {n} | same, on folders both read (complete vasprun.xml): wall / CPU"
                f" | {r:.2f}× / {c:.2f}× | ≥ {t:g}× | {_verdict(r, t, True)} / {_verdict(c, t, True)} |"
            )
        cli = m["cli"]
        u = TARGETS["update_speedup"]
        lines.append(
            f"| {n} | first `--update` after a plain ingest vs the plain ingest (CLI wall"
            f" {cli['fresh_seconds']:.2f} s → {cli['update_after_fresh_seconds']:.2f} s)"
            f" | {cli['update_speedup']:.1f}× | ≥ {u:g}× | {_verdict(cli['update_speedup'], u, True)} |"
        )
        ok = cli["update_equals_fresh_bytes"]
        lines.append(
            f"| {n} | `--update` table, extxyz and rejections = plain ingest, byte for byte"
            f" | {ok} | True | {'met' if ok else 'MISSED'} |"
        )
        if "dask_over_pool" in m:
            d, t = m["dask_over_pool"], TARGETS["dask_over_pool"]
            lines.append(
                f"| {n} | Dask local cluster time / process pool time | {d:.2f}× |"
                f" ≤ {t:g}× | {_verdict(d, t, False)} |"
            )
    if len(result["sizes"]) > 1:
        a, b = result["sizes"][0], result["sizes"][-1]
        lines.append(
            f"| {a['runs_in_tree']} → {b['runs_in_tree']} | peak RSS of the dkluq parent (walk,"
            f" store, outputs) / of a worker | {a['dkluq']['peak_rss_mb']:.0f} →"
            f" {b['dkluq']['peak_rss_mb']:.0f} MB / {a['dkluq']['peak_worker_rss_mb']:.0f} →"
            f" {b['dkluq']['peak_worker_rss_mb']:.0f} MB | flat | |"
        )
    lines += [
        "",
        "BorgQueen reads only folders with a vasprun.xml and its drone is wrapped to return None"
        " when it raises (unwrapped, one truncated vasprun.xml ends its whole walk); dkluq reads"
        " every folder (OUTCAR-only runs too, with ASE for their structure), checks convergence,"
        " and reads killed and damaged runs up to their last complete step. Both parse"
        " vasprun.xml with pymatgen's Vasprun (dkluq without DOS, eigenvalues and POTCAR).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, nargs="+", default=[1000, 10_000], help="tree sizes")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="one tiny tree (12 runs), for the tests")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask measurement")
    ap.add_argument("--repeats", type=int, default=2, help="runs of the main timings (best kept)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        kind = spec.pop("kind")
        res = child_borg(spec["root"], spec["workers"]) if kind == "borg" else child_dkluq(**spec)
        print(json.dumps(res))
        return 0
    sizes = [12] if args.quick else args.runs
    dask = not args.no_dask and not args.quick
    with tempfile.TemporaryDirectory(prefix="dkluq-bench-") as tmp:
        measured = [
            measure(
                n,
                args.workers,
                Path(tmp),
                dask=dask,
                extra=i == 0 and not args.quick,
                repeats=1 if args.quick else args.repeats,
            )
            for i, n in enumerate(sizes)
        ]
    result = {
        "benchmark": "ingest",
        "quick": args.quick,
        "workers": args.workers,
        "templates": len(template_runs()),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": round(os.getloadavg()[0], 1),
            "platform": platform.platform(),
        },
        "targets": TARGETS,
        # the first tree's numbers at the top level too (the layout of earlier results)
        **{k: measured[0][k] for k in ("runs_in_tree", "dkluq", "borgqueen")},
        "speed_ratio_dkluq_over_borgqueen": measured[0]["speed_ratio_dkluq_over_borgqueen"],
        "cpu_ratio_dkluq_over_borgqueen": measured[0]["cpu_ratio_dkluq_over_borgqueen"],
        "sizes": measured,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ingest.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    md = render(result)
    (args.out / "ingest.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
