"""The model's coordinates: the table's feature columns, with constant ones dropped and equal ones tied.

A table of cubic cells (``a = b = c``, every angle 90°), an equation-of-state scan, carries one
number per row in six columns. Standardising a constant column divides by zero, and three equal
columns give the kernel one direction three times over. :meth:`InputMap.from_training` finds
both on the training rows: a column equal (within a relative tolerance) to an earlier one joins
its group, and the model sees the group's mean; a column constant over the rows is dropped and
its value kept. Inputs off the training manifold (``a ≠ b`` for a model trained on ``a = b = c``,
or an angle other than the one trained on) are mapped all the same; :meth:`InputMap.deviation`
says how far off they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Relative tolerance for "constant" and "equal" columns: what rounding in ingest or CSV leaves.
REL_TOL = 1e-7


@dataclass
class InputMap:
    """Feature columns → model coordinates.

    Attributes:
        features: The table's feature columns the model takes, in order.
        groups: For each model coordinate, the indices (into ``features``) of the columns whose
            mean it is.
        fixed: Dropped constant columns: index into ``features`` → their training value.
    """

    features: list[str]
    groups: list[list[int]]
    fixed: dict[int, float]

    @classmethod
    def identity(cls, features: list[str]) -> InputMap:
        """Every feature its own coordinate."""
        return cls(list(features), [[i] for i in range(len(features))], {})

    @classmethod
    def from_training(
        cls, x: np.ndarray, features: list[str], rel_tol: float = REL_TOL
    ) -> InputMap:
        """Tie equal columns and drop constant ones of the training inputs ``x`` (n × d).

        Args:
            x: Training inputs in feature units.
            features: Their column names.
            rel_tol: Two values closer than ``rel_tol`` × the column's magnitude count as equal.

        Returns:
            The map; the identity when nothing is constant or equal.
        """
        x = np.asarray(x, dtype=np.float64)
        scale = np.maximum(np.abs(x).max(axis=0), 1e-300)
        fixed: dict[int, float] = {}
        groups: list[list[int]] = []
        for j in range(x.shape[1]):
            tol = rel_tol * scale[j]
            if np.ptp(x[:, j]) <= tol:
                fixed[j] = float(np.mean(x[:, j]))
                continue
            for group in groups:
                if np.max(np.abs(x[:, j] - x[:, group[0]])) <= tol:
                    group.append(j)
                    break
            else:
                groups.append([j])
        return cls(list(features), groups, fixed)

    @property
    def is_identity(self) -> bool:
        """No column dropped or tied."""
        return not self.fixed and all(len(g) == 1 for g in self.groups)

    @property
    def names(self) -> list[str]:
        """A name per coordinate: the feature, or ``a=b=c`` for a tied group."""
        return ["=".join(self.features[i] for i in g) for g in self.groups]

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Inputs (n × len(features), feature units) → coordinates (n × len(groups))."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if self.is_identity:
            return x
        return np.stack([x[:, g].mean(axis=1) for g in self.groups], axis=1)

    def deviation(self, x: np.ndarray) -> np.ndarray:
        """How far each input row is off the training manifold (feature units, ≥ 0): the
        largest spread within a tied group or departure from a dropped column's value."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        dev = np.zeros(len(x))
        for g in self.groups:
            if len(g) > 1:
                dev = np.maximum(dev, np.ptp(x[:, g], axis=1))
        for j, value in self.fixed.items():
            dev = np.maximum(dev, np.abs(x[:, j] - value))
        return dev

    def describe(self) -> str:
        """One line for the log: what was tied and dropped (empty for the identity)."""
        parts = [
            f"tied {name}" for name, g in zip(self.names, self.groups, strict=True) if len(g) > 1
        ]
        if self.fixed:
            dropped = ", ".join(f"{self.features[j]} = {v:.6g}" for j, v in self.fixed.items())
            parts.append(f"dropped constant {dropped}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (for the model file)."""
        return {
            "features": list(self.features),
            "groups": [list(g) for g in self.groups],
            "fixed": [[int(j), float(v)] for j, v in self.fixed.items()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputMap:
        """Inverse of :meth:`to_dict`."""
        return cls(
            [str(f) for f in data["features"]],
            [[int(i) for i in g] for g in data["groups"]],
            {int(j): float(v) for j, v in data["fixed"]},
        )
