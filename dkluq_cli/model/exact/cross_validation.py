"""K-fold cross-validation of a fitted exact head, hyperparameters refitted in every fold.

The closed-form leave-one-out of :meth:`dkluq_cli.model.exact.head.ExactHead.loo` holds the
hyperparameters the head learned from *all* its rows, the held-out row included: on a hundred
rows of real DFT the noise and the polynomial's τ then absorb part of each row's own scatter, and
the leave-one-out σ comes out too small for data the model has never seen. Here every fold's
hyperparameters are fitted again by the same marginal likelihood on the fold's training rows
only (L-BFGS warm-started at the full fit's optimum, which keeps the cost to a few iterations),
the held-out rows are predicted by that fold's head, and the per-row results are kept for
choosing the degree and the σ scale out of sample (:mod:`dkluq_cli.training.fit_exact`).

Folds are a seeded partition into :func:`n_folds` parts: leave-one-out up to
:data:`MAX_FOLDS` rows (the held-out model then differs from the full one by one row, which
matters where every row counts), :data:`MAX_FOLDS` folds up to :data:`FEW_FOLDS_ABOVE` rows and
:data:`FEW_FOLDS` above, where a tenth of the rows changes the fit little and every refit costs
more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from dkluq_cli.model.exact.head import ExactHead
from dkluq_cli.model.exact.hyperparameters import ExactPriors, fit_hyperparameters

#: Most folds (refits per candidate degree); tables up to this size are left out one row at a time.
MAX_FOLDS = 20
#: Folds of tables larger than :data:`FEW_FOLDS_ABOVE` rows.
FEW_FOLDS = 10
FEW_FOLDS_ABOVE = 200
#: L-BFGS iterations of a warm-started fold refit.
FOLD_ITERATIONS = 10
#: Rows a fold's hyperparameters are refitted on (larger folds condition on all their rows).
FOLD_HYPER_ROWS = 400


def n_folds(n: int) -> int:
    """Folds for ``n`` rows: ``n`` (leave-one-out) up to :data:`MAX_FOLDS`, then that many, and
    :data:`FEW_FOLDS` above :data:`FEW_FOLDS_ABOVE` rows."""
    return max(2, min(n, MAX_FOLDS if n <= FEW_FOLDS_ABOVE else FEW_FOLDS))


def fold_ids(n: int, seed: int) -> np.ndarray:
    """Fold index (n,) of every row: a seeded permutation dealt into :func:`n_folds` parts."""
    k = n_folds(n)
    ids = np.empty(n, dtype=np.int64)
    ids[np.random.default_rng(seed).permutation(n)] = np.arange(n) % k
    return ids


@dataclass
class HeldOut:
    """Per-row predictions of the fold heads that did not see the row (standardised units).

    Attributes:
        y: (n,) the rows' standardised target.
        mean: (n,) held-out predictive mean.
        latent_var: (n,) held-out latent variance.
        noise_var: (n,) the fold head's noise variance.
        fold: (n,) fold index of every row.
        rows: (n,) which of the head's rows these are (all of them, in order, by default).
    """

    y: np.ndarray
    mean: np.ndarray
    latent_var: np.ndarray
    noise_var: np.ndarray
    fold: np.ndarray
    rows: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.rows is None:
            self.rows = np.arange(len(self.y))

    @property
    def std(self) -> np.ndarray:
        """Held-out predictive σ (latent and noise), standardised."""
        return np.sqrt(self.latent_var + self.noise_var)

    def z(self) -> np.ndarray:
        """Standardised held-out errors ``(y − mean) / σ``."""
        return (self.y - self.mean) / self.std

    def nll_points(self) -> np.ndarray:
        """Held-out negative log density of every row (nats, standardised target)."""
        z = self.z()
        return 0.5 * z**2 + np.log(self.std) + 0.5 * math.log(2 * math.pi)


def cross_validate(
    head: ExactHead,
    fold: np.ndarray,
    priors: ExactPriors = ExactPriors(),
    seed: int = 0,
    refit: bool = True,
) -> HeldOut:
    """Predict every row of ``head`` from a head fitted on the other folds.

    Args:
        head: The head fitted on all rows (its basis and hyperparameters start every fold).
        fold: (n,) fold index per row (:func:`fold_ids`).
        priors: The priors the head was fitted with.
        seed: Seed of the hyperparameter-row subsets of large folds.
        refit: Refit the hyperparameters per fold (False: condition the full fit's prior on the
            fold's rows, the cheap variant for tests).

    Returns:
        The held-out predictions.
    """
    x, y = head.x, head.y
    n = len(y)
    mean, lat, noise = np.empty(n), np.empty(n), np.empty(n)
    rng = np.random.default_rng(seed)
    for k in np.unique(fold):
        test = np.flatnonzero(fold == k)
        train = np.flatnonzero(fold != k)
        sub = _refit(head, train, priors, seed, rng) if refit else None
        if sub is None:  # no refit, or no fold start stayed positive definite
            sub = head.condition(train)
        m, v = sub.predict(x[torch.as_tensor(test, device=head.device)])
        mean[test], lat[test], noise[test] = m, v, sub.noise_variance()
    return HeldOut(y.cpu().numpy(), mean, lat, noise, np.asarray(fold))


def _refit(
    head: ExactHead, train: np.ndarray, priors: ExactPriors, seed: int, rng: np.random.Generator
) -> ExactHead | None:
    """``head``'s basis with hyperparameters refitted on rows ``train`` (warm start), conditioned
    on them; None when the refit loses positive definiteness."""
    rows = train
    if len(rows) > FOLD_HYPER_ROWS:
        rows = np.sort(rng.choice(train, FOLD_HYPER_ROWS, replace=False))
    x, y = head.x, head.y
    idx = torch.as_tensor(rows, device=head.device)
    blocks = np.asarray(head.params["blocks"], dtype=np.int64)
    try:
        params, _ = fit_hyperparameters(
            x[idx],
            y[idx],
            head.basis,
            blocks,
            priors=priors,
            restarts=0,
            seed=seed,
            max_iter=FOLD_ITERATIONS,
            start=head.params,
        )
    except torch.linalg.LinAlgError:
        return None
    t = torch.as_tensor(train, device=head.device)
    return ExactHead(x[t], y[t], head.basis, params)


__all__ = ["MAX_FOLDS", "HeldOut", "cross_validate", "fold_ids", "n_folds"]
