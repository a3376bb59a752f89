"""One ``dkluq train`` job end to end: read the table, train, write the run directory.

Kept separate from the CLI so it can be used as a library call and tested without Typer. The
figures are drawn by the CLI from the numbers :func:`figure_data` computes here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.structure_io import check_single_composition, reference_from_sidecar
from dkluq_cli.data.output import prepare_output_dir, write_json
from dkluq_cli.data.table import TableUnits, numeric_block, read_table
from dkluq_cli.errors import InputError, TableError
from dkluq_cli.model.io import save_model
from dkluq_cli.training.checkpoint import (
    CHECKPOINT,
    INTERRUPTED_NOTE,
    load_checkpoint,
    save_checkpoint,
)
from dkluq_cli.training.config import TrainConfig
from dkluq_cli.training.fit_svgp import Callbacks, Progress
from dkluq_cli.training.run_dir import evaluate, held_out_metrics, write_history
from dkluq_cli.training.splits import splits_from_dict
from dkluq_cli.training.train import TrainResult, train
from dkluq_cli.uq.metrics import (
    calibration_curve,
    miscalibration_area_from_curve,
    regression_metrics,
)

logger = logging.getLogger(__name__)

#: Fewest table rows ``dkluq train`` accepts (an equation of state from five volumes).
MIN_ROWS = 5


@dataclass
class TrainFigures:
    """The numbers behind the figures of a run (drawn by ``dkluq_cli.plots.train``).

    Attributes:
        unit: Target unit for the axes.
        y_true: Observed target of the evaluation split (test, else validation), target units.
        y_mean: Predicted mean there (target units).
        y_std: Calibrated σ there (target units).
        metrics: ``rmse, mae, coverage_95, n`` of those predictions.
        calibration: ``(label, expected, observed, miscal_area)`` per calibration curve
            (calibrated, then raw σ).
        history: One dict per epoch.
        features: Extractor features of up to 2000 training rows (n × width); None for a head
            without an extractor.
        inducing: Inducing points (m × width), or None.
        color: Target of those training rows (colours the feature plot).
    """

    unit: str
    y_true: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    metrics: dict[str, float]
    calibration: list[tuple[str, np.ndarray, np.ndarray, float]]
    history: list[dict[str, float]]
    features: np.ndarray | None
    inducing: np.ndarray | None
    color: np.ndarray


@dataclass
class TrainJob:
    """What a finished (or interrupted) job produced.

    Attributes:
        run_dir: The run directory.
        result: The training result.
        metrics: The contents of ``metrics.json``.
        files: The files written so far.
        figures: The numbers behind the figures (None when ``plots`` was off).
    """

    run_dir: Path
    result: TrainResult
    metrics: dict[str, Any]
    files: list[Path]
    figures: TrainFigures | None = field(default=None)


def load_training_table(
    table: Path, cfg: TrainConfig
) -> tuple[Any, np.ndarray, np.ndarray, str | None]:
    """Read and validate the table: one composition, finite numeric features and target.

    Returns:
        ``(frame, features, target, the table's reduced formula or None)``.
    """
    df = read_table(table)
    formula = check_single_composition(df, str(table))
    x = numeric_block(df, cfg.features, source=str(table))
    y = numeric_block(df, [cfg.target], source=str(table))[:, 0]
    if len(df) < MIN_ROWS:
        raise TableError(
            f"{table} has only {len(df)} row(s); training needs at least {MIN_ROWS}",
            hint="ingest more runs",
        )
    dup = int(df.duplicated(subset=[*cfg.features, cfg.target]).sum())
    if dup:
        logger.warning("%s: %d duplicated row(s) (same features and target) are kept", table, dup)
    return df, x, y, formula


def run_training(
    table: Path | None,
    cfg: TrainConfig,
    run_dir: Path,
    *,
    force: bool = False,
    split_file: Path | None = None,
    resume: bool = False,
    plots: bool = True,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    stop_after_epoch: int | None = None,
    crystal: Crystal | None = None,
) -> TrainJob:
    """Train a model and write its run directory.

    Args:
        table: Input table (ignored when resuming: the run's config names it).
        cfg: Hyperparameters (ignored when resuming: the run's config is used).
        run_dir: Output folder (must be new or empty unless ``force``; with ``resume`` the
            interrupted run's folder).
        force: Write into a non-empty folder.
        split_file: JSON with ``train``/``val``/``test`` row indices.
        resume: Continue an interrupted run in ``run_dir``.
        plots: Compute the numbers behind the figures (:attr:`TrainJob.figures`).
        progress: Per-epoch callback.
        should_stop: Polled after each epoch; True saves a checkpoint and stops.
        stop_after_epoch: Simulate an interruption (tests).
        crystal: The reference crystal (``--reference``; default the ingest sidecar's). A
            resumed run keeps the crystal it started with (saved in ``config.json``).

    Returns:
        The job summary.
    """
    checkpoint = None
    saved_splits: dict[str, Any] | None = None
    created: list[Path] = []
    if resume:
        saved_cfg, saved_splits, checkpoint = load_checkpoint(run_dir)
        try:
            table = Path(saved_cfg.pop("table"))
            crystal = Crystal.from_dict(saved_cfg.pop("crystal", None) or checkpoint.get("crystal"))
            cfg = TrainConfig.from_dict(saved_cfg)
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"{run_dir / 'config.json'} is not the config of a dkluq train run",
                hint="--resume takes the folder of an interrupted dkluq train run",
            ) from exc
        logger.info("resuming %s from epoch %d", run_dir, int(checkpoint["epoch"]))
    else:
        if table is None:
            raise InputError("no table given", hint="dkluq train TABLE.csv, or --resume RUN_DIR")
        created = [d for d in (run_dir, *run_dir.parents) if not d.exists()]
    try:
        if not resume:
            prepare_output_dir(run_dir, force=force)
        assert table is not None
        splits = (saved_splits or {}, "splits.json") if resume else _read_split_file(split_file)
        return _run(
            table,
            cfg,
            run_dir,
            splits=splits,
            crystal=crystal,
            checkpoint=checkpoint,
            plots=plots,
            callbacks=Callbacks(progress, should_stop, stop_after_epoch),
        )
    except BaseException:
        _remove_empty(created)  # a failed job leaves no empty run folder behind
        raise


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders this job created, innermost first, while they are empty."""
    for d in folders:
        try:
            d.rmdir()
        except OSError:
            return


def _read_split_file(split_file: Path | None) -> tuple[dict[str, Any], str] | None:
    """The ``--split-file`` JSON (row indices per split) and its name, or None."""
    if split_file is None:
        return None
    if not split_file.is_file():
        raise InputError(f"split file {split_file} does not exist")
    try:
        return json.loads(split_file.read_text(encoding="utf-8")), str(split_file)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"split file {split_file} is not valid JSON") from exc


def _run(
    table: Path,
    cfg: TrainConfig,
    run_dir: Path,
    *,
    splits: tuple[dict[str, Any], str] | None,
    crystal: Crystal | None,
    checkpoint: dict[str, Any] | None,
    plots: bool,
    callbacks: Callbacks,
) -> TrainJob:
    df, x, y, formula = load_training_table(table, cfg)
    rows = None if splits is None else splits_from_dict(splits[0], len(df), splits[1])
    if crystal is None:
        crystal = reference_from_sidecar(Path(table), formula)
    elif formula and crystal.formula and crystal.formula != formula:
        raise InputError(
            f"reference {crystal.source} is {crystal.formula} but {table} holds {formula}",
            hint="pass a POSCAR of the table's composition",
        )
    result = train(
        x,
        y,
        cfg,
        splits=rows,
        units=TableUnits.of(cfg.features, cfg.target),
        crystal=crystal,
        progress=callbacks.on_epoch_end,
        should_stop=callbacks.should_stop,
        resume_from=checkpoint,
        stop_after_epoch=callbacks.stop_after_epoch,
    )
    result.surrogate.record.table = str(table)
    result.surrogate.record.formula = formula
    return write_run(run_dir, table, cfg, df, x, y, result, plots=plots)


def write_run(
    run_dir: Path,
    table: Path,
    cfg: TrainConfig,
    df: Any,
    x: np.ndarray,
    y: np.ndarray,
    result: TrainResult,
    *,
    plots: bool = True,
) -> TrainJob:
    """Write model.pt, config.json, splits.json, history.csv and metrics.json (and compute the
    figures' numbers when ``plots``)."""

    cfg = result.config or cfg  # what ran: the automatic schedule values made concrete
    files: list[Path] = []
    sur = result.surrogate
    n_atoms = None
    if "n_atoms" in df.columns:
        try:
            n_atoms = numeric_block(df, ["n_atoms"], source=str(table))[:, 0]
        except TableError:
            n_atoms = None
    splits = result.splits.to_dict()
    metrics = evaluate(sur, x, y, splits, n_atoms)
    metrics["regime"] = result.regime
    held = result.held_out
    method = result.regime.get("calibration", {}).get("method", "")
    metrics["held_out"] = held_out_metrics(sur, x, y, splits, n_atoms, held, method)
    metrics["inducing_init"] = result.inducing_init
    metrics["trend"] = _trend_metrics(sur, x, y, splits)
    metrics["training"] = {
        "train_seconds": result.train_seconds,
        "total_train_seconds": result.total_seconds,
        "batch_size": cfg.batch_size,
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "interrupted": result.interrupted,
        "n_train": len(splits["train"]),
        "n_val": len(splits["val"]),
        "n_test": len(splits["test"]),
        "threads": _threads(),
        "device": str(sur.device),
    }
    sur.record.test_metrics = dict(metrics.get("test", {}))
    files.append(save_model(sur, run_dir / "model.pt", force=True))
    crystal = None if sur.crystal is None else sur.crystal.to_dict()
    config = {**cfg.to_dict(), "table": str(table), "crystal": crystal}
    files.append(write_json(run_dir / "config.json", config))
    files.append(write_json(run_dir / "splits.json", splits))
    files.append(write_history(run_dir / "history.csv", result.history))
    files.append(write_json(run_dir / "metrics.json", metrics))
    if result.interrupted and result.checkpoint is not None:
        note = (
            f"Training was interrupted after epoch {result.checkpoint['epoch']} "
            f"(best epoch so far {result.best_epoch}). model.pt holds the best state so far.\n"
            f"Continue with: dkluq train --resume {run_dir}\n"
        )
        checkpoint = {**result.checkpoint, "crystal": config["crystal"]}
        files.append(save_checkpoint(run_dir, checkpoint, note))
    else:
        for name in (CHECKPOINT, INTERRUPTED_NOTE):
            (run_dir / name).unlink(missing_ok=True)
    figures = figure_data(sur, x, y, splits, result.history) if plots else None
    return TrainJob(run_dir=run_dir, result=result, metrics=metrics, files=files, figures=figures)


def _trend_metrics(
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


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def figure_data(
    sur: Any,
    x: np.ndarray,
    y: np.ndarray,
    splits: dict[str, list[int]],
    history: list[dict[str, float]],
) -> TrainFigures:
    """The numbers behind the parity, calibration, history and inducing-point figures."""

    eval_idx = splits["test"] if len(splits["test"]) >= 2 else splits["val"]
    y_true = y[eval_idx]
    mean, std_raw = sur.predict(x[eval_idx], calibrated=False)
    std = std_raw * sur.sigma_scale
    m = regression_metrics(y_true, mean, std)
    curves = []
    for label, s in (("calibrated", std), ("raw", std_raw)):
        expected, observed = calibration_curve(y_true, mean, s)
        curves.append(
            (label, expected, observed, miscalibration_area_from_curve(expected, observed))
        )
    sample = splits["train"][:2000]
    head = sur.head
    svgp = head.kind == "svgp"
    return TrainFigures(
        unit=sur.target_unit or "target units",
        y_true=y_true,
        y_mean=mean,
        y_std=std,
        metrics={k: float(m[k]) for k in ("rmse", "mae", "coverage_95", "n")},
        calibration=curves,
        history=list(history),
        features=head.embed(sur.standardise(x[sample])) if svgp else None,
        inducing=head.inducing_points() if svgp else None,
        color=y[sample],
    )
