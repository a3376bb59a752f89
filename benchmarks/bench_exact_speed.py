"""Speed of the exact head (issue 28): predict throughput and memory, a scan map, suggest, draws.

Models (trained here with ``TrainConfig`` defaults, one torch thread, target in eV):

* ``N=95 symmetric``: the 95 ``in`` rows of ``../shared/dft/srtio3_gpaw_pbe.csv`` (GPAW PBE) with
  the cubic perovskite reference crystal (m-3m: 24 strain images); without the shared folder, the
  first 95 rows of the sample table with the same reference (said so in the results);
* ``N=500`` and ``N=2000``: the first rows of ``sample_data/srtio3_lattice_energy.csv``, no
  reference (no symmetry).

Each model is timed in fresh processes (one torch thread, ``OMP_NUM_THREADS=1``), once with the
code of this tree and once with the code of a baseline revision (``--baseline-rev``, default the
last commit before issue 28; exported with ``git archive``), in the same run:

* ``predict``: :meth:`Surrogate.predict` (mean and calibrated σ) of 10^5 random lattices
  (each parameter uniform in ±10 % of the cubic cell), wall and CPU time, peak resident memory of
  the process and its increase during the call;
* ``scan``: a 401 × 401 (a, α) map ×0.8–1.2 through ``analysis.scan.predict_params``;
* ``suggest``: ``analysis.suggest.suggest`` with ``n = 10`` (pool 4096, batch strategy);
* ``draws``: ``Surrogate.sample_posterior`` on the isotropic EOS line (41 points × 400 draws,
  ``dkluq eos``'s defaults; and 1001 × 4000 as in ``bench_real_dft``).

For this tree also: the head alone on standardised coordinates, and where its time goes per row
(basis, Matérn images, polynomial product, triangular solve, the rest) with the rates the
BLAS steps reach, beside a large DGEMM's rate: what bounds a missed target.

The machine is shared, so every timing is repeated (``--repeat``, ``--baseline-repeat``) and the
median is reported with the min–max; CPU seconds (``time.process_time``) are given beside wall
seconds, since they do not count the time other work holds the cores.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_exact_speed.py           # full (~15-25 min)
    python benchmarks/bench_exact_speed.py --quick --out /tmp/bench     # tiny, for the tests
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    LATTICE,
    P0,
    REPO,
    SRTIO3_CSV,
    add_common_args,
    fmt,
    machine_info,
    machine_line,
    md_table,
    write_results,
)

#: The last commit before issue 28's changes: the code the speed-ups are measured against.
BASELINE_REV = "9c61290"
DFT_CSV = REPO.parent / "shared" / "dft" / "srtio3_gpaw_pbe.csv"
#: Issue 28's targets (one thread): rows/s at N ≤ 500 and at N = 2000, MB, seconds.
TARGET_SMALL, TARGET_LARGE, TARGET_MB, TARGET_SUGGEST_S = 200_000, 20_000, 500, 10.0


# -- models -------------------------------------------------------------------------------------
def _cubic_crystal() -> Any:
    from dkluq_cli.crystal.crystal import Crystal
    from dkluq_cli.crystal.point_group import cubic_perovskite

    return Crystal.from_structure(cubic_perovskite(3.914), "cubic perovskite, a = 3.914 Å")


def train_models(work: Path, quick: bool, dft: Path) -> list[dict[str, Any]]:
    """Train the timed models; returns one record per model (name, rows, file, what it chose)."""
    import pandas as pd
    import torch

    from dkluq_cli.data.table import TableUnits
    from dkluq_cli.model.io import save_model
    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.train import train

    torch.set_num_threads(1)
    sample = pd.read_csv(SRTIO3_CSV)
    if dft.is_file() and not quick:
        df = pd.read_csv(dft)
        sym_rows, sym_source = df[df["set"] == "in"], f"{dft.name}, set == in"
    else:
        sym_rows = sample.iloc[: 30 if quick else 95]
        sym_source = f"{SRTIO3_CSV.name} (no {dft.name} here)"
    specs = [(f"N={len(sym_rows)} symmetric", sym_rows, True, sym_source)]
    for n in (40,) if quick else (500, 2000):
        specs.append((f"N={n}", sample.iloc[:n], False, SRTIO3_CSV.name))
    units = TableUnits.of(LATTICE, "energy_eV")
    models = []
    for name, rows, symmetric, source in specs:
        extra = {"restarts": 0, "trend": 4 if symmetric else 2} if quick else {}
        cfg = TrainConfig(seed=0, test_fraction=0.0, device="cpu", threads=1, **extra)
        t0 = time.perf_counter()
        res = train(
            rows[LATTICE].to_numpy(float),
            rows["energy_eV"].to_numpy(float),
            cfg,
            units=units,
            crystal=_cubic_crystal() if symmetric else None,
        )
        path = work / f"model_{len(models)}.pt"
        save_model(res.surrogate, path, force=True)
        head = res.surrogate.head
        models.append(
            {
                "name": name,
                "rows": len(rows),
                "source": source,
                "head": head.kind,
                "images": len(head.basis.actions),
                "degree": int(head.basis.degree),
                "n_basis": len(head.basis.exponents),
                "train_seconds": time.perf_counter() - t0,
                "file": str(path),
                "reference": symmetric,
            }
        )
        print(f"trained {name}: degree {head.basis.degree}", flush=True)
    return models


def baseline_tree(rev: str, work: Path) -> Path | None:
    """The package of revision ``rev`` exported under ``work`` (None: git or the rev missing)."""
    root = work / f"baseline_{rev}"
    root.mkdir(parents=True, exist_ok=True)
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, "dkluq_cli"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"baseline {rev} not measured: {exc}", file=sys.stderr)
        return None
    return root


# -- one process's measurements -----------------------------------------------------------------
def run_child(code: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter importing ``dkluq_cli`` from ``code``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(code)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _memory_mb() -> tuple[float, float]:
    """``(resident now, peak resident since the last reset)`` of this process (MB).

    Linux keeps ``ru_maxrss`` across ``exec``, so a child started by a large parent reports the
    parent's peak; the kernel's own high-water mark (``VmHWM``, reset by :func:`_reset_peak`)
    does not. Elsewhere: ``ru_maxrss`` for both.
    """
    try:
        fields = dict(
            line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
        )
        return float(fields["VmRSS"].split()[0]) / 1024, float(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        return peak, peak


def _reset_peak() -> bool:
    """Reset the high-water mark to the resident size now (Linux ``clear_refs``); False where
    there is none to reset (the peak is then the process's whole-life peak)."""
    path = Path("/proc/self/clear_refs")
    if not path.exists():
        return False
    path.write_text("5")
    return True


def _timed(fn: Any, repeat: int) -> tuple[dict[str, Any], Any]:
    wall, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"wall": wall, "cpu": cpu}, out


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Measurements in this process (``dkluq_cli`` imported from ``spec['code']``)."""
    sys.path.insert(0, spec["code"])
    import torch

    import dkluq_cli
    from dkluq_cli.analysis.centre import choose_centre
    from dkluq_cli.analysis.eos import isotropic_line
    from dkluq_cli.analysis.grids import grid_2d, scale_grid
    from dkluq_cli.analysis.scan import predict_params
    from dkluq_cli.analysis.suggest import suggest
    from dkluq_cli.model.io import load_model

    torch.set_num_threads(1)
    out: dict[str, Any] = {"package": str(Path(dkluq_cli.__file__).parent)}
    sur = load_model(spec["model"])
    rng = np.random.default_rng(spec["seed"])
    x = P0 * rng.uniform(0.9, 1.1, size=(spec["n_predict"], 6))
    sur.predict(x[:200])
    reset = _reset_peak()
    before = _memory_mb()[0]
    first, _ = _timed(lambda: sur.predict(x), 1)
    out["memory"] = {"before_mb": before, "peak_mb": _memory_mb()[1], "peak_reset": reset}
    more, _ = _timed(lambda: sur.predict(x), spec["repeat"] - 1)
    out["predict"] = {k: first[k] + more[k] for k in first}
    centre = choose_centre(sur).params
    grid = grid_2d(centre, ("a", "alpha"), scale_grid(0.8, 1.2, spec["scan"]))
    params = grid[LATTICE].to_numpy(float)
    predict_params(sur, params[:50])  # first-call imports out of the timings
    out["scan"], _ = _timed(lambda: predict_params(sur, params), spec["scan_repeat"])
    suggest(sur, centre, 1, pool_size=64)
    out["suggest"], sug = _timed(
        lambda: suggest(sur, centre, spec["suggest_n"], pool_size=spec["pool"]),
        spec["scan_repeat"],
    )
    out["suggest_first"] = sug.params[0].tolist()
    out["draws"] = {}
    for points, samples in spec["draws"]:
        line = isotropic_line(centre, (0.94, 1.06), points)[1]
        out["draws"][f"{points}x{samples}"], _ = _timed(
            lambda line=line, samples=samples: sur.sample_posterior(line, samples, seed=0),
            spec["scan_repeat"],
        )
    if spec["breakdown"]:
        out["breakdown"] = breakdown(sur, x[: spec["n_breakdown"]], spec["repeat"])
    return out


def breakdown(sur: Any, x: np.ndarray, repeat: int) -> dict[str, Any]:
    """Per-row CPU µs of each step of this tree's predict (best of ``repeat``), the BLAS steps'
    rates, and a large DGEMM's rate on this core."""
    import torch

    post = sur.head.posterior
    z = sur.standardise(x)
    n = len(x)
    steps = ("basis", "matern", "polynomial", "mean", "solve", "prior variance", "variance")
    best = dict.fromkeys(steps, np.inf)
    with torch.no_grad():
        for _ in range(repeat):
            acc = dict.fromkeys(steps, 0.0)
            for c in post.chunks(n):
                zc = z[c]
                t = time.process_time()
                phi = post.design(zc)
                acc["basis"] += time.process_time() - t
                t = time.process_time()
                ks = post.matern.block(post.train_images, zc)
                acc["matern"] += time.process_time() - t
                t = time.process_time()
                if phi.shape[1]:
                    ks.addmm_(post.phi_w, phi.T)
                acc["polynomial"] += time.process_time() - t
                t = time.process_time()
                ks.T @ post.alpha
                acc["mean"] += time.process_time() - t
                t = time.process_time()
                v = post.solve(ks)
                acc["solve"] += time.process_time() - t
                t = time.process_time()
                prior = post.prior_variance(zc, phi)
                acc["prior variance"] += time.process_time() - t
                t = time.process_time()
                (prior - (v * v).sum(0)).clamp_min_(0.0)
                acc["variance"] += time.process_time() - t
            best = {k: min(best[k], acc[k]) for k in steps}
        rest = {}
        coords, secs = None, np.inf
        for _ in range(repeat):
            t = time.process_time()
            coords = sur.coordinates(x)
            secs = min(secs, time.process_time() - t)
        rest["coordinates (per call)"] = secs
        if sur.beyond is not None:
            secs = np.inf
            for _ in range(repeat):
                t = time.process_time()
                sur.beyond.widen(coords, np.ones(n))
                secs = min(secs, time.process_time() - t)
            rest["σ beyond the box (widen)"] = secs
    m, p = post.n, int(post.phi_w.shape[1])
    rows = post.matern.order * m
    a = torch.randn(1500, 1500, dtype=torch.float64)
    gemm = np.inf
    for _ in range(3):
        t = time.process_time()
        a @ a
        gemm = min(gemm, time.process_time() - t)
    return {
        "rows": n,
        "chunk": len(range(*next(iter(post.chunks(n))).indices(n))),
        "us_per_row": {k: v / n * 1e6 for k, v in best.items()},
        "surrogate_us_per_row": {k: v / n * 1e6 for k, v in rest.items()},
        "matern_entries_per_row": rows,
        "matern_ns_per_entry": best["matern"] / (n * rows) * 1e9,
        "polynomial_gflops": 2 * m * p * n / best["polynomial"] / 1e9 if p else None,
        "solve_gflops": m * m * n / best["solve"] / 1e9,
        "dgemm_gflops": 2 * 1500**3 / gemm / 1e9,
    }


