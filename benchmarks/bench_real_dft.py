"""Real-DFT benchmark (issue 18): the small-table exact GP against the plain exact GP.

Data: ``../shared/dft/srtio3_gpaw_pbe.csv`` (GPAW PBE, 5-atom cubic SrTiO3; 95 ``in`` rows within
±10 % of a = 3.914 Å, 90°, and 23 ``ood`` rows 10–20 % out). Skipped, with a message, when the
shared folder is absent. Errors in meV/atom (eV / 5 × 1000).

Models, all in the same run:

* ``plain exact GP`` (the issue's baseline): gpytorch ExactGP, ARD Matérn 5/2, constant mean,
  inputs and target standardised on the training rows, gpytorch's default likelihood, Adam lr 0.1
  for 300 iterations.
* ``dkluq, --reference (symmetric)``: ``dkluq_cli.training.train.train`` with ``TrainConfig()``
  defaults (the exact head at this size) and the cubic perovskite reference crystal, as
  ``dkluq train --reference POSCAR`` runs it: its point group (m-3m) is used.
* ``dkluq, no reference``: the same without a reference crystal (strain about the box centre, no
  symmetry), as ``dkluq train table.csv`` runs it.

Protocols: (1) k-fold cross-validation on the 95 ``in`` rows, one fold assignment per seed;
(2) train on all 95, score the 23 ``ood`` rows, once per seed (the seed drives the restarts);
coverage per distance bin (largest relative deviation of a parameter from the box centre).
Every number is the median over seeds with [min–max]. (3) EOS: 5–9 rows of the a = b = c line in
``sample_data/srtio3_cubic.csv`` (CHGNet energies), the a0 95 % interval from 4000 joint
posterior draws on a 1001-point line, checked against the dense-grid a0 (Birch–Murnaghan fit to
the 61-row line within ±5 % of its minimum).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_real_dft.py          # full (a few minutes)
    python benchmarks/bench_real_dft.py --quick --out /tmp/bench    # seconds, for the tests
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dkluq_cli.crystal.crystal import Crystal

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    LATTICE,
    N_ATOMS,
    REPO,
    SAMPLE,
    add_common_args,
    machine_info,
    machine_line,
    md_table,
    score,
    single_thread,
    write_results,
)

DFT_CSV = REPO.parent / "shared" / "dft" / "srtio3_gpaw_pbe.csv"
CENTRE = np.array([3.914, 3.914, 3.914, 90.0, 90.0, 90.0])
KEYS = ("rmse_meV_atom", "mae_meV_atom", "nll", "crps", "miscal_area", "sharp", "coverage_95")
SHELL_BINS = ((0.10, 0.133), (0.133, 0.167), (0.167, 0.201))
Predictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def plain_exact_gp(x: np.ndarray, y: np.ndarray, seed: int, iters: int = 300) -> Predictor:
    """The issue's baseline: ARD Matérn 5/2 ExactGP, constant mean, Adam lr 0.1."""
    import gpytorch
    import torch

    dt = torch.float64
    xm, xs, ym, ys = x.mean(0), x.std(0), y.mean(), y.std()
    xt = torch.as_tensor((x - xm) / xs, dtype=dt)
    yt = torch.as_tensor((y - ym) / ys, dtype=dt)

    class GP(gpytorch.models.ExactGP):
        def __init__(self, lik: Any) -> None:
            super().__init__(xt, yt, lik)
            self.mean_module = gpytorch.means.ConstantMean()
            self.covar_module = gpytorch.kernels.ScaleKernel(
                gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=xt.shape[1])
            )

        def forward(self, z: Any) -> Any:
            return gpytorch.distributions.MultivariateNormal(
                self.mean_module(z), self.covar_module(z)
            )

    torch.manual_seed(seed)
    lik = gpytorch.likelihoods.GaussianLikelihood().to(dt)
    model = GP(lik).to(dt)
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(lik, model)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model.train()
    lik.train()
    for _ in range(iters):
        opt.zero_grad()
        loss = -mll(model(xt), yt)
        loss.backward()
        opt.step()
    model.eval()
    lik.eval()

    def predict(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad(), gpytorch.settings.fast_pred_var(False):
            out = lik(model(torch.as_tensor((q - xm) / xs, dtype=dt)))
            return ym + ys * out.mean.numpy(), ys * out.stddev.numpy()

    return predict


def dkluq_fit(
    reference: Any, **overrides: Any
) -> Callable[[np.ndarray, np.ndarray, int], Predictor]:
    """A fit function running ``dkluq_cli.training.train.train`` with ``TrainConfig(seed=seed)``
    defaults on all the given rows (no test split; the exact head fits training and validation
    rows together), with the reference crystal ``reference`` (None: none known)."""
    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.train import train

    def fit(x: np.ndarray, y: np.ndarray, seed: int) -> Predictor:
        cfg = TrainConfig(seed=seed, test_fraction=0.0, device="cpu", threads=1, **overrides)
        res = train(x, y, cfg, crystal=reference)
        sur, regime = res.surrogate, res.regime
        fit.info.append(
            {
                "head": regime["head"],
                "degree": int(regime.get("degree", -1)),
                "sigma_scale": sur.sigma_scale,
                "gamma": (regime.get("inflation") or {}).get("gamma", 0.0),
            }
        )
        fit.models.append(sur)
        return sur.predict

    fit.info, fit.models = [], []
    return fit


def cubic_reference() -> Crystal:
    """The cubic perovskite reference crystal (a = 3.914 Å) as ``--reference`` would give it."""
    from dkluq_cli.crystal.point_group import cubic_perovskite

    return Crystal.from_structure(cubic_perovskite(3.914), "cubic perovskite, a = 3.914 Å")


def kfold(n: int, k: int, seed: int) -> list[np.ndarray]:
    """The k test folds of a seeded permutation of ``range(n)``."""
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(perm[i::k]) for i in range(k)]


