"""What the fit sees: the training rows standardised, the polynomial trend fitted and removed.

Columns that are constant over the training rows are dropped and equal ones tied
(:mod:`dkluq_cli.model.inputs`); the resulting coordinates are standardised with the training
split's mean and standard deviation; the trend (:mod:`dkluq_cli.model.trend`) is fitted on the
training rows by least squares, and the GP learns the residual in units of its own spread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.data.table import TableUnits
from dkluq_cli.errors import TableError
from dkluq_cli.model.inputs import InputMap
from dkluq_cli.model.normalisation import Normalisation
from dkluq_cli.model.trend import PolynomialTrend, TooFewRowsError, trend_terms
from dkluq_cli.training.config import ROWS_PER_TREND_TERM, TrainConfig
from dkluq_cli.training.splits import Splits

logger = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """The standardised training split on the device, and the raw validation split.

    Attributes:
        norm: Features → standardised coordinates, target → standardised residual.
        x_train: Standardised training inputs (n × d tensor on the device).
        y_train: Standardised training residuals (n tensor on the device).
        x_val: Validation inputs in feature units (numpy).
        y_val: Validation target in target units (numpy).
        crystal: The reference crystal stored with the model, or None.
    """

    norm: Normalisation
    x_train: Any
    y_train: Any
    x_val: np.ndarray
    y_val: np.ndarray
    crystal: Crystal | None = None

    @property
    def n_train(self) -> int:
        """Number of training rows."""
        return len(self.x_train)


def prepare(
    x: np.ndarray,
    y: np.ndarray,
    splits: Splits,
    cfg: TrainConfig,
    *,
    units: TableUnits,
    crystal: Crystal | None,
    device: Any,
    dtype: Any,
) -> TrainingData:
    """Standardise the training split, fit the trend and put the residual on the device.

    Args:
        x: All inputs (n × d, feature units).
        y: All targets (n, target units).
        splits: Row indices of the splits.
        cfg: The resolved configuration (``trend`` an integer degree).
        units: Units of the features and the target.
        crystal: The reference crystal to store with the model.
        device: Torch device of the fit.
        dtype: Torch floating-point type of the fit.

    Raises:
        TableError: Every feature or the target is constant over the training rows, or the
            trend has more coefficients than there are training rows.
    """
    import torch

    inputs = InputMap.from_training(x[splits.train], list(cfg.features))
    if not inputs.groups:
        raise TableError(
            f"every feature ({', '.join(cfg.features)}) is constant over the training rows",
            hint="nothing to learn from: the table needs rows that differ in their features",
        )
    if not inputs.is_identity:
        logger.info("model coordinates %s: %s", ", ".join(inputs.names), inputs.describe())
    xt, yt = inputs.apply(x[splits.train]), y[splits.train]
    x_mean = xt.mean(axis=0)
    x_std = xt.std(axis=0)
    y_mean = float(yt.mean())
    if not float(yt.std()) > 0:
        raise TableError(
            f"target {cfg.target!r} is constant over the training rows ({yt[0]!r})",
            hint="nothing to learn: check the target column",
        )
    trend = fit_trend(xt, yt, int(cfg.trend), x_mean, x_std, y_mean)
    resid = yt - trend(xt)
    # a floor keeps an (almost) exactly polynomial target from being blown up to unit variance
    # from rounding noise
    y_std = max(float(resid.std()), 1e-6 * float(yt.std()))

    def to_t(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=dtype, device=device)

    norm = Normalisation(
        features=list(cfg.features),
        feature_units=list(units.features),
        target=cfg.target,
        target_unit=units.target,
        inputs=inputs,
        x_mean=x_mean,
        x_std=x_std,
        y_mean=y_mean,
        y_std=y_std,
        trend=trend,
    )
    return TrainingData(
        norm=norm,
        x_train=to_t((xt - x_mean) / x_std),
        y_train=to_t(resid / y_std),
        x_val=x[splits.val],
        y_val=y[splits.val],
        crystal=crystal,
    )


def fit_trend(
    xt: np.ndarray,
    yt: np.ndarray,
    degree: int,
    x_mean: np.ndarray,
    x_std: np.ndarray,
    y_mean: float,
) -> PolynomialTrend:
    """The least-squares polynomial trend of the training rows (the constant ``y_mean`` for
    degree 0); warns when the degree leaves fewer training rows per coefficient than
    ``--trend auto`` asks for.

    Raises:
        TableError: More coefficients than training rows.
    """
    if degree == 0:
        return PolynomialTrend.constant(y_mean, x_mean, x_std)
    n_terms = trend_terms(degree, xt.shape[1])
    try:
        trend = PolynomialTrend.fit(xt, yt, degree, x_mean, x_std)
    except TooFewRowsError as exc:
        raise TableError(
            f"--trend {degree} needs {n_terms} coefficients for {xt.shape[1]} features but "
            f"there are only {len(xt)} training rows",
            hint="use a lower --trend degree, or --trend auto",
        ) from exc
    if len(xt) < ROWS_PER_TREND_TERM * n_terms:
        logger.warning(
            "--trend %d fits %d coefficients to %d training rows (%.1f per coefficient; "
            "--trend auto asks for %d): the polynomial may do the GP's job or overfit",
            degree,
            n_terms,
            len(xt),
            len(xt) / n_terms,
            ROWS_PER_TREND_TERM,
        )
    return trend
