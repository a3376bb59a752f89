"""The applicability domain of a trained model, and the ``in_domain`` flag on predictions.

A prediction is *in domain* when every feature lies inside the range seen in training and the
predictive standard deviation is no larger than the 99th percentile of the standard deviations
the model gives on its own training points. The statistics are stored in ``model.pt`` as plain
Python lists, floats and strings, so ``torch.load(weights_only=True)`` and JSON can read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dkluq_cli.errors import TableError

#: Relative tolerance on the feature range checks (absorbs round-trips through CSV).
RANGE_RTOL = 1e-9


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
) -> dict[str, Any]:
    """Summarise the training inputs and training-set predictive σ for the domain check.

    Args:
        X_train: Training features, shape (n, d), in feature units (Å, degrees), or a
            DataFrame holding the ``feature_names`` columns.
        feature_names: The d feature names, in column order.
        std_train: The model's predictive standard deviation on the training points, shape
            (n,), target unit (eV).

    Returns:
        A dict of plain Python values: ``features`` (list of str), per-feature ``min``, ``max``
        and ``mean`` (lists of float, feature units), ``std_q99`` and ``std_median`` (float,
        target unit: the 99th percentile and median of ``std_train``) and ``n_train`` (int).

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
    return {
        "features": features,
        "min": [float(v) for v in X.min(axis=0)],
        "max": [float(v) for v in X.max(axis=0)],
        "mean": [float(v) for v in X.mean(axis=0)],
        "std_q99": float(np.percentile(std, 99)),
        "std_median": float(np.median(std)),
        "n_train": int(X.shape[0]),
    }


def _inside(values: np.ndarray, stats: dict[str, Any]) -> np.ndarray:
    """Boolean (n, d) array: is each value inside its feature's training range (with tol)."""
    lo = np.asarray(stats["min"], dtype=float)
    hi = np.asarray(stats["max"], dtype=float)
    tol = RANGE_RTOL * np.maximum(np.maximum(np.abs(lo), np.abs(hi)), hi - lo)
    return (values >= lo - tol) & (values <= hi + tol)


def in_domain(X: np.ndarray, std: np.ndarray | None, stats: dict[str, Any]) -> np.ndarray:
    """Flag predictions made inside the model's training domain.

    A row is in domain when every feature is within [min, max] of the training data (relative
    tolerance 1e-9) and its predictive σ is ≤ ``std_q99``.

    Args:
        X: Features, shape (n, d), feature units, or a DataFrame with the stats' feature columns.
        std: Predictive standard deviations, shape (n,), target unit (eV); ``None`` checks the
            feature ranges only. Compare like with like: if ``std_q99`` was computed from
            uncalibrated σ, pass uncalibrated σ here.
        stats: The dict from :func:`domain_stats`.

    Returns:
        Boolean array of shape (n,).

    Raises:
        TableError: ``X`` or ``std`` has the wrong shape or non-finite values.
    """
    features = stats["features"]
    arr = _as_matrix(X, features)
    ok = _inside(arr, stats).all(axis=1)
    if std is not None:
        s = np.asarray(std, dtype=float).reshape(-1)
        if s.shape[0] != arr.shape[0]:
            raise TableError(f"std has {s.shape[0]} values but X has {arr.shape[0]} rows")
        if np.isnan(s).any():
            raise TableError("std holds NaN values")
        ok &= s <= float(stats["std_q99"])
    return ok
