"""The exact regime of ``dkluq train``: small tables fitted by the exact GP head.

For a few thousand rows or fewer an exact GP (:mod:`dkluq_cli.model.exact.head`) beats the DKL: no
network to fit on too few rows, no inducing points, and closed-form leave-one-out. The steps:

1. fit on the training and validation rows together (leave-one-out replaces the validation
   split; the test split stays held out);
2. model coordinates: for the six lattice parameters, the Hencky strain about the reference
   lattice (:class:`dkluq_cli.crystal.strain.StrainCoordinates`), and the reference crystal's point group
   (:class:`dkluq_cli.crystal.point_group.PointGroup`) when the crystal is known and ``symmetry`` is not
   ``off``; for other features, the standardised columns (constant ones dropped, equal ones tied);
3. the head with its polynomial degree chosen by leave-one-out likelihood (hyperparameters on
   at most :data:`HYPER_ROWS` rows, the posterior on all of them);
4. one σ scale fitted to the closed-form leave-one-out errors, and an inflation law for σ beyond
   the training box fitted by simulated extrapolation (:mod:`dkluq_cli.uq.extrapolation`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.point_group import PointGroup
from dkluq_cli.crystal.strain import StrainCoordinates
from dkluq_cli.data.table import LATTICE_COLUMNS, TableUnits
from dkluq_cli.errors import TableError
from dkluq_cli.model.exact.head import ExactHead, fit_exact
from dkluq_cli.model.inputs import InputMap
from dkluq_cli.model.normalisation import Normalisation
from dkluq_cli.model.record import TrainingRecord
from dkluq_cli.model.surrogate import Surrogate
from dkluq_cli.model.trend import PolynomialTrend
from dkluq_cli.training.config import TrainConfig
from dkluq_cli.training.splits import Splits
from dkluq_cli.uq.calibration import coverage_scale, fit_sigma_scale
from dkluq_cli.uq.extrapolation import (
    BoxInflation,
    InflationLaw,
    TrainingBox,
    simulate_extrapolation,
)

logger = logging.getLogger(__name__)


def point_group(crystal: Crystal | None, cfg: TrainConfig) -> PointGroup | None:
    """The reference crystal's point group, or None (no crystal with atoms known, ``symmetry``
    off, the features are not the six lattice parameters, or the crystal has no symmetry)."""

    if cfg.symmetry == "off" or crystal is None or not _is_lattice(cfg):
        return None
    if not crystal.has_atoms:
        return None
    group = PointGroup.from_structure(crystal.structure())
    return group if group.order > 1 else None


def fit_exact_surrogate(
    x: np.ndarray,
    y: np.ndarray,
    cfg: TrainConfig,
    splits: Splits,
    *,
    units: TableUnits,
    crystal: Crystal | None,
    device: Any,
    degrees: int | None = None,
) -> tuple[Surrogate, Splits, dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    """Fit the exact regime's surrogate on a table's rows.

    Args:
        x: All inputs (n × d, feature units: Å, degrees).
        y: All targets (n, target units: eV).
        cfg: The resolved configuration.
        splits: The table's split; training and validation rows are fitted together.
        units: Units of the features and the target.
        crystal: The reference crystal, or None.
        device: Torch device of the head.
        degrees: The strain polynomial's degree (``--trend``), or None to choose it by
            leave-one-out likelihood.

    Returns:
        ``(surrogate, the split that ran (validation merged into training), what ran, the
        leave-one-out mean and calibrated σ of the fitted rows in target units)``.
    """

    t0 = time.perf_counter()
    fitted = Splits(sorted(splits.train + splits.val), [], list(splits.test))
    rows = x[fitted.train]
    group = point_group(crystal, cfg)
    coords, x_mean, x_std, actions = _coordinates(rows, cfg, crystal, group)
    u = (coords.apply(rows) - x_mean) / x_std
    yt = y[fitted.train]
    if not float(yt.std()) > 0:
        raise TableError(
            f"target {cfg.target!r} is constant over the training rows ({yt[0]!r})",
            hint="nothing to learn: check the target column",
        )
    y_mean, y_std = float(yt.mean()), float(yt.std())
    yz = (yt - y_mean) / y_std
    fit_rows = _hyperparameter_rows(len(u), cfg.seed)
    head = fit_exact(
        u[fit_rows],
        yz[fit_rows],
        actions=actions,
        degrees=degrees,
        restarts=cfg.restarts,
        seed=cfg.seed,
        device=device,
    )
    if len(fit_rows) < len(u):  # the same prior, conditioned on every row
        head = _on_all_rows(head, u, yz)
    sigma_scale, loo_mean, loo_std = _loo_scale(head, y_mean, y_std)
    beyond = _inflation(head, u, actions, sigma_scale) if len(u) >= 5 else None
    norm = Normalisation(
        features=list(cfg.features),
        feature_units=list(units.features),
        target=cfg.target,
        target_unit=units.target,
        inputs=coords,
        x_mean=x_mean,
        x_std=x_std,
        y_mean=y_mean,
        y_std=y_std,
        trend=PolynomialTrend.constant(y_mean, np.zeros(len(x_mean)), np.ones(len(x_mean))),
    )
    sur = Surrogate(
        head=head,
        norm=norm,
        sigma_scale=sigma_scale,
        config=replace(cfg, trend=int(head.basis.degree)).to_dict(),
        crystal=crystal,
        beyond=beyond,
    )
    info = {
        "head": "exact",
        "coordinates": "strain" if _is_lattice(cfg) else "standardised",
        "symmetry": None if group is None else {"point_group": group.symbol, "order": group.order},
        "degree": int(head.basis.degree),
        "hyperparameter_rows": len(fit_rows),
        "selection": head.selection,
        "sigma_scale": sigma_scale,
        "inflation": None if beyond is None else beyond.law.to_dict(),
        "fit_seconds": time.perf_counter() - t0,
    }
    sur.record = TrainingRecord(best_epoch=0)
    return sur, fitted, info, (loo_mean, loo_std)


#: Training rows the exact head's hyperparameters (and polynomial degree) are fitted on; larger
#: tables condition the fitted prior on all their rows. Each marginal-likelihood evaluation costs
#: O(n³) times the group's order, and the fit takes a few hundred per candidate degree.
HYPER_ROWS = 400


def _hyperparameter_rows(n: int, seed: int) -> np.ndarray:
    """All rows up to :data:`HYPER_ROWS`, else a seeded random subset of that many (sorted)."""
    if n <= HYPER_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, HYPER_ROWS, replace=False))


def _on_all_rows(head: Any, u: np.ndarray, yz: np.ndarray) -> Any:
    """The fitted head's prior (hyperparameters and basis held) conditioned on every row."""
    import torch

    x = torch.as_tensor(u, dtype=torch.float64, device=head.device)
    y = torch.as_tensor(yz, dtype=torch.float64, device=head.device)
    return ExactHead(x, y, head.basis, dict(head.params), list(head.selection))


