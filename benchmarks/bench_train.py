"""Training benchmark (issue 5): accuracy, calibration and time of ``dkluq train`` vs DUE's recipe.

What it measures, all on one machine, one torch thread, the 5000-structure sample, the seeded
80/10/10 split (seed 0):

1. dkluq with ``TrainConfig()`` defaults and ``inducing`` = 10, 50, 100: test RMSE (meV/atom =
   eV error / 5 atoms × 1000), NLL, miscalibration area, 95 % coverage (calibrated σ, as the CLI
   reports them; raw σ too), wall time of the ``train()`` call and of its epoch loop alone.
2. The end-to-end command ``dkluq train sample_data/srtio3_lattice_energy.csv --inducing 50
   --device cpu --seed 0 -o DIR`` timed as a subprocess (interpreter start, reading, training,
   model file and plots), then its ``model.pt`` scored on an **independent draw** of the CHGNet
   oracle (N = 1000 new uniform ±10 % structures, seed :data:`_common.DRAW_SEED`, cached in
   ``benchmarks/_work/``). Skipped, and said so, when chgnet is not importable.
3. DUE's published regression recipe (y0ast/DUE ``toy_regression.ipynb``) run through dkluq's
   own training code via ``TrainConfig``: RBF kernel, m = 20, k-means init, Adam lr 1e-3
   constant, batch 128, 5000 steps, dropout 0.01, ReLU, width 128, depth 4, SN coefficient 0.95,
   gpytorch's default noise (floor 1e-4, start 0.6931), no early stopping, and the **last**
   state kept (DUE has no model selection: ``TrainConfig(keep="last")``). Raw σ is DUE's
   σ; the calibrated row adds dkluq's validation σ scale. Differences left: dkluq does not drop
   the last partial batch (DUE: ``drop_last=True``) and keeps one Adam group for all parameters.
4. The time the default dkluq run needs to first reach DUE's final RMSE. Tracked per epoch from
   the progress callback: the independent draw is predicted with the *current* weights after
   every epoch in a step excluded from the timing (``p.seconds`` counts only the loop's epochs,
   which include dkluq's own validation pass). Also reported from validation RMSE (dkluq's
   ``val_rmse`` vs DUE's final ``val_rmse`` on the same validation rows).

5. The spread over seeds: the defaults again with seeds 1 and 2 (``--seeds``), each with its own
   split, scored like seed 0 but outside the targets table (the issue names seed 0).

Targets (issue 5): RMSE ≤ 1 meV/atom, coverage_95 in [0.93, 0.97], miscal_area ≤ 0.03,
training ≤ 60 s, whole command < 120 s.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_train.py            # full (~10-20 min)
    python benchmarks/bench_train.py --quick --out /tmp/bench      # seconds, for the tests
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DRAW_SEED,
    N_ATOMS,
    REPO,
    SRTIO3_CSV,
    WORK,
    add_common_args,
    fmt,
    independent_draw,
    machine_info,
    machine_line,
    md_table,
    quick_subset,
    read_lattice_csv,
    score,
    single_thread,
    write_results,
)

#: DUE's figures as reported to us from another machine (not measured here).
DUE_PUBLISHED = {
    "rmse_meV_atom": 6.75,
    "coverage_95": 1.00,
    "miscal_area": 0.47,
    "seconds": 27.0,
    "ms_per_step": 5.4,
}
DUE_STEPS = 5000
TARGETS = {
    "rmse_meV_atom": 1.0,
    "coverage_95": (0.93, 0.97),
    "miscal_area": 0.03,
    "train_seconds": 60.0,
    "command_seconds": 120.0,
}
QUICK_ROWS = 400
QUICK_OVERRIDES = {"epochs": 3, "init_subset": 200, "head": "svgp"}  # the quick table is small
QUICK_DUE_STEPS = 30


def run_config(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    n_atoms: np.ndarray,
    splits: Any,
    cfg: Any,
    draw: tuple[np.ndarray, np.ndarray] | None,
) -> dict[str, Any]:
    """Train one configuration, trace the independent-draw RMSE per epoch, score it."""
    from dkluq_cli.training.train import train

    trace: list[dict[str, float]] = []
    tracing = [0.0]  # seconds spent scoring the draw inside the progress callback

    def progress(p: Any) -> None:
        row = {
            "epoch": p.epoch,
            "seconds": p.seconds,
            "val_rmse_meV_atom": p.val_rmse / N_ATOMS * 1000.0,
        }
        if draw is not None:  # timing-excluded: p.seconds was taken before this call
            t_trace = time.perf_counter()
            mean, _ = p.surrogate.predict(draw[0], calibrated=False)
            row["draw_rmse_meV_atom"] = float(
                np.sqrt(np.mean((mean - draw[1]) ** 2)) / N_ATOMS * 1000.0
            )
            tracing[0] += time.perf_counter() - t_trace
        trace.append(row)

    t0 = time.perf_counter()
    res = train(x, y, cfg, splits=splits, progress=progress)
    wall = time.perf_counter() - t0
    sur = res.surrogate
    te = splits.test
    mean, std_raw = sur.predict(x[te], calibrated=False)
    steps_per_epoch = max(1, math.ceil(len(splits.train) / res.config.batch_size))
    out: dict[str, Any] = {
        "name": name,
        "inducing": cfg.inducing,
        "config": cfg.to_dict(),
        "epochs_run": len(res.history),
        "best_epoch": res.best_epoch,
        "stopped_early": res.stopped_early,
        "steps": len(res.history) * steps_per_epoch,
        "train_wall_s": wall,
        "trace_s": tracing[0],
        "loop_s": res.train_seconds,
        "ms_per_step": 1000.0 * res.train_seconds / max(1, len(res.history) * steps_per_epoch),
        "sigma_scale": sur.sigma_scale,
        "inducing_init": res.inducing_init,
        "test": score(y[te], mean, std_raw * sur.sigma_scale, n_atoms[te]),
        "test_raw": score(y[te], mean, std_raw, n_atoms[te]),
        "trace": trace,
        "final_val_rmse_meV_atom": res.history[-1]["val_rmse"] / N_ATOMS * 1000.0,
    }
    if draw is not None:
        dm, ds = sur.predict(draw[0], calibrated=False)
        out["draw"] = score(draw[1], dm, ds * sur.sigma_scale)
        out["draw_raw"] = score(draw[1], dm, ds)
    print(
        f"{name}: {out['epochs_run']} epochs, {wall:.1f} s, test RMSE "
        f"{out['test']['rmse_meV_atom']:.3f} meV/atom",
        flush=True,
    )
    return out


def run_command(table: Path, run_dir: Path, extra: list[str], draw: Any) -> dict[str, Any]:
    """Time ``dkluq train TABLE --inducing 50 --device cpu --seed 0 -o DIR`` as a subprocess."""
    import json

    from dkluq_cli.model.io import load_model

    cmd = [sys.executable, "-m", "dkluq_cli", "train", _rel(table), "--inducing", "50"]
    cmd += ["--device", "cpu", "--seed", "0", "-o", str(run_dir), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    wall = time.perf_counter() - t0
    shown = ["dkluq", *cmd[3:]]
    out: dict[str, Any] = {"command": " ".join(shown), "seconds": wall, "rc": proc.returncode}
    if proc.returncode != 0:
        out["stderr_tail"] = proc.stderr[-2000:]
        return out
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    out["train_seconds"] = metrics["training"]["train_seconds"]
    out["total_train_seconds"] = metrics["training"].get("total_train_seconds")
    out["epochs_run"] = metrics["training"]["epochs_run"]
    out["test_rmse_meV_atom"] = metrics["test"].get("rmse_meV_per_atom")
    if draw is not None:
        sur = load_model(run_dir / "model.pt")
        mean, std = sur.predict(draw[0])
        out["draw"] = score(draw[1], mean, std)
    return out


def _rel(path: Path) -> str:
    """Path relative to the repository when inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def first_reach(trace: list[dict[str, float]], key: str, level: float) -> dict[str, Any]:
    """First epoch (and loop seconds) at which ``trace[key]`` ≤ ``level``."""
    for row in trace:
        if key in row and row[key] <= level:
            return {"epoch": row["epoch"], "seconds": row["seconds"], "level": level}
    return {"epoch": None, "seconds": None, "level": level}


