"""Figures written by ``dkluq train``: parity, calibration, training history, inducing points.

One function per figure. Each takes arrays and an output path and returns the path; the
conventions (format from the suffix, 150 dpi, atomic writes, no pyplot state) are
:mod:`dkluq_cli.plots.figure`'s.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dkluq_cli.errors import TableError
from dkluq_cli.plots.figure import format_of, new_figure, save
from dkluq_cli.uq.metrics import validate_predictions

if TYPE_CHECKING:
    import pandas as pd


def parity_plot(
    y_true: np.ndarray,
    y_mean: np.ndarray,
    y_std: np.ndarray,
    path: str | os.PathLike[str],
    *,
    metrics: dict[str, float],
    unit: str = "eV",
    title: str | None = None,
) -> Path:
    """Predicted vs observed target with ±2σ error bars and the y = x line.

    The RMSE, MAE and the 95 % interval coverage are written in a corner of the plot.

    Args:
        y_true: Observed targets, shape (n,), in ``unit``.
        y_mean: Predicted means, shape (n,), in ``unit``.
        y_std: Predicted standard deviations, shape (n,), in ``unit``, > 0.
        path: Output file; ``.png``, ``.svg`` or ``.pdf``.
        metrics: ``rmse`` and ``mae`` (``unit``), ``coverage_95`` and ``n`` of these predictions
            (:func:`dkluq_cli.uq.metrics.regression_metrics`).
        unit: Target unit for the axis labels and annotation.
        title: Optional figure title.

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        TableError: The arrays differ in length, are empty or non-finite, or a std is ≤ 0.
        OutputError: The path has an unknown suffix or cannot be written.
    """
    y_t, y_m, y_s = validate_predictions(y_true, y_mean, y_std)
    format_of(Path(path))
    m = metrics

    fig, ax = new_figure(5.0, 5.0)
    ax.errorbar(
        y_t,
        y_m,
        yerr=2 * y_s,
        fmt="o",
        ms=3,
        alpha=0.6,
        elinewidth=0.8,
        capsize=0,
        label="prediction ± 2σ",
    )
    lo = float(min(y_t.min(), (y_m - 2 * y_s).min()))
    hi = float(max(y_t.max(), (y_m + 2 * y_s).max()))
    pad = 0.05 * (hi - lo) if hi > lo else 1.0
    lims = (lo - pad, hi + pad)
    ax.plot(lims, lims, color="black", lw=1, ls="--", label="y = x")
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_aspect("equal")
    ax.set_xlabel(f"observed ({unit})")
    ax.set_ylabel(f"predicted ({unit})")
    ax.text(
        0.04,
        0.96,
        f"RMSE = {m['rmse']:.4g} {unit}\nMAE = {m['mae']:.4g} {unit}\n"
        f"95 % interval coverage = {m['coverage_95']:.1%}\nn = {int(m['n'])}",
        transform=ax.transAxes,
        va="top",
        ha="left",
        fontsize=9,
        bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8},
    )
    ax.legend(loc="lower right", fontsize=9)
    if title:
        ax.set_title(title)
    return save(fig, path)


def calibration_plot(
    curves: list[tuple[str, np.ndarray, np.ndarray, float]],
    path: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """Calibration curves: expected vs observed proportion of points in centred intervals.

    The area between the first curve and the diagonal (its miscalibration area) is shaded; a
    second curve (e.g. the σ before calibration scaling) is drawn dash-dotted, so the effect of
    calibration is visible.

    Args:
        curves: ``(label, expected, observed, miscal_area)`` per curve, from
            :func:`dkluq_cli.uq.metrics.calibration_curve` (proportions, unitless).
        path: Output file; ``.png``, ``.svg`` or ``.pdf``.
        title: Optional figure title.

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        TableError: No curve given.
        OutputError: The path has an unknown suffix or cannot be written.
    """
    format_of(Path(path))
    if not curves:
        raise TableError("a calibration plot needs at least one curve")
    fig, ax = new_figure(5.0, 5.0)
    ax.plot([0, 1], [0, 1], color="black", lw=1, ls="--", label="ideal")
    (label, expected, observed, area), *others = curves
    ax.fill_between(expected, expected, observed, color="C0", alpha=0.25, lw=0)
    ax.plot(expected, observed, color="C0", lw=2, label=f"{label} (miscal. area {area:.3f})")
    for n, (other, exp_o, obs_o, area_o) in enumerate(others, start=1):
        ax.plot(
            exp_o,
            obs_o,
            color=f"C{n}",
            lw=1.5,
            ls="-.",
            label=f"{other} (miscal. area {area_o:.3f})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("expected proportion in interval (unitless)")
    ax.set_ylabel("observed proportion in interval (unitless)")
    ax.text(
        0.97,
        0.03,
        "below diagonal: overconfident\nabove diagonal: underconfident",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=8,
        color="0.35",
    )
    ax.legend(loc="upper left", fontsize=9)
    if title:
        ax.set_title(title)
    return save(fig, path)


def history_plot(
    history: pd.DataFrame,
    path: str | os.PathLike[str],
    unit: str = "eV",
    title: str | None = None,
) -> Path:
    """Training history: loss per epoch (left) and validation RMSE and NLL (right).

    The loss axis is logarithmic when every loss is positive, symmetric-logarithmic otherwise
    (a negative ELBO-based loss is normal). Epochs without validation (NaN) are skipped.

    Args:
        history: One row per epoch with columns ``epoch``, ``loss`` (training loss, nats per
            point), ``val_rmse`` (target unit), ``val_nll`` (nats per point) and ``seconds``
            (wall time, s; total shown in the title).
        path: Output file; ``.png``, ``.svg`` or ``.pdf``.
        unit: Target unit for the RMSE axis label.
        title: Optional figure title.

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        TableError: A required column is missing or there are no rows.
        OutputError: The path has an unknown suffix or cannot be written.
    """
    format_of(Path(path))
    needed = ["epoch", "loss", "val_rmse", "val_nll"]
    missing = [c for c in needed if c not in history.columns]
    if missing:
        raise TableError(f"training history lacks column(s): {', '.join(missing)}")
    if len(history) == 0:
        raise TableError("training history is empty")
    epoch = history["epoch"].to_numpy(dtype=float)
    loss = history["loss"].to_numpy(dtype=float)

    fig, (ax_loss, ax_rmse) = new_figure(10.0, 4.0, ncols=2)
    ok = np.isfinite(loss)
    ax_loss.plot(epoch[ok], loss[ok], color="C0", lw=1.5)
    if ok.any() and (loss[ok] > 0).all():
        ax_loss.set_yscale("log")
    else:
        from matplotlib.ticker import FuncFormatter

        # symlog's default labels mix powers and plain numbers ("10¹, 10⁰, 0"): plain numbers
        ax_loss.set_yscale("symlog", linthresh=1.0)
        ax_loss.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss (nats per point)")
    ax_loss.grid(alpha=0.3, which="both")

    rmse = history["val_rmse"].to_numpy(dtype=float)
    nll = history["val_nll"].to_numpy(dtype=float)
    ok_r = np.isfinite(rmse)
    ok_n = np.isfinite(nll)
    (l1,) = ax_rmse.plot(epoch[ok_r], rmse[ok_r], color="C1", marker=".", label="val RMSE")
    ax_rmse.set_xlabel("epoch")
    ax_rmse.set_ylabel(f"validation RMSE ({unit})", color="C1")
    ax_nll = ax_rmse.twinx()
    (l2,) = ax_nll.plot(epoch[ok_n], nll[ok_n], color="C2", marker=".", label="val NLL")
    ax_nll.set_ylabel("validation NLL (nats per point)", color="C2")
    ax_rmse.legend(handles=[l1, l2], loc="upper right", fontsize=9)
    ax_rmse.grid(alpha=0.3)

    heading = title or "training history"
    if "seconds" in history.columns:
        secs = history["seconds"].to_numpy(dtype=float)
        if np.isfinite(secs).any():
            # ``seconds`` may be per-epoch or cumulative; the last cumulative value or the sum
            total = (
                float(np.nanmax(secs))
                if np.all(np.diff(secs[np.isfinite(secs)]) >= 0)
                else float(np.nansum(secs))
            )
            heading += f" ({total:.1f} s)"
    fig.suptitle(heading)
    return save(fig, path)


def _pca_2d(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre and 2-D basis of ``features`` by SVD, plus the explained-variance fractions."""
    center = features.mean(axis=0)
    _, sing, vt = np.linalg.svd(features - center, full_matrices=False)
    basis = vt[:2].T
    var = sing**2
    frac = var[:2] / var.sum() if var.sum() > 0 else np.zeros(min(2, len(var)))
    if basis.shape[1] < 2:  # one-dimensional features: second axis is zero
        basis = np.hstack([basis, np.zeros((basis.shape[0], 2 - basis.shape[1]))])
        frac = np.concatenate([frac, np.zeros(2 - len(frac))])
    return center, basis, frac