# -- the run ------------------------------------------------------------------------------------
def _stats(times: list[float], per: float | None = None) -> dict[str, float]:
    """Median and min–max of ``times`` (s), or of ``per / times`` (a rate) when ``per``."""
    vals = np.asarray(times, float) if per is None else per / np.asarray(times, float)
    return {"median": float(np.median(vals)), "min": float(vals.min()), "max": float(vals.max())}


def _cell(s: dict[str, float] | None, digits: int = 3) -> str:
    if s is None:
        return "–"
    return f"{fmt(s['median'], digits)} [{fmt(s['min'], digits)}–{fmt(s['max'], digits)}]"


def measure(models: list[dict[str, Any]], codes: dict[str, Path], args: Any) -> list[dict]:
    """One child per model and code, the baseline right after this tree's on the same model."""
    runs = []
    for model in models:
        for code, root in codes.items():
            repeat = args.repeat if code == "this tree" else args.baseline_repeat
            spec = {
                "code": str(root),
                "model": model["file"],
                "seed": 0,
                "n_predict": args.rows,
                "repeat": max(repeat, 1),
                "scan": args.scan,
                "scan_repeat": max(1, min(repeat, 3)),
                "suggest_n": args.suggest_n,
                "pool": args.pool,
                "draws": args.draws,
                "breakdown": code == "this tree",
                "n_breakdown": min(args.rows, 20_000),
            }
            print(f"{model['name']}: {code} ...", flush=True)
            res = run_child(root, spec)
            runs.append({"model": model["name"], "code": code, "raw": res, **_summary(res, args)})
    return runs