def target_checks(row: dict[str, Any], block: str, with_time: bool = True) -> list[dict]:
    """Issue-5 targets for one run, met or missed."""
    m = row.get(block)
    if m is None:
        return []
    lo, hi = TARGETS["coverage_95"]
    checks = [
        ("RMSE ≤ 1 meV/atom", m["rmse_meV_atom"], m["rmse_meV_atom"] <= TARGETS["rmse_meV_atom"]),
        ("coverage_95 in 0.93–0.97", m["coverage_95"], lo <= m["coverage_95"] <= hi),
        ("miscal_area ≤ 0.03", m["miscal_area"], m["miscal_area"] <= TARGETS["miscal_area"]),
    ]
    if with_time:
        secs = train_seconds(row)
        checks.append(
            (
                "training ≤ 60 s (in-process train(), the benchmark's per-epoch draw scoring "
                "subtracted)",
                secs,
                secs <= TARGETS["train_seconds"],
            )
        )
    return [
        {"target": t, "scored_on": block, "value": v, "met": "met" if ok else "MISSED"}
        for t, v, ok in checks
    ]


def due_config(n_train: int, steps: int) -> Any:
    """DUE's toy-regression recipe expressed as a dkluq ``TrainConfig``."""
    from dkluq_cli.training.config import TrainConfig

    epochs = math.ceil(steps / math.ceil(n_train / 128))
    return TrainConfig(
        head="svgp",  # DUE is the SN-ResNet + SVGP model
        kernel="rbf",
        inducing=20,
        init="kmeans",
        lr=1e-3,
        gp_lr=1e-3,  # DUE: one Adam learning rate for every parameter
        lr_min_factor=1.0,
        warmup=0.0,  # DUE: constant learning rate from the first step
        batch_size=128,
        epochs=epochs,
        dropout=0.01,
        activation="relu",
        width=128,
        depth=4,
        spectral_norm=True,
        sn_coeff=0.95,
        n_power_iterations=1,
        trend=0,  # DUE: ConstantMean, no polynomial trend
        min_noise=1e-4,
        init_noise=0.6931,
        weight_decay=0.0,
        ngd=False,
        patience=epochs + 1,
        keep="last",
        max_seconds=None,
        seed=0,
        threads=1,
        device="cpu",
    )