def shell(x: np.ndarray) -> np.ndarray:
    """Largest relative deviation of a parameter from the box centre (0.1 = the box face)."""
    return np.max(np.abs(x / CENTRE - 1.0), axis=1)


def summary(runs: list[dict[str, float]]) -> dict[str, list[float]]:
    """Median, min and max over seeds of every metric."""
    return {
        k: [
            float(np.median([r[k] for r in runs])),
            min(r[k] for r in runs),
            max(r[k] for r in runs),
        ]
        for k in runs[0]
    }


def _tag(fit: Any, label: str) -> None:
    """Label the model record a fit function just appended (if it keeps any)."""
    info = getattr(fit, "info", None)
    if info:
        info[-1]["fit"] = label


def run_model(name: str, fit, data: dict[str, np.ndarray], seeds: list[int], folds: int) -> dict:
    """Cross-validation and ood scores of one model over ``seeds``."""
    x, y, xo, yo = data["x"], data["y"], data["xo"], data["yo"]
    cv, ood, fit_s, bins = [], [], [], []
    for seed in seeds:
        mean, std = np.empty(len(y)), np.empty(len(y))
        for test in kfold(len(y), folds, seed):
            train = np.setdiff1d(np.arange(len(y)), test)
            t0 = time.perf_counter()
            predict = fit(x[train], y[train], seed)
            fit_s.append(time.perf_counter() - t0)
            _tag(fit, f"cv seed {seed}")
            mean[test], std[test] = predict(x[test])
        cv.append(score(y, mean, std, N_ATOMS))
        mo, so = fit(x, y, seed)(xo)
        ood.append(score(yo, mo, so, N_ATOMS))
        _tag(fit, f"all {len(y)} rows, seed {seed}")
        inside = np.abs(yo - mo) <= 1.959963984540054 * so
        sh = shell(xo)
        bins.append([float(inside[(sh >= lo) & (sh < hi)].mean()) for lo, hi in SHELL_BINS])
    keep = lambda rs: [{k: r[k] for k in KEYS} for r in rs]  # noqa: E731
    print(
        f"  {name}: cv rmse {np.median([r['rmse_meV_atom'] for r in cv]):.2f} meV/atom, "
        f"ood cov95 {np.median([r['coverage_95'] for r in ood]):.2f}",
        flush=True,
    )
    return {
        "model": name,
        "cv": summary(keep(cv)),
        "ood": summary(keep(ood)),
        "ood_bins": {
            "bins": [list(b) for b in SHELL_BINS],
            "n": [int(((sh >= lo) & (sh < hi)).sum()) for lo, hi in SHELL_BINS],
            "coverage_95": np.median(bins, axis=0).tolist(),
        },
        "fits": list(getattr(fit, "info", [])),
        "fit_seconds_median": float(np.median(fit_s)),
        "per_seed": {"cv": keep(cv), "ood": keep(ood)},
    }


