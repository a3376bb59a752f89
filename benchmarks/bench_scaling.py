"""Scaling with data size: seconds per epoch and peak memory of DKL vs exact GP.

Data: N = 1k, 10k, 100k, 1M structures (``--quick``: 300, 1000) drawn uniformly in the ±10 %
box of the SrTiO3 sample, with a cheap analytic energy of the same shape (eV, 5-atom cell)::

    E = E0 + k1·Σε_i + k2·Σε_i² + k4·Σε_i⁴ + kc·Σ_{i<j} ε_iε_j + q2·Σθ_j² + q4·Σθ_j⁴

with ε_i = l_i/3.914 − 1 for the lengths a, b, c and θ_j = (angle_j − 90°) in radians. The seven
coefficients are least-squares fitted to ``srtio3_lattice_energy.csv`` at start-up (written to
the results with their fit RMSE).

Per size, in a **fresh subprocess** (so imports and earlier sizes do not pollute memory):

* **DKL**: dkluq's own training loop (``TrainConfig()`` defaults, all N rows as training data,
  :meth:`dkluq_cli.training.fit_svgp.DKLFit.run_epoch`); one untimed epoch first (its
  first steps pay one-time start-up costs: lazy kernels, the fused optimiser), then one full
  epoch timed (inducing initialisation excluded). Not extrapolated.
* **Exact GP**: gpytorch ``ExactGP``, ARD Matérn 5/2, float64, exact Cholesky; one "epoch" = one
  marginal-likelihood evaluation + backward.

Peak memory = ``ru_maxrss`` at the end minus ``ru_maxrss`` after the imports (so it includes the
data arrays). A size is not run when the estimate from the previous size (time ∝ N for DKL,
N³ for the exact GP; memory ∝ N and N²) exceeds 10 minutes or the memory cap (16 GB, or 80 % of
the machine's available memory when smaller); the reason is recorded and larger sizes are
skipped too.

Writes ``scaling.json``, ``scaling.md`` and ``scaling.png`` (log–log).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    P0,
    SRTIO3_CSV,
    add_common_args,
    machine_info,
    machine_line,
    md_table,
    read_lattice_csv,
    single_thread,
    write_results,
)

SIZES = [1_000, 10_000, 100_000, 1_000_000]
QUICK_SIZES = [300, 1_000]
TIME_LIMIT_S = 600.0
MEM_LIMIT_GB = 16.0
COEF_NAMES = ["E0", "k1", "k2", "k4", "kc", "q2", "q4"]


def design(x: np.ndarray) -> np.ndarray:
    """Design matrix of the analytic energy (columns in COEF_NAMES order)."""
    eps = x[:, :3] / P0[0] - 1.0
    th = np.deg2rad(x[:, 3:] - 90.0)
    cross = eps[:, 0] * eps[:, 1] + eps[:, 0] * eps[:, 2] + eps[:, 1] * eps[:, 2]
    return np.column_stack(
        [
            np.ones(len(x)),
            eps.sum(1),
            (eps**2).sum(1),
            (eps**4).sum(1),
            cross,
            (th**2).sum(1),
            (th**4).sum(1),
        ]
    )


def fit_coefficients() -> tuple[dict[str, float], float]:
    """Least-squares fit of the analytic energy to the sample; returns (coefficients, RMSE eV)."""
    x, y, _ = read_lattice_csv(SRTIO3_CSV)
    a = design(x)
    c, *_ = np.linalg.lstsq(a, y, rcond=None)
    rmse = float(np.sqrt(np.mean((a @ c - y) ** 2)))
    return dict(zip(COEF_NAMES, map(float, c), strict=True)), rmse


def synthetic(n: int, coef: dict[str, float], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """N uniform ±10 % structures and their analytic energies."""
    rng = np.random.default_rng(seed)
    x = P0 * rng.uniform(0.9, 1.1, size=(n, 6))
    return x, design(x) @ np.array([coef[k] for k in COEF_NAMES])


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def child(method: str, n: int, coef: dict[str, float]) -> dict[str, Any]:
    """Measure one (method, N) in this process."""
    single_thread()
    import gpytorch
    import torch

    from dkluq_cli.data.table import TableUnits
    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.splits import Splits
    from dkluq_cli.training.train import build_fit

    base = _rss_mb()
    x, y = synthetic(n, coef)
    if method == "dkl":
        cfg = TrainConfig(device="cpu")
        sp = Splits(list(range(n)), [0, 1], [])
        trainer = build_fit(x, y, cfg, sp, units=TableUnits(("",) * 6, "eV"))
        trainer.run_epoch()  # warm-up: the first steps pay one-time start-up costs
        t0 = time.perf_counter()
        trainer.run_epoch()
        secs = time.perf_counter() - t0
        extra = {"steps": trainer.steps_per_epoch, "batch": trainer.cfg.batch_size}
    else:
        dt = torch.float64
        xm, xs = x.mean(0), x.std(0)
        xt = torch.as_tensor((x - xm) / xs, dtype=dt)
        yt = torch.as_tensor((y - y.mean()) / y.std(), dtype=dt)

        class GP(gpytorch.models.ExactGP):
            def __init__(self, lik: Any) -> None:
                super().__init__(xt, yt, lik)
                self.mean_module = gpytorch.means.ConstantMean()
                self.covar_module = gpytorch.kernels.ScaleKernel(
                    gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=6)
                )

            def forward(self, z: Any) -> Any:
                return gpytorch.distributions.MultivariateNormal(
                    self.mean_module(z), self.covar_module(z)
                )

        lik = gpytorch.likelihoods.GaussianLikelihood().to(dt)
        model = GP(lik).to(dt)
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(lik, model)
        model.train()
        with gpytorch.settings.max_cholesky_size(10**8):
            t0 = time.perf_counter()
            loss = -mll(model(xt), yt)
            loss.backward()
            secs = time.perf_counter() - t0
        extra = {"loss": float(loss.detach())}
    return {
        "method": method,
        "n": n,
        "seconds_per_epoch": secs,
        "rss_after_imports_mb": base,
        "peak_rss_mb": _rss_mb(),
        "peak_delta_mb": _rss_mb() - base,
        "threads": torch.get_num_threads(),
        **extra,
    }


def available_gb() -> float:
    """MemAvailable from /proc/meminfo (inf when unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return float("inf")


def run_child(method: str, n: int, coef: dict[str, float], timeout: float) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter."""
    cmd = [sys.executable, __file__, "--child", method, str(n), "--coef", json.dumps(coef)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"method": method, "n": n, "status": f"killed after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {
            "method": method,
            "n": n,
            "status": f"failed (rc {proc.returncode})",
            "stderr_tail": proc.stderr[-1500:],
        }
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "status": "measured"}


def plan(method: str, sizes: list[int], coef: dict, mem_cap_gb: float) -> list[dict[str, Any]]:
    """Measure each size unless the growth estimate from the last measured size rules it out."""
    t_exp, m_exp = (1, 1) if method == "dkl" else (3, 2)
    rows: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    stopped: str | None = None
    for n in sizes:
        if stopped:
            rows.append({"method": method, "n": n, "status": f"skipped ({stopped})"})
            continue
        if last is not None:
            r = n / last["n"]
            est_t = last["seconds_per_epoch"] * r**t_exp
            est_m = max(last["peak_delta_mb"], 1.0) * r**m_exp / 1024
            if est_t > TIME_LIMIT_S or est_m > mem_cap_gb:
                why = (
                    f"estimated {est_t:.3g} s and {est_m:.3g} GB from N={last['n']} "
                    f"(∝N^{t_exp} time, ∝N^{m_exp} memory) > {TIME_LIMIT_S:.0f} s or "
                    f"{mem_cap_gb:.3g} GB"
                )
                rows.append(
                    {
                        "method": method,
                        "n": n,
                        "status": f"not run: {why}",
                        "estimated_seconds": est_t,
                        "estimated_gb": est_m,
                    }
                )
                stopped = f"a smaller size was already over the limits at N={n}"
                continue
        row = run_child(method, n, coef, TIME_LIMIT_S * 1.5)
        print(f"{method} N={n}: {row.get('status')} {row.get('seconds_per_epoch', '')}", flush=True)
        rows.append(row)
        if row["status"] != "measured":
            stopped = f"N={n} {row['status']}"
            continue
        last = row
        if row["seconds_per_epoch"] > TIME_LIMIT_S or row["peak_delta_mb"] / 1024 > mem_cap_gb:
            stopped = f"N={n} exceeded the limits"
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> Path:
    """Log–log seconds/epoch and peak memory vs N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method, label in (
        ("dkl", "DKL (dkluq, one epoch)"),
        ("exact_gp", "exact GP (one MLL+backward)"),
    ):
        got = [r for r in rows if r["method"] == method and r.get("status") == "measured"]
        est = [r for r in rows if r["method"] == method and "estimated_seconds" in r]
        if not got:
            continue
        n = [r["n"] for r in got]
        (line,) = axes[0].loglog(n, [r["seconds_per_epoch"] for r in got], "o-", label=label)
        axes[1].loglog(n, [max(r["peak_delta_mb"], 1e-1) for r in got], "o-", label=label)
        for r in est:
            axes[0].loglog([r["n"]], [r["estimated_seconds"]], "x", color=line.get_color())
            axes[1].loglog([r["n"]], [r["estimated_gb"] * 1024], "x", color=line.get_color())
    axes[0].axhline(TIME_LIMIT_S, color="0.6", ls=":", lw=1)
    axes[0].set_ylabel("seconds per epoch")
    axes[1].set_ylabel("peak RSS increase (MB)")
    for ax in axes:
        ax.set_xlabel("training structures N")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Scaling, one CPU thread (x: estimate for a size not run)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Measure both methods over the sizes; write ``scaling.*``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--coef", type=str, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        res = child(args.child[0], int(args.child[1]), json.loads(args.coef))
        print(json.dumps(res))
        return 0
    threads = single_thread()
    coef, fit_rmse = fit_coefficients()
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    mem_cap = min(MEM_LIMIT_GB, 0.8 * available_gb())
    rows = plan("dkl", sizes, coef, mem_cap) + plan("exact_gp", sizes, coef, mem_cap)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(rows, args.out / "scaling.png")
    result = {
        "benchmark": "scaling",
        "quick": args.quick,
        "machine": machine_info(),
        "threads": threads,
        "sizes": sizes,
        "formula": "E = E0 + k1·Σε + k2·Σε² + k4·Σε⁴ + kc·Σ_{i<j}ε_iε_j + q2·Σθ² + q4·Σθ⁴",
        "coefficients_eV": coef,
        "formula_fit_rmse_eV": fit_rmse,
        "limits": {"seconds": TIME_LIMIT_S, "memory_gb": mem_cap},
        "rows": rows,
        "figure": "scaling.png",
    }
    cols = [
        ("method", "method"),
        ("n", "N"),
        ("seconds_per_epoch", "s/epoch"),
        ("peak_delta_mb", "peak RSS Δ (MB)"),
        ("steps", "steps/epoch"),
        ("status", "status"),
    ]
    md = "\n".join(
        [
            f"## Scaling with N ({'quick' if args.quick else 'full'})",
            "",
            machine_line(result["machine"]),
            "",
            "Analytic strain energy " + result["formula"] + " (ε: relative length strain, θ: "
            "angle deviation in rad), coefficients least-squares fitted to the sample: "
            + ", ".join(f"{k} = {v:.4g}" for k, v in coef.items())
            + f" eV (fit RMSE {fit_rmse:.3g} eV). DKL: one full epoch of dkluq's loop with "
            "`TrainConfig()` defaults under the loop's settings, after one untimed warm-up "
            "epoch (not extrapolated); exact GP: one marginal-likelihood "
            "evaluation + backward (float64, Cholesky). Peak memory: `ru_maxrss` delta after "
            f"imports, fresh subprocess per size. Limits {TIME_LIMIT_S:.0f} s / {mem_cap:.3g} GB.",
            "",
            md_table(rows, cols),
            "",
            "![scaling](scaling.png)",
        ]
    )
    write_results(args.out, "scaling", result, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
