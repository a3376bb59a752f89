"""The numbers behind a training run's figures (drawn by ``dkluq_cli.plots.train`` from ``cli/``).

The parity and calibration figures show the predictions of one held-out split, named on the
figure: the test split when it has at least :data:`MIN_POINTS` rows, else the validation split,
else (exact head) the fitted rows held out in cross-validation. A small table may leave no
such split: the figure is then not drawn and :attr:`TrainFigures.notes` says why, instead of
the run failing at its end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dkluq_cli.uq.metrics import (
    calibration_curve,
    miscalibration_area_from_curve,
    regression_metrics,
)

#: Fewest predictions a parity or calibration figure is drawn from.
MIN_POINTS = 2
#: Training rows shown in the feature-space figure (a subsample of larger splits).
FEATURE_SAMPLE = 2000


@dataclass
class Evaluation:
    """Held-out predictions for the parity and calibration figures.

    Attributes:
        split: What they are, for titles (``"test split"``, ``"leave-one-out"``).
        y_true: Observed target (target units).
        y_mean: Predicted mean (target units).
        y_std: Calibrated σ (target units).
        metrics: ``rmse, mae, coverage_95, n`` of those predictions.
        calibration: ``(label, expected, observed, miscal_area)`` per calibration curve
            (calibrated σ, then the raw σ when it is known).
    """

    split: str
    y_true: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    metrics: dict[str, float]
    calibration: list[tuple[str, np.ndarray, np.ndarray, float]]


@dataclass
class TrainFigures:
    """The numbers behind the figures of a run.

    Attributes:
        unit: Target unit for the axes.
        evaluation: The parity/calibration predictions, or None when no split has enough rows.
        history: One dict per epoch (empty for the exact head).
        features: Extractor features of up to :data:`FEATURE_SAMPLE` training rows (n × width);
            None for a head without an extractor.
        n_train: Rows of the training split (``features`` may show a subsample of them).
        inducing: Inducing points (m × width), or None.
        color: Target of the rows in ``features`` (colours the feature plot).
        notes: Figures not drawn, and why.
    """

    unit: str
    evaluation: Evaluation | None
    history: list[dict[str, float]]
    features: np.ndarray | None
    n_train: int
    inducing: np.ndarray | None
    color: np.ndarray
    notes: list[str] = field(default_factory=list)


def _evaluation(
    split: str, y: np.ndarray, mean: np.ndarray, std: np.ndarray, raw: np.ndarray | None
) -> Evaluation:
    m = regression_metrics(y, mean, std)
    curves = []
    for label, s in (("calibrated", std), ("raw", raw)):
        if s is None:
            continue
        expected, observed = calibration_curve(y, mean, s)
        curves.append(
            (label, expected, observed, miscalibration_area_from_curve(expected, observed))
        )
    return Evaluation(
        split=split,
        y_true=y,
        y_mean=mean,
        y_std=std,
        metrics={k: float(m[k]) for k in ("rmse", "mae", "coverage_95", "n")},
        calibration=curves,
    )


def evaluation(
    sur: Any,
    x: np.ndarray,
    y: np.ndarray,
    splits: dict[str, list[int]],
    held: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
) -> Evaluation | None:
    """The held-out predictions the figures show (see the module docstring), or None."""
    for name in ("test", "val"):
        idx = splits.get(name, [])
        if len(idx) >= MIN_POINTS:
            mean, raw = sur.predict(x[idx], calibrated=False)
            label = "test split" if name == "test" else "validation split"
            return _evaluation(label, y[idx], mean, raw * sur.sigma_scale, raw)
    if held is not None and len(held[0]) >= MIN_POINTS:
        pos, mean, std = held
        rows = [splits["train"][int(i)] for i in pos]
        return _evaluation("held out in cross-validation, fitted rows", y[rows], mean, std, None)
    return None


def figure_data(
    sur: Any,
    x: np.ndarray,
    y: np.ndarray,
    splits: dict[str, list[int]],
    history: list[dict[str, float]],
    held: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> TrainFigures:
    """The numbers behind the parity, calibration, history and inducing-point figures.

    Args:
        sur: The trained surrogate.
        x: All inputs (feature units).
        y: All targets (target units).
        splits: Row indices per split (the fitted ones).
        history: One dict per epoch.
        held: Exact head: ``(positions in the training split, held-out mean, calibrated σ)``
            of the rows held out in cross-validation.
    """
    notes = []
    ev = evaluation(sur, x, y, splits, held)
    if ev is None:
        notes.append(
            f"parity and calibration figures not drawn: no held-out split has {MIN_POINTS} rows "
            f"(test {len(splits['test'])}, validation {len(splits['val'])})"
        )
    sample = splits["train"][:FEATURE_SAMPLE]
    head = sur.head
    svgp = head.kind == "svgp"
    return TrainFigures(
        unit=sur.target_unit or "target units",
        evaluation=ev,
        history=list(history),
        features=head.embed(sur.standardise(x[sample])) if svgp else None,
        n_train=len(splits["train"]),
        inducing=head.inducing_points() if svgp else None,
        color=y[sample],
        notes=notes,
    )
