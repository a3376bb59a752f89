"""Train a surrogate on a table's rows: split, choose the head, fit, calibrate, record the domain.

:func:`train` is the library entry point behind ``dkluq train``:

1. split the rows (seeded, or the caller's split), and choose the head (``head``: ``auto``
   takes the exact GP up to :data:`dkluq_cli.training.config.EXACT_MAX_ROWS` training rows);
2. exact head: :mod:`dkluq_cli.training.fit_exact` (strain coordinates, degree and σ scale from
   rows held out of the hyperparameter fit, σ inflation beyond the box);
3. SVGP head: standardise the inputs and fit the polynomial trend (:mod:`dkluq_cli.training.prepare`),
   fit the DKL (:mod:`dkluq_cli.training.fit_svgp`, the paper's Algorithm 1) or continue an interrupted fit,
   fit one σ scale on the validation split (:mod:`dkluq_cli.uq.calibration`) and the trend's
   truncation band beyond the box (:mod:`dkluq_cli.model.truncation`);
4. record the training domain (:mod:`dkluq_cli.uq.domain`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.data.table import TableUnits
from dkluq_cli.errors import TrainingError
from dkluq_cli.model.device import resolve_device, set_threads
from dkluq_cli.model.record import TrainingRecord
from dkluq_cli.model.truncation import fit_truncation_band
from dkluq_cli.training.checkpoint import restore, snapshot
from dkluq_cli.training.config import EXACT_MAX_ROWS, TrainConfig
from dkluq_cli.training.fit_exact import fit_exact_surrogate
from dkluq_cli.training.fit_svgp import Callbacks, DKLFit, Progress
from dkluq_cli.training.prepare import prepare
from dkluq_cli.training.splits import Splits, make_splits
from dkluq_cli.uq.calibration import fit_sigma_scale
from dkluq_cli.uq.domain import domain_stats


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes:
        surrogate: The trained model (the kept state, σ scale fitted, domain recorded).
        history: One dict per epoch (``epoch, loss, val_rmse, val_nll, seconds, lr``).
        splits: The row indices of each split.
        inducing_init: How the inducing points were placed (method, fuzzifier, checks).
        interrupted: The fit was stopped before its end (it can be resumed).
        stopped_early: Early stopping or the time budget ended the fit.
        best_epoch: Epoch of the lowest validation NLL.
        train_seconds: Time of the epochs (s).
        checkpoint: The resumable snapshot of an interrupted fit, else None.
        init_features: The untrained extractor's features that the inducing points were
            placed in (None for the exact head).
        config: The configuration that ran, with the automatic values made concrete.
        total_seconds: Wall time of the whole :func:`train` call (s).
        regime: The head that ran and why (``head``, ``reason``, ``n_train``; for the exact head
            also its coordinates, symmetry, degree and inflation law).
        held_out: Exact head: ``(positions in splits.train, mean, calibrated σ)`` (target
            units) of the training rows predicted by a model whose hyperparameters did not see
            them (:func:`dkluq_cli.training.fit_exact.held_out`; ``regime["calibration"]``
            names the scheme); None for the SVGP.
    """

    surrogate: Any
    history: list[dict[str, float]]
    splits: Splits
    inducing_init: dict[str, Any]
    interrupted: bool
    stopped_early: bool
    best_epoch: int
    train_seconds: float
    checkpoint: dict[str, Any] | None
    init_features: np.ndarray | None
    config: TrainConfig
    total_seconds: float
    regime: dict[str, Any]
    held_out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def train(
    x: np.ndarray,
    y: np.ndarray,
    cfg: TrainConfig,
    *,
    splits: Splits | None = None,
    units: TableUnits | None = None,
    crystal: Crystal | None = None,
    progress: Callable[[Progress], None] | None = None,
    status: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume_from: dict[str, Any] | None = None,
    stop_after_epoch: int | None = None,
) -> TrainResult:
    """Train a DKL surrogate on inputs ``x`` (n × d, feature units) and target ``y`` (n,).

    Args:
        x: Inputs in feature units (Å, degrees).
        y: Target in its units (eV).
        cfg: Hyperparameters.
        splits: Row indices; a seeded random split when None.
        units: Units of the features and target (none when None).
        crystal: The reference crystal (strain about its lattice, its point group for the
            exact head; stored in the model).
        progress: Called after every epoch (:attr:`Callbacks.on_epoch_end`).
        status: Called with a one-line message as each step starts.
        should_stop: Polled after every epoch; True ends training as an interruption.
        resume_from: A checkpoint dict from an interrupted run to continue from.
        stop_after_epoch: End as an interruption after this epoch (tests).

    Returns:
        The trained surrogate, its history and bookkeeping.
    """

    t_start = time.perf_counter()
    say = status or (lambda _msg: None)
    set_threads(cfg.threads)
    if splits is None:
        splits = make_splits(len(x), cfg.val_fraction, cfg.test_fraction, cfg.seed)
    reason = _reason(cfg, splits)
    if cfg.resolved(len(splits.train)).head == "exact":
        if resume_from is not None:
            raise TrainingError(
                "an exact-head run has no epochs to resume", hint="train it again without --resume"
            )
        n_fit = len(splits.train) + len(splits.val)
        say(f"fitting the exact GP on {n_fit} rows")
        return _train_exact(
            x, y, cfg, splits, units=units, crystal=crystal, t_start=t_start, reason=reason
        )
    say("placing the inducing points")
    fit = build_fit(x, y, cfg, splits, units=units, crystal=crystal)
    cfg = fit.cfg
    if resume_from is not None:
        restore(fit, resume_from)
    interrupted, stopped_early = fit.run(Callbacks(progress, should_stop, stop_after_epoch))
    checkpoint = snapshot(fit) if interrupted else None
    say("calibrating σ on the validation split")
    fit.finish()
    sur = fit.surrogate
    calibrate_and_record_domain(sur, x, y, splits)
    sur.record = TrainingRecord(best_epoch=fit.best_epoch, inducing_init=fit.init_info)
    regime = {"head": "svgp", "n_train": len(splits.train), "reason": reason}
    regime["crystal"] = _crystal_info(crystal, None)
    return TrainResult(
        surrogate=sur,
        history=fit.history,
        splits=splits,
        inducing_init=fit.init_info,
        interrupted=interrupted,
        stopped_early=stopped_early,
        best_epoch=fit.best_epoch,
        train_seconds=fit.elapsed,
        checkpoint=checkpoint,
        init_features=fit.init_features,
        config=cfg,
        total_seconds=time.perf_counter() - t_start,
        regime=regime,
    )


