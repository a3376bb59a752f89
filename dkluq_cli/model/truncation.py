"""σ beyond the training box: the trend's truncation error, estimated from the next order.

Inside the box the GP's σ is calibrated on held-out rows. Outside it, the mean is the polynomial
trend extrapolating, and its error is the part of the surface the polynomial leaves out, which
grows with the distance much faster than the GP's σ (the residual GP reverts to its prior
amplitude). A truncated expansion's error is estimated by the next order: the band

    b(x) = |t_{k+1}(x) − t_k(x)|,

the difference between the degree-k trend and one of degree k + 1 fitted to the same training
rows, is ~0 inside the box and grows like the neglected terms outside it. The surrogate's σ
beyond the box becomes

    σ(x)² = σ_GP(x)² + (κ · r(d) · b(x))²,      r(d) = min(1, d / δ),

with d the normalised distance beyond the box (0 inside) and r a short ramp so σ is continuous at
the faces. κ comes from **simulated extrapolation** on the training rows: for each face of the box,
the slab of rows nearest it is held out, both trends are refitted on the rest, and κ is the
smallest factor for which the held-out rows beyond the reduced box are covered at 95 % by
``1.96 · sqrt(σ_in² + (κ r b)²)``, with σ_in the model's typical in-box σ. The held-out error is
that of the degree-k trend alone, which the trained model's mean (trend plus a GP correction that
fades outside the box) matches or beats, so κ errs on the wide side.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from dkluq_cli.model.trend import PolynomialTrend, trend_terms
from dkluq_cli.uq.metrics import Z_95

#: Fraction of each parameter's training range held out per face in the simulated extrapolation.
SLAB = 0.25
#: Width of the ramp r(d) beyond the box (fraction of the box's width): short, because the
#: held-out error is already well above the in-box σ just past the faces.
RAMP = 0.01
#: Target coverage of the 95 % interval on the held-out slabs.
COVERAGE = 0.95


def beyond_box(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Normalised distance beyond the box ``[lo, hi]`` (0 inside).

    Args:
        x: Points (n × d), in the units of ``lo`` and ``hi``.
        lo: Lower corner (d,).
        hi: Upper corner (d,); ``hi > lo``.

    Returns:
        ``max_j max(0, lo_j − x_j, x_j − hi_j) / (hi_j − lo_j)`` per row (unitless).
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    width = np.asarray(hi, float) - np.asarray(lo, float)
    past = np.maximum(0.0, np.maximum(lo - x, x - hi)) / width
    return past.max(axis=1) if past.size else np.zeros(len(x))


@dataclass
class TruncationBand:
    """The fitted band ``κ r(d) |t_{k+1} − t_k|`` (target units).

    Attributes:
        trend: The model's degree-k trend.
        next_trend: The degree-(k + 1) trend fitted to the same rows.
        lo: Lower corner of the training box (model coordinates, feature units).
        hi: Upper corner of the training box.
        kappa: The factor from simulated extrapolation (unitless).
        ramp: Width of r(d) (fraction of the box).
        bins: Held-out coverage per distance bin from the simulated extrapolation:
            ``[[d_lo, d_hi, n, coverage_95], ...]`` with κ applied.
    """

    trend: PolynomialTrend
    next_trend: PolynomialTrend
    lo: np.ndarray
    hi: np.ndarray
    kappa: float
    ramp: float = RAMP
    bins: list[list[float]] | None = None

    def std(self, coords: np.ndarray) -> np.ndarray:
        """The band at model coordinates ``coords`` (n × d, feature units), target units."""
        coords = np.atleast_2d(np.asarray(coords, dtype=np.float64))
        d = beyond_box(coords, self.lo, self.hi)
        out = np.zeros(len(coords))
        far = d > 0
        if self.kappa > 0 and far.any():
            gap = np.abs(self.next_trend(coords[far]) - self.trend(coords[far]))
            out[far] = self.kappa * np.minimum(1.0, d[far] / self.ramp) * gap
        return out

    kind = "truncation"

    def widen(self, coords: np.ndarray, std: np.ndarray) -> np.ndarray:
        """The calibrated σ (n,) with the band added in quadrature (unchanged inside the box)."""
        return np.sqrt(np.asarray(std) ** 2 + self.std(coords) ** 2)

    def widen_samples(
        self, coords: np.ndarray, dev: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Joint-sample deviations (samples × n) plus one coherent next-order shift a sample:
        a standard normal per sample times :meth:`direction`."""
        shift = rng.standard_normal(len(dev))
        return np.asarray(dev) + np.outer(shift, self.direction(coords))

    def direction(self, coords: np.ndarray) -> np.ndarray:
        """``κ r(d) (t_{k+1} − t_k)`` with its sign (target units): the coherent shift a joint
        posterior sample takes, scaled by one standard normal per sample."""
        coords = np.atleast_2d(np.asarray(coords, dtype=np.float64))
        d = beyond_box(coords, self.lo, self.hi)
        gap = self.next_trend(coords) - self.trend(coords)
        return self.kappa * np.minimum(1.0, d / self.ramp) * gap

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (for the model file)."""
        return {
            "kind": self.kind,
            "trend": self.trend.to_dict(),
            "next_trend": self.next_trend.to_dict(),
            "lo": self.lo.tolist(),
            "hi": self.hi.tolist(),
            "kappa": float(self.kappa),
            "ramp": float(self.ramp),
            "bins": self.bins,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TruncationBand:
        """Inverse of :meth:`to_dict`."""
        return cls(
            trend=PolynomialTrend.from_dict(data["trend"]),
            next_trend=PolynomialTrend.from_dict(data["next_trend"]),
            lo=np.asarray(data["lo"], dtype=np.float64),
            hi=np.asarray(data["hi"], dtype=np.float64),
            kappa=float(data["kappa"]),
            ramp=float(data["ramp"]),
            bins=data.get("bins"),
        )


def fit_truncation_band(
    coords: np.ndarray, y: np.ndarray, trend: PolynomialTrend, sigma_in: float
) -> TruncationBand | None:
    """Fit the next-order trend and κ on the training rows (model coordinates, target units).

    Args:
        coords: Training coordinates (n × d, feature units).
        y: Training target (n,), target units.
        trend: The model's trend, fitted on these rows.
        sigma_in: The model's typical calibrated σ inside the box (target units).

    Returns:
        The band, or None when there are too few rows for the next order (its terms must not
        outnumber a third of the rows).
    """
    coords = np.asarray(coords, dtype=np.float64)
    degree = trend.degree + 1
    next_trend = _fit(coords, y, degree, trend)
    if next_trend is None:
        return None
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    held = _simulated_extrapolation(coords, y, trend, degree)
    kappa = _solve_kappa(held, sigma_in) if len(held) else 1.0
    return TruncationBand(
        trend, next_trend, lo, hi, kappa, bins=_coverage_bins(held, sigma_in, kappa)
    )


def _fit(
    coords: np.ndarray, y: np.ndarray, degree: int, like: PolynomialTrend
) -> PolynomialTrend | None:
    """A least-squares trend of ``degree`` in the standardisation of ``like``; None when its
    terms would exceed a third of the rows."""
    if 3 * trend_terms(degree, coords.shape[1]) > len(coords):
        return None
    return PolynomialTrend.fit(coords, y, degree, like.x_mean, like.x_std)


def _simulated_extrapolation(
    coords: np.ndarray, y: np.ndarray, trend: PolynomialTrend, degree: int
) -> np.ndarray:
    """Rows ``[d, |t_k − y|, |t_{k+1} − t_k|]`` of every face's held-out slab beyond the
    reduced box (d > 0), with both trends refitted on the rest."""
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    design_k = trend.design(coords)
    design_next = PolynomialTrend.basis(degree, trend.x_mean, trend.x_std).design(coords)
    out = []
    for j in range(coords.shape[1]):
        cut = SLAB * (hi[j] - lo[j])
        for slab in (coords[:, j] < lo[j] + cut, coords[:, j] > hi[j] - cut):
            rest = ~slab
            if not slab.any() or 3 * design_next.shape[1] > rest.sum():
                continue
            xs = coords[slab]
            d = beyond_box(xs, coords[rest].min(axis=0), coords[rest].max(axis=0))
            far = slab.copy()
            far[slab] = d > 0
            base = design_k[far] @ _coef(design_k[rest], y[rest])
            step = design_next[far] @ _coef(design_next[rest], y[rest])
            out.append(np.column_stack([d[d > 0], np.abs(base - y[far]), np.abs(step - base)]))
    return np.vstack(out) if out else np.zeros((0, 3))


def _coef(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients (QR with column pivoting: several times faster than the SVD
    solver on these tall, well-scaled designs)."""
    from scipy.linalg import lstsq

    return lstsq(design, y, lapack_driver="gelsy", check_finite=False)[0]


