"""A stand-in for a trained model in fast unit tests: the attributes the lattice commands and
``predict`` read, and a cheap deterministic ``predict``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.uq.domain import Domain

LATTICE = ["a", "b", "c", "alpha", "beta", "gamma"]

#: A cubic SrTiO3 POSCAR, a = 3.95 Å.
POSCAR_TEXT = (
    "SrTiO3\n1.0\n3.95 0 0\n0 3.95 0\n0 0 3.95\nSr Ti O\n1 1 3\nDirect\n"
    "0 0 0\n0.5 0.5 0.5\n0.5 0.5 0\n0.5 0 0.5\n0 0.5 0.5\n"
)


@dataclass
class StubRecord:
    formula: str | None = None


@dataclass
class StubSurrogate:
    """Features a, b, c (Å), alpha, beta, gamma (degrees); trained on a ±5 % box around a cubic
    3.9 Å cell. ``predict`` returns the sum of the inputs (eV) and a σ that grows with the
    distance of a from 3.9 Å."""

    features: list[str] = field(default_factory=lambda: list(LATTICE))
    feature_units: list[str] = field(default_factory=lambda: ["Å"] * 3 + ["deg"] * 3)
    target: str = "energy_eV"
    target_unit: str = "eV"
    domain: Domain | None = field(
        default_factory=lambda: Domain(
            features=list(LATTICE),
            min=[3.705] * 3 + [85.5] * 3,
            max=[4.095] * 3 + [94.5] * 3,
            mean=[3.9] * 3 + [90.0] * 3,
            std_q99=0.05,
            std_median=0.02,
            n_train=100,
        )
    )
    crystal: Crystal | None = None
    record: StubRecord = field(default_factory=StubRecord)

    def predict(self, x: np.ndarray, batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=float)
        return x.sum(axis=1), 0.01 + 0.1 * np.abs(x[:, 0] - 3.9)
