"""How a table's columns become the GP head's standardised inputs and target, and back.

Both heads see standardised numbers: the features mapped to model coordinates (the table's
columns with constant ones dropped and equal ones tied, :class:`~dkluq_cli.model.inputs.InputMap`,
or the strain about the reference lattice, :class:`~dkluq_cli.crystal.strain.StrainCoordinates`),
centred and scaled; the target minus its polynomial trend, scaled. :class:`Normalisation` is that
map, built once by the fit and held by the :class:`~dkluq_cli.model.surrogate.Surrogate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dkluq_cli.model.inputs import InputMap
from dkluq_cli.model.trend import PolynomialTrend


@dataclass
class Normalisation:
    """Feature columns → standardised coordinates; standardised target → target units.

    Attributes:
        features: Input column names (e.g. ``a, b, c, alpha, beta, gamma``).
        feature_units: Units of the features (Å, deg, ...).
        target: Target column name (e.g. ``energy_eV``).
        target_unit: Target unit (eV or eV/atom).
        inputs: Features → model coordinates (:class:`InputMap` or strain coordinates); the
            identity map of ``features`` when None is given.
        x_mean: Per-coordinate centre of the standardisation (coordinate units).
        x_std: Per-coordinate scale of the standardisation (coordinate units).
        y_mean: Target mean over the training rows (target units).
        y_std: Scale of the residual the GP learns (target units): the spread of the target
            minus its trend.
        trend: The polynomial trend the GP models the residual of (degree 0: the constant
            ``y_mean``).
    """

    features: list[str]
    feature_units: list[str]
    target: str
    target_unit: str
    inputs: Any
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float
    trend: PolynomialTrend

    def __post_init__(self) -> None:
        if self.inputs is None:
            self.inputs = InputMap.identity(list(self.features))

    def coordinates(self, x: np.ndarray) -> np.ndarray:
        """Inputs in feature units (n × len(features)) → model coordinates."""
        return self.inputs.apply(x)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """Inputs in feature units → standardised coordinates (float64)."""
        return (self.coordinates(x) - self.x_mean) / self.x_std


__all__ = ["Normalisation"]
