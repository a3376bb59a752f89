"""The applicability domain of a trained model, and the ``in_domain`` flag on predictions.

A prediction is *in domain* when

* every feature lies inside the training range widened by :func:`range_margin` (the gap a
  sample of n rows leaves at the edges of what it was drawn from, so that fresh rows drawn
  uniformly like the training rows fall outside with probability :data:`RANGE_ALPHA`), and
* its nearest training row (in the model's standardised coordinates, with the point group's
  images) is no farther than the training rows are from each other
  (:class:`dkluq_cli.uq.neighbours.Neighbours`): a hole in the data is out of domain even inside
  the box.

Models trained before the neighbours were stored keep their rule: the range without a margin and
σ no larger than the 99th percentile of the σ on the training rows. :func:`check_domain` gives
every flag with its reason in words. The statistics are a :class:`Domain`, stored in ``model.pt``
through :meth:`Domain.to_dict` as plain lists, floats and strings, so
``torch.load(weights_only=True)`` and JSON can read them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dkluq_cli.errors import TableError
from dkluq_cli.uq.neighbours import Neighbours

#: Relative tolerance on the feature range checks (absorbs round-trips through CSV).
RANGE_RTOL = 1e-9
#: Chance that a fresh row drawn like the training rows falls outside the widened range.
RANGE_ALPHA = 0.02


def range_margin(n: int, d: int, alpha: float = RANGE_ALPHA) -> float:
    """Widening of each feature's training range on each side, as a share of that range.

    For n rows drawn uniformly, a fresh row falls below ``min − k·(max − min)`` with
    probability ``(1 + k)^{−(n−1)} / (n + 1)`` (integrating over the joint law of the smallest
    and largest row); over the 2·d sides of d features that is ``alpha`` for
    ``k = (2d / (alpha (n + 1)))^{1/(n−1)} − 1`` (0 once the rows are dense enough). Wide for
    ten rows (which cannot say where their box ends), a few per mille of the range at a hundred.
    """
    if n < 2:
        return 0.0
    k = (2 * max(d, 1) / (alpha * (n + 1))) ** (1.0 / (n - 1)) - 1.0
    return max(k, 0.0)


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
        margin: Per-feature widening of [min, max] on each side (feature units); None for a
            model stored before it (no widening, and the σ rule).
        neighbours: The training rows in model coordinates and the nearest-row limit; None for
            a model stored before it.
    """

    features: list[str]
    min: list[float]
    max: list[float]
    mean: list[float]
    std_q99: float
    std_median: float
    n_train: int
    margin: list[float] | None = None
    neighbours: Neighbours | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (for the model file)."""
        out = asdict(self)
        out["neighbours"] = None if self.neighbours is None else self.neighbours.to_dict()
        return out

    @property
    def lower(self) -> np.ndarray:
        """Lower edge of each feature's (widened) range."""
        return np.asarray(self.min, float) - np.asarray(self.margin or 0.0, float)

    @property
    def upper(self) -> np.ndarray:
        """Upper edge of each feature's (widened) range."""
        return np.asarray(self.max, float) + np.asarray(self.margin or 0.0, float)

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
            margin=None if data.get("margin") is None else [float(v) for v in data["margin"]],
            neighbours=Neighbours.from_dict(data.get("neighbours")),
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
    X_train: np.ndarray,
    feature_names: Sequence[str],
    std_train: np.ndarray,
    coords: np.ndarray | None = None,
    actions: np.ndarray | None = None,
) -> Domain:
    """Summarise the training inputs and training-set predictive σ for the domain check.

    Args:
        X_train: Training features, shape (n, d), in feature units (Å, degrees), or a
            DataFrame holding the ``feature_names`` columns.
        feature_names: The d feature names, in column order.
        std_train: The model's predictive standard deviation on the training points, shape
            (n,), target unit (eV).
        coords: The training rows in the model's standardised coordinates (n, k): with them
            the domain has the widened range and the nearest-row rule; without, the old rule.
        actions: The point group's maps of those coordinates, or None.

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
    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = neighbours = None
    if coords is not None:
        widen = range_margin(len(X), X.shape[1])
        margin = [float(v) for v in widen * (hi - lo)]
        neighbours = Neighbours.from_rows(coords, actions, widen=widen)
    return Domain(
        features=features,
        min=[float(v) for v in lo],
        max=[float(v) for v in hi],
        mean=[float(v) for v in X.mean(axis=0)],
        std_q99=float(np.percentile(std, 99)),
        std_median=float(np.median(std)),
        n_train=int(X.shape[0]),
        margin=margin,
        neighbours=neighbours,
    )


def _inside(values: np.ndarray, stats: Domain) -> np.ndarray:
    """Boolean (n, d) array: is each value inside its feature's (widened) training range."""
    lo, hi = stats.lower, stats.upper
    tol = RANGE_RTOL * np.maximum(np.maximum(np.abs(lo), np.abs(hi)), hi - lo)
    return (values >= lo - tol) & (values <= hi + tol)