def ratio_text(ours: float | None, theirs: float | None, lower_better: bool = True) -> str:
    """'2.3× lower' style comparison."""
    if ours is None or theirs is None or ours <= 0 or theirs <= 0:
        return "–"
    r = theirs / ours if lower_better else ours / theirs
    word = "better" if r >= 1 else "worse"
    return f"{max(r, 1 / r):.2f}× {word}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``train.json`` / ``train.md``."""
    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.splits import make_splits
    from dkluq_cli.training.train import train

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--inducing", type=int, nargs="+", default=[10, 50, 100])
    ap.add_argument("--draw-n", type=int, default=None, help="independent draw size (1000)")
    ap.add_argument("--skip-command", action="store_true", help="skip the end-to-end command")
    ap.add_argument("--skip-due", action="store_true", help="skip the DUE recipe run")
    ap.add_argument("--work", type=Path, default=WORK, help="cache folder for the oracle draw")
    ap.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=None,
        help="extra seeds (own split and training seed) for the defaults' spread (1 2; none quick)",
    )
    args = ap.parse_args(argv)
    threads = single_thread()
    x, y, n_atoms = read_lattice_csv(SRTIO3_CSV)
    overrides: dict[str, Any] = {}
    if args.quick:
        keep = quick_subset(len(x), QUICK_ROWS)
        x, y, n_atoms = x[keep], y[keep], n_atoms[keep]
        overrides = dict(QUICK_OVERRIDES)
    splits = make_splits(len(x), 0.1, 0.1, 0)
    draw_n = args.draw_n or (50 if args.quick else 1000)
    drawn = independent_draw(draw_n, DRAW_SEED, args.work)
    draw = None if drawn is None else (drawn[0], drawn[1])
    if drawn is None:
        print("chgnet is not importable: the independent-draw scoring is skipped", flush=True)

    # Warm-up (excluded): first-call costs (lazy imports, allocator) would land on the first row.
    warm = TrainConfig(epochs=1, inducing=10, init_subset=100)
    train(x[:200], y[:200], warm, splits=make_splits(200, 0.1, 0.1, 0))
    defaults = TrainConfig()
    rows = []
    for m in args.inducing:
        cfg = TrainConfig(inducing=m, **overrides)
        rows.append(run_config(f"dkluq m={m}", x, y, n_atoms, splits, cfg, draw))
    default_row = next((r for r in rows if r["inducing"] == defaults.inducing), None)
    if default_row is None:
        cfg = TrainConfig(**overrides)
        default_row = run_config("dkluq defaults", x, y, n_atoms, splits, cfg, draw)

    spread = [default_row]
    for seed in args.seeds if args.seeds is not None else ([] if args.quick else [1, 2]):
        cfg = TrainConfig(seed=seed, **overrides)
        seed_splits = make_splits(len(x), 0.1, 0.1, seed)
        spread.append(run_config(f"dkluq seed={seed}", x, y, n_atoms, seed_splits, cfg, draw))

    due: dict[str, Any] | None = None
    if not args.skip_due:
        steps = QUICK_DUE_STEPS if args.quick else DUE_STEPS
        due = run_config(
            "DUE recipe",
            x,
            y,
            n_atoms,
            splits,
            due_config(len(splits.train), steps),
            draw,
        )

    command: dict[str, Any] | None = None
    if not args.skip_command:
        with tempfile.TemporaryDirectory(prefix="dkluq-bench-train-") as tmp:
            table, extra = SRTIO3_CSV, []
            if args.quick:
                import pandas as pd

                table = Path(tmp) / "subset.csv"
                full = pd.read_csv(SRTIO3_CSV)
                full.iloc[quick_subset(len(full), QUICK_ROWS)].to_csv(table, index=False)
                extra = ["--epochs", str(QUICK_OVERRIDES["epochs"]), "--no-plots"]
            command = run_command(table, Path(tmp) / "run", extra, draw)
        print(f"command: {command['seconds']:.1f} s (rc {command['rc']})", flush=True)

    # -- comparisons ---------------------------------------------------------------------------
    block = "draw" if draw is not None else "test"
    reach: dict[str, Any] = {}
    if due is not None:
        if draw is not None:
            reach["draw"] = first_reach(
                default_row["trace"], "draw_rmse_meV_atom", due["draw"]["rmse_meV_atom"]
            )
        reach["val"] = first_reach(
            default_row["trace"], "val_rmse_meV_atom", due["final_val_rmse_meV_atom"]
        )
    result: dict[str, Any] = {
        "benchmark": "train",
        "quick": args.quick,
        "machine": machine_info(),
        "threads": threads,
        "n_rows": len(x),
        "n_train": len(splits.train),
        "n_val": len(splits.val),
        "n_test": len(splits.test),
        "split_seed": 0,
        "quick_overrides": overrides,
        "independent_draw": None
        if drawn is None
        else {"n": draw_n, "seed": DRAW_SEED, "cache": _rel(drawn[2])},
        "chgnet_available": drawn is not None,
        "targets": TARGETS,
        "rows": rows,
        "seed_spread": [seed_summary(r) for r in spread],
        "default_inducing": defaults.inducing,
        "due": due,
        "due_published": DUE_PUBLISHED,
        "command": command,
        "time_to_due_rmse": reach,
        "scored_on": block,
    }
    checks = target_checks(default_row, "test")
    if draw is not None:
        checks += target_checks(default_row, "draw", with_time=False)
    if command is not None and command.get("draw"):
        checks += [
            {**c, "target": "command: " + c["target"]}
            for c in target_checks(command, "draw", with_time=False)
        ]
    if command is not None and command.get("total_train_seconds") is not None:
        t = command["total_train_seconds"]
        checks.append(
            {
                "target": "command: training ≤ 60 s (whole train() call)",
                "scored_on": "metrics.json",
                "value": t,
                "met": "met" if t <= TARGETS["train_seconds"] else "MISSED",
            }
        )
    if command is not None:
        checks.append(
            {
                "target": "whole command < 120 s",
                "scored_on": "wall clock",
                "value": command["seconds"],
                "met": "met" if command["seconds"] < 120 and command["rc"] == 0 else "MISSED",
            }
        )
    result["target_checks"] = checks
    comparison = build_comparison(default_row, due, block)
    result["due_comparison"] = comparison
    write_results(args.out, "train", result, render(result))
    print(render(result))
    return 0


