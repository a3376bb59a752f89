"""Active-learning benchmark: how many "DFT" calls each ``dkluq suggest`` strategy needs.

The loop runs against the sample-data oracle (CHGNet stands in for DFT, see
``sample_data/README.md``) in the sample box p0 × [0.9, 1.1] (p0 = 3.914 Å, 90°):

1. start from ``--initial`` (50) structures uniform in the box, energies from the oracle;
2. train a model (:func:`dkluq_cli.training.train.train`), record its test RMSE and mean σ on a held-out
   test set (the last ``--test`` rows of ``sample_data/srtio3_lattice_energy.csv``, energies
   already computed by the same oracle);
3. ask :func:`dkluq_cli.analysis.suggest.suggest` for ``--per-round`` (25) structures with the strategy,
   compute them with the oracle, add them, and repeat for ``--rounds`` (10) rounds.

The same initial set and test set are used for every strategy (``batch``, ``max-std``,
``random``). The number of "DFT" calls is the training-set size. The script writes
``active_learning.csv`` (one row per strategy and round), ``active_learning.png`` (test RMSE and
mean σ against calls) and ``active_learning.md`` (settings, the calls each strategy needs to
reach 5 meV/atom, and whether batch needs at most half the calls of random) into ``--out``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_active_learning.py          # full, ~15-30 min
    python benchmarks/bench_active_learning.py --quick --out /tmp/al       # tiny, for the tests
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STRATEGIES = ("batch", "max-std", "random")
TARGET_MEV_PER_ATOM = 5.0


def train_model(x: np.ndarray, y: np.ndarray, epochs: int, seed: int):
    """A surrogate on (x, y) with settings scaled to the data size.

    Batch size and the minimum number of epochs before early stopping are dkluq's automatic
    values (batch 32 at these sizes, no stop before half the epochs).
    """
    from dkluq_cli.data.table import TableUnits
    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.train import train

    n = len(x)
    cfg = TrainConfig(
        epochs=epochs,
        patience=max(10, epochs // 5),
        inducing=int(min(50, max(10, n // 3))),
        lr=1e-2,
        val_fraction=0.1,
        test_fraction=0.0,
        seed=seed,
        device="cpu",
        threads=1,
    )
    res = train(
        x,
        y,
        cfg,
        units=TableUnits.of(cfg.features, "energy_eV"),
    )
    return res.surrogate


def calls_to_reach(df, strategy: str, target: float) -> int | None:
    """First number of calls at which the strategy's test RMSE (meV/atom) is ≤ target."""
    rows = df[(df["strategy"] == strategy) & (df["test_rmse_meV_per_atom"] <= target)]
    return None if rows.empty else int(rows["n_calls"].min())


def run(args: argparse.Namespace) -> int:
    import pandas as pd
    import torch

    from dkluq_cli.analysis.suggest import random_points, suggest
    from dkluq_cli.data.output import prepare_output_dir, write_json, write_text
    from dkluq_cli.data.table import write_table
    from sample_data.oracle import N_ATOMS, P0, srtio3_energies

    torch.set_num_threads(1)
    out = prepare_output_dir(args.out, force=True)
    table = pd.read_csv(REPO / "sample_data" / "srtio3_lattice_energy.csv")
    test = table.iloc[-args.test :]
    x_test = test[["a", "b", "c", "alpha", "beta", "gamma"]].to_numpy(float)
    y_test = test["energy_eV"].to_numpy(float)
    lo_f, hi_f = 0.9, 1.1
    x0 = random_points(P0 * lo_f, P0 * hi_f, args.initial, seed=args.seed + 1000)
    t0 = time.perf_counter()
    y0 = srtio3_energies(x0)
    oracle_seconds = time.perf_counter() - t0
    rows = []
    for strategy in args.strategies:
        x, y = x0.copy(), y0.copy()
        for rnd in range(args.rounds + 1):
            t = time.perf_counter()
            sur = train_model(x, y, args.epochs, args.seed)
            t_train = time.perf_counter() - t
            mean, std = sur.predict(x_test)
            rmse = float(np.sqrt(np.mean((mean - y_test) ** 2)))
            row = {
                "strategy": strategy,
                "round": rnd,
                "n_calls": len(x),
                "test_rmse_eV": rmse,
                "test_rmse_meV_per_atom": 1000.0 * rmse / N_ATOMS,
                "test_mean_std_eV": float(np.mean(std)),
                "train_seconds": t_train,
                "suggest_seconds": float("nan"),
            }
            if rnd < args.rounds:
                t = time.perf_counter()
                sug = suggest(
                    sur,
                    P0,
                    args.per_round,
                    lattice_range=(lo_f, hi_f),
                    strategy=strategy,
                    pool_size=args.pool,
                    seed=args.seed + rnd + 1,
                )
                row["suggest_seconds"] = time.perf_counter() - t
                x = np.vstack([x, sug.params])
                y = np.concatenate([y, srtio3_energies(sug.params)])
            rows.append(row)
            print(
                f"{strategy:8s} round {rnd:2d}: {row['n_calls']:4d} calls, test RMSE "
                f"{row['test_rmse_meV_per_atom']:.2f} meV/atom, mean σ "
                f"{row['test_mean_std_eV']:.4f} eV ({t_train:.1f} s training)",
                file=sys.stderr,
                flush=True,
            )
    df = pd.DataFrame(rows)
    write_table(df, out / "active_learning.csv", force=True)
    reach = {s: calls_to_reach(df, s, TARGET_MEV_PER_ATOM) for s in args.strategies}
    summary = {
        "target_meV_per_atom": TARGET_MEV_PER_ATOM,
        "calls_to_target": reach,
        "settings": {
            k: getattr(args, k)
            for k in ("initial", "per_round", "rounds", "epochs", "pool", "test", "seed")
        },
        "oracle_seconds_initial": oracle_seconds,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs visible, torch threads 1",
    }
    write_json(out / "active_learning.json", summary)
    plot(df, out / "active_learning.png")
    write_text(out / "active_learning.md", report(df, summary), force=True)
    print(out / "active_learning.csv")
    return 0