def _summary(res: dict[str, Any], args: Any) -> dict[str, Any]:
    pred = res["predict"]
    return {
        "rows_per_s_wall": _stats(pred["wall"], args.rows),
        "rows_per_s_cpu": _stats(pred["cpu"], args.rows),
        "peak_mb": res["memory"]["peak_mb"],
        "increase_mb": res["memory"]["peak_mb"] - res["memory"]["before_mb"],
        "scan_s": _stats(res["scan"]["wall"]),
        "scan_cpu_s": _stats(res["scan"]["cpu"]),
        "suggest_s": _stats(res["suggest"]["wall"]),
        "suggest_cpu_s": _stats(res["suggest"]["cpu"]),
        "draws_s": {k: _stats(v["wall"]) for k, v in res["draws"].items()},
    }


def targets(models: list[dict], runs: list[dict]) -> list[dict[str, Any]]:
    """The issue's targets, checked on this tree's medians (wall and CPU)."""
    out = []
    for model in models:
        run = next(r for r in runs if r["model"] == model["name"] and r["code"] == "this tree")
        goal = TARGET_SMALL if model["rows"] <= 500 else TARGET_LARGE
        for clock in ("wall", "cpu"):
            value = run[f"rows_per_s_{clock}"]["median"]
            out.append(
                {
                    "model": model["name"],
                    "target": f"predict ≥ {goal:,} rows/s ({clock})",
                    "value": value,
                    "met": "met" if value >= goal else "MISSED",
                }
            )
        out.append(
            {
                "model": model["name"],
                "target": f"memory of predict < {TARGET_MB} MB (peak RSS increase)",
                "value": run["increase_mb"],
                "met": "met" if run["increase_mb"] < TARGET_MB else "MISSED",
            }
        )
        out.append(
            {
                "model": model["name"],
                "target": f"suggest --n 10 ≤ {TARGET_SUGGEST_S:g} s",
                "value": run["suggest_s"]["median"],
                "met": "met" if run["suggest_s"]["median"] <= TARGET_SUGGEST_S else "MISSED",
            }
        )
    return out


