"""Figures written by ``dkluq scan``: 1-D curves, the isotropic (EOS) line, 2-D maps, overview.

Same conventions as :mod:`dkluq_cli.plots.train`: :class:`matplotlib.figure.Figure` objects (no
pyplot state), format from the path suffix (``.png``, ``.svg``, ``.pdf``), 150 dpi, atomic
writes that replace an existing file, labelled axes with units. Each function takes the tables
and numbers of a :class:`dkluq_cli.analysis.scan.ScanResult` (and the isotropic minimum computed by
:func:`dkluq_cli.analysis.scan_report.iso_minimum`); nothing is recomputed here.

Shading: the training range of each parameter (from the model's domain statistics) is shaded
green on 1-D curves and outlined by a dashed rectangle on 2-D maps; the mean ± 2σ band is the
95 % interval; the dotted horizontal line on σ axes is ``std_q99``, the σ above which a point
counts as outside the domain.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.data.table import LATTICE_COLUMNS
from dkluq_cli.plots.train import _format_of, _new_figure, _save

if TYPE_CHECKING:
    from dkluq_cli.analysis.scan import ScanResult

#: Axis labels with units.
LABELS: dict[str, str] = {
    "a": "a (Å)",
    "b": "b (Å)",
    "c": "c (Å)",
    "alpha": "α (deg)",
    "beta": "β (deg)",
    "gamma": "γ (deg)",
}
SYMBOL: dict[str, str] = {"a": "a", "b": "b", "c": "c", "alpha": "α", "beta": "β", "gamma": "γ"}
TRAIN_COLOUR = "tab:green"


def _unit(result: ScanResult) -> str:
    return result.target_unit or "target units"


def _target_label(result: ScanResult) -> str:
    return result.target.removesuffix("_eV").removesuffix("_per_atom").replace("_", " ")


def _curve(
    ax: Any,
    x: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    colour: str = "C0",
    label: str | None = None,
) -> None:
    """Mean line with a ±2σ band (NaN gaps stay gaps)."""
    ax.fill_between(x, mean - 2 * std, mean + 2 * std, color=colour, alpha=0.25, lw=0)
    ax.plot(x, mean, color=colour, lw=1.5, label=label)


def _std_axis(ax: Any, result: ScanResult) -> None:
    ax.set_yscale("log")
    if result.std_q99:
        ax.axhline(result.std_q99, color="0.3", ls=":", lw=1)
    ax.grid(alpha=0.3, which="both")


def plot_1d(result: ScanResult, path: str | os.PathLike[str]) -> Path:
    """Six 1-D scans: mean ± 2σ (top row) and σ on a log axis (bottom row), one column each.

    Args:
        result: The scan.
        path: Output file (``.png``, ``.svg``, ``.pdf``).

    Returns:
        ``path`` as a :class:`Path`.
    """
    _format_of(Path(path))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(17.0, 6.0), layout="constrained")
    axes = fig.subplots(2, 6, sharex="col")
    unit = _unit(result)
    cols = result.columns
    for j, name in enumerate(LATTICE_COLUMNS):
        df = result.scan_1d[result.scan_1d["scan"] == f"1d:{name}"]
        x = df[name].to_numpy(float)
        mean, std = df[cols["mean"]].to_numpy(float), df[cols["std"]].to_numpy(float)
        top, bottom = axes[0, j], axes[1, j]
        _curve(top, x, mean, std, label="mean ± 2σ")
        bottom.plot(x, std, color="C3", lw=1.5, label="σ")
        for ax in (top, bottom):
            if name in result.training_range:
                ax.axvspan(
                    *result.training_range[name],
                    color=TRAIN_COLOUR,
                    alpha=0.12,
                    lw=0,
                    label="training range",
                )
            ax.axvline(result.centre.params[j], color="0.4", lw=0.8, ls="--")
        _std_axis(bottom, result)
        top.grid(alpha=0.3)
        top.set_title(f"{SYMBOL[name]} varied")
        bottom.set_xlabel(LABELS[name])
        if j == 0:
            top.set_ylabel(f"{_target_label(result)} ({unit})")
            bottom.set_ylabel(f"σ ({unit})")
    axes[0, 0].legend(loc="best", fontsize=8)
    lo, hi = result.lattice_range
    fig.suptitle(
        f"1-D scans ×{lo:g}–{hi:g} around the reference ({result.centre.description}); "
        "dashed: reference, dotted: in-domain σ limit"
    )
    return _save(fig, path)


def plot_iso(result: ScanResult, best: dict[str, Any] | None, path: str | os.PathLike[str]) -> Path:
    """The isotropic scan (a, b, c scaled together): mean ± 2σ and σ against a.

    The refined minimum (parabola through the lowest three points) is marked.

    Args:
        result: The scan.
        best: Its isotropic minimum (``a`` in Å, ``energy`` in target units) or None.
        path: Output file.

    Returns:
        ``path`` as a :class:`Path`.
    """
    _format_of(Path(path))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    df = result.scan_iso
    x = df["a"].to_numpy(float)
    mean, std = (
        df[result.columns["mean"]].to_numpy(float),
        df[result.columns["std"]].to_numpy(float),
    )
    unit = _unit(result)
    _curve(top, x, mean, std, label="mean ± 2σ")
    bottom.plot(x, std, color="C3", lw=1.5)
    if result.iso_training_range is not None:
        s_lo, s_hi = result.iso_training_range
        for ax in (top, bottom):
            ax.axvspan(
                s_lo * result.centre.params[0],
                s_hi * result.centre.params[0],
                color=TRAIN_COLOUR,
                alpha=0.12,
                lw=0,
                label="training range",
            )
    for ax in (top, bottom):
        ax.axvline(result.centre.params[0], color="0.4", lw=0.8, ls="--")
    if best is not None:
        top.plot(
            [best["a"]],
            [best["energy"]],
            "kx",
            ms=8,
            label=f"minimum a = {best['a']:.4f} Å, {best['energy']:.4f} {unit}",
        )
    top.set_ylabel(f"{_target_label(result)} ({unit})")
    top.grid(alpha=0.3)
    top.legend(loc="best", fontsize=8)
    _std_axis(bottom, result)
    bottom.set_ylabel(f"σ ({unit})")
    bottom.set_xlabel("a (Å), with b and c scaled by the same factor")
    r = result.centre.params
    top.set_title(
        f"isotropic scan (equation of state): a, b, c × s, angles {r[3]:.4g}, {r[4]:.4g}, {r[5]:.4g}°"
    )
    return _save(fig, path)


def _map_arrays(result: ScanResult, pair: tuple[str, str]) -> dict[str, np.ndarray]:
    """The 2-D map of ``pair`` as (n_q × n_p) arrays (rows: second parameter)."""
    p, q = pair
    df = result.maps[pair]
    n = round(float(np.sqrt(len(df))))

    def grid(col: str) -> np.ndarray:
        return df[col].to_numpy(float).reshape(n, n).T

    return {
        "x": df[p].to_numpy(float).reshape(n, n)[:, 0],
        "y": df[q].to_numpy(float).reshape(n, n)[0, :],
        "mean": grid(result.columns["mean"]),
        "std": grid(result.columns["std"]),
        "inside": grid("in_domain"),
    }


def _draw_map(
    fig: Any, ax_mean: Any, ax_std: Any, result: ScanResult, pair: tuple[str, str]
) -> None:
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    p, q = pair
    arr = _map_arrays(result, pair)
    unit = _unit(result)
    mean = np.ma.masked_invalid(arr["mean"])
    std = np.ma.masked_invalid(arr["std"])
    m1 = ax_mean.pcolormesh(arr["x"], arr["y"], mean, shading="nearest", cmap="viridis")
    fig.colorbar(m1, ax=ax_mean, label=f"{_target_label(result)} mean ({unit})")
    positive = std.compressed()
    norm = (
        LogNorm(vmin=positive.min(), vmax=positive.max())
        if positive.size and positive.min() > 0 and positive.max() > positive.min()
        else None
    )
    m2 = ax_std.pcolormesh(arr["x"], arr["y"], std, shading="nearest", cmap="magma", norm=norm)
    fig.colorbar(m2, ax=ax_std, label=f"σ ({unit})")
    ip, iq = LATTICE_COLUMNS.index(p), LATTICE_COLUMNS.index(q)
    for ax in (ax_mean, ax_std):
        if p in result.training_range and q in result.training_range:
            (x0, x1), (y0, y1) = result.training_range[p], result.training_range[q]
            ax.add_patch(
                Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="white", lw=1.5, ls="--")
            )
        inside = arr["inside"]
        if 0 < np.nanmean(inside) < 1:
            ax.contour(
                arr["x"],
                arr["y"],
                inside,
                levels=[0.5],
                colors="cyan",
                linewidths=1.0,
                linestyles=":",
            )
        ax.plot([result.centre.params[ip]], [result.centre.params[iq]], "w+", ms=10, mew=1.5)
        ax.set_xlabel(LABELS[p])
        ax.set_ylabel(LABELS[q])
    ax_mean.set_title(f"mean: {SYMBOL[p]} vs {SYMBOL[q]}")
    ax_std.set_title(f"σ: {SYMBOL[p]} vs {SYMBOL[q]}")


def plot_2d(result: ScanResult, pair: tuple[str, str], path: str | os.PathLike[str]) -> Path:
    """Mean and σ heatmaps of a 2-D map side by side.

    The training range is outlined (white dashes), the boundary of ``in_domain`` is drawn in
    cyan dots, the reference is a white cross; impossible cells are left blank.

    Args:
        result: The scan.
        pair: Which map, e.g. ``("a", "alpha")``.
        path: Output file.

    Returns:
        ``path`` as a :class:`Path`.
    """
    _format_of(Path(path))
    fig, (ax_mean, ax_std) = _new_figure(12.0, 4.8, ncols=2)
    _draw_map(fig, ax_mean, ax_std, result, pair)
    others = [k for k in LATTICE_COLUMNS if k not in pair]
    held = ", ".join(f"{SYMBOL[k]} = {result.centre.as_dict()[k]:.4g}" for k in others)
    fig.suptitle(f"2-D map ×{result.lattice_range[0]:g}–{result.lattice_range[1]:g}; held: {held}")
    return _save(fig, path)


def plot_overview(result: ScanResult, path: str | os.PathLike[str]) -> Path:
    """One-page overview: every 1-D and the isotropic scan against the relative factor
    (energy relative to the reference with ±2σ bands, and σ), plus the first 2-D map.

    Args:
        result: The scan.
        path: Output file.

    Returns:
        ``path`` as a :class:`Path`.
    """
    _format_of(Path(path))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13.0, 9.5), layout="constrained")
    axes = fig.subplots(2, 2)
    unit = _unit(result)
    e_ref = result.centre_prediction["mean"]
    s_ref = result.centre_prediction["std"]
    cols = result.columns
    curves = [
        (f"{SYMBOL[n]}", result.scan_1d[result.scan_1d["scan"] == f"1d:{n}"])
        for n in LATTICE_COLUMNS
    ]
    curves.append(("a = b = c (iso)", result.scan_iso))
    for k, (label, df) in enumerate(curves):
        colour = "black" if label.endswith("(iso)") else f"C{k}"
        s = df["scale"].to_numpy(float)
        mean = df[cols["mean"]].to_numpy(float) - e_ref
        std = df[cols["std"]].to_numpy(float)
        ax = axes[0, 0]
        ax.fill_between(s, mean - 2 * std, mean + 2 * std, color=colour, alpha=0.08, lw=0)
        ax.plot(s, mean, color=colour, lw=1.4, label=label)
        axes[0, 1].plot(s, std, color=colour, lw=1.4, label=label)
    axes[0, 0].set_ylabel(f"{_target_label(result)} − reference ({unit})")
    axes[0, 0].set_title("mean ± 2σ, one parameter scaled at a time")
    axes[0, 0].grid(alpha=0.3)
    axes[0, 0].legend(loc="best", fontsize=8, ncol=2)
    axes[0, 1].axhline(
        s_ref, color="0.4", ls="--", lw=0.8, label=f"σ at reference ({s_ref:.3g} {unit})"
    )
    _std_axis(axes[0, 1], result)
    axes[0, 1].set_ylabel(f"σ ({unit})")
    axes[0, 1].set_title("σ grows outside the training range (dotted: in-domain limit)")
    axes[0, 1].legend(loc="best", fontsize=8, ncol=2)
    for ax in axes[0]:
        ax.axvline(1.0, color="0.4", lw=0.8, ls="--")
        ax.set_xlabel("relative factor s (parameter / reference, unitless)")
    if result.maps:
        _draw_map(fig, axes[1, 0], axes[1, 1], result, next(iter(result.maps)))
    else:
        for ax in axes[1]:
            ax.set_axis_off()
    r = result.centre.as_dict()
    fig.suptitle(
        "dkluq scan: reference "
        + ", ".join(f"{SYMBOL[k]} = {v:.4g}" for k, v in r.items())
        + f" ({result.centre.description})"
    )
    return _save(fig, path)


def scan_figures(
    result: ScanResult,
    best: dict[str, Any] | None,
    out_dir: str | os.PathLike[str],
    fmt: str = "png",
) -> list[Path]:
    """Write every scan figure into ``out_dir`` in format ``fmt``.

    Args:
        result: The scan.
        best: Its isotropic minimum (:func:`dkluq_cli.analysis.scan_report.iso_minimum`) or None.
        out_dir: Existing folder.
        fmt: ``png``, ``svg`` or ``pdf``.

    Returns:
        ``scan_1d.<fmt>``, ``scan_iso.<fmt>``, ``scan_2d_<p>_<q>.<fmt>`` per map,
        ``scan_overview.<fmt>``.
    """
    out = Path(out_dir)
    files = [
        plot_1d(result, out / f"scan_1d.{fmt}"),
        plot_iso(result, best, out / f"scan_iso.{fmt}"),
    ]
    files += [
        plot_2d(result, pair, out / f"scan_2d_{pair[0]}_{pair[1]}.{fmt}") for pair in result.maps
    ]
    files.append(plot_overview(result, out / f"scan_overview.{fmt}"))
    return files
