"""The applicability domain of a trained model, and the ``in_domain`` flag on predictions.

A prediction is *in domain* when every feature lies inside the range seen in training and the
predictive standard deviation is no larger than the 99th percentile of the standard deviations
the model gives on its own training points. The statistics are a :class:`Domain`, stored in
``model.pt`` through :meth:`Domain.to_dict` as plain lists, floats and strings, so
``torch.load(weights_only=True)`` and JSON can read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dkluq_cli.errors import TableError

#: Relative tolerance on the feature range checks (absorbs round-trips through CSV).
RANGE_RTOL = 1e-9


@dataclass
class Domain:
    """The training domain of a model.

    Attributes:
        features: Feature names, in column order.
        min: Per-feature minimum over the training rows (feature units).
        max: Per-feature maximum (feature units).
        mean: Per-feature mean (feature units).
        std_q99: 99th percentile of the calibrated σ on the training rows (target units).
        std_median: Median of that σ (target units).
        n_train: Number of training rows.
    """

    features: list[str]
    min: list[float]
    max: list[float]
    mean: list[float]
    std_q99: float
    std_median: float
    n_train: int

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (for the model file)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Domain | None:
        """Read a stored domain; None for a file without a complete one."""
        if not data or not {"features", "min", "max", "std_q99"} <= set(data):
            return None
        n = len(data["features"])
        return cls(
            features=[str(f) for f in data["features"]],
            min=[float(v) for v in data["min"]],
            max=[float(v) for v in data["max"]],
            mean=[float(v) for v in data.get("mean", [float("nan")] * n)],
            std_q99=float(data["std_q99"]),
            std_median=float(data.get("std_median", data["std_q99"])),
            n_train=int(data.get("n_train", 0)),
        )


def _as_matrix(X: Any, features: Sequence[str], name: str = "X") -> np.ndarray:
    """``X`` as an (n, d) float array, columns in ``features`` order for a DataFrame."""
    if hasattr(X, "columns"):
        missing = [f for f in features if f not in X.columns]
        if missing:
            raise TableError(f"{name} lacks feature column(s): {', '.join(missing)}")
        X = X[list(features)]
    arr = np.asarray(X, dtype=float)
    if arr.ndim == 1 and len(features) == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != len(features):
        raise TableError(
            f"{name} must have shape (n, {len(features)}) for features {list(features)}, got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise TableError(f"{name} holds non-finite values")
    return arr


def domain_stats(
    X_train: np.ndarray, feature_names: Sequence[str], std_train: np.ndarray
) -> Domain:
    """Summarise the training inputs and training-set predictive σ for the domain check.

    Args:
        X_train: Training features, shape (n, d), in feature units (Å, degrees), or a
            DataFrame holding the ``feature_names`` columns.
        feature_names: The d feature names, in column order.
        std_train: The model's predictive standard deviation on the training points, shape
            (n,), target unit (eV).

    Returns:
        The :class:`Domain` (plain Python floats and lists).

    Raises:
        TableError: Shapes do not match, there are no rows, or a value is non-finite.
    """
    features = [str(f) for f in feature_names]
    X = _as_matrix(X_train, features, "X_train")
    std = np.asarray(std_train, dtype=float).reshape(-1)
    if X.shape[0] == 0:
        raise TableError("X_train has no rows")
    if std.shape[0] != X.shape[0]:
        raise TableError(f"std_train has {std.shape[0]} values but X_train has {X.shape[0]} rows")
    if not np.isfinite(std).all():
        raise TableError("std_train holds non-finite values")
    return Domain(
        features=features,
        min=[float(v) for v in X.min(axis=0)],
        max=[float(v) for v in X.max(axis=0)],
        mean=[float(v) for v in X.mean(axis=0)],
        std_q99=float(np.percentile(std, 99)),
        std_median=float(np.median(std)),
        n_train=int(X.shape[0]),
    )


def _inside(values: np.ndarray, stats: Domain) -> np.ndarray:
    """Boolean (n, d) array: is each value inside its feature's training range (with tol)."""
    lo = np.asarray(stats.min, dtype=float)
    hi = np.asarray(stats.max, dtype=float)
    tol = RANGE_RTOL * np.maximum(np.maximum(np.abs(lo), np.abs(hi)), hi - lo)
    return (values >= lo - tol) & (values <= hi + tol)


def in_domain(X: np.ndarray, std: np.ndarray | None, stats: Domain) -> np.ndarray:
    """Flag predictions made inside the model's training domain.

    A row is in domain when every feature is within [min, max] of the training data (relative
    tolerance 1e-9) and its predictive σ is ≤ ``std_q99``.

    Args:
        X: Features, shape (n, d), feature units, or a DataFrame with the stats' feature columns.
        std: Predictive standard deviations, shape (n,), target unit (eV); ``None`` checks the
            feature ranges only. Compare like with like: if ``std_q99`` was computed from
            uncalibrated σ, pass uncalibrated σ here.
        stats: The :class:`Domain` from :func:`domain_stats`.

    Returns:
        Boolean array of shape (n,).

    Raises:
        TableError: ``X`` or ``std`` has the wrong shape or non-finite values.
    """
    arr = _as_matrix(X, stats.features)
    ok = _inside(arr, stats).all(axis=1)
    if std is not None:
        s = np.asarray(std, dtype=float).reshape(-1)
        if s.shape[0] != arr.shape[0]:
            raise TableError(f"std has {s.shape[0]} values but X has {arr.shape[0]} rows")
        if np.isnan(s).any():
            raise TableError("std holds NaN values")
        ok &= s <= stats.std_q99
    return ok