def inducing_plot(
    features: np.ndarray,
    inducing: np.ndarray,
    path: str | os.PathLike[str],
    *,
    color: np.ndarray | None = None,
    color_label: str = "energy (eV)",
    title: str | None = None,
    of: int | None = None,
) -> Path:
    """Training points and GP inducing points in the first two principal components of the
    learned feature space.

    The PCA (numpy SVD) is fitted on ``features``; the inducing points are projected with the
    same centre and basis and drawn as red crosses.

    Args:
        features: Feature-extractor outputs of the training points, shape (n, D), unitless.
        inducing: Inducing-point locations in the same space, shape (m, D), unitless.
        path: Output file; ``.png``, ``.svg`` or ``.pdf``.
        color: Optional values to colour the points by (e.g. the target), shape (n,); a
            colourbar is drawn.
        color_label: Colourbar label, with units.
        title: Optional figure title.
        of: Rows of the training split when ``features`` shows a subsample of them.

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        TableError: Shapes do not agree or values are non-finite.
        OutputError: The path has an unknown suffix or cannot be written.
    """
    format_of(Path(path))
    feats = np.asarray(features, dtype=float)
    ind = np.asarray(inducing, dtype=float)
    if feats.ndim != 2 or feats.shape[0] == 0:
        raise TableError(f"features must have shape (n, D) with n ≥ 1, got {feats.shape}")
    if ind.ndim != 2 or ind.shape[1] != feats.shape[1]:
        raise TableError(
            f"inducing must have shape (m, {feats.shape[1]}) like features, got {ind.shape}"
        )
    if not (np.isfinite(feats).all() and np.isfinite(ind).all()):
        raise TableError("features or inducing points hold non-finite values")
    c = None
    if color is not None:
        c = np.asarray(color, dtype=float).reshape(-1)
        if c.shape[0] != feats.shape[0]:
            raise TableError(f"color has {c.shape[0]} values but features has {feats.shape[0]}")

    center, basis, frac = _pca_2d(feats)
    p_feat = (feats - center) @ basis
    p_ind = (ind - center) @ basis

    fig, ax = new_figure(6.0, 5.0)
    if c is not None:
        sc = ax.scatter(p_feat[:, 0], p_feat[:, 1], c=c, s=10, cmap="viridis", alpha=0.8)
        fig.colorbar(sc, ax=ax, label=color_label)
    else:
        ax.scatter(p_feat[:, 0], p_feat[:, 1], s=10, color="0.5", alpha=0.7)
    ax.scatter(
        p_ind[:, 0],
        p_ind[:, 1],
        marker="x",
        color="red",
        s=40,
        linewidths=1.5,
        label=f"inducing points (m = {ind.shape[0]})",
    )
    ax.set_xlabel(f"PC 1 of learned features ({frac[0]:.0%} of variance, unitless)")
    ax.set_ylabel(f"PC 2 of learned features ({frac[1]:.0%} of variance, unitless)")
    ax.legend(loc="best", fontsize=9)
    n = feats.shape[0]
    shown = f"{n} of {of} training rows" if of is not None and of > n else f"n = {n}"
    ax.set_title(title or f"learned feature space ({shown}, D = {feats.shape[1]})")
    return save(fig, path)