def markdown(result: dict[str, Any]) -> str:
    """The results fragment."""
    models, runs = result["models"], result["runs"]
    base = {r["model"]: r for r in runs if r["code"] != "this tree"}
    lines = [
        f"## Exact head speed (issue 28){' — quick' if result['quick'] else ''}",
        "",
        f"{result['rows']:,} random lattices per predict; one torch thread; every timing the "
        f"median [min–max] of {result['repeat']} runs for this tree"
        + (
            f" and {result['baseline_repeat']} for the baseline (revision "
            f"{result['baseline_rev']}, the code before issue 28), each in its own process, in "
            "the same run"
            if result["baseline_rev"]
            else " (no baseline measured)"
        )
        + ". The machine is shared with other work (1-min load average "
        f"{result['load'][0]:.1f} at the start, {result['load'][1]:.1f} at the end): wall-clock "
        "rates vary with it, CPU-time rates much less.",
        "",
        md_table(
            models,
            [
                ("name", "model"),
                ("source", "rows from"),
                ("images", "group images"),
                ("degree", "degree"),
                ("n_basis", "basis functions"),
            ],
        ),
        "",
        "### Predict (Surrogate.predict: mean and calibrated σ)",
        "",
        "Peak RSS: the whole process (interpreter, torch, the model, the lattices) at its peak "
        "during the first predict call; increase: that peak over the resident size just before.",
        "",
    ]
    rows = []
    for r in runs:
        b = base.get(r["model"])
        speed = None
        if r["code"] == "this tree" and b:
            speed = r["rows_per_s_wall"]["median"] / b["rows_per_s_wall"]["median"]
        rows.append(
            {
                "model": r["model"],
                "code": r["code"],
                "wall": _cell(r["rows_per_s_wall"]),
                "cpu": _cell(r["rows_per_s_cpu"]),
                "peak": r["peak_mb"],
                "inc": r["increase_mb"],
                "x": speed,
            }
        )
    lines += [
        md_table(
            rows,
            [
                ("model", "model"),
                ("code", "code"),
                ("wall", "rows/s (wall)"),
                ("cpu", "rows/s (CPU)"),
                ("peak", "peak RSS MB"),
                ("inc", "increase MB"),
                ("x", "speed-up (wall)"),
            ],
        ),
        "",
        "### scan 401 × 401, suggest --n 10, posterior draws (seconds, wall)",
        "",
    ]
    draw_keys = list(runs[0]["draws_s"])
    rows = [
        {
            "model": r["model"],
            "code": r["code"],
            "scan": _cell(r["scan_s"]),
            "suggest": _cell(r["suggest_s"]),
            **{k: _cell(r["draws_s"][k]) for k in draw_keys},
        }
        for r in runs
    ]
    lines += [
        md_table(
            rows,
            [
                ("model", "model"),
                ("code", "code"),
                ("scan", f"scan {result['scan']}²"),
                ("suggest", f"suggest --n {result['suggest_n']}"),
                *[(k, f"draws {k.replace('x', ' pts × ')}") for k in draw_keys],
            ],
        ),
        "",
        "### Where this tree's predict spends its time (CPU µs per row, best of the runs)",
        "",
    ]
    rows = []
    for r in runs:
        bd = r["raw"].get("breakdown")
        if not bd:
            continue
        rows.append(
            {
                "model": r["model"],
                **bd["us_per_row"],
                **bd["surrogate_us_per_row"],
                "ns": bd["matern_ns_per_entry"],
                "entries": bd["matern_entries_per_row"],
                "poly": bd["polynomial_gflops"],
                "solve_gf": bd["solve_gflops"],
                "dgemm": bd["dgemm_gflops"],
            }
        )
    steps = list(runs[0]["raw"]["breakdown"]["us_per_row"]) if rows else []
    extra = sorted(
        {
            k
            for r in runs
            if r["raw"].get("breakdown")
            for k in r["raw"]["breakdown"]["surrogate_us_per_row"]
        }
    )
    lines += [
        md_table(
            rows,
            [("model", "model"), *[(s, s) for s in steps], *[(s, s) for s in extra]],
        ),
        "",
        md_table(
            rows,
            [
                ("model", "model"),
                ("entries", "Matérn entries per row"),
                ("ns", "ns per entry"),
                ("poly", "polynomial GFLOP/s"),
                ("solve_gf", "solve GFLOP/s"),
                ("dgemm", "DGEMM 1500² GFLOP/s"),
            ],
        ),
        "",
        "### Targets (this tree, medians)",
        "",
        md_table(
            result["targets"],
            [("model", "model"), ("target", "target"), ("value", "value"), ("met", "met")],
        ),
        "",
        machine_line(result["machine"]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Train the models, time them with this tree and the baseline, write the results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--baseline-rev", default=BASELINE_REV, help="'none' to skip the baseline")
    ap.add_argument("--dft", type=Path, default=DFT_CSV, help="GPAW table for the N=95 model")
    ap.add_argument("--repeat", type=int, default=5, help="timings per step, this tree")
    ap.add_argument("--baseline-repeat", type=int, default=2, help="timings per step, baseline")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    args.rows = 2000 if args.quick else 100_000
    args.scan = 21 if args.quick else 401
    args.suggest_n, args.pool = (2, 64) if args.quick else (10, 4096)
    args.draws = [[11, 20]] if args.quick else [[41, 400], [1001, 4000]]
    if args.quick:
        args.repeat, args.baseline_repeat = 1, 1
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="dkluq-bench-exact-") as tmp:
        work = Path(tmp)
        models = train_models(work, args.quick, args.dft)
        codes = {"this tree": REPO}
        if args.baseline_rev != "none":
            root = baseline_tree(args.baseline_rev, work)
            if root is not None:
                codes[f"baseline {args.baseline_rev}"] = root
        runs = measure(models, codes, args)
    result = {
        "benchmark": "exact_speed",
        "quick": args.quick,
        "machine": machine_info(),
        "load": [load0, os.getloadavg()[0]],
        "baseline_rev": args.baseline_rev if len(codes) > 1 else None,
        "rows": args.rows,
        "scan": args.scan,
        "suggest_n": args.suggest_n,
        "pool": args.pool,
        "repeat": args.repeat,
        "baseline_repeat": args.baseline_repeat,
        "models": [{k: v for k, v in m.items() if k != "file"} for m in models],
        "runs": runs,
    }
    result["targets"] = targets(models, runs)
    md = markdown(result)
    write_results(args.out, "exact_speed", result, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