def train_seconds(row: dict[str, Any]) -> float:
    """Wall seconds of a run's ``train()`` call without the benchmark's own per-epoch scoring of
    the independent draw (results written before that was measured: the whole call)."""
    return float(row["train_wall_s"] - row.get("trace_s", 0.0))


def seed_summary(row: dict[str, Any]) -> dict[str, Any]:
    """The targets' figures of one defaults run (test split and, when scored, the draw)."""
    out: dict[str, Any] = {"seed": row["config"]["seed"], "train_s": train_seconds(row)}
    for block in ("test", "draw"):
        if row.get(block):
            for key in ("rmse_meV_atom", "coverage_95", "miscal_area"):
                out[f"{block}_{key}"] = row[block][key]
    checks = [c for b in ("test", "draw") for c in target_checks(row, b, with_time=False)]
    out["accuracy_and_calibration_met"] = all(c["met"] == "met" for c in checks)
    return out


def build_comparison(default_row: dict, due: dict | None, block: str) -> list[dict[str, Any]]:
    """Rows of the dkluq-vs-DUE table (scored on ``block``: the independent draw or test)."""
    rows: list[dict[str, Any]] = [
        {"run": "DUE, published (another machine)", **DUE_PUBLISHED},
    ]
    if due is not None:
        for name, b in (
            ("DUE recipe here, raw σ", block + "_raw"),
            ("DUE recipe here, calibrated σ", block),
        ):
            rows.append(
                {
                    "run": name,
                    "rmse_meV_atom": due[b]["rmse_meV_atom"],
                    "coverage_95": due[b]["coverage_95"],
                    "miscal_area": due[b]["miscal_area"],
                    "nll": due[b]["nll"],
                    "seconds": train_seconds(due),
                    "ms_per_step": due["ms_per_step"],
                    "steps": due["steps"],
                }
            )
    d = default_row
    rows.append(
        {
            "run": f"dkluq defaults (m={d['inducing']}), calibrated σ",
            "rmse_meV_atom": d[block]["rmse_meV_atom"],
            "coverage_95": d[block]["coverage_95"],
            "miscal_area": d[block]["miscal_area"],
            "nll": d[block]["nll"],
            "seconds": train_seconds(d),
            "ms_per_step": d["ms_per_step"],
            "steps": d["steps"],
        }
    )
    return rows


