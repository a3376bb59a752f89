"""The training loop (the paper's Algorithm 1): splits, inducing init, ELBO, early stopping.

1. Split the table (seeded, or from a split file), standardise the inputs on the training
   split, fit the polynomial trend (:mod:`dkluq_cli.model.trend`; cubic by default) and
   standardise the residual the GP is to learn.
2. Run the *untrained* extractor on a random subset (``init_subset`` rows) and place the m
   inducing points at fuzzy c-means centres of those features (:mod:`dkluq_cli.model.inducing`);
   the kernel lengthscale starts at their mean pairwise distance.
3. Train extractor, GP and likelihood jointly by maximising ``VariationalELBO(num_data=N)``
   with Adam (optionally natural-gradient steps for q(u)), minibatches held on the device,
   early stopping on validation NLL with the best state restored.
4. Fit one σ scale on the validation split (:mod:`dkluq_cli.uq.calibration`).

The loop keeps an end-of-epoch snapshot (weights, optimiser, RNG) so that an interrupted run can
be saved and resumed to the same result as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dkluq_cli.config import ROWS_PER_TREND_TERM, TrainConfig, trend_terms
from dkluq_cli.errors import TableError, TrainingError
from dkluq_cli.model.trend import PolynomialTrend, TooFewRowsError

logger = logging.getLogger(__name__)


@dataclass
class Splits:
    """Row indices (0-based, into the input table) of each split."""

    train: list[int]
    val: list[int]
    test: list[int]

    def to_dict(self) -> dict[str, list[int]]:
        """Plain dict for ``splits.json``."""
        return {"train": self.train, "val": self.val, "test": self.test}


def make_splits(n: int, val_fraction: float, test_fraction: float, seed: int) -> Splits:
    """Seeded random train/val/test split of ``n`` rows.

    Raises:
        TableError: Too few rows for the requested fractions.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise TableError(
            f"--val-fraction {val_fraction} and --test-fraction {test_fraction} must be in [0, 1) "
            "and sum below 1"
        )
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
    n_test = round(n * test_fraction)
    n_train = n - n_val - n_test
    if n_train < 2 or n_val < 1:
        raise TableError(
            f"{n} rows are too few to train with a validation split "
            f"({n_train} train, {n_val} validation)",
            hint="use a larger table (at least ~20 rows)",
        )
    return Splits(
        train=sorted(perm[:n_train].tolist()),
        val=sorted(perm[n_train : n_train + n_val].tolist()),
        test=sorted(perm[n_train + n_val :].tolist()),
    )


