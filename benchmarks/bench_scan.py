"""Benchmark ``dkluq scan`` inference: structures per second on a 2-D map (target ≥ 200 000/s).

Times the 2-D part of a scan, i.e. building an N × N grid of (a, alpha) around the reference
and predicting mean and calibrated σ on every point with
:func:`dkluq_cli.analysis.scan.predict_params` (cell validity, batched forward passes, ``in_domain``),
for N = 201 and 401, with each torch thread count asked for; best of ``--repeat`` runs.

Throughput depends on the architecture (width, depth, inducing points), not on how well the
model is trained, so without ``--model`` the script trains a model with the default
architecture of :class:`dkluq_cli.training.train.TrainConfig` for one epoch on the sample data
(``--quick``: a tiny model and a 21 × 21 map, for the tests). Results are written by this
script to ``benchmarks/results/scan.json`` and ``scan.md`` (or ``--out``).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_scan.py             # 201² and 401², threads 1 and 2
    python benchmarks/bench_scan.py --model runs/NAME/model.pt --threads 2
    python benchmarks/bench_scan.py --quick --out /tmp/bench      # tiny, used by the tests
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_PER_S = 200_000


def quick_model(out: Path, quick: bool) -> Path:
    """Train a throw-away model with the default architecture (1 epoch) and return its file."""
    import pandas as pd

    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.job import run_training

    df = pd.read_csv(REPO / "sample_data" / "srtio3_lattice_energy.csv").iloc[
        : 300 if quick else 2000
    ]
    table = out / "bench_table.csv"
    df.to_csv(table, index=False)
    cfg = TrainConfig(epochs=1, device="cpu", threads=1)
    if quick:
        cfg = TrainConfig(epochs=1, device="cpu", threads=1, inducing=10, width=32, depth=2)
    job = run_training(table, cfg, out / "run", plots=False)
    return job.run_dir / "model.pt"


def time_map(sur, n: int, batch_size: int, repeat: int) -> dict:
    """Best-of-``repeat`` wall time to build and predict an n × n (a, alpha) map."""
    import numpy as np

    from dkluq_cli.analysis.centre import choose_centre
    from dkluq_cli.analysis.grids import grid_2d, scale_grid
    from dkluq_cli.analysis.scan import predict_params

    ref = choose_centre(sur).params
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        grid = grid_2d(ref, ("a", "alpha"), scale_grid(0.8, 1.2, n))
        params = grid[["a", "b", "c", "alpha", "beta", "gamma"]].to_numpy(float)
        pred = predict_params(sur, params, batch_size=batch_size)
        best = min(best, time.perf_counter() - t0)
        assert np.isfinite(pred["std"]).all()
    return {"n": n, "structures": n * n, "seconds": best, "structures_per_s": n * n / best}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="model.pt to time (default: train a throw-away one)")
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    ap.add_argument("--batch-size", type=int, default=8192)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--quick", action="store_true", help="tiny model and a 21 × 21 map, for the tests"
    )
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args(argv)

    import torch

    from dkluq_cli.model.device import resolve_device
    from dkluq_cli.model.io import load_model

    sizes = [21] if args.quick else [201, 401]
    repeat = 1 if args.quick else args.repeat
    threads = [int(t) for t in str(args.threads).split(",") if t.strip()]
    with tempfile.TemporaryDirectory(prefix="dkluq-bench-scan-") as tmp:
        model_path = args.model or quick_model(Path(tmp), args.quick)
        sur = load_model(model_path, resolve_device(args.device))
        runs = []
        for t in threads:
            torch.set_num_threads(t)
            time_map(sur, 11, args.batch_size, 1)  # warm-up
            for n in sizes:
                runs.append({"threads": t, **time_map(sur, n, args.batch_size, repeat)})
    largest = max(sizes)
    best = max((r for r in runs if r["n"] == largest), key=lambda r: r["structures_per_s"])
    result = {
        "benchmark": "scan",
        "quick": args.quick,
        "model": str(args.model)
        if args.model
        else (
            "tiny throw-away model"
            if args.quick
            else "throw-away model, default architecture, 1 epoch"
        ),
        "architecture": {k: sur.config.get(k) for k in ("width", "depth", "inducing", "kernel")},
        "device": str(sur.device),
        "batch_size": args.batch_size,
        "repeat": repeat,
        "machine": {
            "python": platform.python_version(),
            "torch": str(torch.__version__),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "runs": runs,
        "best": best,
        "target_structures_per_s": TARGET_PER_S,
        "meets_target": best["structures_per_s"] >= TARGET_PER_S,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scan.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    rows = "".join(
        f"| {r['n']} × {r['n']} | {r['structures']:,} | {r['threads']} | {r['seconds']:.3f} |"
        f" {r['structures_per_s']:,.0f} |\n"
        for r in runs
    )
    arch = result["architecture"]
    md = (
        f"# scan benchmark ({'quick' if args.quick else 'full'})\n\n"
        f"2-D (a, α) map ×0.8–1.2 built and predicted (mean, calibrated σ, in_domain) by"
        f" `predict_params`, batch {args.batch_size}, best of {repeat}; device {sur.device};"
        f" model width {arch['width']}, depth {arch['depth']}, {arch['inducing']} inducing points"
        f" ({result['model']}). Python {platform.python_version()}, torch {torch.__version__},"
        f" {os.cpu_count()} CPUs, 1-min load average at the end"
        f" {result['machine']['load_average_1min']}.\n\n"
        "| map | structures | torch threads | seconds | structures/s |\n|---|---|---|---|---|\n"
        + rows
        + f"\nBest on the {largest} × {largest} map: **{best['structures_per_s']:,.0f} structures/s**"
        f" ({best['threads']} thread(s)); target {TARGET_PER_S:,}/s:"
        f" {'met' if result['meets_target'] else 'NOT met'}.\n"
    )
    (args.out / "scan.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