def plot(df, path: Path) -> Path:
    """Test RMSE (meV/atom, log scale) and mean σ (eV) against DFT calls, one line per strategy."""
    from dkluq_cli.plots.figure import new_figure, save

    fig, (ax1, ax2) = new_figure(10.0, 4.2, ncols=2)
    for s, g in df.groupby("strategy", sort=False):
        ax1.plot(g["n_calls"], g["test_rmse_meV_per_atom"], "o-", ms=3, label=s)
        ax2.plot(g["n_calls"], g["test_mean_std_eV"], "o-", ms=3, label=s)
    ax1.axhline(TARGET_MEV_PER_ATOM, color="grey", ls="--", lw=1, label="5 meV/atom")
    ax1.set_yscale("log")
    ax1.set_xlabel('"DFT" calls (training structures)')
    ax1.set_ylabel("test RMSE (meV/atom)")
    ax2.set_xlabel('"DFT" calls (training structures)')
    ax2.set_ylabel("mean predictive σ on the test set (eV)")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    return save(fig, path)


def report(df, summary: dict) -> str:
    """The Markdown report (written by this script, never by hand)."""
    st = summary["settings"]
    reach = summary["calls_to_target"]
    lines = [
        "# Active learning against the CHGNet oracle",
        "",
        "Written by `benchmarks/bench_active_learning.py`; do not edit by hand.",
        "",
        f"Start: {st['initial']} random structures in p0 × [0.9, 1.1]; +{st['per_round']} per round "
        f"for {st['rounds']} rounds; test set: last {st['test']} rows of "
        f"`sample_data/srtio3_lattice_energy.csv`; dkluq's default head (`--head auto`: the exact GP "
        f"up to 2000 training rows, so every model here; `--epochs {st['epochs']}` is the SVGP's), "
        f"pool {st['pool']} Sobol points, seed {st['seed']}; {summary['machine']}. "
        "One seed: differences of a round or two between strategies are within run-to-run noise.",
        "",
        "| strategy | calls | test RMSE (meV/atom) | mean σ (eV) |",
        "|---|---:|---:|---:|",
    ]
    for r in df.itertuples():
        lines.append(
            f"| {r.strategy} | {r.n_calls} | {r.test_rmse_meV_per_atom:.2f} | {r.test_mean_std_eV:.4f} |"
        )
    lines += ["", f"Calls needed to reach {summary['target_meV_per_atom']:g} meV/atom:", ""]
    for s, n in reach.items():
        lines.append(f"- {s}: {n if n is not None else 'not reached'}")
    b, r = reach.get("batch"), reach.get("random")
    if b is not None and r is not None:
        verdict = "met" if b <= r / 2 else "missed"
        goal = f"Goal (batch ≤ half the calls of random): {verdict} ({b} vs {r})."
    elif b is not None:
        goal = f"Goal (batch ≤ half the calls of random): met at least in part: batch reached it with {b} calls, random never did within the budget."
    else:
        goal = "Goal (batch ≤ half the calls of random): missed: batch did not reach the target within the budget."
    best = df.groupby("strategy")["test_rmse_meV_per_atom"].min().to_dict()
    lines += [
        "",
        goal,
        "",
        "Lowest test RMSE reached (meV/atom): "
        + ", ".join(f"{s} {v:.2f}" for s, v in best.items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny run (2 rounds, few epochs)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--initial", type=int, default=50)
    ap.add_argument("--per-round", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--pool", type=int, default=4096)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    args = ap.parse_args(argv)
    if args.quick:
        args.initial, args.per_round, args.rounds = 30, 10, 2
        args.epochs, args.pool, args.test = 10, 256, 200
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
