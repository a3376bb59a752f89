"""One ``dkluq train`` job end to end: read the table, train, write the run directory.

Kept separate from the CLI so it can be used as a library call and tested without Typer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dkluq_cli.atomic import prepare_output_dir
from dkluq_cli.errors import InputError, TableError
from dkluq_cli.runs import (
    CHECKPOINT,
    INTERRUPTED_NOTE,
    check_single_composition,
    evaluate,
    load_checkpoint,
    reference_from_sidecar,
    save_checkpoint,
    write_history,
    write_json,
)
from dkluq_cli.table import numeric_block, read_table, unit_of
from dkluq_cli.training import Progress, TrainConfig, TrainResult, splits_from_dict, train

logger = logging.getLogger(__name__)


@dataclass
class TrainJob:
    """What a finished (or interrupted) job produced."""

    run_dir: Path
    result: TrainResult
    metrics: dict[str, Any]
    files: list[Path]


def load_training_table(table: Path, cfg: TrainConfig) -> tuple[Any, np.ndarray, np.ndarray]:
    """Read and validate the table: one composition, finite numeric features and target."""
    df = read_table(table)
    formula = check_single_composition(df, str(table))
    del formula
    x = numeric_block(df, cfg.features, source=str(table))
    y = numeric_block(df, [cfg.target], source=str(table))[:, 0]
    if len(df) < 10:
        raise TableError(
            f"{table} has only {len(df)} row(s); training needs at least 10",
            hint="ingest more runs",
        )
    dup = int(df.duplicated(subset=[*cfg.features, cfg.target]).sum())
    if dup:
        logger.warning("%s: %d duplicated row(s) (same features and target) are kept", table, dup)
    return df, x, y


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
        plots: Draw the PNG figures.
        progress: Per-epoch callback.
        should_stop: Polled after each epoch; True saves a checkpoint and stops.
        stop_after_epoch: Simulate an interruption (tests).

    Returns:
        The job summary.
    """
    checkpoint = None
    created: list[Path] = []
    if resume:
        saved_cfg, saved_splits, checkpoint = load_checkpoint(run_dir)
        try:
            table = Path(saved_cfg.pop("table"))
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
        return _run(
            table,
            cfg,
            run_dir,
            checkpoint,
            resume,
            split_file,
            plots,
            progress,
            should_stop,
            stop_after_epoch,
            saved_splits if resume else None,
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


def _run(
    table: Path | None,
    cfg: TrainConfig,
    run_dir: Path,
    checkpoint: dict[str, Any] | None,
    resume: bool,
    split_file: Path | None,
    plots: bool,
    progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    stop_after_epoch: int | None,
    saved_splits: dict[str, Any] | None,
) -> TrainJob:
    import json

    assert table is not None
    df, x, y = load_training_table(table, cfg)
    if resume:
        splits = splits_from_dict(saved_splits or {}, len(df), "splits.json")
    elif split_file is not None:
        if not split_file.is_file():
            raise InputError(f"split file {split_file} does not exist")
        try:
            data = json.loads(split_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"split file {split_file} is not valid JSON") from exc
        splits = splits_from_dict(data, len(df), str(split_file))
    else:
        splits = None
    formula = check_single_composition(df, str(table))
    reference = reference_from_sidecar(Path(table), formula)
    feature_units = [unit_of(f) for f in cfg.features]
    result = train(
        x,
        y,
        cfg,
        splits=splits,
        feature_units=feature_units,
        target_unit=unit_of(cfg.target),
        reference=reference,
        progress=progress,
        should_stop=should_stop,
        resume_from=checkpoint,
        stop_after_epoch=stop_after_epoch,
    )
    result.surrogate.extra["table"] = str(table)
    result.surrogate.extra["formula"] = formula
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
    """Write model.pt, config.json, splits.json, history.csv, metrics.json and the plots."""
    from dkluq_cli.model.io import save_model

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
    sur.extra["test_metrics"] = dict(metrics.get("test", {}))
    files.append(save_model(sur, run_dir / "model.pt", force=True))
    files.append(write_json(run_dir / "config.json", {**cfg.to_dict(), "table": str(table)}))
    files.append(write_json(run_dir / "splits.json", splits))
    files.append(write_history(run_dir / "history.csv", result.history))
    files.append(write_json(run_dir / "metrics.json", metrics))
    if plots:
        files.extend(_plots(run_dir, sur, x, y, splits, result))
    if result.interrupted and result.checkpoint is not None:
        note = (
            f"Training was interrupted after epoch {result.checkpoint['epoch']} "
            f"(best epoch so far {result.best_epoch}). model.pt holds the best state so far.\n"
            f"Continue with: dkluq train --resume {run_dir}\n"
        )
        files.append(save_checkpoint(run_dir, result.checkpoint, note))
    else:
        for name in (CHECKPOINT, INTERRUPTED_NOTE):
            (run_dir / name).unlink(missing_ok=True)
    return TrainJob(run_dir=run_dir, result=result, metrics=metrics, files=files)


def _trend_metrics(
    sur: Any, x: np.ndarray, y: np.ndarray, splits: dict[str, list[int]]
) -> dict[str, Any]:
    """Degree and term count of the polynomial trend, and the RMSE of the trend alone per split
    (target units): how much of the surface the polynomial explains before the GP."""
    trend = sur.trend
    out: dict[str, Any] = {
        "degree": 0 if trend is None else trend.degree,
        "terms": 1 if trend is None else len(trend.coef),
    }
    for split, idx in splits.items():
        if len(idx):
            base = sur.offset(x[idx])
            out[f"{split}_rmse_trend_only"] = float(np.sqrt(np.mean((y[idx] - base) ** 2)))
    return out


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _plots(
    run_dir: Path,
    sur: Any,
    x: np.ndarray,
    y: np.ndarray,
    splits: dict[str, list[int]],
    result: TrainResult,
) -> list[Path]:
    import pandas as pd

    from dkluq_cli.plots.train import calibration_plot, history_plot, inducing_plot, parity_plot

    eval_idx = splits["test"] if len(splits["test"]) >= 2 else splits["val"]
    mean, std_raw = sur.predict(x[eval_idx], calibrated=False)
    std = std_raw * sur.sigma_scale
    unit = sur.target_unit or "target units"
    out = [
        parity_plot(y[eval_idx], mean, std, run_dir / "parity.png", unit=unit),
        calibration_plot(y[eval_idx], mean, std, run_dir / "calibration.png", std_raw=std_raw),
    ]
    if result.history:
        out.append(history_plot(pd.DataFrame(result.history), run_dir / "history.png"))
    sample = splits["train"][:2000]
    feats = sur.embed(x[sample])
    inducing = sur.model.gp.variational_strategy.inducing_points.detach().double().cpu().numpy()
    out.append(inducing_plot(feats, inducing, run_dir / "inducing.png", color=y[sample]))
    return [Path(p) for p in out]
