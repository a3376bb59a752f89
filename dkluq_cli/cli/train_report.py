"""What ``dkluq train`` shows when it is done: the run's figures and the summary on stderr."""

from __future__ import annotations

from pathlib import Path

from dkluq_cli.cli.common import err_console


def draw_figures(job) -> list[Path]:
    """Draw parity, calibration, history and inducing-point figures into the run directory
    (nothing when the job computed no figure data)."""
    fig = job.figures
    if fig is None:
        return []
    from dkluq_cli.plots.train import calibration_plot, history_plot, inducing_plot, parity_plot

    run = job.run_dir
    out = [
        parity_plot(fig.y_true, fig.y_mean, fig.y_std, run / "parity.png", fig.metrics, fig.unit),
        calibration_plot(fig.calibration, run / "calibration.png"),
    ]
    if fig.history:
        import pandas as pd

        out.append(history_plot(pd.DataFrame(fig.history), run / "history.png"))
    if fig.features is not None and fig.inducing is not None:
        out.append(inducing_plot(fig.features, fig.inducing, run / "inducing.png", color=fig.color))
    return out


def _regime_line(m, tr, unit: str) -> str:
    """What ran, in one line: the head and why, then its particulars."""
    regime = m["regime"]
    head = f"head {regime['head']} ({regime['reason']})"
    if regime["head"] == "exact":
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


def summary(job) -> None:
    """The metrics table and one line on what ran, on stderr."""
    from rich.table import Table

    m = job.metrics
    unit = job.result.surrogate.target_unit
    t = Table(title=f"dkluq train → {job.run_dir}", show_edge=False)
    t.add_column("split")
    for col in ("rmse", "mae", "nll", "coverage_95", "miscal_area"):
        t.add_column(col, justify="right")
    if "rmse_meV_per_atom" in m.get("test", m.get("val", {})):
        t.add_column("rmse meV/atom", justify="right")
    for split in ("train", "val", "test", "held_out"):
        if "rmse" not in m.get(split, {}):
            continue
        row = [split.replace("_", " ")] + [
            f"{m[split][k]:.4g}" for k in ("rmse", "mae", "nll", "coverage_95", "miscal_area")
        ]
        if "rmse_meV_per_atom" in m[split]:
            row.append(f"{m[split]['rmse_meV_per_atom']:.3f}")
        t.add_row(*row)
    console = err_console()
    console.print(t)
    console.print(
        f"rmse/mae in {unit}; σ scale {m['sigma_scale']:.3f}; "
        + _regime_line(m, m["training"], unit)
    )
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
