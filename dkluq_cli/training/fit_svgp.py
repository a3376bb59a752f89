"""Algorithm 1 of Bi et al.: fit the SN-ResNet + SVGP surrogate by maximising the ELBO.

1. **Probe.** Build the extractor and run it, untrained, on a random subset of the training rows
   (``init_subset``).
2. **Inducing init.** Place the m inducing points at fuzzy c-means centres of those features
   (:mod:`dkluq_cli.model.svgp.inducing`); the kernel lengthscale starts at their mean pairwise
   distance.
3. **ELBO loop.** Train extractor, GP and likelihood jointly on ``VariationalELBO(num_data=N)``
   with Adam (optionally natural-gradient steps for q(u)), a linear warm-up and a cosine decay,
   minibatches held on the device; score the validation split after every epoch and stop early
   when its NLL stops improving. The best-validation state is kept (``keep="last"``: the final
   one).

The loop reports each epoch to :class:`Callbacks` and keeps an end-of-epoch snapshot
(:mod:`dkluq_cli.training.checkpoint`), so an interrupted fit resumes to the result of an uninterrupted one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dkluq_cli.errors import TrainingError
from dkluq_cli.model.surrogate import Surrogate
from dkluq_cli.model.svgp.dkl import build_dkl, build_extractor
from dkluq_cli.model.svgp.head import DKLHead
from dkluq_cli.model.svgp.inducing import initial_inducing_points, mean_pairwise_distance
from dkluq_cli.training.checkpoint import copy_state, restore, snapshot
from dkluq_cli.training.config import TrainConfig
from dkluq_cli.training.prepare import TrainingData
from dkluq_cli.uq.metrics import gaussian_nll

logger = logging.getLogger(__name__)


@dataclass
class Progress:
    """What the loop reports after each epoch.

    Attributes:
        epoch: Epochs done (1-based).
        epochs: The epoch budget.
        loss: Mean negative ELBO per training row of this epoch.
        val_rmse: Validation RMSE (target units).
        val_nll: Validation Gaussian NLL per row (uncalibrated σ).
        seconds: Loop time so far (epochs and validation, s).
        best_epoch: Epoch of the lowest validation NLL so far.
        surrogate: The model at the current weights (for callers that score it themselves).
    """

    epoch: int
    epochs: int
    loss: float
    val_rmse: float
    val_nll: float
    seconds: float
    best_epoch: int
    surrogate: Any = None


@dataclass
class Callbacks:
    """Hooks into the loop.

    Attributes:
        on_epoch_end: Called with the epoch's :class:`Progress`; its time is not counted in
            ``Progress.seconds``.
        should_stop: Polled after every epoch; True ends the fit as an interruption.
        stop_after_epoch: End the fit as an interruption after this epoch.
    """

    on_epoch_end: Callable[[Progress], None] | None = None
    should_stop: Callable[[], bool] | None = None
    stop_after_epoch: int | None = None


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global random streams."""
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class DKLFit:
    """One fit of the DKL surrogate: steps 1–2 in the constructor, step 3 in :meth:`run`.

    Args:
        cfg: The resolved configuration (:meth:`TrainConfig.resolved`).
        data: The prepared training data (:func:`dkluq_cli.training.prepare.prepare`).
        device: Torch device of the fit.
    """

    def __init__(self, cfg: TrainConfig, data: TrainingData, device: Any) -> None:
        import torch

        self.cfg = cfg
        self.data = data
        self.device = device
        if cfg.inducing > data.n_train:
            logger.warning(
                "--inducing %d exceeds the %d training rows: using %d inducing points",
                cfg.inducing,
                data.n_train,
                data.n_train,
            )
            cfg = replace(cfg, inducing=data.n_train)
            self.cfg = cfg
        seed_everything(cfg.seed)
        self._build_model()
        self._build_optimisers()
        self.shuffle_gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.history: list[dict[str, float]] = []
        self.epoch = 0
        self.best_nll = math.inf
        self.best_epoch = 0
        self.best_state: dict[str, Any] | None = None
        self.bad_epochs = 0
        self.elapsed = 0.0
        self._val_trend = data.norm.trend.mean_and_variance(data.norm.coordinates(data.x_val))

    # -- steps 1 and 2: probe features, inducing points, model -----------------------------------
    def _build_model(self) -> None:
        import gpytorch
        import torch

        cfg, data = self.cfg, self.data
        dtype = data.x_train.dtype
        extractor = build_extractor(cfg.to_dict(), len(data.norm.x_mean)).to(self.device, dtype)
        gen = torch.Generator().manual_seed(cfg.seed)
        subset = torch.randperm(data.n_train, generator=gen)[: max(cfg.init_subset, cfg.inducing)]
        extractor.eval()
        with torch.no_grad():
            feats = extractor(data.x_train[subset.to(self.device)]).double().cpu().numpy()
        inducing, info = initial_inducing_points(
            feats, cfg.inducing, cfg.init, cfg.fuzzifier, seed=cfg.seed
        )
        lengthscale = mean_pairwise_distance(feats)
        info["initial_lengthscale"] = lengthscale
        self.init_info = info
        self.init_features = feats
        model_cfg = cfg.to_dict()
        model, likelihood = build_dkl(model_cfg, extractor, torch.as_tensor(inducing), lengthscale)
        self.model = model.to(self.device, dtype)
        self.likelihood = likelihood.to(self.device, dtype)
        self.mll = gpytorch.mlls.VariationalELBO(likelihood, model.gp, num_data=data.n_train)
        self.surrogate = Surrogate(
            head=DKLHead(self.model, self.likelihood, cfg.jitter),
            norm=data.norm,
            config=model_cfg,
            crystal=data.crystal,
        )

    def _build_optimisers(self) -> None:
        import gpytorch
        import torch

        cfg, model = self.cfg, self.model
        n_train = self.data.n_train
        var_params = set(map(id, model.gp.variational_parameters())) if cfg.ngd else set()
        gp_params = [p for p in model.gp.parameters() if id(p) not in var_params]
        gp_params += list(self.likelihood.parameters())
        gp_lr = cfg.gp_lr if cfg.gp_lr is not None else cfg.lr
        self.optimizer = torch.optim.Adam(
            [
                {"params": list(model.extractor.parameters()), "lr": cfg.lr},
                {"params": gp_params, "lr": gp_lr},
            ],
            weight_decay=cfg.weight_decay,
            fused=True,  # one kernel for every tensor; CPU and CUDA both have it
        )
        self.ngd = (
            gpytorch.optim.NGD(model.gp.variational_parameters(), num_data=n_train, lr=cfg.ngd_lr)
            if cfg.ngd
            else None
        )
        self.steps_per_epoch = max(1, math.ceil(n_train / cfg.batch_size))
        total = cfg.epochs * self.steps_per_epoch
        warmup = max(1, round(cfg.warmup * total))
        floor = cfg.lr_min_factor

        def factor(step: int) -> float:
            cosine = 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
            return min(1.0, (step + 1) / warmup) * (floor + (1 - floor) * cosine)

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    # -- step 3: the ELBO loop -------------------------------------------------------------------
    def run_epoch(self, jitter: float | None = None) -> float:
        """One pass over the shuffled training rows; returns the mean negative ELBO per row.

        Args:
            jitter: Covariance jitter (standardised units); ``cfg.jitter`` when None.
        """
        import gpytorch
        import torch

        cfg = self.cfg
        value = cfg.jitter if jitter is None else jitter
        self.model.train()
        self.likelihood.train()
        x_all, y_all = self.data.x_train, self.data.y_train
        n = len(x_all)
        perm = torch.randperm(n, generator=self.shuffle_gen).to(self.device)
        # one gather per epoch; the minibatches are then contiguous slices (views)
        x_epoch, y_epoch = x_all[perm], y_all[perm]
        total = 0.0
        with gpytorch.settings.variational_cholesky_jitter(value, value):
            for start in range(0, n, cfg.batch_size):
                xb = x_epoch[start : start + cfg.batch_size]
                if len(xb) < 2:
                    continue
                if self.ngd:
                    self.ngd.zero_grad()
                self.optimizer.zero_grad(set_to_none=True)
                loss = -self.mll(self.model(xb), y_epoch[start : start + cfg.batch_size])
                loss.backward()
                if self.ngd:
                    self.ngd.step()
                self.optimizer.step()
                self.scheduler.step()
                total += float(loss.detach()) * len(xb)
        return total / n

    def validate(self) -> tuple[float, float]:
        """Validation RMSE and NLL (target units, uncalibrated σ) of the current weights."""

        sur, data = self.surrogate, self.data
        mean_z, std_z, _ = sur.predict_standardised(data.x_val)
        mean, std = sur.to_target_units(mean_z, std_z, *self._val_trend)
        rmse = float(np.sqrt(np.mean((mean - data.y_val) ** 2)))
        return rmse, gaussian_nll(data.y_val, mean, std)

    def run(self, callbacks: Callbacks | None = None) -> tuple[bool, bool]:
        """Train until the epoch budget, early stopping, the time budget or a stop request.

        Returns:
            ``(interrupted, stopped_early)``.

        Raises:
            TrainingError: The kernel matrix stays non positive definite, or the loss is not
                finite.
        """
        from linear_operator.utils.errors import NotPSDError

        cb = callbacks or Callbacks()
        cfg = self.cfg
        last_snapshot = snapshot(self)
        jitter = cfg.jitter
        while self.epoch < cfg.epochs:
            t0 = time.perf_counter()
            try:
                loss = self.run_epoch(jitter)
                val_rmse, val_nll = self.validate()
            except NotPSDError as exc:
                if jitter != cfg.jitter:
                    raise TrainingError(
                        f"the inducing-point kernel matrix stayed non positive definite at "
                        f"epoch {self.epoch + 1}, even with jitter {jitter:.0e}",
                        hint="lower --lr, try --double, or change --seed",
                    ) from exc
                jitter = max(1e3 * cfg.jitter, 1e-4)
                self.surrogate.config["jitter"] = jitter
                self.surrogate.head.jitter = jitter
                logger.warning(
                    "kernel matrix not positive definite at epoch %d; retrying the epoch with "
                    "jitter %.0e",
                    self.epoch + 1,
                    jitter,
                )
                restore(self, last_snapshot)
                continue
            except KeyboardInterrupt:
                restore(self, last_snapshot)
                return True, False
            if not math.isfinite(loss):
                raise TrainingError(
                    f"training loss became {loss} at epoch {self.epoch + 1}",
                    hint="lower --lr or use --double",
                )
            self._record(loss, val_rmse, val_nll, time.perf_counter() - t0)
            if cb.on_epoch_end:
                cb.on_epoch_end(
                    Progress(
                        self.epoch,
                        cfg.epochs,
                        loss,
                        val_rmse,
                        val_nll,
                        self.elapsed,
                        self.best_epoch,
                        self.surrogate,
                    )
                )
            last_snapshot = snapshot(self)
            if self.bad_epochs >= cfg.patience and self.epoch >= (cfg.min_epochs or 0):
                return False, True
            if cfg.max_seconds is not None and self.elapsed >= cfg.max_seconds:
                logger.warning(
                    "time budget of %.0f s reached at epoch %d", cfg.max_seconds, self.epoch
                )
                return False, True
            if (cb.should_stop and cb.should_stop()) or (
                cb.stop_after_epoch is not None and self.epoch >= cb.stop_after_epoch
            ):
                return True, False
        return False, False

    def _record(self, loss: float, val_rmse: float, val_nll: float, seconds: float) -> None:
        """Append the epoch to the history and update the early-stopping state."""
        self.epoch += 1
        self.elapsed += seconds
        self.history.append(
            {
                "epoch": self.epoch,
                "loss": loss,
                "val_rmse": val_rmse,
                "val_nll": val_nll,
                "seconds": seconds,
                "lr": float(self.optimizer.param_groups[0]["lr"]),
            }
        )
        if val_nll < self.best_nll - 1e-4 * abs(self.best_nll) or self.best_state is None:
            self.best_nll = val_nll
            self.best_epoch = self.epoch
            self.best_state = {
                "model": copy_state(self.model.state_dict()),
                "likelihood": copy_state(self.likelihood.state_dict()),
            }
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1

    def finish(self) -> None:
        """Load the state the configuration keeps (``keep``: the best-validation or the last
        weights) and switch to evaluation mode."""
        if self.cfg.keep == "best" and self.best_state is not None:
            self.model.load_state_dict(self.best_state["model"])
            self.likelihood.load_state_dict(self.best_state["likelihood"])
        self.model.eval()
        self.likelihood.eval()
