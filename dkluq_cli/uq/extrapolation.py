"""How far a prediction lies beyond the training box, and how much wider σ must be there.

A GP's σ inside the data is checked by cross-validation; beyond the data nothing checks it, and
a polynomial mean extrapolates with errors that grow faster than its σ. *Simulated
extrapolation* measures that growth on the training table itself: cut off one outer slab of the
box at a time (:func:`extrapolation_folds`), predict the cut rows from the rest, and record each
cut row's distance beyond the remaining box (:class:`TrainingBox`) and its standardised error
``z = (y − mean) / σ``. :class:`InflationLaw` fits ``s(d) = (1 + d)^γ`` to those pairs by
maximum likelihood (``z ~ N(0, s(d)²)``, γ ≥ 0, so ``s(0) = 1`` and σ is never narrowed); at
prediction time σ is multiplied by ``s(distance)``. Slabs reach only a fraction of a half-width
beyond the rest of the box; farther out (:func:`shell_probes`) the same law can be fitted to
what a model with more polynomial terms, which the data did not rule out, predicts there (its
mean's difference and its σ; :mod:`dkluq_cli.training.fit_exact` takes the larger γ).

Distances are in the model's coordinates, per coordinate in units of the training box's
half-width: ``d = ‖max(0, u − hi, lo − u) / w‖₂``, 0 inside the box. With a point group the
box is that of the training rows and all their images, and ``d`` is the smallest over the images
of a point, so symmetric images of a cell are equally far out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dkluq_cli.crystal.point_group import coordinate_images

#: Largest exponent the law may take (σ × 2^γ at one half-width beyond the box).
GAMMA_MAX = 12.0


@dataclass
class TrainingBox:
    """The per-coordinate bounding box of the training rows (and their images).

    Attributes:
        lo: (d,) lower bounds (model coordinates).
        hi: (d,) upper bounds.
        half_width: (d,) half-widths used as the unit of distance; a coordinate constant over
            the training rows takes the largest half-width of the others.
        actions: (k, d, d) group maps, or None.
    """

    lo: np.ndarray
    hi: np.ndarray
    half_width: np.ndarray
    actions: np.ndarray | None = None

    @classmethod
    def from_rows(cls, u: np.ndarray, actions: np.ndarray | None = None) -> TrainingBox:
        """The box of training coordinates ``u`` (n, d) and their images under ``actions``."""
        imgs = coordinate_images(u, actions).reshape(-1, np.shape(u)[-1])
        lo, hi = imgs.min(axis=0), imgs.max(axis=0)
        half = (hi - lo) / 2.0
        top = float(half.max()) if half.size and half.max() > 0 else 1.0
        half = np.where(half > 1e-12 * top, half, top)
        acts = None if actions is None else np.asarray(actions, dtype=np.float64)
        return cls(lo, hi, half, acts)

    def distance(self, u: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """Distance (n,) beyond the box in half-widths (0 inside), nearest image first; rows are
        taken ``chunk`` at a time, so the images of a large batch never exist all at once."""
        u = np.atleast_2d(np.asarray(u, dtype=np.float64))
        out = np.empty(len(u))
        for start in range(0, len(u), chunk):
            imgs = coordinate_images(u[start : start + chunk], self.actions)
            beyond = np.maximum(0.0, np.maximum(imgs - self.hi, self.lo - imgs)) / self.half_width
            out[start : start + chunk] = np.linalg.norm(beyond, axis=2).min(axis=1)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (for the model file)."""
        return {
            "lo": self.lo.tolist(),
            "hi": self.hi.tolist(),
            "half_width": self.half_width.tolist(),
            "actions": None if self.actions is None else self.actions.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingBox:
        """Inverse of :meth:`to_dict`."""
        acts = data.get("actions")
        return cls(
            np.asarray(data["lo"], float),
            np.asarray(data["hi"], float),
            np.asarray(data["half_width"], float),
            None if acts is None else np.asarray(acts, float),
        )


@dataclass
class InflationLaw:
    """σ multiplier ``s(d) = (1 + d)^γ`` beyond the training box (``s = 1`` inside).

    Attributes:
        gamma: The fitted exponent (≥ 0).
        n_fit: Held-out rows beyond their fold's box that the fit used.
        d_max: Largest distance among them (half-widths): beyond it the law is extrapolated.
    """

    gamma: float = 0.0
    n_fit: int = 0
    d_max: float = 0.0

    @classmethod
    def fit(cls, d: np.ndarray, z: np.ndarray, min_rows: int = 3) -> InflationLaw:
        """Maximum-likelihood γ for distances ``d`` and standardised errors ``z`` (n,).

        Rows inside their box (d = 0) carry no information on γ and are ignored. With fewer
        than ``min_rows`` rows outside, γ = 0 (no inflation).
        """
        d, z = np.asarray(d, float).ravel(), np.asarray(z, float).ravel()
        out = d > 0
        d, z = d[out], z[out]
        if len(d) < min_rows:
            return cls(0.0, len(d), float(d.max(initial=0.0)))
        log1d, z2 = np.log1p(d), z**2

        def nll(gamma: float) -> float:
            return float(np.sum(gamma * log1d + 0.5 * z2 * np.exp(-2.0 * gamma * log1d)))

        from scipy.optimize import minimize_scalar

        res = minimize_scalar(nll, bounds=(0.0, GAMMA_MAX), method="bounded")
        gamma = float(res.x) if nll(float(res.x)) < nll(0.0) else 0.0
        return cls(gamma, len(d), float(d.max()))

    def factor(self, d: np.ndarray) -> np.ndarray:
        """The multiplier ``(1 + d)^γ`` (n,) at distances ``d`` (half-widths)."""
        return np.power(1.0 + np.maximum(np.asarray(d, dtype=np.float64), 0.0), self.gamma)

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers (for the model file)."""
        return {"gamma": self.gamma, "n_fit": self.n_fit, "d_max": self.d_max}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InflationLaw:
        """Inverse of :meth:`to_dict`."""
        return cls(float(data["gamma"]), int(data["n_fit"]), float(data["d_max"]))


def extrapolation_folds(
    u: np.ndarray, actions: np.ndarray | None = None, fraction: float = 0.2
) -> list[np.ndarray]:
    """Outer slabs to hold out: for each coordinate and side, the rows (indices) whose
    outermost image along it lies in the top ``fraction`` of the rows.

    With a group, ``max_g ±(A_g u)_j`` is the same for every row of an orbit, so the rest of the
    table has no image inside the slab either; slabs that hold out the same rows are kept once.
    Coordinates constant over the rows give no slab.

    Args:
        u: (n, d) training coordinates.
        actions: (k, d, d) group maps, or None.
        fraction: Share of the rows in each slab.
    """
    imgs = coordinate_images(u, actions)
    n = len(imgs)
    k = max(1, round(fraction * n))
    folds: dict[bytes, np.ndarray] = {}
    for j in range(imgs.shape[2]):
        for sign in (1.0, -1.0):
            reach = (sign * imgs[:, :, j]).max(axis=1)
            if np.ptp(reach) <= 1e-12 * max(1.0, float(np.abs(reach).max())):
                continue
            held = np.sort(np.argsort(-reach, kind="stable")[:k])
            if k < n:
                folds.setdefault(held.tobytes(), held)
    return list(folds.values())


def simulate_extrapolation(
    u: np.ndarray,
    y: np.ndarray,
    fit_predict: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    actions: np.ndarray | None = None,
    fraction: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """Distances and standardised errors of the held-out slabs of :func:`extrapolation_folds`.

    Args:
        u: (n, d) training coordinates.
        y: (n,) training target (any units, the same as ``fit_predict``'s).
        fit_predict: ``(train_idx, test_idx) -> (mean, std)`` of the model fitted on the
            training rows (or conditioned on them), at the test rows, noise included in std.
        actions: (k, d, d) group maps, or None.
        fraction: Share of the rows in each slab.

    Returns:
        ``(d, z)``: distance beyond the fold's training box (half-widths of that box) and
        ``(y − mean) / std`` for every held-out row of every fold, concatenated.
    """
    u = np.atleast_2d(np.asarray(u, dtype=np.float64))
    y = np.asarray(y, dtype=np.float64)
    ds, zs = [], []
    for held in extrapolation_folds(u, actions, fraction):
        train = np.setdiff1d(np.arange(len(u)), held)
        box = TrainingBox.from_rows(u[train], actions)
        mean, std = fit_predict(train, held)
        ds.append(box.distance(u[held]))
        zs.append((y[held] - mean) / std)
    if not ds:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(ds), np.concatenate(zs)


def shell_probes(box: TrainingBox, n: int = 2000, seed: int = 0) -> np.ndarray:
    """``n`` points (n, d) in the shell one half-width deep around the box (model coordinates).

    Each point lies ``m ~ U(1, 2)`` half-widths from the centre along one random coordinate
    (either side) and within ``m`` half-widths along the others: the whole shell between the
    box's faces and one half-width beyond them, edges and corners included.
    """
    rng = np.random.default_rng(seed)
    d = len(box.lo)
    m = rng.uniform(1.0, 2.0, n)
    dev = rng.uniform(-1.0, 1.0, (n, d)) * m[:, None]
    dev[np.arange(n), rng.integers(0, d, n)] = m * rng.choice([-1.0, 1.0], n)
    return (box.lo + box.hi) / 2.0 + box.half_width * dev


@dataclass
class BoxInflation:
    """:class:`InflationLaw` applied beyond a :class:`TrainingBox`: what a surrogate stores to
    widen its calibrated σ outside the training data.

    Attributes:
        box: The training box (model coordinates).
        law: The fitted law.
    """

    box: TrainingBox
    law: InflationLaw

    kind = "inflation"

    def factor(self, coords: np.ndarray) -> np.ndarray:
        """``s(d)`` (n,) at model coordinates ``coords`` (n, d); 1 inside the box."""
        return self.law.factor(self.box.distance(coords))

    def widen(self, coords: np.ndarray, std: np.ndarray) -> np.ndarray:
        """The calibrated σ (n,) beyond the box: ``std · s(d)``."""
        return np.asarray(std) * self.factor(coords)

    def widen_samples(
        self, coords: np.ndarray, dev: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Joint-sample deviations from the mean (samples × n) scaled by ``s(d)`` per point
        (the covariance becomes ``diag(s) Σ diag(s)``); ``rng`` is not used."""
        del rng
        return np.asarray(dev) * self.factor(coords)[None, :]

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (for the model file)."""
        return {"kind": self.kind, "box": self.box.to_dict(), "law": self.law.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoxInflation:
        """Inverse of :meth:`to_dict`."""
        return cls(TrainingBox.from_dict(data["box"]), InflationLaw.from_dict(data["law"]))