def splits_from_dict(data: dict[str, Any], n: int, source: str = "split file") -> Splits:
    """Validate split indices read from JSON.

    Raises:
        TableError: Missing keys, indices out of range, overlapping or empty splits.
    """
    try:
        sp = Splits(
            train=[int(i) for i in data["train"]],
            val=[int(i) for i in data["val"]],
            test=[int(i) for i in data.get("test", [])],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TableError(
            f"{source}: needs integer lists 'train' and 'val' (and optional 'test')"
        ) from exc
    all_idx = sp.train + sp.val + sp.test
    if any(i < 0 or i >= n for i in all_idx):
        raise TableError(f"{source}: row index out of range for a table of {n} rows")
    if len(set(all_idx)) != len(all_idx):
        raise TableError(f"{source}: a row appears in more than one split")
    if len(sp.train) < 2 or not sp.val:
        raise TableError(f"{source}: train needs ≥ 2 rows and val ≥ 1")
    return sp


@dataclass
class Progress:
    """What the loop reports after each epoch."""

    epoch: int
    epochs: int
    loss: float
    val_rmse: float
    val_nll: float
    seconds: float
    best_epoch: int


@dataclass
class TrainResult:
    """Outcome of :func:`train`."""

    surrogate: Any
    history: list[dict[str, float]]
    splits: Splits
    inducing_init: dict[str, Any]
    interrupted: bool
    stopped_early: bool
    best_epoch: int
    train_seconds: float
    checkpoint: dict[str, Any] | None
    init_features: np.ndarray | None = None
    config: TrainConfig | None = None
    """The configuration that ran, with the automatic values (batch size, minimum epochs) set."""
    total_seconds: float | None = None
    """Wall time of the whole :func:`train` call: inducing-point init, epochs, σ calibration and
    domain statistics (``train_seconds`` counts the epochs only)."""


def _copy_state(obj: Any, to_cpu: bool = False) -> Any:
    """An independent copy of a (nested) state dict: tensors detached and cloned (onto the CPU
    when ``to_cpu``), dicts, lists and tuples rebuilt, other values shared (numbers, strings and
    None are immutable). What ``copy.deepcopy`` gives for these, at a fraction of its cost: a
    training snapshot took 3.6 ms with deepcopy on the default model, paid every epoch."""
    import torch

    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        return t.to("cpu", copy=True) if to_cpu else t.clone()
    if isinstance(obj, dict):
        out = type(obj)((k, _copy_state(v, to_cpu)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):  # module versions, read by load_state_dict
            out._metadata = copy.deepcopy(obj._metadata)  # type: ignore[attr-defined]
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_copy_state(v, to_cpu) for v in obj)
    return obj


def _seed_everything(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _fit_trend(
    xt: np.ndarray, yt: np.ndarray, cfg: TrainConfig, x_mean: np.ndarray, x_std: np.ndarray
) -> PolynomialTrend | None:
    """The least-squares polynomial trend of the training rows (None for degree 0); warns when
    an explicit degree leaves fewer training rows per coefficient than ``auto`` asks for."""
    degree = int(cfg.trend)
    if degree == 0:
        return None
    n_terms = trend_terms(degree, xt.shape[1])
    try:
        trend = PolynomialTrend.fit(xt, yt, degree, x_mean, x_std)
    except TooFewRowsError as exc:
        raise TableError(
            f"--trend {degree} needs {n_terms} coefficients for {xt.shape[1]} features but "
            f"there are only {len(xt)} training rows",
            hint="use a lower --trend degree, or --trend auto",
        ) from exc
    if len(xt) < ROWS_PER_TREND_TERM * n_terms:
        logger.warning(
            "--trend %d fits %d coefficients to %d training rows (%.1f per coefficient; "
            "--trend auto asks for %d): the polynomial may do the GP's job or overfit",
            degree,
            n_terms,
            len(xt),
            len(xt) / n_terms,
            ROWS_PER_TREND_TERM,
        )
    return trend


class _Trainer:
    """Holds the mutable state of one training run (so it can be snapshotted and resumed)."""

    def __init__(
        self,
        cfg: TrainConfig,
        x: np.ndarray,
        y: np.ndarray,
        splits: Splits,
        feature_units: list[str],
        target_unit: str,
        reference: dict[str, Any] | None,
    ) -> None:
        import torch

        from dkluq_cli.device import resolve_device

        cfg = cfg.resolved(len(splits.train))
        self.cfg = cfg
        self.splits = splits
        self.device = resolve_device(cfg.device)
        self.dtype = torch.float64 if cfg.double else torch.float32
        xt, yt = x[splits.train], y[splits.train]
        self.x_mean = xt.mean(axis=0)
        x_std = xt.std(axis=0)
        if np.any(x_std <= 0):
            const = [cfg.features[i] for i in np.flatnonzero(x_std <= 0)]
            raise TableError(
                f"feature(s) {', '.join(const)} are constant over the training rows",
                hint="drop them with --features, a constant input carries no information",
            )
        self.x_std = x_std
        self.y_mean = float(yt.mean())
        if not float(yt.std()) > 0:
            raise TableError(
                f"target {cfg.target!r} is constant over the training rows ({yt[0]!r})",
                hint="nothing to learn: check the target column",
            )
        self.trend = _fit_trend(xt, yt, cfg, self.x_mean, self.x_std)
        resid = yt - self.trend(xt) if self.trend is not None else yt - self.y_mean
        # the GP sees the residual in units of its spread; a floor keeps an (almost) exactly
        # polynomial target from being blown up to unit variance from rounding noise
        self.y_std = max(float(resid.std()), 1e-6 * float(yt.std()))
        self.feature_units = feature_units
        self.target_unit = target_unit
        self.reference = reference

        def to_t(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a, dtype=self.dtype, device=self.device)

        self.x_train = to_t((xt - self.x_mean) / self.x_std)
        self.y_train = to_t(resid / self.y_std)
        self.x_val_raw = x[splits.val]
        self.y_val_raw = y[splits.val]
        self.history: list[dict[str, float]] = []
        self._val_trend: tuple[Any, Any] | None = None
        self.epoch = 0
        self.best_nll = math.inf
        self.best_epoch = 0
        self.best_state: dict[str, Any] | None = None
        self.bad_epochs = 0
        self.elapsed = 0.0

    # -- construction ----------------------------------------------------------------------
    def build(self) -> None:
        import gpytorch
        import torch

        from dkluq_cli.model.dkl import Surrogate, build_dkl
        from dkluq_cli.model.inducing import initial_inducing_points, mean_pairwise_distance
        from dkluq_cli.model.resnet import FCResNet

        cfg = self.cfg
        n_train = len(self.splits.train)
        if cfg.inducing > n_train:
            raise TableError(
                f"--inducing {cfg.inducing} exceeds the {n_train} training rows",
                hint="use fewer inducing points",
            )
        _seed_everything(cfg.seed)
        probe = FCResNet(
            len(cfg.features),
            cfg.width,
            cfg.depth,
            cfg.dropout,
            cfg.activation,
            cfg.spectral_norm,
            cfg.sn_coeff,
            cfg.n_power_iterations,
        ).to(self.device, self.dtype)
        gen = torch.Generator().manual_seed(cfg.seed)
        subset = torch.randperm(n_train, generator=gen)[: max(cfg.init_subset, cfg.inducing)]
        probe.eval()
        with torch.no_grad():
            feats = probe(self.x_train[subset.to(self.device)]).double().cpu().numpy()
        inducing, info = initial_inducing_points(
            feats, cfg.inducing, cfg.init, cfg.fuzzifier, seed=cfg.seed
        )
        lengthscale = mean_pairwise_distance(feats)
        info["initial_lengthscale"] = lengthscale
        self.init_info = info
        self.init_features = feats
        model_cfg = self.model_config()
        model, likelihood = build_dkl(
            model_cfg, len(cfg.features), torch.as_tensor(inducing), lengthscale
        )
        model.extractor.load_state_dict(probe.state_dict())
        model.to(self.device, self.dtype)
        likelihood.to(self.device, self.dtype)
        self.model, self.likelihood = model, likelihood
        self.mll = gpytorch.mlls.VariationalELBO(likelihood, model.gp, num_data=n_train)
        var_params = set(map(id, model.gp.variational_parameters())) if cfg.ngd else set()
        gp_params = [p for p in model.gp.parameters() if id(p) not in var_params]
        gp_params += list(likelihood.parameters())
        gp_lr = cfg.gp_lr if cfg.gp_lr is not None else cfg.lr
        self.optimizer = torch.optim.Adam(
            [
                {"params": list(model.extractor.parameters()), "lr": cfg.lr},
                {"params": gp_params, "lr": gp_lr},
            ],
            weight_decay=cfg.weight_decay,
            # one kernel updates every tensor (resolve_device only gives CPU or CUDA, both have
            # it): 0.30 ms a step against 0.83 ms for foreach on the 2-core CPU box
            fused=True,
        )
        self.ngd = (
            gpytorch.optim.NGD(model.gp.variational_parameters(), num_data=n_train, lr=cfg.ngd_lr)
            if cfg.ngd
            else None
        )
        steps_per_epoch = max(1, math.ceil(n_train / cfg.batch_size))
        self.steps_per_epoch = steps_per_epoch
        total = cfg.epochs * steps_per_epoch
        warmup = max(1, round(cfg.warmup * total))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: (
                min(1.0, (step + 1) / warmup)
                * (
                    cfg.lr_min_factor
                    + (1 - cfg.lr_min_factor)
                    * 0.5
                    * (1 + math.cos(math.pi * min(step, total) / total))
                )
            ),
        )
        self.shuffle_gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.surrogate = Surrogate(
            model=model,
            likelihood=likelihood,
            features=list(cfg.features),
            feature_units=self.feature_units,
            target=cfg.target,
            target_unit=self.target_unit,
            x_mean=self.x_mean,
            x_std=self.x_std,
            y_mean=self.y_mean,
            y_std=self.y_std,
            trend=self.trend,
            config=model_cfg,
            reference=self.reference,
        )

    def model_config(self) -> dict[str, Any]:
        """The part of the config needed to rebuild the network (stored in model.pt)."""
        return self.cfg.to_dict()

    # -- snapshots ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything needed to continue bit-for-bit from the end of the current epoch."""
        import torch

        return {
            "epoch": self.epoch,
            "model": _copy_state(self.model.state_dict(), to_cpu=True),
            "likelihood": _copy_state(self.likelihood.state_dict(), to_cpu=True),
            "optimizer": _copy_state(self.optimizer.state_dict()),
            "ngd": _copy_state(self.ngd.state_dict()) if self.ngd else None,
            "scheduler": _copy_state(self.scheduler.state_dict()),
            "torch_rng": torch.get_rng_state(),
            "shuffle_rng": self.shuffle_gen.get_state(),
            # history rows and best_state are replaced, never changed in place: sharing them
            # keeps a snapshot O(1) in the epoch count (a deep copy of the history grew to
            # ~3 ms an epoch by epoch 350)
            "history": list(self.history),
            "best_nll": self.best_nll,
            "best_epoch": self.best_epoch,
            "best_state": self.best_state,
            "bad_epochs": self.bad_epochs,
            "elapsed": self.elapsed,
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Continue from a snapshot taken by :meth:`snapshot`."""
        import torch

        self.epoch = int(snap["epoch"])
        self.model.load_state_dict(snap["model"])
        self.likelihood.load_state_dict(snap["likelihood"])
        self.optimizer.load_state_dict(snap["optimizer"])
        if self.ngd and snap.get("ngd"):
            self.ngd.load_state_dict(snap["ngd"])
        self.scheduler.load_state_dict(snap["scheduler"])
        torch.set_rng_state(snap["torch_rng"])
        self.shuffle_gen.set_state(snap["shuffle_rng"])
        self.history = list(snap["history"])
        self.best_nll = float(snap["best_nll"])
        self.best_epoch = int(snap["best_epoch"])
        self.best_state = snap["best_state"]
        self.bad_epochs = int(snap["bad_epochs"])
        self.elapsed = float(snap["elapsed"])

    # -- the loop ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def loop_settings(self, jitter: float | None = None) -> Iterator[None]:
        """The settings every epoch runs under: the covariance jitter (``cfg.jitter`` unless
        given) and the integer fast path of ``torch.broadcast_shapes``."""
        import gpytorch

        from dkluq_cli.model.broadcast import fast_broadcast

        value = self.cfg.jitter if jitter is None else jitter
        with gpytorch.settings.variational_cholesky_jitter(value, value), fast_broadcast():
            yield

    def _epoch(self) -> float:
        import torch

        cfg = self.cfg
        self.model.train()
        self.likelihood.train()
        n = len(self.x_train)
        perm = torch.randperm(n, generator=self.shuffle_gen).to(self.device)
        # one gather per epoch; the minibatches are then contiguous slices (views)
        x_epoch, y_epoch = self.x_train[perm], self.y_train[perm]
        total = 0.0
        for start in range(0, n, cfg.batch_size):
            xb = x_epoch[start : start + cfg.batch_size]
            if len(xb) < 2:
                continue
            if self.ngd:
                self.ngd.zero_grad()
            self.optimizer.zero_grad(set_to_none=True)
            out = self.model(xb)
            loss = -self.mll(out, y_epoch[start : start + cfg.batch_size])
            loss.backward()
            if self.ngd:
                self.ngd.step()
            self.optimizer.step()
            self.scheduler.step()
            total += float(loss.detach()) * len(xb)
        return total / n

    def _validate(self) -> tuple[float, float]:
        """Validation RMSE and NLL (target units, uncalibrated σ) of the current weights; the
        same numbers as ``surrogate.predict`` but with the trend's fixed contribution at the
        validation rows computed once."""
        if self._val_trend is None:
            self._val_trend = self.surrogate.trend_at(self.x_val_raw)
        mean_z, std_z, _ = self.surrogate.predict_standardised(self.x_val_raw)
        mean, std = self.surrogate.to_target_units(mean_z, std_z, *self._val_trend)
        rmse = float(np.sqrt(np.mean((mean - self.y_val_raw) ** 2)))
        from dkluq_cli.uq.metrics import gaussian_nll

        return rmse, gaussian_nll(self.y_val_raw, mean, std)

    def run(
        self,
        progress: Callable[[Progress], None] | None,
        should_stop: Callable[[], bool] | None,
        stop_after_epoch: int | None = None,
    ) -> tuple[bool, bool]:
        """Train until the epoch budget, early stopping, the time budget or a stop request.

        Returns:
            ``(interrupted, stopped_early)``.
        """
        from linear_operator.utils.errors import NotPSDError

        cfg = self.cfg
        last_snapshot = self.snapshot()
        jitter = cfg.jitter
        while self.epoch < cfg.epochs:
            t0 = time.perf_counter()
            try:
                with self.loop_settings(jitter):
                    loss = self._epoch()
                    val_rmse, val_nll = self._validate()
            except NotPSDError as exc:
                if jitter == cfg.jitter:
                    jitter = max(1e3 * cfg.jitter, 1e-4)
                    self.surrogate.config["jitter"] = jitter
                    logger.warning(
                        "kernel matrix not positive definite at epoch %d; retrying the epoch "
                        "with jitter %.0e",
                        self.epoch + 1,
                        jitter,
                    )
                    self.restore(last_snapshot)
                    continue
                raise TrainingError(
                    f"the inducing-point kernel matrix stayed non positive definite at epoch "
                    f"{self.epoch + 1}, even with jitter {jitter:.0e}",
                    hint="lower --lr, try --double, or change --seed",
                ) from exc
            except KeyboardInterrupt:
                self.restore(last_snapshot)
                return True, False
            if not math.isfinite(loss):
                raise TrainingError(
                    f"training loss became {loss} at epoch {self.epoch + 1}",
                    hint="lower --lr or use --double",
                )
            self.epoch += 1
            dt = time.perf_counter() - t0
            self.elapsed += dt
            self.history.append(
                {
                    "epoch": self.epoch,
                    "loss": loss,
                    "val_rmse": val_rmse,
                    "val_nll": val_nll,
                    "seconds": dt,
                    "lr": float(self.optimizer.param_groups[0]["lr"]),
                }
            )
            if val_nll < self.best_nll - 1e-4 * abs(self.best_nll) or self.best_state is None:
                self.best_nll = val_nll
                self.best_epoch = self.epoch
                self.best_state = {
                    "model": _copy_state(self.model.state_dict()),
                    "likelihood": _copy_state(self.likelihood.state_dict()),
                }
                self.bad_epochs = 0
            else:
                self.bad_epochs += 1
            if progress:
                progress(
                    Progress(
                        self.epoch,
                        cfg.epochs,
                        loss,
                        val_rmse,
                        val_nll,
                        self.elapsed,
                        self.best_epoch,
                    )
                )
            last_snapshot = self.snapshot()
            if self.bad_epochs >= cfg.patience and self.epoch >= (cfg.min_epochs or 0):
                return False, True
            if cfg.max_seconds is not None and self.elapsed >= cfg.max_seconds:
                logger.warning(
                    "time budget of %.0f s reached at epoch %d", cfg.max_seconds, self.epoch
                )
                return False, True
            if (should_stop and should_stop()) or (
                stop_after_epoch is not None and self.epoch >= stop_after_epoch
            ):
                return True, False
        return False, False

    def restore_best(self) -> None:
        """Load the best (lowest validation NLL) weights."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state["model"])
            self.likelihood.load_state_dict(self.best_state["likelihood"])
        self.model.eval()
        self.likelihood.eval()


def train(
    x: np.ndarray,
    y: np.ndarray,
    cfg: TrainConfig,
    *,
    splits: Splits | None = None,
    feature_units: list[str] | None = None,
    target_unit: str = "",
    reference: dict[str, Any] | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume_from: dict[str, Any] | None = None,
    stop_after_epoch: int | None = None,
) -> TrainResult:
    """Train a DKL surrogate on inputs ``x`` (n × d, feature units) and target ``y`` (n,).

    Args:
        x: Inputs in feature units (Å, degrees).
        y: Target in its units (eV).
        cfg: Hyperparameters.
        splits: Row indices; a seeded random split when None.
        feature_units: Unit of each feature.
        target_unit: Unit of the target.
        reference: Reference crystal to store in the model.
        progress: Called after every epoch.
        should_stop: Polled after every epoch; True ends training as an interruption.
        resume_from: A checkpoint dict from an interrupted run to continue from.
        stop_after_epoch: Simulate an interruption after this epoch (tests).

    Returns:
        The trained surrogate (best validation state, σ scale fitted), history and bookkeeping.
    """
    from dkluq_cli.device import set_threads
    from dkluq_cli.uq.calibration import fit_sigma_scale
    from dkluq_cli.uq.domain import domain_stats

    t_start = time.perf_counter()
    set_threads(cfg.threads)
    if splits is None:
        splits = make_splits(len(x), cfg.val_fraction, cfg.test_fraction, cfg.seed)
    trainer = _Trainer(
        cfg, x, y, splits, feature_units or [""] * x.shape[1], target_unit, reference
    )
    trainer.build()
    if resume_from is not None:
        trainer.restore(resume_from)
    t0 = time.perf_counter()
    interrupted, stopped_early = trainer.run(progress, should_stop, stop_after_epoch)
    checkpoint = trainer.snapshot() if interrupted else None
    trainer.restore_best()
    sur = trainer.surrogate
    mean_v, std_v = sur.predict(x[splits.val], calibrated=False)
    sur.sigma_scale = float(fit_sigma_scale(y[splits.val], mean_v, std_v))
    _, std_t = sur.predict(x[splits.train])
    sur.domain = domain_stats(x[splits.train], list(cfg.features), std_t)
    sur.extra = {"inducing_init": trainer.init_info, "best_epoch": trainer.best_epoch}
    logger.debug("training loop took %.1f s", time.perf_counter() - t0)
    return TrainResult(
        surrogate=sur,
        history=trainer.history,
        splits=splits,
        inducing_init=trainer.init_info,
        interrupted=interrupted,
        stopped_early=stopped_early,
        best_epoch=trainer.best_epoch,
        train_seconds=trainer.elapsed,
        total_seconds=time.perf_counter() - t_start,
        checkpoint=checkpoint,
        init_features=trainer.init_features,
        config=trainer.cfg,
    )
