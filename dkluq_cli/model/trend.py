"""The polynomial trend: a least-squares polynomial in the inputs that the GP's mean starts from.

Universal kriging: fit ``y ≈ t(x)``, a polynomial of low degree in the standardised inputs, by
least squares on the training rows, and let the DKL model only the residual ``y − t(x)``. For a
crystal's energy against its lattice parameters the cubic trend is the third-order elastic
expansion about the centre of the training box (a reference energy, the stress term, second- and
third-order elastic constants); the network and the GP then only learn what that expansion
misses (how much that gains on the SrTiO3 sample is in ``benchmarks/results/README.md``).

The trend's own uncertainty is its confidence band ``Var t̂(x) = a(x)ᵀ C a(x)``, added to the
GP's predictive variance, with ``C`` the coefficients' covariance. The textbook least-squares
``C = s² (AᵀA)⁻¹`` assumes the residual has the same variance everywhere; the cubic's residual
does not (on the SrTiO3 sample it is largest where several lattice parameters sit near the box
faces, where the DKL's errors are largest too), so ``C`` is White's heteroscedasticity-consistent
sandwich in its HC3 form (MacKinnon & White 1985; Long & Ervin 2000),
``(AᵀA)⁻¹ Aᵀ diag(rᵢ² / (1 − hᵢ)²) A (AᵀA)⁻¹`` with residuals ``rᵢ`` and leverages ``hᵢ``. It
puts more of σ where the residual is large: over six seeds of the default model (m = 50, seed
own split, scored on an independent 1000-structure draw) the miscal_area after the validation
σ scale went from 0.008–0.043 (mean 0.027) with the textbook formula to 0.005–0.035 (mean
0.018), and σ on ``srtio3_ood.csv`` from 4.2× to 5.4× the in-range σ. Inside the training box
the band is a minor share of σ; outside it grows like the polynomial itself, which is what
keeps σ growing where the trend extrapolates (the residual GP alone reverts to the residual's
small prior amplitude there).

Degree 0 is the plain target mean with no variance (:meth:`PolynomialTrend.constant`: what a
``ConstantMean`` GP sees after standardising).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from math import comb
from typing import Any

import numpy as np


class TooFewRowsError(ValueError):
    """Fewer training rows than polynomial coefficients."""


def _exponents(degree: int, n_features: int) -> np.ndarray:
    """Exponent rows (n_terms × n_features) of every monomial of total degree ≤ ``degree``."""
    rows = [np.zeros(n_features, dtype=np.int64)]
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(n_features), d):
            rows.append(np.bincount(combo, minlength=n_features).astype(np.int64))
    return np.stack(rows)


def _recurrence(exponents: np.ndarray) -> tuple[list[int], list[int]]:
    """For every monomial after the constant: the index of its parent and the variable that
    multiplies it (the last variable with a non-zero power)."""
    index = {tuple(row): k for k, row in enumerate(exponents.tolist())}
    parents, variables = [0], [0]
    for row in exponents[1:].tolist():
        j = max(i for i, e in enumerate(row) if e > 0)
        parent = list(row)
        parent[j] -= 1
        parents.append(index[tuple(parent)])
        variables.append(j)
    return parents, variables


def hc3_covariance(design: np.ndarray, resid: np.ndarray) -> np.ndarray:
    """Heteroscedasticity-consistent covariance of least-squares coefficients (HC3).

    ``(AᵀA)⁻¹ Aᵀ diag(rᵢ² / (1 − hᵢ)²) A (AᵀA)⁻¹`` with ``hᵢ = aᵢᵀ (AᵀA)⁻¹ aᵢ`` the leverage of
    row i. With equal residual variance everywhere it agrees with ``s² (AᵀA)⁻¹`` on average;
    where residuals vary it stays a consistent estimate, which the textbook formula is not.

    Args:
        design: Design matrix A (n × p).
        resid: Least-squares residuals r (n,), target units.

    Returns:
        The symmetric positive semi-definite p × p covariance (target units²).
    """
    bread = np.linalg.pinv(design.T @ design, hermitian=True)
    leverage = np.sum((design @ bread) * design, axis=1)
    # a row of leverage → 1 is fitted (almost) exactly; the floor keeps its weight finite
    weight = resid**2 / np.maximum(1.0 - leverage, 1e-2) ** 2
    cov = bread @ ((design.T * weight) @ design) @ bread
    return (cov + cov.T) / 2.0


@dataclass
class PolynomialTrend:
    """A fitted polynomial ``t(x) = Σ_k c_k Π_j z_j^{e_kj}`` in standardised inputs ``z``.

    Attributes:
        degree: Total degree (0 = constant).
        x_mean: Per-feature centre of the standardisation (feature units: Å, degrees).
        x_std: Per-feature scale of the standardisation (feature units).
        exponents: Monomial exponents, shape (n_terms × n_features).
        coef: Coefficients in target units (eV), shape (n_terms,).
        cov: Covariance of the coefficients (eV²), shape (n_terms × n_terms): the HC3 sandwich
            of :func:`hc3_covariance` (models saved before it carry ``s² (AᵀA)⁻¹``).
    """

    degree: int
    x_mean: np.ndarray
    x_std: np.ndarray
    exponents: np.ndarray
    coef: np.ndarray
    cov: np.ndarray

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, degree: int, x_mean: np.ndarray, x_std: np.ndarray
    ) -> PolynomialTrend:
        """Least-squares fit on rows ``x`` (n × d, feature units) and target ``y`` (n,).

        Args:
            x: Training inputs in feature units.
            y: Training target in its units (eV).
            degree: Total polynomial degree (0–6 through the CLI).
            x_mean: Standardisation centre (the surrogate's, so both agree).
            x_std: Standardisation scale.

        Raises:
            TooFewRowsError: Fewer rows than polynomial terms.
        """
        x = np.asarray(x, dtype=np.float64)
        trend = cls.basis(degree, x_mean, x_std)
        if len(x) < len(trend.exponents):
            raise TooFewRowsError(
                f"a degree-{degree} trend in {x.shape[1]} features has {len(trend.exponents)} "
                f"terms but there are only {len(x)} training rows"
            )
        design = trend.design(x)
        y = np.asarray(y, dtype=np.float64)
        trend.coef = np.linalg.lstsq(design, y, rcond=None)[0]
        trend.cov = hc3_covariance(design, y - design @ trend.coef)
        return trend

    @classmethod
    def basis(cls, degree: int, x_mean: np.ndarray, x_std: np.ndarray) -> PolynomialTrend:
        """An unfitted trend of ``degree`` (no coefficients yet): its :meth:`design` works.

        Args:
            degree: Total polynomial degree.
            x_mean: Standardisation centre (feature units).
            x_std: Standardisation scale (feature units).
        """
        x_mean = np.asarray(x_mean, dtype=np.float64)
        exps = _exponents(degree, len(x_mean))
        empty = np.zeros(0)
        return cls(degree, x_mean, np.asarray(x_std, dtype=np.float64), exps, empty, empty)

    @classmethod
    def constant(cls, value: float, x_mean: np.ndarray, x_std: np.ndarray) -> PolynomialTrend:
        """The degree-0 trend ``t(x) = value`` with no variance: the target mean that a
        ``ConstantMean`` GP sees after standardising (the paper's model).

        Args:
            value: The constant (target units, eV).
            x_mean: Standardisation centre (feature units).
            x_std: Standardisation scale (feature units).
        """
        x_mean = np.asarray(x_mean, dtype=np.float64)
        exps = _exponents(0, len(x_mean))
        return cls(
            0, x_mean, np.asarray(x_std, float), exps, np.array([float(value)]), np.zeros((1, 1))
        )

    def design(self, x: np.ndarray) -> np.ndarray:
        """The monomials of standardised ``x`` (n × n_terms).

        Each monomial is an earlier one times one variable (its parent: the same exponents
        with one power fewer), so the matrix takes one vector product per column.
        """
        z = (np.atleast_2d(np.asarray(x, dtype=np.float64)) - self.x_mean) / self.x_std
        parents, variables = self._recurrence
        out = np.empty((len(z), len(self.exponents)), order="F")
        out[:, 0] = 1.0
        for k in range(1, len(self.exponents)):
            np.multiply(out[:, parents[k]], z[:, variables[k]], out=out[:, k])
        return np.ascontiguousarray(out)

    @cached_property
    def _recurrence(self) -> tuple[list[int], list[int]]:
        """Parent monomial and multiplying variable of every term (derived from ``exponents``)."""
        return _recurrence(self.exponents)

    def mean_and_variance(self, x: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
        """The trend and its variance at ``x`` (target units and target units²), sharing one
        design matrix per chunk of ``chunk`` rows (one design matrix for a whole large scan
        would cost more in memory traffic than the arithmetic it feeds)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.size == 0:
            return np.zeros(0), np.zeros(0)
        mean, var = np.empty(len(x)), np.empty(len(x))
        for start in range(0, len(x), chunk):
            a = self.design(x[start : start + chunk])
            mean[start : start + chunk] = a @ self.coef
            var[start : start + chunk] = np.einsum("ij,ij->i", a @ self.cov, a)
        return mean, np.maximum(var, 0.0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The trend at ``x`` (n × d, feature units), in target units."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if len(x) == 0:
            return np.zeros(0)
        return self.design(x) @ self.coef

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (for the model file)."""
        return {
            "degree": int(self.degree),
            "x_mean": self.x_mean.tolist(),
            "x_std": self.x_std.tolist(),
            "exponents": self.exponents.tolist(),
            "coef": self.coef.tolist(),
            "cov": self.cov.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolynomialTrend:
        """Inverse of :meth:`to_dict`."""
        return cls(
            degree=int(data["degree"]),
            x_mean=np.asarray(data["x_mean"], dtype=np.float64),
            x_std=np.asarray(data["x_std"], dtype=np.float64),
            exponents=np.asarray(data["exponents"], dtype=np.int64).reshape(
                -1, len(data["x_mean"])
            ),
            coef=np.asarray(data["coef"], dtype=np.float64),
            cov=np.asarray(data["cov"], dtype=np.float64).reshape(len(data["coef"]), -1),
        )


def trend_terms(degree: int, n_features: int) -> int:
    """Number of monomials of total degree ≤ ``degree`` in ``n_features`` variables."""
    return comb(n_features + degree, degree)
