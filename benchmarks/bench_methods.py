"""Method comparison on SrTiO3: dkluq, its ablations and standard UQ baselines.

One run each, same 80/10/10 split (seed 0) of the 5000-structure sample, one torch thread.

* **dkluq** ``TrainConfig()`` defaults (fuzzy c-means inducing init); ablations: ``init="kmeans"``,
  ``init="random"``, ``spectral_norm=False`` (everything else default).
* **Exact GP**: gpytorch ``ExactGP``, constant mean, ScaleKernel(ARD Matérn 5/2), Gaussian
  likelihood (gpytorch defaults), float64, exact Cholesky (``max_cholesky_size`` raised above N),
  Adam lr 0.1 for 100 iterations on the marginal likelihood, standardised inputs and target.
* **Deep ensemble**: 5 residual MLPs (dkluq's extractor with the same width and depth, no
  spectral norm, no dropout) with a (mean, log-variance) head, Gaussian NLL, Adam lr 1e-3, seeds
  0–4; mixture mean and variance.
* **MC dropout**: one such MLP with dropout p = 0.1 in every residual branch and the same
  (mean, log-variance) NLL head (a learned heteroscedastic noise); 50 stochastic passes at test
  time, predictive variance = mean of the predicted noise variances + variance of the means.
  Early stopping uses one deterministic pass (dropout off) on the validation split.
* **SVGP** on the raw standardised inputs: gpytorch ``ApproximateGP``, m = 50 inducing points at
  k-means centres of the training inputs (learned), Cholesky q(u), whitened strategy,
  ScaleKernel(ARD Matérn 5/2), gpytorch's default Gaussian likelihood, ``VariationalELBO``, Adam
  lr 0.01.
* **Polynomial ridge**: scikit-learn ``PolynomialFeatures`` + ``Ridge`` on the standardised inputs,
  degree (2–6) and penalty picked on the validation split; σ is the validation RMSE for every row
  (no out-of-domain signal: its AUROC is 0.5 by construction). It shows how smooth the oracle
  surface is, i.e. what accuracy the data allow.

The minibatch baselines use dkluq's default epoch budget, batch size and early-stopping patience
(read from ``TrainConfig()``, best validation-NLL state restored). **Every method's σ is
calibrated** on the validation split with dkluq's ``fit_sigma_scale``; the tables report
calibrated numbers (the raw miscalibration area is kept in the JSON). OOD AUROC: σ separating
``sample_data/srtio3_ood.csv`` (positives) from the in-range test rows (``roc_auc_score``).
Prediction time is for 10 000 structures (test rows tiled). A second table repeats everything
with 200 training structures (a seeded subset of the training split; same validation and test
rows).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    OOD_CSV,
    SRTIO3_CSV,
    Timer,
    add_common_args,
    machine_info,
    machine_line,
    md_table,
    quick_subset,
    read_lattice_csv,
    score,
    single_thread,
    write_results,
)

QUICK_ROWS = 400
QUICK_SMALL = 100
SMALL = 200
GP_ITERS = 100
ENSEMBLE = 5
MC_SAMPLES = 50
MC_P = 0.1
PREDICT_N = 10_000

Predictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class Scaler:
    """Standardise inputs and target on the training rows; predictions back in eV."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.xm, self.xs = x.mean(0), x.std(0)
        self.ym, self.ys = float(y.mean()), float(y.std())

    def x(self, x: np.ndarray, dtype: Any = None) -> Any:
        import torch

        return torch.as_tensor((x - self.xm) / self.xs, dtype=dtype or torch.float32)

    def y(self, y: np.ndarray, dtype: Any = None) -> Any:
        import torch

        return torch.as_tensor((y - self.ym) / self.ys, dtype=dtype or torch.float32)

    def back(self, mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return mean * self.ys + self.ym, np.sqrt(np.maximum(var, 1e-300)) * self.ys


def _nll(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> float:
    std = np.maximum(std, 1e-300)
    return float(np.mean(0.5 * np.log(2 * np.pi * std**2) + 0.5 * ((y - mean) / std) ** 2))


def minibatch_fit(
    module: Any,
    params: list[Any],
    loss_fn: Callable[[Any, Any], Any],
    val_nll: Callable[[], float],
    xt: Any,
    yt: Any,
    lr: float,
    epochs: int,
    batch: int | None,
    patience: int,
    seed: int,
) -> dict[str, Any]:
    """Adam minibatch loop with early stopping on validation NLL (best state restored).

    The same schedule rules as dkluq: ``batch`` None is dkluq's automatic batch size for the
    number of training rows, and early stopping never fires before half the epochs.
    """
    import torch

    from dkluq_cli.training.config import TrainConfig

    schedule = TrainConfig(epochs=epochs, batch_size=batch).resolved(len(xt))
    batch, min_epochs = schedule.batch_size, schedule.min_epochs

    torch.manual_seed(seed)
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed + 1)
    best, best_state, bad, ep = math.inf, None, 0, 0
    for ep in range(1, epochs + 1):
        module.train()
        perm = torch.randperm(len(xt), generator=gen)
        for s in range(0, len(xt), batch):
            idx = perm[s : s + batch]
            if len(idx) < 2:
                continue
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(xt[idx], yt[idx])
            loss.backward()
            opt.step()
        v = val_nll()
        if v < best or best_state is None:
            best, best_state, bad = v, copy.deepcopy(module.state_dict()), 0
        else:
            bad += 1
            if bad >= patience and ep >= min_epochs:
                break
    module.load_state_dict(best_state)
    module.eval()
    return {"epochs_run": ep, "batch": batch, "best_val_nll_std_units": best}


# -- MLP baselines -------------------------------------------------------------------------------
def make_mlp(width: int, depth: int, dropout: float) -> Any:
    """dkluq's residual extractor without spectral norm, plus a (mean, log-variance) head."""
    from torch import nn

    from dkluq_cli.model.svgp.resnet import FCResNet

    return nn.Sequential(
        FCResNet(
            6, width=width, depth=depth, dropout=dropout, activation="relu", spectral_norm=False
        ),
        nn.Linear(width, 2),
    )


def _mv(out: Any) -> tuple[Any, Any]:
    import torch

    return out[:, 0], torch.exp(out[:, 1].clamp(-20.0, 10.0))


def fit_mlp(sc: Scaler, d: dict, dropout: float, seed: int, budget: dict) -> tuple[Any, dict]:
    """One (mean, log-var) MLP trained on Gaussian NLL."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    net = make_mlp(budget["width"], budget["depth"], dropout)
    xt, yt = sc.x(d["x_tr"]), sc.y(d["y_tr"])
    xv, yv = sc.x(d["x_va"]), d["y_va"]

    def loss_fn(xb: Any, yb: Any) -> Any:
        mu, var = _mv(net(xb))
        return F.gaussian_nll_loss(mu, yb, var, full=True)

    def val() -> float:
        net.eval()
        with torch.no_grad():
            mu, var = _mv(net(xv))
        m, s = sc.back(mu.numpy().astype(float), var.numpy().astype(float))
        return _nll(yv, m, s)

    info = minibatch_fit(
        net,
        list(net.parameters()),
        loss_fn,
        val,
        xt,
        yt,
        budget["mlp_lr"],
        budget["epochs"],
        budget["batch"],
        budget["patience"],
        seed,
    )
    return net, info


def ensemble_method(sc: Scaler, d: dict, budget: dict) -> tuple[Predictor, dict]:
    """Deep ensemble of ENSEMBLE MLPs."""
    import torch

    nets, infos = [], []
    for k in range(ENSEMBLE):
        net, info = fit_mlp(sc, d, 0.0, k, budget)
        nets.append(net)
        infos.append(info["epochs_run"])

    def predict(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs = sc.x(x)
        mus, vs = [], []
        with torch.no_grad():
            for net in nets:
                mu, var = _mv(net(xs))
                mus.append(mu.numpy().astype(float))
                vs.append(var.numpy().astype(float))
        mu_a, v_a = np.array(mus), np.array(vs)
        mean = mu_a.mean(0)
        return sc.back(mean, (v_a + mu_a**2).mean(0) - mean**2)

    return predict, {"epochs_run": infos}


def mc_dropout_method(sc: Scaler, d: dict, budget: dict) -> tuple[Predictor, dict]:
    """One MLP with dropout, MC_SAMPLES stochastic passes at test time."""
    import torch

    net, info = fit_mlp(sc, d, MC_P, 0, budget)

    def predict(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs = sc.x(x)
        net.train()  # dropout on (no batch norm in the network)
        gen_state = torch.get_rng_state()
        torch.manual_seed(123)
        mus, vs = [], []
        with torch.no_grad():
            for _ in range(MC_SAMPLES):
                mu, var = _mv(net(xs))
                mus.append(mu.numpy().astype(float))
                vs.append(var.numpy().astype(float))
        torch.set_rng_state(gen_state)
        net.eval()
        mu_a, v_a = np.array(mus), np.array(vs)
        return sc.back(mu_a.mean(0), v_a.mean(0) + mu_a.var(0))

    return predict, info


# -- polynomial baseline ------------------------------------------------------------------------
POLY_DEGREES = (2, 3, 4, 5, 6)
POLY_ALPHAS = (1e-8, 1e-6, 1e-4, 1e-2, 1.0)


def polynomial_method(sc: Scaler, d: dict, budget: dict) -> tuple[Predictor, dict]:
    """Ridge regression on polynomial features of the standardised inputs; constant σ.

    Degree and ridge penalty are picked on the validation split (lowest RMSE); σ is the
    validation RMSE for every row (a homoscedastic error bar: no out-of-domain signal).
    """
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import PolynomialFeatures

    xt, yt = sc.x(d["x_tr"]).double().numpy(), sc.y(d["y_tr"]).double().numpy()
    xv, yv = sc.x(d["x_va"]).double().numpy(), sc.y(d["y_va"]).double().numpy()
    best: tuple[float, int, float, Any, Any] | None = None
    for degree in POLY_DEGREES:
        feats = PolynomialFeatures(degree)
        at, av = feats.fit_transform(xt), feats.transform(xv)
        for alpha in POLY_ALPHAS:
            fit = Ridge(alpha=alpha).fit(at, yt)
            rmse = float(np.sqrt(np.mean((fit.predict(av) - yv) ** 2)))
            if best is None or rmse < best[0]:
                best = (rmse, degree, alpha, feats, fit)
    assert best is not None
    val_rmse, degree, alpha, feats, fit = best

    def predict(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = fit.predict(feats.transform(sc.x(x).double().numpy()))
        return sc.back(mean, np.full_like(mean, val_rmse**2))

    return predict, {"degree": degree, "alpha": alpha, "val_rmse_std_units": val_rmse}


# -- GP baselines --------------------------------------------------------------------------------
def exact_gp_method(sc: Scaler, d: dict, budget: dict) -> tuple[Predictor, dict]:
    """Exact GP, ARD Matérn 5/2, float64, Adam lr 0.1."""
    import gpytorch
    import torch

    dt = torch.float64
    xt, yt = sc.x(d["x_tr"], dt), sc.y(d["y_tr"], dt)

    class GP(gpytorch.models.ExactGP):
        def __init__(self, lik: Any) -> None:
            super().__init__(xt, yt, lik)
            self.mean_module = gpytorch.means.ConstantMean()
            self.covar_module = gpytorch.kernels.ScaleKernel(
                gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=xt.shape[1])
            )

        def forward(self, x: Any) -> Any:
            return gpytorch.distributions.MultivariateNormal(
                self.mean_module(x), self.covar_module(x)
            )

    torch.manual_seed(0)
    lik = gpytorch.likelihoods.GaussianLikelihood().to(dt)
    model = GP(lik).to(dt)
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(lik, model)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    big = gpytorch.settings.max_cholesky_size(10**7)
    model.train()
    lik.train()
    with big:
        for _ in range(budget["gp_iters"]):
            opt.zero_grad(set_to_none=True)
            loss = -mll(model(xt), yt)
            loss.backward()
            opt.step()
    model.eval()
    lik.eval()

    def predict(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs = sc.x(x, dt)
        means, vars_ = [], []
        with torch.no_grad(), big, gpytorch.settings.skip_posterior_variances(False):
            for s in range(0, len(xs), 2000):
                p = lik(model(xs[s : s + 2000]))
                means.append(p.mean.numpy())
                vars_.append(p.variance.numpy())
        return sc.back(np.concatenate(means), np.concatenate(vars_))

    ls = model.covar_module.base_kernel.lengthscale.detach().reshape(-1).tolist()
    return predict, {
        "iterations": budget["gp_iters"],
        "final_lengthscales_std_units": ls,
        "noise_std_units": float(lik.noise.detach()),
    }


def svgp_method(sc: Scaler, d: dict, budget: dict) -> tuple[Predictor, dict]:
    """Plain SVGP on standardised inputs, m inducing points at k-means centres."""
    import gpytorch
    import torch
    from sklearn.cluster import KMeans

    m = budget["inducing"]
    xt, yt = sc.x(d["x_tr"]), sc.y(d["y_tr"])
    centres = KMeans(m, n_init=3, random_state=0).fit(xt.numpy()).cluster_centers_
    z = torch.as_tensor(centres, dtype=torch.float32)

    class SVGP(gpytorch.models.ApproximateGP):
        def __init__(self) -> None:
            q = gpytorch.variational.CholeskyVariationalDistribution(m)
            vs = gpytorch.variational.VariationalStrategy(self, z, q, learn_inducing_locations=True)
            super().__init__(vs)
            self.mean_module = gpytorch.means.ConstantMean()
            self.covar_module = gpytorch.kernels.ScaleKernel(
                gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=6)
            )

        def forward(self, x: Any) -> Any:
            return gpytorch.distributions.MultivariateNormal(
                self.mean_module(x), self.covar_module(x)
            )

    torch.manual_seed(0)
    gp, lik = SVGP(), gpytorch.likelihoods.GaussianLikelihood()
    both = torch.nn.ModuleList([gp, lik])
    mll = gpytorch.mlls.VariationalELBO(lik, gp, num_data=len(xt))

    def predict(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gp.eval()
        lik.eval()
        xs = sc.x(x)
        means, vars_ = [], []
        with torch.no_grad():
            for s in range(0, len(xs), 8192):
                p = lik(gp(xs[s : s + 8192]))
                means.append(p.mean.numpy().astype(float))
                vars_.append(p.variance.numpy().astype(float))
        return sc.back(np.concatenate(means), np.concatenate(vars_))

    def val() -> float:
        m_, s_ = predict(d["x_va"])
        return _nll(d["y_va"], m_, s_)

    info = minibatch_fit(
        both,
        list(both.parameters()),
        lambda xb, yb: -mll(gp(xb), yb),
        val,
        xt,
        yt,
        budget["svgp_lr"],
        budget["epochs"],
        budget["batch"],
        budget["patience"],
        0,
    )
    return predict, info


def dkluq_method(cfg: Any) -> Callable[[Scaler, dict, dict], tuple[Predictor, dict]]:
    """A dkluq configuration as a method (uses its own scalers and σ calibration)."""

    def fit(sc: Scaler, d: dict, budget: dict) -> tuple[Predictor, dict]:
        from dkluq_cli.training.splits import Splits
        from dkluq_cli.training.train import train

        x = np.concatenate([d["x_tr"], d["x_va"]])
        y = np.concatenate([d["y_tr"], d["y_va"]])
        n = len(d["x_tr"])
        sp = Splits(list(range(n)), list(range(n, len(x))), [])
        res = train(x, y, cfg, splits=sp)
        sur = res.surrogate

        def predict(xx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return sur.predict(xx, calibrated=False)

        return predict, {"epochs_run": len(res.history), "best_epoch": res.best_epoch}

    return fit


def evaluate(
    name: str, fit: Callable, d: dict, budget: dict, x_ood: np.ndarray, hyper: str
) -> dict[str, Any]:
    """Train, calibrate σ on validation, score test, OOD AUROC, time predictions."""
    from sklearn.metrics import roc_auc_score

    from dkluq_cli.uq.calibration import fit_sigma_scale

    sc = Scaler(d["x_tr"], d["y_tr"])
    with Timer() as t:
        predict, info = fit(sc, d, budget)
    vm, vs = predict(d["x_va"])
    s = fit_sigma_scale(d["y_va"], vm, vs)
    tm, ts = predict(d["x_te"])
    _, os_ = predict(x_ood)
    cal = score(d["y_te"], tm, ts * s)
    raw = score(d["y_te"], tm, ts)
    labels = np.r_[np.zeros(len(ts)), np.ones(len(os_))]
    auroc = float(roc_auc_score(labels, np.r_[ts, os_]))
    n_pred = budget["predict_n"]
    with Timer() as tp:
        predict(np.resize(d["x_te"], (n_pred, 6)))
    row = {
        "method": name,
        "hyperparameters": hyper,
        "n_train": len(d["x_tr"]),
        "rmse_meV_atom": cal["rmse_meV_atom"],
        "mae_meV_atom": cal["mae_meV_atom"],
        "nll": cal["nll"],
        "miscal_area": cal["miscal_area"],
        "coverage_95": cal["coverage_95"],
        "spearman": cal["spearman"],
        "ood_auroc": auroc,
        "train_seconds": t.seconds,
        "predict_s_per_10k": tp.seconds * PREDICT_N / n_pred,
        "predict_rows_timed": n_pred,
        "sigma_scale": s,
        "miscal_area_raw": raw["miscal_area"],
        "coverage_95_raw": raw["coverage_95"],
        "nll_raw": raw["nll"],
        "info": info,
        "metrics_calibrated": cal,
    }
    print(
        f"[n={row['n_train']}] {name}: RMSE {row['rmse_meV_atom']:.3f} meV/atom, NLL "
        f"{row['nll']:.3f}, AUROC {auroc:.3f}, {t.seconds:.1f} s",
        flush=True,
    )
    return row


def methods(budget: dict, overrides: dict) -> list[tuple[str, Callable, str]]:
    """(name, fit function, hyperparameter summary) of every compared method."""
    from dkluq_cli.training.config import TrainConfig

    # the SVGP head in both regimes (the ablations are of its parts; the exact head's small-table
    # figures are in bench_learning_curve and bench_real_dft)
    overrides = {"head": "svgp", **overrides}
    dflt = TrainConfig(**overrides)
    over = f" + {overrides}" if overrides else ""

    def d(**kw: Any) -> str:
        return "TrainConfig() defaults" + "".join(f", {k}={v!r}" for k, v in kw.items()) + over

    w, dp = budget["width"], budget["depth"]
    batch = budget["batch"] or budget.get("auto_batch_label", "auto")
    loop = f"epochs {budget['epochs']}, batch {batch}, patience {budget['patience']} (not before epoch {budget['epochs'] // 2})"
    return [
        ("dkluq (FCM init)", dkluq_method(dflt), d()),
        (
            "dkluq, k-means init",
            dkluq_method(TrainConfig(init="kmeans", **overrides)),
            d(init="kmeans"),
        ),
        (
            "dkluq, random init",
            dkluq_method(TrainConfig(init="random", **overrides)),
            d(init="random"),
        ),
        (
            "dkluq, no spectral norm",
            dkluq_method(TrainConfig(spectral_norm=False, **overrides)),
            d(spectral_norm=False),
        ),
        (
            "exact GP",
            exact_gp_method,
            f"ARD Matérn 5/2, float64, exact Cholesky, Adam lr 0.1, {budget['gp_iters']} iterations",
        ),
        (
            "deep ensemble",
            ensemble_method,
            f"{ENSEMBLE} × ResMLP {w}×{dp} (no SN), (mean, log-var) head, Gaussian NLL, Adam lr {budget['mlp_lr']}, {loop}",
        ),
        (
            "MC dropout",
            mc_dropout_method,
            f"ResMLP {w}×{dp}, dropout {MC_P}, (mean, log-var) head, Adam lr {budget['mlp_lr']}, {loop}, {MC_SAMPLES} test passes",
        ),
        (
            "SVGP (raw inputs)",
            svgp_method,
            f"m={budget['inducing']} k-means init, ARD Matérn 5/2, Adam lr {budget['svgp_lr']}, {loop}",
        ),
        (
            "polynomial ridge",
            polynomial_method,
            f"degree {POLY_DEGREES[0]}–{POLY_DEGREES[-1]} and ridge penalty {POLY_ALPHAS[0]:g}–"
            f"{POLY_ALPHAS[-1]:g} picked on the validation split; σ = validation RMSE (constant)",
        ),
    ]


def _previous_results(out: Path) -> dict[str, Any]:
    """The last ``methods.json`` in ``out`` (empty when there is none)."""
    path = out / "methods.json"
    return json.loads(path.read_text()) if path.is_file() else {}


COLS = [
    ("method", "method"),
    ("measured", "measured"),
    ("rmse_meV_atom", "RMSE meV/atom"),
    ("mae_meV_atom", "MAE meV/atom"),
    ("nll", "NLL"),
    ("miscal_area", "miscal"),
    ("coverage_95", "cov95"),
    ("spearman", "spearman |err|~σ"),
    ("ood_auroc", "OOD AUROC"),
    ("train_seconds", "train s"),
    ("predict_s_per_10k", "predict s/10k"),
]


def main(argv: list[str] | None = None) -> int:
    """Run both regimes, write ``methods.json`` / ``methods.md``."""
    from dkluq_cli.training.config import TrainConfig, auto_batch_size
    from dkluq_cli.training.splits import make_splits

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--only", nargs="*", default=None, help="method names to run (substring)")
    ap.add_argument(
        "--regime",
        choices=("both", "full", "small"),
        default="both",
        help="run one regime only; the other is copied from the existing methods.json. With "
        "--only or --regime, rows not rerun are kept from methods.json; every row records "
        "when it was measured",
    )
    args = ap.parse_args(argv)
    threads = single_thread()
    x, y, _ = read_lattice_csv(SRTIO3_CSV)
    x_ood, _, _ = read_lattice_csv(OOD_CSV)
    overrides: dict[str, Any] = {}
    if args.quick:
        keep = quick_subset(len(x), QUICK_ROWS)
        x, y = x[keep], y[keep]
        x_ood = x_ood[:50]
        overrides = {"epochs": 3, "init_subset": 200}
    base = TrainConfig(**overrides)
    budget = {
        "epochs": base.epochs,
        "batch": base.batch_size,  # None: dkluq's automatic rule, applied per training size
        "patience": base.patience,
        "width": base.width,
        "depth": base.depth,
        "inducing": base.inducing,
        "gp_iters": 5 if args.quick else GP_ITERS,
        "mlp_lr": 1e-3,
        "svgp_lr": 1e-2,
        "predict_n": 1000 if args.quick else PREDICT_N,
    }
    sp = make_splits(len(x), 0.1, 0.1, 0)
    full = {
        "x_tr": x[sp.train],
        "y_tr": y[sp.train],
        "x_va": x[sp.val],
        "y_va": y[sp.val],
        "x_te": x[sp.test],
        "y_te": y[sp.test],
    }
    n_small = QUICK_SMALL if args.quick else SMALL
    pick = np.sort(np.random.default_rng(0).permutation(len(sp.train))[:n_small])
    small = {**full, "x_tr": full["x_tr"][pick], "y_tr": full["y_tr"][pick]}
    budget["auto_batch_label"] = (
        f"auto ({auto_batch_size(len(sp.train))}, {auto_batch_size(len(pick))} at {len(pick)} rows)"
    )
    todo = methods(budget, overrides)
    if args.only:
        todo = [t for t in todo if any(o.lower() in t[0].lower() for o in args.only)]
    tables: dict[str, list[dict[str, Any]]] = {}
    measured: dict[str, str] = {}
    partial = args.regime != "both" or bool(args.only)
    previous = _previous_results(args.out) if partial else {}
    old_date = previous.get("machine", {}).get("date", "unknown")
    for regime, data in (("full", full), ("small", small)):
        old_rows = previous.get("tables", {}).get(regime, [])
        for row in old_rows:
            row.setdefault("measured", previous.get("measured", {}).get(regime, old_date))
        if args.regime in ("both", regime):
            now = machine_info()["date"]
            new = {}
            for n, f, h in todo:
                new[n] = {**evaluate(n, f, data, budget, x_ood, h), "measured": now}
            names = [n for n, _, _ in methods(budget, overrides)]
            kept = {r["method"]: r for r in old_rows}
            tables[regime] = [new.get(n) or kept[n] for n in names if n in new or n in kept]
        else:
            tables[regime] = old_rows
        dates = sorted({r.get("measured", old_date) for r in tables[regime]})
        measured[regime] = " and ".join(dates)
    result = {
        "benchmark": "methods",
        "quick": args.quick,
        "machine": machine_info(),
        "threads": threads,
        "split": {"train": len(sp.train), "val": len(sp.val), "test": len(sp.test), "seed": 0},
        "n_small": n_small,
        "n_ood": len(x_ood),
        "quick_overrides": overrides,
        "budget": budget,
        "tables": tables,
        "measured": measured,
        "calibration": "every σ scaled by fit_sigma_scale on the validation split",
    }
    mode = "quick" if args.quick else "full"
    parts = [
        f"## Method comparison on SrTiO3 ({mode})",
        "",
        machine_line(result["machine"]),
        "",
        f"Split {len(sp.train)}/{len(sp.val)}/{len(sp.test)} (seed 0). **All σ calibrated** on "
        "the validation split with `fit_sigma_scale` (one scalar per method). OOD AUROC: σ of "
        f"{len(x_ood)} rows of srtio3_ood.csv (positives) vs the test rows. Prediction time for "
        f"{PREDICT_N} structures, one thread."
        + (
            f" Quick overrides {overrides}, prediction time extrapolated from 1000 rows:"
            " numbers not meaningful."
            if overrides
            else ""
        ),
    ]
    for regime, title in (
        ("full", f"{len(sp.train)} training structures"),
        ("small", f"{n_small} training structures (small data)"),
    ):
        rows = tables[regime]
        parts += ["", f"### {title}", "", f"Measured {measured[regime]}.", "", md_table(rows, COLS)]
        ref = next((r for r in rows if r["method"] == "dkluq (FCM init)"), None)
        if ref:
            best_rmse = min(rows, key=lambda r: r["rmse_meV_atom"])
            best_nll = min(rows, key=lambda r: r["nll"])
            best_auc = max(rows, key=lambda r: r["ood_auroc"])
            parts.append("")
            parts.append(
                f"Lowest RMSE: {best_rmse['method']} ({best_rmse['rmse_meV_atom']:.3g} meV/atom; "
                f"dkluq {ref['rmse_meV_atom']:.3g}, {ref['rmse_meV_atom'] / best_rmse['rmse_meV_atom']:.2f}× the best). "
                f"Lowest NLL: {best_nll['method']} ({best_nll['nll']:.3g}; dkluq {ref['nll']:.3g}). "
                f"Best OOD AUROC: {best_auc['method']} ({best_auc['ood_auroc']:.3f}; dkluq {ref['ood_auroc']:.3f})."
            )
    parts += ["", "Hyperparameters:", ""]
    parts += [f"- **{n}**: {h}" for n, _, h in todo]
    write_results(args.out, "methods", result, "\n".join(parts))
    print("\n".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
