"""Training configuration: every hyperparameter of ``dkluq train`` with its default.

Kept free of numpy/torch imports so the CLI can read the defaults without slowing ``--help``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dkluq_cli.table import LATTICE_COLUMNS


@dataclass
class TrainConfig:
    """Every hyperparameter of a training run (written to ``config.json``)."""

    features: list[str] = field(default_factory=lambda: list(LATTICE_COLUMNS))
    target: str = "energy_eV"
    inducing: int = 50
    init: str = "fcm"
    fuzzifier: str | float = "auto"
    init_subset: int = 1000
    kernel: str = "matern52"
    width: int = 128
    depth: int = 4
    dropout: float = 0.0
    activation: str = "relu"
    spectral_norm: bool = True
    sn_coeff: float = 0.95
    n_power_iterations: int = 1
    min_noise: float = 1e-6
    init_noise: float = 1e-2
    jitter: float = 1e-6
    """Diagonal jitter of the inducing and predictive covariances (standardised units). gpytorch's
    float32 default (1e-4) puts a floor of 1 % of the target's standard deviation under every σ;
    the inducing Cholesky runs in float64 anyway, where 1e-6 is gpytorch's own default."""
    ngd: bool = False
    ngd_lr: float = 0.1
    epochs: int = 350
    batch_size: int = 256
    lr: float = 1e-2
    gp_lr: float | None = None
    lr_min_factor: float = 0.02
    weight_decay: float = 0.0
    patience: int = 60
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    double: bool = False
    threads: int | None = 1
    max_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-safe)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict, ignoring unknown keys."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