def _covered(held: np.ndarray, sigma_in: float, kappa: float) -> np.ndarray:
    d, err, gap = held.T
    band = kappa * np.minimum(1.0, d / RAMP) * gap
    return err <= Z_95 * np.sqrt(sigma_in**2 + band**2)


def _solve_kappa(held: np.ndarray, sigma_in: float) -> float:
    """The smallest κ in [0, 100] whose held-out coverage reaches :data:`COVERAGE` (bisection;
    coverage grows with κ)."""
    if _covered(held, sigma_in, 0.0).mean() >= COVERAGE:
        return 0.0
    lo, hi = 0.0, 100.0
    if _covered(held, sigma_in, hi).mean() < COVERAGE:
        return hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if _covered(held, sigma_in, mid).mean() >= COVERAGE:
            hi = mid
        else:
            lo = mid
    return hi


def _coverage_bins(held: np.ndarray, sigma_in: float, kappa: float) -> list[list[float]]:
    """Held-out 95 % coverage with κ per quintile of the distance beyond the reduced box."""
    if len(held) == 0:
        return []
    covered = _covered(held, sigma_in, kappa)
    edges = np.quantile(held[:, 0], np.linspace(0, 1, 6))
    rows = []
    for a, b in itertools.pairwise(edges):
        k = (held[:, 0] >= a) & (held[:, 0] <= b)
        rows.append([float(a), float(b), int(k.sum()), float(covered[k].mean())])
    return rows
