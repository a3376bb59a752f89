"""The exact regime of ``dkluq train``: small tables fitted by the exact GP head.

For a few thousand rows or fewer an exact GP (:mod:`dkluq_cli.model.exact.head`) beats the DKL: no
network to fit on too few rows, no inducing points, and closed-form leave-one-out. The steps:

1. fit on the training and validation rows together (held-out rows replace the validation
   split; the test split stays held out);
2. model coordinates: for the six lattice parameters, the Hencky strain about the reference
   lattice (:class:`dkluq_cli.crystal.strain.StrainCoordinates`), and the reference crystal's
   point group (:class:`dkluq_cli.crystal.point_group.PointGroup`) when the crystal is known and
   ``symmetry`` is not ``off``; for other features, the standardised columns (constant ones
   dropped, equal ones tied);
3. one head per candidate polynomial degree, hyperparameters by marginal likelihood (on at
   most :data:`HYPER_ROWS` rows, the posterior on all of them);
4. every row predicted by a model whose hyperparameters never saw it (:func:`held_out`):
   refitted cross-validation (:mod:`dkluq_cli.model.exact.cross_validation`) up to
   :data:`HYPER_ROWS` rows; above, the closed-form leave-one-out of the rows the
   hyperparameters were not fitted on;
5. the degree with the best held-out log density (higher degrees the rows do not select still
   widen σ beyond the box, step 6, rather than being chosen for it), and one σ scale from its
   held-out errors (split-conformal 95 %, its coverage estimated cross-conformally,
   :func:`dkluq_cli.uq.calibration.calibrate_held_out`);
6. an inflation law for σ beyond the training box: the larger of what simulated extrapolation
   shows and what the candidates of higher degree (their means and calibrated σ) ask for over
   the shell one half-width deep around the box (:mod:`dkluq_cli.uq.extrapolation`).
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
from dkluq_cli.model.exact.cross_validation import HeldOut, cross_validate, fold_ids, n_folds
from dkluq_cli.model.exact.head import ExactHead, fit_candidates
from dkluq_cli.model.inputs import InputMap
from dkluq_cli.model.normalisation import Normalisation
from dkluq_cli.model.record import TrainingRecord
from dkluq_cli.model.surrogate import Surrogate
from dkluq_cli.model.trend import PolynomialTrend
from dkluq_cli.training.config import TrainConfig
from dkluq_cli.training.splits import Splits
from dkluq_cli.uq.calibration import (
    calibrate_held_out,
    noise_out_of_sample,
)
from dkluq_cli.uq.extrapolation import (
    BoxInflation,
    InflationLaw,
    TrainingBox,
    shell_probes,
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
) -> tuple[Surrogate, Splits, dict[str, Any], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Fit the exact regime's surrogate on a table's rows.

    Args:
        x: All inputs (n × d, feature units: Å, degrees).
        y: All targets (n, target units: eV).
        cfg: The resolved configuration.
        splits: The table's split; training and validation rows are fitted together.
        units: Units of the features and the target.
        crystal: The reference crystal, or None.
        device: Torch device of the head.
        degrees: The strain polynomial's degree (``--trend``), or None to choose it by the
            held-out log density.

    Returns:
        ``(surrogate, the split that ran (validation merged into training), what ran, the
        held-out rows)``: the held-out rows are ``(positions in the split's training rows,
        mean, calibrated σ)`` in target units, the σ of each row scaled as the other folds'
        errors would scale it (the cross-conformal estimate).
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
    heads = fit_candidates(
        u[fit_rows],
        yz[fit_rows],
        actions=actions,
        degrees=degrees,
        restarts=cfg.restarts,
        seed=cfg.seed,
        device=device,
    )
    if len(fit_rows) < len(u):  # the same priors, conditioned on every row
        heads = [_on_all_rows(h, u, yz) for h in heads]
    held = [held_out(h, fit_rows, cfg.seed) for h in heads]
    pick = int(np.argmin([np.mean(h.nll_points()) for h in held]))
    head, chosen = heads[pick], held[pick]
    head.selection = [
        {**h.selection[0], "held_out_nll": float(np.mean(o.nll_points()))}
        for h, o in zip(heads, held, strict=True)
    ]
    calib = calibrate_held_out(chosen.z(), chosen.fold, _method(len(u), len(fit_rows)))
    sigma_scale = calib.scale
    higher = [
        (h, calibrate_held_out(o.z(), o.fold, "").scale)
        for h, o in zip(heads, held, strict=True)
        if h.basis.degree > head.basis.degree
    ]
    beyond, sources = (
        _inflation(head, u, actions, sigma_scale, higher) if len(u) >= 5 else (None, {})
    )
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
        "calibration": {**calib.to_dict(), "noise": _noise(head, chosen, y_std)},
        "inflation": None if beyond is None else {**beyond.law.to_dict(), **sources},
        "fit_seconds": time.perf_counter() - t0,
    }
    sur.record = TrainingRecord(best_epoch=0)
    mean = chosen.mean * y_std + y_mean
    std = calib.row_scale * chosen.std * y_std
    return sur, fitted, info, (chosen.rows, mean, std)


def held_out(head: ExactHead, fit_rows: np.ndarray, seed: int) -> HeldOut:
    """Every row predicted by a model whose hyperparameters never saw it.

    With all rows in the hyperparameter fit: refitted cross-validation. With a subset: the
    closed-form leave-one-out (hyperparameters held) of the other rows, in
    :func:`~dkluq_cli.model.exact.cross_validation.n_folds` random folds for the coverage
    estimate.
    """
    n = len(head.y)
    if len(fit_rows) == n:
        return cross_validate(head, fold_ids(n, seed), seed=seed)
    rest = np.setdiff1d(np.arange(n), fit_rows)
    mean, std = head.loo()
    noise = head.noise_variance()
    lat = np.maximum(std[rest] ** 2 - noise, 0.0)
    y = head.y.cpu().numpy()[rest]
    folds = fold_ids(len(rest), seed)
    return HeldOut(y, mean[rest], lat, np.full(len(rest), noise), folds, rest)


def _method(n: int, n_fit: int) -> str:
    """The held-out scheme of :func:`held_out`, in words."""
    if n_fit == n:
        k = n_folds(n)
        scheme = "leave-one-out" if k == n else f"{k}-fold cross-validation"
        return f"{scheme} with the hyperparameters refitted without the held-out rows"
    return (
        f"leave-one-out of the {n - n_fit} rows the hyperparameters were not fitted on "
        f"(fitted on {n_fit})"
    )


def _noise(head: ExactHead, held: HeldOut, y_std: float) -> dict[str, float]:
    """The noise σ the marginal likelihood learned and the one the held-out rows show (target
    units)."""
    _, noise = noise_out_of_sample(held.y - held.mean, held.latent_var, held.noise_var)
    return {
        "learned_std": float(np.sqrt(head.noise_variance()) * y_std),
        "held_out_std": float(np.sqrt(noise) * y_std),
    }


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


def _inflation(
    head: Any,
    u: np.ndarray,
    actions: np.ndarray | None,
    scale: float,
    higher: list[tuple[Any, float]],
) -> tuple[BoxInflation, dict[str, float]]:
    """The inflation law beyond the box: the larger γ of (1) simulated extrapolation with the
    head's hyperparameters held (each slab predicted from the head conditioned on the other
    rows) and (2) each candidate of higher degree (with its own held-out σ scale) over the shell
    one half-width deep around the box (:func:`~dkluq_cli.uq.extrapolation.shell_probes`): the
    law is fitted so that σ covers, in the mean square, the difference of the means and that
    candidate's σ — beyond the box σ is no narrower than a polynomial with terms the held-out
    rows did not select, but cannot rule out there, would give.

    Returns:
        ``(the law on the box, the γ of each source)``.
    """

    y = head.y.cpu().numpy()

    def fit_predict(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sub = head.condition(train)
        mean, var = sub.predict(u[test])
        return mean, scale * np.sqrt(var + sub.noise_variance())

    d, z = simulate_extrapolation(u, y, fit_predict, actions)
    box = TrainingBox.from_rows(u, actions)
    laws = {"slabs": InflationLaw.fit(d, z)}
    if higher:
        probes = shell_probes(box)
        mean, var = head.predict(probes)
        std = scale * np.sqrt(var + head.noise_variance())
        dist = box.distance(probes)
        spread = []
        for other, other_scale in higher:
            m, v = other.predict(probes)
            s2 = other_scale**2 * (v + other.noise_variance())
            spread.append(np.sqrt((m - mean) ** 2 + s2) / std)
        laws["degrees"] = max(
            (InflationLaw.fit(dist, z) for z in spread), key=lambda law: law.gamma
        )
    law = max(laws.values(), key=lambda law: law.gamma)
    return BoxInflation(box, law), {f"gamma_{k}": v.gamma for k, v in laws.items()}
