"""The run directory a training run leaves behind (chemprop-style).

``runs/NAME/``: ``model.pt``, ``config.json`` (every hyperparameter plus the table it read),
``splits.json`` (row indices), ``history.csv`` (per epoch: loss, val RMSE, val NLL, seconds),
``metrics.json`` (train/val/test, calibrated and raw, uncertainty-toolbox names, with units),
and the plots ``parity.png``, ``calibration.png``, ``history.png``, ``inducing.png``. An
interrupted run also holds ``checkpoint.pt`` and ``INTERRUPTED.txt`` (:mod:`dkluq_cli.training.checkpoint`).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import numpy as np

from dkluq_cli.data.output import atomic_write
from dkluq_cli.uq.calibration import fit_sigma_scale
from dkluq_cli.uq.metrics import metric_units, regression_metrics


def default_run_dir(table: str | os.PathLike[str], root: str = "runs") -> Path:
    """``runs/<table stem>-<UTC time>`` for a table path."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{Path(table).stem}-{stamp}"


def evaluate(
    surrogate: Any,
    x: np.ndarray,
    y: np.ndarray,
    splits: dict[str, list[int]],
    n_atoms: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics per split, calibrated and raw, in target units (plus meV/atom when known).

    Args:
        surrogate: The trained model.
        x: All inputs (feature units).
        y: All targets (target units).
        splits: Row indices per split name.
        n_atoms: Atoms per row, to report per-atom errors for a total-energy target.

    Returns:
        ``{"train": {...}, "val": {...}, "test": {...}, "<split>_raw": {...}, "units": {...}}``.
    """

    out: dict[str, Any] = {}
    for name, idx in splits.items():
        if len(idx) < 2:
            continue
        mean, std = surrogate.predict(x[idx], calibrated=False)
        raw = regression_metrics(y[idx], mean, std)
        cal = regression_metrics(y[idx], mean, std * surrogate.sigma_scale)
        if n_atoms is not None and surrogate.target_unit == "eV":
            err = (mean - y[idx]) / n_atoms[idx] * 1000.0
            for block in (raw, cal):
                block["rmse_meV_per_atom"] = float(np.sqrt(np.mean(err**2)))
                block["mae_meV_per_atom"] = float(np.mean(np.abs(err)))
        out[name] = cal
        out[f"{name}_raw"] = raw
    units = metric_units(surrogate.target_unit)
    units.update(rmse_meV_per_atom="meV/atom", mae_meV_per_atom="meV/atom")
    out["units"] = units
    out["sigma_scale"] = surrogate.sigma_scale
    return out


def trend_metrics(
    sur: Any, x: np.ndarray, y: np.ndarray, splits: dict[str, list[int]]
) -> dict[str, Any]:
    """Degree and term count of the polynomial trend, and the RMSE of the trend alone per split
    (target units): how much of the surface the polynomial explains before the GP."""
    trend = sur.trend
    out: dict[str, Any] = {"degree": trend.degree, "terms": len(trend.coef)}
    for split, idx in splits.items():
        if len(idx):
            base = trend(sur.coordinates(x[idx]))
            out[f"{split}_rmse_trend_only"] = float(np.sqrt(np.mean((y[idx] - base) ** 2)))
    return out


def held_out_metrics(
    sur: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    splits: dict[str, list[int]],
    n_atoms: np.ndarray | None,
    held: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    method: str,
) -> dict[str, Any]:
    """Metrics of predictions made without the rows they score, calibrated σ, and how they were
    held out: the coverage ``dkluq train`` reports.

    Args:
        sur: The trained model.
        x: All inputs (feature units).
        y: All targets (target units).
        splits: Row indices per split name.
        n_atoms: Atoms per row, for per-atom errors.
        held: Exact head: ``(positions in the training split, held-out mean, calibrated σ)``
            (:func:`dkluq_cli.training.fit_exact.held_out`); None for the SVGP head, which is
            scored on its test split, or without one on its validation split, each half with
            the σ scale fitted on the other half (the scale was fitted on these rows).
        method: How ``held`` was held out, in words.
    """
    if held is not None:
        pos, mean, std = held
        rows = [splits["train"][int(i)] for i in pos]
        return _scored(y[rows], mean, std, n_atoms, rows, method)
    if len(splits["test"]) >= 2:
        rows = splits["test"]
        mean, std = sur.predict(x[rows], calibrated=False)
        method = "test split (rows used neither in training nor in calibration)"
        return _scored(y[rows], mean, std * sur.sigma_scale, n_atoms, rows, method)
    rows = list(splits["val"])
    if len(rows) < 4:
        return {"method": "none (fewer than 4 validation rows and no test split)"}
    mean, std = sur.predict(x[rows], calibrated=False)
    half = np.arange(len(rows)) % 2 == 0
    scale = np.empty(len(rows))
    for part in (half, ~half):
        scale[part] = fit_sigma_scale(y[rows][~part], mean[~part], std[~part])
    method = "validation split, each half with the σ scale fitted on the other half"
    return _scored(y[rows], mean, std * scale, n_atoms, rows, method)


def _scored(
    y: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    n_atoms: np.ndarray | None,
    rows: list[int],
    method: str,
) -> dict[str, Any]:
    """Metrics of held-out predictions (target units; meV/atom when the table has
    ``n_atoms``), with the method that held them out."""

    out: dict[str, Any] = {k: float(v) for k, v in regression_metrics(y, mean, std).items()}
    if n_atoms is not None:
        err = (mean - y) / n_atoms[rows] * 1000.0
        out["rmse_meV_per_atom"] = float(np.sqrt(np.mean(err**2)))
        out["mae_meV_per_atom"] = float(np.mean(np.abs(err)))
    out["method"] = method
    return out


def write_history(path: Path, history: list[dict[str, float]]) -> Path:
    """``history.csv``: one row per epoch."""
    import pandas as pd

    cols = ["epoch", "loss", "val_rmse", "val_nll", "seconds", "lr"]
    df = pd.DataFrame(history, columns=cols)
    with atomic_write(path, force=True) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")
    return path
