"""Training configuration: every hyperparameter of ``dkluq train`` with its default.

Kept free of numpy/torch imports so the CLI can read the defaults without slowing ``--help``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from math import comb
from typing import Any

from dkluq_cli.data.table import LATTICE_COLUMNS

#: ``--head`` choices: the exact GP, the SN-ResNet + SVGP, or chosen by the training rows.
HEADS = ("auto", "exact", "svgp")
#: ``--symmetry`` choices of the exact head.
SYMMETRIES = ("auto", "off")


@dataclass
class TrainConfig:
    """Every hyperparameter of a training run (written to ``config.json``)."""

    features: list[str] = field(default_factory=lambda: list(LATTICE_COLUMNS))
    target: str = "energy_eV"
    head: str = "auto"
    """GP head: ``exact`` (an exact GP on the strain, :mod:`dkluq_cli.training.fit_exact`), ``svgp``
    (the paper's SN-ResNet + sparse variational GP, :mod:`dkluq_cli.training.fit_svgp`), or ``auto``: exact
    for up to :data:`EXACT_MAX_ROWS` training rows, SVGP above."""
    symmetry: str = "auto"
    """The exact head's use of the reference crystal's point group: ``auto`` (used when the
    crystal is known: the parent crystal ingest found, or ``--reference``) or ``off``."""
    restarts: int = 1
    """L-BFGS restarts per candidate degree of the exact head, beyond the start at the prior
    modes."""
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
    trend: str | int = "auto"
    """Degree of the least-squares polynomial trend the GP models the residual of (0 = the
    target mean, the plain ``ConstantMean`` GP; ``auto`` = :func:`auto_trend_degree`). See
    :mod:`dkluq_cli.model.trend`."""
    ngd: bool = False
    ngd_lr: float = 0.1
    epochs: int = 350
    batch_size: int | None = None
    """Minibatch size; None = auto (:func:`auto_batch_size`): 256, halved for small tables so
    that every epoch still takes at least 8 optimiser steps (never below 32)."""
    lr: float = 7e-3
    """Peak Adam learning rate of the network (the sweep behind it: benchmarks/results/README.md)."""
    gp_lr: float | None = 0.1
    """Peak Adam learning rate of the GP head and the likelihood (inducing locations, q(u), kernel
    hyperparameters, noise); None = ``lr``. Higher than the network's: with the network's rate
    the learned noise stays high and absorbs what the GP should explain."""
    lr_min_factor: float = 0.1
    """The cosine schedule ends at this fraction of each peak learning rate (a higher floor
    trades a little accuracy for better-calibrated σ)."""
    warmup: float = 0.02
    """Fraction of all optimiser steps over which the learning rate ramps up linearly from
    lr/steps. Adam's first steps move every weight by about ``lr``; on 128-wide layers that can
    shift the whole feature cloud many lengthscales away from the inducing points, where the
    kernel is ~0, the gradients vanish and the model stays at the constant mean."""
    weight_decay: float = 0.0
    keep: str = "best"
    """Which weights the fit ends with: ``best`` (lowest validation NLL) or ``last``."""
    patience: int = 60
    min_epochs: int | None = None
    """Early stopping never fires before this epoch; None = half of ``epochs``. While the
    learning rate is high the validation NLL is noisy, and on small tables (one or two steps per
    epoch) the model can sit near the constant predictor for many epochs before it learns."""
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    double: bool = False
    threads: int | None = 1
    max_seconds: float | None = None

    def resolved(self, n_train: int) -> TrainConfig:
        """A copy with every "auto" value made concrete for ``n_train`` training rows.

        Raises:
            ValueError: ``head``, ``symmetry`` or ``keep`` names no known choice.
        """
        for name, choices in (
            ("head", HEADS),
            ("symmetry", SYMMETRIES),
            ("keep", ("best", "last")),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}")
        return replace(
            self,
            head=auto_head(n_train) if self.head == "auto" else self.head,
            batch_size=self.batch_size or auto_batch_size(n_train),
            min_epochs=self.epochs // 2 if self.min_epochs is None else self.min_epochs,
            trend=(
                auto_trend_degree(n_train, len(self.features))
                if self.trend == "auto"
                else int(self.trend)
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-safe)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict, ignoring unknown keys.

        A config written before the learning-rate warm-up, the trend or the exact head existed
        (no ``warmup``, ``trend`` or ``head`` key) gets ``warmup=0.0``, ``trend=0`` and
        ``head="svgp"``, so resuming such a run keeps the model and schedule it started with.
        """
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("warmup", 0.0)
        values.setdefault("trend", 0)
        values.setdefault("head", "svgp")
        return cls(**values)


#: Largest training split the automatic head fits with the exact GP (above: the SVGP); see
#: benchmarks/results for the learning curve behind it.
EXACT_MAX_ROWS = 2000


def auto_head(n_train: int) -> str:
    """The head ``--head auto`` picks for ``n_train`` training rows: ``exact`` up to
    :data:`EXACT_MAX_ROWS`, else ``svgp``."""
    return "exact" if n_train <= EXACT_MAX_ROWS else "svgp"


def auto_batch_size(n_train: int, cap: int = 256, min_steps: int = 8, floor: int = 32) -> int:
    """The default minibatch size for ``n_train`` training rows.

    ``cap`` (256) for large tables; for small ones the largest power of two that still gives
    ``min_steps`` steps per epoch, but never below ``floor``: with one or two steps an epoch,
    early stopping fires before the model has left the constant predictor.
    """
    size = cap
    while size > floor and size * min_steps > n_train:
        size //= 2
    return size


MAX_AUTO_TREND = 3
ROWS_PER_TREND_TERM = 20
#: Highest degree ``--trend`` accepts (924 monomials in six features).
MAX_TREND = 6


def auto_trend_degree(n_train: int, n_features: int) -> int:
    """The default polynomial-trend degree for ``n_train`` training rows.

    The highest degree ≤ 3 that leaves at least 20 training rows per polynomial term, so the
    trend never carries more coefficients than the table pins down. Six lattice parameters:
    cubic (84 terms) from 1680 rows, quadratic (28) from 560, linear (7) from 140, else the
    constant mean.
    """
    degree = 0
    for d in range(1, MAX_AUTO_TREND + 1):
        if comb(n_features + d, d) * ROWS_PER_TREND_TERM <= n_train:  # monomials of degree ≤ d
            degree = d
    return degree
