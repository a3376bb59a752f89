"""What ``dkluq train`` shows when it is done: the run's figures and the summary on stderr."""

from __future__ import annotations

from pathlib import Path

from dkluq_cli.cli.common import err_console, print_table


def draw_figures(job) -> list[Path]:
    """Draw parity, calibration, history and inducing-point figures into the run directory
    (nothing when the job computed no figure data; a figure without data is left out and
    :attr:`TrainFigures.notes` says why)."""
    fig = job.figures
    if fig is None:
        return []
    from dkluq_cli.plots.train import calibration_plot, history_plot, inducing_plot, parity_plot

    run = job.run_dir
    out = []
    ev = fig.evaluation
    if ev is not None:
        title = f"{ev.split} (n = {len(ev.y_true)})"
        out.append(
            parity_plot(
                ev.y_true,
                ev.y_mean,
                ev.y_std,
                run / "parity.png",
                metrics=ev.metrics,
                unit=fig.unit,
                title=title,
            )
        )
        out.append(calibration_plot(ev.calibration, run / "calibration.png", title))
    if fig.history:
        import pandas as pd

        out.append(history_plot(pd.DataFrame(fig.history), run / "history.png", unit=fig.unit))
    if fig.features is not None and fig.inducing is not None:
        out.append(
            inducing_plot(
                fig.features, fig.inducing, run / "inducing.png", color=fig.color, of=fig.n_train
            )
        )
    return out


def _regime_line(m, tr, unit: str) -> str:
    """What ran, in one line: the head and why, then its particulars."""
    regime = m["regime"]
    head = f"head {regime['head']} ({regime['reason']})"
    if regime["head"] == "exact":
        head += f", fitted on {regime['n_train']} rows (train + validation)"
        sym = regime.get("symmetry")
        sym_text = (
            f"point group {sym['point_group']} ({sym['order']} operations)"
            if sym
            else "no symmetry"
        )
        law = regime.get("inflation") or {}
        noise = regime.get("calibration", {}).get("noise", {})
        return (
            f"{head}: {regime['coordinates']} coordinates, {sym_text}, polynomial degree "
            f"{regime['degree']} (by held-out likelihood), σ inflation γ "
            f"{law.get('gamma', 0.0):.2f} beyond the box; noise σ learned "
            f"{noise.get('learned_std', float('nan')):.3g} {unit}, held-out "
            f"{noise.get('held_out_std', float('nan')):.3g} {unit}; fit "
            f"{tr['train_seconds']:.1f} s on {tr['device']}"
        )
    init = m["inducing_init"]
    fz = (
        f", m_f={init['fuzzifier']:.3f}, partition coeff {init['partition_coefficient']:.3f}"
        if "fuzzifier" in init
        else ""
    )
    return (
        f"{head}: {tr['epochs_run']} epochs (best {tr['best_epoch']}, batch "
        f"{tr.get('batch_size', '?')}) in {tr['train_seconds']:.1f} s on {tr['device']} with "
        f"{tr['threads']} thread(s); trend degree {m.get('trend', {}).get('degree', 0)}; "
        f"inducing init {init['method']}{fz}"
    )


def _crystal_line(crystal) -> str:
    """Which reference crystal the model uses, or how to give one."""
    if not crystal:
        return (
            "reference crystal: none (no --reference, and no crystal from dkluq ingest beside the table), "
            "so no symmetry; give one with --reference POSCAR"
        )
    group = f", point group {crystal['point_group']}" if crystal.get("point_group") else ""
    return f"reference crystal: {crystal['formula'] or '?'} from {crystal['source']}{group}"


def summary(job) -> None:
    """The metrics table and one line on what ran, on stderr."""
    from rich.table import Table

    m = job.metrics
    unit = job.result.surrogate.target_unit
    splits = [s for s in ("train", "val", "test", "held_out") if "rmse" in m.get(s, {})]
    per_atom = any("rmse_meV_per_atom" in m[s] for s in splits)
    t = Table(title=f"dkluq train → {job.run_dir or '(no run folder)'}", show_edge=False)
    t.add_column("split", no_wrap=True, min_width=5)
    for col in ("rmse", "mae", "nll", "coverage_95", "miscal_area"):
        t.add_column(col, justify="right", no_wrap=True)
    if per_atom:
        t.add_column("rmse\nmeV/atom", justify="right", no_wrap=True)
    for split in splits:
        row = [split.replace("_", " ")] + [
            f"{m[split][k]:.4g}" for k in ("rmse", "mae", "nll", "coverage_95", "miscal_area")
        ]
        if per_atom:
            v = m[split].get("rmse_meV_per_atom")
            row.append("" if v is None else f"{v:.3f}")
        t.add_row(*row)
    print_table(t)
    console = err_console()
    for split in ("val", "test"):
        n = m["training"].get(f"n_{split}", 0)
        if 0 < n < 2 and split not in m:
            console.print(f"{split} split: {n} row, too few for metrics")
    if job.figures is not None:
        for note in job.figures.notes:
            console.print(f"[yellow]{note}[/]")
    console.print(
        f"rmse/mae in {unit}; σ scale {m['sigma_scale']:.3f}; "
        + _regime_line(m, m["training"], unit)
    )
    console.print(_crystal_line(m["regime"].get("crystal")))
    held = m.get("held_out", {})
    if "coverage_95" in held:
        console.print(
            f"out-of-sample coverage_95 {held['coverage_95']:.3f} over {int(held['n'])} rows "
            f"({held['method']})"
        )
    if job.result.interrupted:
        console.print(
            f"[yellow]interrupted: best state saved; resume with dkluq train --resume {job.run_dir}[/]"
        )
