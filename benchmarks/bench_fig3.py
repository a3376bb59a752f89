"""The paper's Fig. 3: energy mean and σ over lattice length a × angle alpha, m = 10 and 50.

Trains dkluq (``TrainConfig()`` defaults with ``inducing`` = 10 and 50) on the 5000-structure
SrTiO3 sample (80/10/10 split, seed 0) and predicts on a grid of a/a0 × alpha/alpha0 in
[0.8, 1.2] × [0.8, 1.2] (a0 = 3.914 Å, alpha0 = 90°), every other parameter at the reference
(b = c = 3.914 Å, beta = gamma = 90°). The training box (±10 %) is drawn on every panel.

The grid comes from ``dkluq_cli.analysis.grids`` (``scale_grid``, ``grid_2d``) and the predictions from
``dkluq_cli.analysis.scan.predict_params`` (calibrated σ, exactly what ``dkluq scan`` reports).

Writes ``fig3.png`` (2 rows m = 10, 50 × 2 columns mean, σ), ``fig3_grid.csv`` (every grid
point and prediction), ``fig3.json`` (σ inside vs outside the box) and ``fig3.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    P0,
    SRTIO3_CSV,
    Timer,
    add_common_args,
    machine_info,
    machine_line,
    md_table,
    quick_subset,
    read_lattice_csv,
    single_thread,
    write_results,
)

QUICK_ROWS = 400
QUICK_OVERRIDES = {"epochs": 3, "init_subset": 200}


def grid(
    points: int, lo: float = 0.8, hi: float = 1.2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rel_a, rel_alpha, params)``: relative axes and the (points² × 6) parameter grid.

    Rows run over alpha slowest (row ``i·n + j``: alpha at ``rel[i]``, a at ``rel[j]``).
    """
    from dkluq_cli.analysis.grids import grid_2d, scale_grid

    rel = scale_grid(lo, hi, points)
    df = grid_2d(P0, ("a", "alpha"), rel)  # a slowest
    params = df[["a", "b", "c", "alpha", "beta", "gamma"]].to_numpy(float)
    order = np.arange(points * points).reshape(points, points).T.ravel()
    return rel, rel, params[order]


