"""What the model file records about the training run that made it (no effect on predictions)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TrainingRecord:
    """Provenance of a trained model.

    Attributes:
        table: The training table's path, as given to ``dkluq train``.
        formula: The table's reduced formula (one composition per model), if it has one.
        best_epoch: The epoch whose weights were kept (0 for a head trained without epochs).
        inducing_init: How the inducing points were placed (method, fuzzifier, checks).
        test_metrics: Metrics on the test split, target units (``rmse``, ``coverage_95``...).
    """

    table: str | None = None
    formula: str | None = None
    best_epoch: int = 0
    inducing_init: dict[str, Any] = field(default_factory=dict)
    test_metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for the model file)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrainingRecord:
        """Read a stored record (format 3's ``record``, or the ``extra`` dict of formats 1–2),
        ignoring keys it does not know."""
        data = dict(data or {})
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