def _is_lattice(cfg: TrainConfig) -> bool:
    return list(cfg.features) == list(LATTICE_COLUMNS)


def _coordinates(
    rows: np.ndarray, cfg: TrainConfig, crystal: Crystal | None, group: PointGroup | None
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray | None]:
    """``(coordinate map, centre, scale, group actions)`` for the training rows."""

    if _is_lattice(cfg):
        lattice = None
        if group is not None:
            lattice = group.lattice
        elif crystal is not None and crystal.lattice:
            lattice = crystal.params
        coords = StrainCoordinates.from_training(rows, lattice=lattice)
        actions = None if group is None else group.strain_actions()
        return coords, np.zeros(6), np.ones(6), actions
    imap = InputMap.from_training(rows, list(cfg.features))
    mapped = imap.apply(rows)
    return imap, mapped.mean(axis=0), mapped.std(axis=0), None


def _loo_scale(head: Any, y_mean: float, y_std: float) -> tuple[float, np.ndarray, np.ndarray]:
    """The σ scale fitted to the closed-form leave-one-out errors, and the leave-one-out mean
    and calibrated σ of every fitted row (target units).

    The larger of the NLL-optimal scale and the split-conformal 95 % scale: few rows and a
    heavy tail make the first too small for the 95 % interval users read most."""

    y = head.y.cpu().numpy()
    mean, std = head.loo()
    scale = max(fit_sigma_scale(y, mean, std), coverage_scale(y, mean, std)) if len(y) > 1 else 1.0
    return scale, mean * y_std + y_mean, scale * std * y_std


def _inflation(head: Any, u: np.ndarray, actions: np.ndarray | None, scale: float) -> Any:
    """The inflation law beyond the box, by simulated extrapolation with the head's
    hyperparameters held (each slab predicted from the head conditioned on the other rows)."""

    y = head.y.cpu().numpy()

    def fit_predict(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sub = head.condition(train)
        mean, var = sub.predict(u[test])
        return mean, scale * np.sqrt(var + sub.noise_variance())

    d, z = simulate_extrapolation(u, y, fit_predict, actions)
    return BoxInflation(TrainingBox.from_rows(u, actions), InflationLaw.fit(d, z))
