"""One ``dkluq train`` job end to end: read the table, train, write the run folder.

Kept separate from the CLI so it can be used as a library call and tested without Typer. A new
run folder is written through :func:`dkluq_cli.data.output.command_output`: into a staging
folder that becomes the run folder only when everything, figures included, succeeded, so a
failed run leaves nothing behind. The figures are drawn by the caller (the CLI) from the
numbers :mod:`dkluq_cli.training.figures` computes, through the ``draw`` callback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.structure_io import check_single_composition
from dkluq_cli.crystal.table_reference import reference_for_table
from dkluq_cli.data.output import command_output, write_json
from dkluq_cli.data.table import (
    TableUnits,
    column_hint,
    numeric_block,
    read_table,
    write_table,
)
from dkluq_cli.errors import InputError, TableError
from dkluq_cli.model.io import save_model
from dkluq_cli.training.checkpoint import (
    CHECKPOINT,
    INTERRUPTED_NOTE,
    load_checkpoint,
    save_checkpoint,
)
from dkluq_cli.training.config import TrainConfig
from dkluq_cli.training.figures import TrainFigures, figure_data
from dkluq_cli.training.fit_svgp import Callbacks, Progress
from dkluq_cli.training.run_dir import evaluate, held_out_metrics, trend_metrics, write_history
from dkluq_cli.training.splits import splits_from_dict
from dkluq_cli.training.train import TrainResult, train

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

#: Fewest table rows ``dkluq train`` accepts (an equation of state from five volumes).
MIN_ROWS = 5
#: The copy of a DataFrame's rows kept in its run folder (``--resume`` reads it).
TABLE_COPY = "table.csv"


@dataclass
class TrainingData:
    """The rows a job trains on.

    Attributes:
        source: Where they came from (a path, or ``"DataFrame"``), for messages and the record.
        frame: The table.
        x: Feature block (n × d, feature units).
        y: Target (n,).
        formula: The table's one reduced formula, or None.
        path: The table file, or None for a DataFrame.
    """

    source: str
    frame: pd.DataFrame
    x: np.ndarray
    y: np.ndarray
    formula: str | None
    path: Path | None

    @property
    def n_atoms(self) -> np.ndarray | None:
        """Atoms per row, when the table has a usable ``n_atoms`` column."""
        if "n_atoms" not in self.frame.columns:
            return None
        try:
            return numeric_block(self.frame, ["n_atoms"], source=self.source)[:, 0]
        except TableError:
            return None


@dataclass
class TrainJob:
    """What a finished (or interrupted) job produced.

    Attributes:
        run_dir: The run folder, or None when the job wrote none.
        result: The training result.
        metrics: The contents of ``metrics.json``.
        files: The files written.
        figures: The numbers behind the figures (None when ``plots`` was off).
    """

    run_dir: Path | None
    result: TrainResult
    metrics: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    figures: TrainFigures | None = None


def load_training_table(table: Path | pd.DataFrame, cfg: TrainConfig) -> TrainingData:
    """Read and validate the rows: one composition, finite numeric features and target.

    Args:
        table: A CSV/Parquet file, or a DataFrame.
        cfg: Names the feature and target columns.

    Raises:
        InputError, TableError: Unreadable, too few rows, mixed compositions, bad cells.
    """
    if isinstance(table, str | Path):
        path: Path | None = Path(table)
        df, source = read_table(path), str(path)
    else:
        path, df, source = None, table.reset_index(drop=True), "DataFrame"
    formula = check_single_composition(df, source)
    x = numeric_block(df, cfg.features, source=source)
    if cfg.target not in df.columns:
        raise TableError(
            f"{source} has no column {cfg.target!r} to train on (--target)",
            hint=column_hint(df, [cfg.target]),
        )
    y = numeric_block(df, [cfg.target], source=source)[:, 0]
    if len(df) < MIN_ROWS:
        raise TableError(
            f"{source} has only {len(df)} row(s); training needs at least {MIN_ROWS}",
            hint="ingest more runs",
        )
    dup = int(df.duplicated(subset=[*cfg.features, cfg.target]).sum())
    if dup:
        logger.warning("%s: %d duplicated row(s) (same features and target) are kept", source, dup)
    return TrainingData(source, df, x, y, formula, path)


def run_training(
    table: Path | pd.DataFrame | None,
    cfg: TrainConfig,
    run_dir: Path | None,
    *,
    force: bool = False,
    split_file: Path | None = None,
    resume: bool = False,
    plots: bool = True,
    progress: Callable[[Progress], None] | None = None,
    status: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    stop_after_epoch: int | None = None,
    crystal: Crystal | None = None,
    draw: Callable[[TrainJob], list[Path]] | None = None,
) -> TrainJob:
    """Train a model and (when ``run_dir`` is given) write its run folder.

    Args:
        table: Input table file or DataFrame (ignored when resuming: the run's config names it).
        cfg: Hyperparameters (ignored when resuming: the run's config is used).
        run_dir: Output folder (new or empty unless ``force``; with ``resume`` the interrupted
            run's folder); None trains without writing anything.
        force: Replace a run folder: what an earlier ``train`` wrote there goes, with the
            outputs of other commands computed from that model (``eos/``, ``scan/``, ...).
        split_file: JSON with ``train``/``val``/``test`` row indices.
        resume: Continue an interrupted run in ``run_dir``.
        plots: Compute the numbers behind the figures (:attr:`TrainJob.figures`).
        progress: Per-epoch callback (SVGP head).
        status: Called with a one-line message as each step starts.
        should_stop: Polled after each epoch; True saves a checkpoint and stops.
        stop_after_epoch: Simulate an interruption (tests).
        crystal: The reference crystal (``--reference``; default the parent crystal ingest left beside the table). A
            resumed run keeps the crystal it started with (saved in ``config.json``).
        draw: Draws the figures into ``job.run_dir`` and returns their paths; runs before the
            folder is committed, so a figure that fails leaves no run folder.

    Returns:
        The job summary.
    """
    say = status or (lambda _msg: None)
    callbacks = Callbacks(progress, should_stop, stop_after_epoch)
    fit = partial(_run, callbacks=callbacks, say=say, plots=plots)
    if resume:
        if run_dir is None:
            raise InputError("--resume needs the run folder")
        table, cfg, crystal, splits, checkpoint = _resume_state(run_dir)
        job, data = fit(table, cfg, splits=splits, crystal=crystal, checkpoint=checkpoint)
        return _write(job, data, run_dir, draw, say, final=run_dir)
    if table is None:
        raise InputError("no table given", hint="dkluq train TABLE.csv, or --resume RUN_DIR")
    splits = _read_split_file(split_file)
    if run_dir is None:
        return fit(table, cfg, splits=splits, crystal=crystal, checkpoint=None)[0]
    with command_output(run_dir, "train", force=force, derived_go_too=True) as out:
        job, data = fit(table, cfg, splits=splits, crystal=crystal, checkpoint=None)
        _write(job, data, out.staging, draw, say, final=run_dir)
    return replace(job, run_dir=run_dir, files=[out.final(f) for f in job.files])


def _resume_state(run_dir: Path) -> tuple[Path, TrainConfig, Crystal | None, Any, Any]:
    """Table, config, crystal, splits and checkpoint of an interrupted run."""
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
    return table, cfg, crystal, (saved_splits or {}, "splits.json"), checkpoint


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
    table: Path | pd.DataFrame,
    cfg: TrainConfig,
    *,
    splits: tuple[dict[str, Any], str] | None,
    crystal: Crystal | None,
    checkpoint: dict[str, Any] | None,
    callbacks: Callbacks,
    say: Callable[[str], None],
    plots: bool,
) -> tuple[TrainJob, TrainingData]:
    """Read the rows, train, compute the metrics and the figures' numbers; write nothing."""
    say("reading the table")
    data = load_training_table(table, cfg)
    rows = None if splits is None else splits_from_dict(splits[0], len(data.frame), splits[1])
    if crystal is None and data.path is not None:
        crystal = reference_for_table(data.path, data.formula)
    elif crystal is not None and data.formula and crystal.formula != data.formula:
        raise InputError(
            f"reference {crystal.source} is {crystal.formula} but {data.source} holds "
            f"{data.formula}",
            hint="pass a POSCAR of the table's composition",
        )
    result = train(
        data.x,
        data.y,
        cfg,
        splits=rows,
        units=TableUnits.of(cfg.features, cfg.target),
        crystal=crystal,
        progress=callbacks.on_epoch_end,
        status=say,
        should_stop=callbacks.should_stop,
        resume_from=checkpoint,
        stop_after_epoch=callbacks.stop_after_epoch,
    )
    result.surrogate.record.table = data.source
    result.surrogate.record.formula = data.formula
    say("computing the metrics")
    metrics = run_metrics(data, result)
    job = TrainJob(run_dir=None, result=result, metrics=metrics)
    if plots:
        splits_dict = result.splits.to_dict()
        job.figures = figure_data(
            result.surrogate, data.x, data.y, splits_dict, result.history, result.held_out
        )
    return job, data


def run_metrics(data: TrainingData, result: TrainResult) -> dict[str, Any]:
    """The contents of ``metrics.json``: per split, the regime, leave-one-out, the trend and the
    training record."""
    cfg = result.config
    sur = result.surrogate
    splits = result.splits.to_dict()
    metrics = evaluate(sur, data.x, data.y, splits, data.n_atoms)
    metrics["regime"] = result.regime
    held = result.held_out
    method = result.regime.get("calibration", {}).get("method", "")
    metrics["held_out"] = held_out_metrics(
        sur, data.x, data.y, splits=splits, n_atoms=data.n_atoms, held=held, method=method
    )
    metrics["inducing_init"] = result.inducing_init
    metrics["trend"] = trend_metrics(sur, data.x, data.y, splits)
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
    return metrics


def _write(
    job: TrainJob,
    data: TrainingData,
    folder: Path,
    draw: Callable[[TrainJob], list[Path]] | None,
    say: Callable[[str], None],
    *,
    final: Path,
) -> TrainJob:
    """Write the run's files into ``folder`` (which becomes ``final``) and draw its figures."""
    say("writing the run folder")
    if data.path is None:  # a DataFrame: keep its rows, so the run can be resumed and audited
        job.files.append(write_table(data.frame, folder / TABLE_COPY, force=True))
        data = replace(data, source=str(final / TABLE_COPY))
    job.run_dir = folder
    job.files.extend(write_run(folder, data, job.result, job.metrics, resume_at=final))
    if draw is not None and job.figures is not None:
        say("drawing the figures")
        job.files.extend(draw(job))
    return job


def write_run(
    folder: Path,
    data: TrainingData,
    result: TrainResult,
    metrics: dict[str, Any],
    *,
    resume_at: Path,
) -> list[Path]:
    """Write model.pt, config.json, splits.json, history.csv and metrics.json (and, for an
    interrupted run, the checkpoint and a note naming ``resume_at``)."""
    cfg = result.config  # what ran: the automatic schedule values made concrete
    sur = result.surrogate
    files = [save_model(sur, folder / "model.pt", force=True)]
    crystal = None if sur.crystal is None else sur.crystal.to_dict()
    config = {**cfg.to_dict(), "table": data.source, "crystal": crystal}
    files.append(write_json(folder / "config.json", config))
    files.append(write_json(folder / "splits.json", result.splits.to_dict()))
    files.append(write_history(folder / "history.csv", result.history))
    files.append(write_json(folder / "metrics.json", metrics))
    if result.interrupted and result.checkpoint is not None:
        note = (
            f"Training was interrupted after epoch {result.checkpoint['epoch']} "
            f"(best epoch so far {result.best_epoch}). model.pt holds the best state so far.\n"
            f"Continue with: dkluq train --resume {resume_at}\n"
        )
        checkpoint = {**result.checkpoint, "crystal": config["crystal"]}
        files.append(save_checkpoint(folder, checkpoint, note))
    else:
        for name in (CHECKPOINT, INTERRUPTED_NOTE):
            (folder / name).unlink(missing_ok=True)
    return files


def _threads() -> int:
    import torch

    return torch.get_num_threads()