def _train_exact(
    x: np.ndarray,
    y: np.ndarray,
    cfg: TrainConfig,
    splits: Splits,
    *,
    units: TableUnits | None,
    crystal: Crystal | None,
    t_start: float,
    reason: str,
) -> TrainResult:
    """The exact regime (:mod:`dkluq_cli.training.fit_exact`) of :func:`train`."""

    degrees = None if cfg.trend == "auto" else int(cfg.trend)
    cfg = cfg.resolved(len(splits.train))
    sur, fitted, info, held = fit_exact_surrogate(
        x,
        y,
        cfg,
        splits,
        units=units or TableUnits.unitless(x.shape[1]),
        crystal=crystal,
        device=resolve_device(cfg.device),
        degrees=degrees,
    )
    cfg = replace(cfg, trend=info["degree"])
    record_domain(sur, x, fitted)
    info.update(n_train=len(fitted.train), reason=reason)
    info["crystal"] = _crystal_info(crystal, info.get("symmetry"))
    return TrainResult(
        surrogate=sur,
        history=[],
        splits=fitted,
        inducing_init={},
        interrupted=False,
        stopped_early=False,
        best_epoch=0,
        train_seconds=info["fit_seconds"],
        checkpoint=None,
        init_features=None,
        config=cfg,
        total_seconds=time.perf_counter() - t_start,
        regime=info,
        held_out=held,
    )


def _crystal_info(
    crystal: Crystal | None, symmetry: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The reference crystal for metrics.json: formula, where it came from, and the point group
    the model used (the exact head's), else the one recorded with the crystal."""
    if crystal is None:
        return None
    group = symmetry["point_group"] if symmetry else crystal.point_group
    return {"formula": crystal.formula, "source": crystal.source, "point_group": group}


def _reason(cfg: TrainConfig, splits: Splits) -> str:
    """Why the head that ran was chosen (for metrics.json and the summary line)."""

    if cfg.head != "auto":
        return f"--head {cfg.head}"
    side = "≤" if len(splits.train) <= EXACT_MAX_ROWS else ">"
    return f"auto: training split {len(splits.train)} rows {side} {EXACT_MAX_ROWS}"


def build_fit(
    x: np.ndarray,
    y: np.ndarray,
    cfg: TrainConfig,
    splits: Splits,
    *,
    units: TableUnits | None = None,
    crystal: Crystal | None = None,
) -> DKLFit:
    """Steps 1–2 of :func:`train`: resolve the automatic settings, prepare the data and build
    the fit (model, inducing points, optimisers), ready for :meth:`DKLFit.run`.

    Args:
        x: Inputs in feature units (Å, degrees).
        y: Target in its units (eV).
        cfg: Hyperparameters (automatic values are resolved for the training split).
        splits: Row indices of the splits.
        units: Units of the features and target (none when None).
        crystal: The reference crystal to store in the model.
    """

    cfg = replace(cfg.resolved(len(splits.train)), head="svgp")
    device = resolve_device(cfg.device)
    data = prepare(
        x,
        y,
        splits,
        cfg,
        units=units or TableUnits.unitless(x.shape[1]),
        crystal=crystal,
        device=device,
        dtype=_dtype(cfg),
    )
    return DKLFit(cfg, data, device)


def calibrate_and_record_domain(sur: Any, x: np.ndarray, y: np.ndarray, splits: Splits) -> None:
    """Fit the σ scale on the validation rows, record the training domain and fit the trend's
    truncation band beyond the box (in place)."""

    mean_v, std_v = sur.predict(x[splits.val], calibrated=False)
    sur.sigma_scale = float(fit_sigma_scale(y[splits.val], mean_v, std_v))
    std_t = record_domain(sur, x, splits)
    coords = sur.coordinates(x[splits.train])
    sur.beyond = fit_truncation_band(coords, y[splits.train], sur.trend, float(np.median(std_t)))


def record_domain(sur: Any, x: np.ndarray, splits: Splits) -> np.ndarray:
    """Record the training domain on the surrogate (in place); returns the calibrated σ on the
    training rows (target units)."""

    rows = x[splits.train]
    _, std_t = sur.predict(rows)
    sur.domain = domain_stats(
        rows, list(sur.features), std_t, coords=sur.norm.standardise(rows), actions=_group(sur)
    )
    return std_t


def _group(sur: Any) -> np.ndarray | None:
    """The point group's maps of the head's coordinates (exact head with a reference's group),
    or None."""
    basis = getattr(sur.head, "basis", None)
    acts = None if basis is None else np.asarray(basis.actions)
    return acts if acts is not None and len(acts) > 1 else None


def _dtype(cfg: TrainConfig) -> Any:
    import torch

    return torch.float64 if cfg.double else torch.float32