def eos_check(reference: Any, sizes: list[int], spans: list[tuple[int, int]]) -> dict[str, Any]:
    """a0 95 % intervals from joint posterior draws on 5–9-row EOS sets of the cubic line,
    each trained with ``dkluq train``'s defaults."""
    import pandas as pd
    from pymatgen.analysis.eos import EOS

    df = pd.read_csv(SAMPLE / "srtio3_cubic.csv")
    p, e, vol = df[LATTICE].to_numpy(), df["energy_eV"].to_numpy(), df["volume"].to_numpy()
    near = np.abs(p[:, 0] / p[np.argmin(e), 0] - 1.0) < 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a0_dense = float(EOS("birch_murnaghan").fit(vol[near], e[near]).v0 ** (1 / 3))
    rows = []
    for k in sizes:
        for lo, hi in spans:
            idx = np.unique(np.round(np.linspace(lo, hi, k)).astype(int))
            fit = dkluq_fit(reference)
            fit(p[idx], e[idx], 0)
            model = fit.models[-1]
            a = np.linspace(p[idx, 0].min(), p[idx, 0].max(), 1001)
            line = np.column_stack([a, a, a, np.full((len(a), 3), 90.0)])
            a0 = a[np.argmin(model.sample_posterior(line, 4000, seed=0), axis=1)]
            lo95, hi95 = np.percentile(a0, [2.5, 97.5])
            rows.append(
                {
                    "rows": len(idx),
                    "a_min": float(a[0]),
                    "a_max": float(a[-1]),
                    "degree": fit.info[-1]["degree"],
                    "a0_median": float(np.median(a0)),
                    "a0_lo95": float(lo95),
                    "a0_hi95": float(hi95),
                    "width_mA": float(1000 * (hi95 - lo95)),
                    "covers": bool(lo95 <= a0_dense <= hi95),
                }
            )
    return {"a0_dense": a0_dense, "sets": rows, "covered": sum(r["covers"] for r in rows)}


def fmt_cell(v: list[float], digits: int = 3) -> str:
    """``median [min–max]``."""
    return f"{v[0]:.{digits}g} [{v[1]:.{digits}g}–{v[2]:.{digits}g}]"


def render(res: dict[str, Any]) -> str:
    """The Markdown fragment."""
    out = ["## Real DFT (GPAW PBE SrTiO3, issue 18)", ""]
    out.append(
        f"{res['folds']}-fold CV on the 95 `in` rows (one fold assignment per seed) and "
        f"train-on-95 → 23 `ood` rows; seeds {res['seeds']}; median [min–max] over seeds. "
        "Errors in meV/atom."
    )
    for part, label in (("cv", "In range (k-fold CV)"), ("ood", "Beyond the box (23 ood rows)")):
        rows = []
        base = res["models"][0][part]
        for m in res["models"]:
            row = {"model": m["model"]}
            row.update({k: fmt_cell(m[part][k]) for k in KEYS})
            row["rmse ratio"] = f"{m[part]['rmse_meV_atom'][0] / base['rmse_meV_atom'][0]:.3f}"
            rows.append(row)
        cols = [
            ("model", "model"),
            ("rmse_meV_atom", "rmse"),
            ("mae_meV_atom", "mae"),
            ("nll", "nll"),
            ("crps", "crps (eV)"),
            ("miscal_area", "miscal"),
            ("sharp", "sharp (eV)"),
            ("coverage_95", "cov95"),
            ("rmse ratio", "rmse / plain"),
        ]
        out += ["", f"### {label}", "", md_table(rows, cols)]
    out += ["", "### ood coverage_95 by distance (largest relative parameter deviation)", ""]
    n_bin = res["models"][0]["ood_bins"]["n"]
    names = [f"{lo:.3f}–{hi:.3f} (n={n})" for (lo, hi), n in zip(SHELL_BINS, n_bin, strict=True)]
    rows = [
        {"model": m["model"], **dict(zip(names, m["ood_bins"]["coverage_95"], strict=True))}
        for m in res["models"]
    ]
    out.append(md_table(rows, [("model", "model")] + [(n, n) for n in names]))
    out += ["", "### What the exact models chose (every CV and all-rows fit)", ""]
    rows = []
    for m in res["models"]:
        if not m["fits"]:
            continue
        degs = [f["degree"] for f in m["fits"]]
        counts = ", ".join(f"{d}: {degs.count(d)}" for d in sorted(set(degs)))
        scale = [f["sigma_scale"] for f in m["fits"]]
        gamma = [f["gamma"] for f in m["fits"]]
        rows.append(
            {
                "model": m["model"],
                "deg": counts,
                "scale": fmt_cell([float(np.median(scale)), min(scale), max(scale)]),
                "gamma": fmt_cell([float(np.median(gamma)), min(gamma), max(gamma)]),
            }
        )
    cols = [
        ("model", "model"),
        ("deg", "degree: fits"),
        ("scale", "LOO σ scale"),
        ("gamma", "inflation γ"),
    ]
    out.append(md_table(rows, cols))
    out += ["", "### Fit time (median over the CV fits)", ""]
    out.append(
        md_table(
            [{"model": m["model"], "s": m["fit_seconds_median"]} for m in res["models"]],
            [("model", "model"), ("s", "seconds")],
        )
    )
    for key, eos in res["eos"].items():
        out += [
            "",
            f"### EOS a0 95 % interval ({key}); dense-grid a0 = {eos['a0_dense']:.4f} Å, "
            f"covered in {eos['covered']}/{len(eos['sets'])} sets",
            "",
        ]
        cols = [
            ("rows", "rows"),
            ("a_min", "a min (Å)"),
            ("a_max", "a max (Å)"),
            ("degree", "degree"),
            ("a0_median", "a0 median"),
            ("a0_lo95", "2.5 %"),
            ("a0_hi95", "97.5 %"),
            ("width_mA", "width (mÅ)"),
            ("covers", "covers"),
        ]
        out.append(md_table(eos["sets"], cols))
    checks = res["target_checks"]
    out += [
        "",
        "### Issue-18 targets",
        "",
        md_table(
            checks, [("model", "model"), ("target", "target"), ("value", "value"), ("met", "met")]
        ),
    ]
    out += ["", machine_line(res["machine"])]
    return "\n".join(out)