@dataclass
class DomainCheck:
    """``in_domain`` flags and, for every row out of domain, why (:attr:`reasons`, written only
    when asked for: a scan of a million points needs the flags alone).

    Attributes:
        flags: (n,) in domain.
    """

    flags: np.ndarray
    _why: list[tuple[np.ndarray, Any]] = field(default_factory=list, repr=False)

    @classmethod
    def all_in(cls, n: int) -> DomainCheck:
        """``n`` rows, all in domain."""
        return cls(np.ones(n, dtype=bool))

    def exclude(self, rows: np.ndarray, reason: str | Callable[[int], str]) -> None:
        """Mark rows (indices, or a boolean mask) out of domain for ``reason``: one text for
        all, or a function of the row index giving each its own; added to any earlier reason."""
        rows = np.asarray(rows)
        idx = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
        self.flags[idx] = False
        self._why.append((idx, reason))

    @property
    def reasons(self) -> list[str]:
        """Why each row is out of domain, ``"; "``-joined; empty for rows in domain."""
        out = [""] * len(self.flags)
        for idx, reason in self._why:
            for i in idx:
                text = reason if isinstance(reason, str) else reason(int(i))
                out[i] = f"{out[i]}; {text}" if out[i] else text
        return out


def check_domain(
    X: np.ndarray, std: np.ndarray | None, stats: Domain, coords: np.ndarray | None = None
) -> DomainCheck:
    """Flag predictions made inside the model's training domain, with the reason of each that
    is not.

    Args:
        X: Features, shape (n, d), feature units, or a DataFrame with the stats' feature columns.
        std: Predictive σ (n,), target unit; used by the old rule only (a domain stored without
            neighbours), None skips it.
        stats: The :class:`Domain` from :func:`domain_stats`.
        coords: The rows in the model's standardised coordinates (n, k), for the nearest-row
            rule; None skips it.

    Raises:
        TableError: ``X`` or ``std`` has the wrong shape or non-finite values.
    """
    arr = _as_matrix(X, stats.features)
    check = DomainCheck.all_in(len(arr))
    inside = _inside(arr, stats)
    lo, hi = stats.lower, stats.upper
    width = np.maximum(hi - lo, 1e-300)
    excess = np.maximum(lo - arr, arr - hi) / width
    f, lo_t, hi_t = stats.features, stats.min, stats.max

    def beyond_range(i: int) -> str:
        j = int(np.argmax(excess[i]))
        return f"{f[j]} {arr[i, j]:.6g} outside the training range {lo_t[j]:.6g}–{hi_t[j]:.6g}"

    check.exclude(~inside.all(axis=1), beyond_range)
    if stats.neighbours is not None and coords is not None:
        ratio = stats.neighbours.ratio(coords)
        check.exclude(
            ratio > 1.0, lambda i: f"far from the training rows ({ratio[i]:.2g}× their spacing)"
        )
    elif stats.neighbours is None and std is not None:
        s = np.asarray(std, dtype=float).reshape(-1)
        if s.shape[0] != arr.shape[0]:
            raise TableError(f"std has {s.shape[0]} values but X has {arr.shape[0]} rows")
        if np.isnan(s).any():
            raise TableError("std holds NaN values")
        check.exclude(s > stats.std_q99, "σ above the training rows' 99th percentile")
    return check


def in_domain(
    X: np.ndarray, std: np.ndarray | None, stats: Domain, coords: np.ndarray | None = None
) -> np.ndarray:
    """The flags of :func:`check_domain` (boolean (n,)), without the reasons.

    Args:
        X: Features, shape (n, d), feature units, or a DataFrame with the stats' feature columns.
        std: Predictive standard deviations, shape (n,), target unit (eV); ``None`` skips the
            old σ rule. Compare like with like: if ``std_q99`` was computed from uncalibrated
            σ, pass uncalibrated σ here.
        stats: The :class:`Domain` from :func:`domain_stats`.
        coords: Standardised model coordinates of the rows, for the nearest-row rule.

    Raises:
        TableError: ``X`` or ``std`` has the wrong shape or non-finite values.
    """
    return check_domain(X, std, stats, coords).flags
