"""Figures written by ``dkluq scan``: 1-D curves, the isotropic (EOS) line, 2-D maps, overview.

Same conventions as every figure (:mod:`dkluq_cli.plots.figure`): :class:`matplotlib.figure.Figure` objects (no
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
from dkluq_cli.plots.figure import fit_title, format_of, save
from dkluq_cli.plots.scan_maps import draw_map, plot_2d
from dkluq_cli.plots.scan_style import LABELS, SYMBOL, TRAIN_COLOUR, target_label, unit_of

if TYPE_CHECKING:
    from dkluq_cli.analysis.scan import ScanResult


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


def _clip_band(ax: Any, mean: np.ndarray, std: np.ndarray) -> bool:
    """Limit the y axis to the mean curve (plus a margin) when the ±2σ band would stretch it
    far beyond: a band reaching tens of eV below a minimum hides the curve. Returns whether the
    band was clipped."""
    ok = np.isfinite(mean) & np.isfinite(std)
    if not ok.any():
        return False
    lo, hi = float(mean[ok].min()), float(mean[ok].max())
    margin = max(0.25 * (hi - lo), 2.0 * float(np.median(std[ok])), 1e-12)
    band_lo, band_hi = float((mean - 2 * std)[ok].min()), float((mean + 2 * std)[ok].max())
    if band_lo >= lo - margin and band_hi <= hi + margin:
        return False
    ax.set_ylim(max(band_lo, lo - margin), min(band_hi, hi + margin))
    return True


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
    format_of(Path(path))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(17.0, 6.0), layout="constrained")
    axes = fig.subplots(2, 6, sharex="col")
    unit = unit_of(result)
    cols = result.columns
    for j, name in enumerate(LATTICE_COLUMNS):
        df = result.scan_1d[result.scan_1d["scan"] == f"1d:{name}"]
        x = df[name].to_numpy(float)
        mean, std = df[cols["mean"]].to_numpy(float), df[cols["std"]].to_numpy(float)
        top, bottom = axes[0, j], axes[1, j]
        _curve(top, x, mean, std, label="mean ± 2σ")
        if _clip_band(top, mean, std):
            top.set_title(f"{SYMBOL[name]} varied (±2σ clipped)")
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
        if not top.get_title():
            top.set_title(f"{SYMBOL[name]} varied")
        bottom.set_xlabel(LABELS[name])
        if j == 0:
            top.set_ylabel(f"{target_label(result)} ({unit})")
            bottom.set_ylabel(f"σ ({unit})")
    axes[0, 0].legend(loc="best", fontsize=8)
    lo, hi = result.lattice_range
    fig.suptitle(
        fit_title(
            f"1-D scans ×{lo:g}–{hi:g} around the reference ({result.centre.description}); "
            "dashed: reference, dotted: in-domain σ limit",
            17.0,
        )
    )
    return save(fig, path)


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
    format_of(Path(path))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    df = result.scan_iso
    x = df["a"].to_numpy(float)
    mean, std = (
        df[result.columns["mean"]].to_numpy(float),
        df[result.columns["std"]].to_numpy(float),
    )
    unit = unit_of(result)
    _curve(top, x, mean, std, label="mean ± 2σ")
    clipped = _clip_band(top, mean, std)
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
    top.set_ylabel(f"{target_label(result)} ({unit})")
    top.grid(alpha=0.3)
    top.legend(loc="best", fontsize=8)
    if clipped:
        top.text(
            0.5,
            0.02,
            "±2σ band clipped to the curve's range; σ on its own axis below",
            transform=top.transAxes,
            ha="center",
            va="bottom",
            fontsize=8,
            color="0.3",
        )
    _std_axis(bottom, result)
    bottom.set_ylabel(f"σ ({unit})")
    bottom.set_xlabel("a (Å), with b and c scaled by the same factor")
    r = result.centre.params
    top.set_title(
        fit_title(
            "isotropic scan (equation of state): a, b, c × s, angles "
            f"{r[3]:.4g}, {r[4]:.4g}, {r[5]:.4g}°",
            6.5,
        ),
        fontsize=10,
    )
    return save(fig, path)


def plot_overview(result: ScanResult, path: str | os.PathLike[str]) -> Path:
    """One-page overview: every 1-D and the isotropic scan against the relative factor
    (energy relative to the reference with ±2σ bands, and σ), plus the first 2-D map.

    Args:
        result: The scan.
        path: Output file.

    Returns:
        ``path`` as a :class:`Path`.
    """
    format_of(Path(path))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13.0, 9.5), layout="constrained")
    axes = fig.subplots(2, 2)
    unit = unit_of(result)
    e_ref = result.centre_prediction["mean"]
    s_ref = result.centre_prediction["std"]
    cols = result.columns
    curves = _distinct_curves(result)
    means = []
    for k, (label, df) in enumerate(curves):
        colour = "black" if label.endswith("(iso)") else f"C{k}"
        s = df["scale"].to_numpy(float)
        mean = df[cols["mean"]].to_numpy(float) - e_ref
        std = df[cols["std"]].to_numpy(float)
        means.append((mean, std))
        ax = axes[0, 0]
        ax.fill_between(s, mean - 2 * std, mean + 2 * std, color=colour, alpha=0.08, lw=0)
        ax.plot(s, mean, color=colour, lw=1.4, label=label)
        axes[0, 1].plot(s, std, color=colour, lw=1.4, label=label)
    clipped = _clip_band(
        axes[0, 0], np.concatenate([m for m, _ in means]), np.concatenate([d for _, d in means])
    )
    axes[0, 0].set_ylabel(f"{target_label(result)} − reference ({unit})")
    axes[0, 0].set_title(
        "mean ± 2σ, one parameter scaled at a time" + (" (bands clipped)" if clipped else "")
    )
    axes[0, 0].grid(alpha=0.3)
    axes[0, 0].legend(loc="best", fontsize=8, ncol=2)
    axes[0, 1].axhline(
        s_ref, color="0.4", ls="--", lw=0.8, label=f"σ at reference ({s_ref:.3g} {unit})"
    )
    _std_axis(axes[0, 1], result)
    axes[0, 1].set_ylabel(f"σ ({unit})")
    where = (
        "the scans leave the training range"
        if _leaves_training_range(result)
        else "every scan stays inside the training range"
    )
    axes[0, 1].set_title(f"σ along each scan: {where} (dotted: in-domain limit)")
    axes[0, 1].legend(loc="best", fontsize=8, ncol=2)
    for ax in axes[0]:
        ax.axvline(1.0, color="0.4", lw=0.8, ls="--")
        ax.set_xlabel("relative factor s (parameter / reference, unitless)")
    if result.maps:
        draw_map(fig, axes[1, 0], axes[1, 1], result, next(iter(result.maps)))
    else:
        for ax in axes[1]:
            ax.set_axis_off()
    r = result.centre.as_dict()
    fig.suptitle(
        fit_title(
            "dkluq scan: reference "
            + ", ".join(f"{SYMBOL[k]} = {v:.4g}" for k, v in r.items())
            + f" ({result.centre.description})",
            13.0,
        )
    )
    return save(fig, path)


def _distinct_curves(result: ScanResult) -> list[tuple[str, Any]]:
    """The 1-D scans and the isotropic one, curves that coincide at the figure's resolution (a, b
    and c of a cubic crystal) merged under one label, so the legend lists only what can be seen.
    """
    cols = result.columns
    scans = {n: result.scan_1d[result.scan_1d["scan"] == f"1d:{n}"] for n in LATTICE_COLUMNS}
    means = np.concatenate([df[cols["mean"]].to_numpy(float) for df in scans.values()])
    span = float(np.nanmax(means) - np.nanmin(means)) if np.isfinite(means).any() else 0.0
    groups: list[tuple[list[str], Any]] = []
    for name, df in scans.items():
        for names, first in groups:
            if _coincide(df, first, cols, tol=0.01 * span):
                names.append(SYMBOL[name])
                break
        else:
            groups.append(([SYMBOL[name]], df))
    out = [(", ".join(names), df) for names, df in groups]
    out.append(("a = b = c (iso)", result.scan_iso))
    return out


def _coincide(one: Any, other: Any, cols: dict[str, str], tol: float) -> bool:
    """Whether two scans' means differ by less than ``tol`` and their σ by less than 15 % (a few
    pixels on the log σ axis)."""
    m1, m2 = one[cols["mean"]].to_numpy(float), other[cols["mean"]].to_numpy(float)
    s1, s2 = one[cols["std"]].to_numpy(float), other[cols["std"]].to_numpy(float)
    if m1.shape != m2.shape or not np.array_equal(np.isfinite(m1), np.isfinite(m2)):
        return False
    ok = np.isfinite(m1)
    return bool(
        np.all(np.abs(m1[ok] - m2[ok]) <= tol)
        and np.all(np.abs(s1[ok] - s2[ok]) <= 0.15 * np.maximum(s1[ok], s2[ok]))
    )


def _leaves_training_range(result: ScanResult) -> bool:
    """Whether any point of the 1-D or isotropic scans lies outside the training range."""
    for name, (lo, hi) in result.training_range.items():
        values = np.concatenate(
            [result.scan_1d[name].to_numpy(float), result.scan_iso[name].to_numpy(float)]
        )
        if (values < lo).any() or (values > hi).any():
            return True
    return False


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