def target_checks(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets on each dkluq model's medians (with and without the reference)."""
    out = []
    for model, eos_key in zip(res["models"][1:], ("symmetric", "no symmetry"), strict=True):
        cv, ood, eos = model["cv"], model["ood"], res["eos"][eos_key]
        checks = [
            ("in-range rmse ≤ 10 meV/atom", cv["rmse_meV_atom"][0], cv["rmse_meV_atom"][0] <= 10),
            (
                "in-range coverage_95 in [0.93, 0.97]",
                cv["coverage_95"][0],
                0.93 <= cv["coverage_95"][0] <= 0.97,
            ),
            ("in-range miscal_area ≤ 0.05", cv["miscal_area"][0], cv["miscal_area"][0] <= 0.05),
            ("ood coverage_95 ≥ 0.90", ood["coverage_95"][0], ood["coverage_95"][0] >= 0.90),
            (
                "EOS a0 intervals cover the dense a0",
                eos["covered"] / len(eos["sets"]),
                eos["covered"] == len(eos["sets"]),
            ),
        ]
        out += [
            {"model": model["model"], "target": t, "value": v, "met": "met" if ok else "MISSED"}
            for t, v, ok in checks
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--seeds", type=int, default=5, help="seeds (each its own fold assignment)")
    ap.add_argument("--folds", type=int, default=5, help="k of the k-fold CV")
    args = ap.parse_args(argv)
    if not DFT_CSV.is_file():
        print(f"skipped: {DFT_CSV} not found (the shared real-DFT set is not available here)")
        return 0
    import pandas as pd

    single_thread()
    df = pd.read_csv(DFT_CSV)
    inn, ood = df[df["set"] == "in"], df[df["set"] == "ood"]
    data = {
        "x": inn[LATTICE].to_numpy(float),
        "y": inn["energy_eV"].to_numpy(float),
        "xo": ood[LATTICE].to_numpy(float),
        "yo": ood["energy_eV"].to_numpy(float),
    }
    seeds = list(range(1 if args.quick else args.seeds))
    folds = 3 if args.quick else args.folds
    reference = cubic_reference()
    extra = {"trend": 4, "restarts": 0} if args.quick else {}
    models = [
        ("plain exact GP", lambda x, y, s: plain_exact_gp(x, y, s, 30 if args.quick else 300)),
        ("dkluq, --reference (symmetric)", dkluq_fit(reference, **extra)),
        ("dkluq, no reference", dkluq_fit(None, **({"trend": 2} if args.quick else {}))),
    ]
    t0 = time.perf_counter()
    res: dict[str, Any] = {
        "quick": args.quick,
        "seeds": seeds,
        "folds": folds,
        "machine": machine_info(),
    }
    res["models"] = [run_model(name, fit, data, seeds, folds) for name, fit in models]
    sizes, spans = ([7], [(5, 55)]) if args.quick else ([5, 7, 9], [(0, 60), (5, 55), (15, 45)])
    res["eos"] = {
        "symmetric": eos_check(reference, sizes, spans),
        "no symmetry": eos_check(None, sizes, spans),
    }
    res["target_checks"] = target_checks(res)
    res["seconds"] = time.perf_counter() - t0
    jp, mp = write_results(args.out, "real_dft", res, render(res))
    print(f"wrote {jp} and {mp} ({res['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