def predict(sur: Any, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated mean and σ (eV) at lattice parameters (``dkluq_cli.analysis.scan.predict_params``)."""
    from dkluq_cli.analysis.scan import predict_params

    out = predict_params(sur, params)
    return out["mean"], out["std"]


def plot(maps: list[dict[str, Any]], rel: np.ndarray, path: Path) -> Path:
    """Mean and σ maps per m with the ±10 % training box."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = len(rel)
    fig, axes = plt.subplots(len(maps), 2, figsize=(10, 4.2 * len(maps)), squeeze=False)
    ext = (rel[0] * P0[0], rel[-1] * P0[0], rel[0] * P0[3], rel[-1] * P0[3])
    for row, mp in zip(axes, maps, strict=True):
        for ax, key, label, cmap in (
            (row[0], "mean", "energy mean (eV)", "viridis"),
            (row[1], "std", "σ (eV, calibrated)", "magma"),
        ):
            z = np.asarray(mp[key]).reshape(n, n)
            im = ax.imshow(z, origin="lower", extent=ext, aspect="auto", cmap=cmap)
            fig.colorbar(im, ax=ax, label=label)
            ax.add_patch(
                Rectangle(
                    (0.9 * P0[0], 0.9 * P0[3]),
                    0.2 * P0[0],
                    0.2 * P0[3],
                    fill=False,
                    ec="white",
                    lw=1.5,
                    ls="--",
                )
            )
            ax.set_xlabel("lattice length a (Å)")
            ax.set_ylabel("lattice angle alpha (°)")
            ax.set_title(f"m = {mp['inducing']}: {label.split(' (')[0]}")
    fig.suptitle("SrTiO3, b = c = 3.914 Å, beta = gamma = 90° (dashed: ±10 % training box)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Train, predict on the grid, plot, write ``fig3.*``."""
    import pandas as pd

    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.splits import make_splits
    from dkluq_cli.training.train import train

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--inducing", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--points", type=int, default=81, help="grid points per axis")
    args = ap.parse_args(argv)
    threads = single_thread()
    x, y, _ = read_lattice_csv(SRTIO3_CSV)
    overrides: dict[str, Any] = {}
    points = args.points
    if args.quick:
        keep = quick_subset(len(x), QUICK_ROWS)
        x, y = x[keep], y[keep]
        overrides = dict(QUICK_OVERRIDES)
        points = 21
    splits = make_splits(len(x), 0.1, 0.1, 0)
    rel, _, params = grid(points)
    ra, ral = params[:, 0] / P0[0], params[:, 3] / P0[3]
    inside = (np.abs(ra - 1) <= 0.1 + 1e-12) & (np.abs(ral - 1) <= 0.1 + 1e-12)
    maps, summary = [], []
    table = pd.DataFrame({"a": params[:, 0], "alpha": params[:, 3]})
    for m in args.inducing:
        cfg = TrainConfig(inducing=m, **overrides)
        with Timer() as t:
            res = train(x, y, cfg, splits=splits)
        with Timer() as tp:
            mean, std = predict(res.surrogate, params)
        maps.append({"inducing": m, "mean": mean, "std": std})
        table[f"mean_eV_m{m}"] = mean
        table[f"std_eV_m{m}"] = std
        ref = int(np.argmin(np.abs(ra - 1) + np.abs(ral - 1)))
        summary.append(
            {
                "inducing": m,
                "epochs_run": len(res.history),
                "train_seconds": t.seconds,
                "grid_predict_seconds": tp.seconds,
                "sigma_inside_mean_eV": float(std[inside].mean()),
                "sigma_outside_mean_eV": float(std[~inside].mean()),
                "sigma_ratio_out_in": float(std[~inside].mean() / std[inside].mean()),
                "sigma_at_reference_eV": float(std[ref]),
                "sigma_max_eV": float(std.max()),
                "argmin_a_angstrom": float(params[int(np.argmin(mean)), 0]),
                "argmin_alpha_deg": float(params[int(np.argmin(mean)), 3]),
            }
        )
        print(f"m={m}: σ out/in {summary[-1]['sigma_ratio_out_in']:.2f}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(maps, rel, args.out / "fig3.png")
    table.to_csv(args.out / "fig3_grid.csv", index=False, float_format="%.8g")
    result = {
        "benchmark": "fig3",
        "quick": args.quick,
        "machine": machine_info(),
        "threads": threads,
        "n_rows": len(x),
        "split": {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)},
        "quick_overrides": overrides,
        "grid": {
            "points_per_axis": points,
            "range": [0.8, 1.2],
            "fixed": "b=c=3.914, beta=gamma=90",
        },
        "maps": summary,
        "figure": "fig3.png",
        "grid_csv": "fig3_grid.csv",
    }
    md = "\n".join(
        [
            f"## Fig. 3: energy and σ over a × alpha ({'quick' if args.quick else 'full'})",
            "",
            machine_line(result["machine"]),
            "",
            f"dkluq `TrainConfig()` defaults{f' + quick overrides {overrides}' if overrides else ''}"
            f", {len(splits.train)} training structures; grid {points}×{points} over a/a0 and "
            "alpha/alpha0 in [0.8, 1.2], other parameters at 3.914 Å / 90°. 'inside' = the ±10 % "
            "training box.",
            "",
            md_table(
                summary,
                [
                    ("inducing", "m"),
                    ("epochs_run", "epochs"),
                    ("train_seconds", "train s"),
                    ("sigma_inside_mean_eV", "mean σ inside (eV)"),
                    ("sigma_outside_mean_eV", "mean σ outside (eV)"),
                    ("sigma_ratio_out_in", "σ out/in"),
                    ("sigma_at_reference_eV", "σ at reference (eV)"),
                    ("argmin_a_angstrom", "argmin a (Å)"),
                    ("argmin_alpha_deg", "argmin alpha (°)"),
                ],
            ),
            "",
            "![Fig. 3](fig3.png)",
        ]
    )
    write_results(args.out, "fig3", result, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