def render(r: dict[str, Any]) -> str:
    """Markdown fragment for the results README."""
    mode = "quick" if r["quick"] else "full"
    lines = [f"## Training (issue 5) — {mode}", "", machine_line(r["machine"]), ""]
    lines.append(
        f"Data: {r['n_rows']} SrTiO3 structures (CHGNet energies), split {r['n_train']}/"
        f"{r['n_val']}/{r['n_test']} (seed {r['split_seed']}). σ is calibrated on the validation "
        "split unless a row says raw. RMSE/MAE in meV/atom (5 atoms). `train() s` is the wall "
        "time of the `train()` call minus the benchmark's own scoring of the independent draw "
        "after every epoch (`draw scoring s`, done inside the progress callback). "
        + (
            f"Independent draw: {r['independent_draw']['n']} new uniform ±10 % structures "
            f"(seed {r['independent_draw']['seed']}) scored by the oracle."
            if r["independent_draw"]
            else "**chgnet is not importable: independent-draw scoring skipped.**"
        )
    )
    if r["quick_overrides"]:
        lines.append(
            f"\nQuick mode: TrainConfig overrides {r['quick_overrides']}; numbers are not meaningful."
        )
    lines += ["", "### dkluq `TrainConfig()` defaults, by number of inducing points", ""]
    rows = []
    for row in r["rows"]:
        t, dr = row["test"], row.get("draw") or {}
        rows.append(
            {
                "m": row["inducing"],
                "epochs": row["epochs_run"],
                "best": row["best_epoch"],
                "wall": train_seconds(row),
                "trace": row.get("trace_s"),
                "loop": row["loop_s"],
                "rmse": t["rmse_meV_atom"],
                "nll": t["nll"],
                "mis": t["miscal_area"],
                "cov": t["coverage_95"],
                "mis_raw": row["test_raw"]["miscal_area"],
                "drmse": dr.get("rmse_meV_atom"),
                "dcov": dr.get("coverage_95"),
                "dmis": dr.get("miscal_area"),
            }
        )
    lines.append(
        md_table(
            rows,
            [
                ("m", "m"),
                ("epochs", "epochs"),
                ("best", "best epoch"),
                ("wall", "train() s"),
                ("trace", "draw scoring s"),
                ("loop", "loop s"),
                ("rmse", "test RMSE"),
                ("nll", "test NLL"),
                ("mis", "test miscal"),
                ("cov", "test cov95"),
                ("mis_raw", "test miscal (raw σ)"),
                ("drmse", "draw RMSE"),
                ("dcov", "draw cov95"),
                ("dmis", "draw miscal"),
            ],
        )
    )
    spread = r.get("seed_spread") or []
    if len(spread) > 1:
        lines += ["", "### Seed spread of the defaults (m = 50; each seed its own split)", ""]
        lines.append(
            md_table(
                spread,
                [
                    ("seed", "seed"),
                    ("train_s", "train() s"),
                    ("test_rmse_meV_atom", "test RMSE"),
                    ("test_coverage_95", "test cov95"),
                    ("test_miscal_area", "test miscal"),
                    ("draw_rmse_meV_atom", "draw RMSE"),
                    ("draw_coverage_95", "draw cov95"),
                    ("draw_miscal_area", "draw miscal"),
                    ("accuracy_and_calibration_met", "RMSE, cov95, miscal all met"),
                ],
            )
        )
        met = sum(bool(row["accuracy_and_calibration_met"]) for row in spread)
        lines.append(
            f"\nAccuracy and calibration targets all met in {met} of {len(spread)} seeds; the "
            "targets table below scores seed 0, the seed the issue names."
        )
    c = r["command"]
    if c is not None:
        lines += ["", "### End-to-end command", ""]
        lines.append(f"`{c['command']}`: **{c['seconds']:.1f} s** wall (exit code {c['rc']}).")
        if c.get("total_train_seconds") is not None:
            lines.append(
                f" Its `train()` call (inducing init, {c.get('epochs_run')} epochs, calibration) "
                f"took {c['total_train_seconds']:.1f} s, the epochs alone {c['train_seconds']:.1f} s "
                "(metrics.json); the rest is interpreter start, reading, the model file and plots."
            )
        if c.get("draw"):
            d = c["draw"]
            lines.append(
                f" On the independent draw: RMSE {fmt(d['rmse_meV_atom'])} meV/atom, coverage_95 "
                f"{fmt(d['coverage_95'])}, miscal_area {fmt(d['miscal_area'])}, NLL {fmt(d['nll'])}."
            )
    lines += ["", "### Targets", ""]
    lines.append(
        md_table(
            r["target_checks"],
            [("target", "target"), ("scored_on", "scored on"), ("value", "value"), ("met", "met?")],
        )
    )
    lines += ["", f"### dkluq vs DUE's regression recipe (scored on the {r['scored_on']} set)", ""]
    lines.append(
        md_table(
            r["due_comparison"],
            [
                ("run", "run"),
                ("rmse_meV_atom", "RMSE meV/atom"),
                ("coverage_95", "cov95"),
                ("miscal_area", "miscal"),
                ("nll", "NLL"),
                ("seconds", "train s"),
                ("ms_per_step", "ms/step"),
                ("steps", "steps"),
            ],
        )
    )
    comp = {row["run"]: row for row in r["due_comparison"]}
    ours = r["due_comparison"][-1]
    lines.append("")
    for key, label, lower in (
        ("rmse_meV_atom", "RMSE", True),
        ("miscal_area", "miscalibration area", True),
        ("seconds", "training time", True),
        ("ms_per_step", "time per step", True),
    ):
        pub = comp["DUE, published (another machine)"].get(key)
        here = comp.get("DUE recipe here, raw σ", {}).get(key)
        lines.append(
            f"- {label}: dkluq {fmt(ours.get(key))} vs DUE published {fmt(pub)} "
            f"({ratio_text(ours.get(key), pub, lower)}), vs DUE recipe run here {fmt(here)} "
            f"({ratio_text(ours.get(key), here, lower)})."
        )
    pub_s = comp["DUE, published (another machine)"].get("seconds")
    here_s = comp.get("DUE recipe here, raw σ", {}).get("seconds")
    if pub_s and here_s and ours.get("seconds"):
        lines.append(
            f"- Scaled by DUE's recipe ({fmt(pub_s)} s published / {fmt(here_s)} s here), dkluq's "
            f"{fmt(ours['seconds'])} s would be about {fmt(ours['seconds'] * pub_s / here_s)} s on "
            "the machine the issue quotes — an estimate from the side-by-side ratio, not a "
            "measurement."
        )
    cov = ours.get("coverage_95")
    lines.append(
        f"- coverage_95: dkluq {fmt(cov)} (target 0.95, |Δ| {fmt(abs(cov - 0.95))}) vs DUE "
        f"published 1.00 (|Δ| 0.05)"
        + (
            f", DUE recipe here (raw σ) {fmt(comp['DUE recipe here, raw σ']['coverage_95'])}."
            if "DUE recipe here, raw σ" in comp
            else "."
        )
    )
    reach = r["time_to_due_rmse"]
    for key, what in (
        (
            "draw",
            "independent-draw RMSE (current weights, evaluated after every epoch, excluded from the timing)",
        ),
        ("val", "validation RMSE (dkluq's own per-epoch val_rmse vs DUE's final val_rmse)"),
    ):
        if key in reach:
            h = reach[key]
            when = (
                f"epoch {h['epoch']}, {fmt(h['seconds'])} s of training loop"
                if h["epoch"] is not None
                else "never within the run"
            )
            lines.append(
                f"- Time for dkluq defaults to first reach DUE's final {what} of "
                f"{fmt(h['level'])} meV/atom: {when}."
            )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
