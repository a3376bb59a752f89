"""Which structures to compute next with DFT (the core of ``dkluq suggest``).

Candidates lie in a box around the reference lattice: each of the six parameters ``p_i`` in
``[lo · p_ref,i, hi · p_ref,i]`` (``--lattice-range lo hi``; with ``fix_angles`` the angles stay at
the reference). Three strategies:

``batch`` (default)
    Greedy joint-entropy (equivalently mutual-information) batch selection. A scrambled Sobol pool
    of points fills the box. The first pick is the pool point of largest posterior variance; each
    later pick is the point of largest variance *conditioned on the observations at the points
    already picked*, i.e. ``Var[f(x) | y_S]`` with ``y = f + ε`` and the model's own noise
    variance. Conditioning is done exactly on the model's latent posterior: the SVGP posterior
    q(f) is a Gaussian process, the column ``Cov_q[f(pool), f(x_j)]`` of each pick is computed by
    gpytorch on the extracted features, and the conditional variances are kept up to date with a
    rank-one (incremental Cholesky) update per pick. For a Gaussian model, ``log det(Σ_SS + σ²I)``
    (the joint entropy of the batch's observations, and up to a constant their mutual
    information with f) decomposes by the chain rule into the sum of these conditional
    variances' logs, so each greedy step maximises the gain in information; the greedy rule is
    within ``1 − 1/e`` of the best batch because the information gain is monotone submodular
    (Krause & Guestrin 2005; Srinivas et al. 2010). Because a posterior variance does not depend
    on the values observed, no fantasised energies are needed. A picked point's variance drops,
    and so does its neighbours', so later picks move away: the batch is diverse by construction.
``max-std``
    The ``n`` pool points of largest predictive σ, with no conditioning (they cluster where σ is
    largest, typically one corner of the box).
``random``
    ``n`` points uniform in the box (the baseline).

Every candidate also gets ``std_given_previous``: its σ conditioned on the candidates ranked
above it, which shows how much each further DFT call is still expected to teach.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.errors import DkluqError
from dkluq_cli.lattice import LATTICE_FEATURES, cell_volume, check_lattice_features

if TYPE_CHECKING:
    import pandas as pd

    from dkluq_cli.model.surrogate import Surrogate

logger = logging.getLogger(__name__)

STRATEGIES = ("batch", "max-std", "random")
#: Default number of pool points (a power of two keeps the Sobol sequence balanced).
DEFAULT_POOL = 4096


@dataclass
class Suggestion:
    """The candidates and what was computed on the way.

    Attributes:
        params: Candidate lattice parameters (n × 6: Å, degrees), in rank order.
        mean: Predicted target at each candidate (target units, eV).
        std: Calibrated predictive σ at each candidate before any new data (target units).
        std_given_previous: Calibrated predictive σ conditioned on the candidates ranked above.
        strategy: The strategy used.
        box_lo: Lower corner of the box (6,).
        box_hi: Upper corner of the box (6,).
        pool_params: Pool points (m × 6), for plots (empty for ``random``).
        pool_std: Calibrated predictive σ on the pool (m,).
    """

    params: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    std_given_previous: np.ndarray
    strategy: str
    box_lo: np.ndarray
    box_hi: np.ndarray
    pool_params: np.ndarray
    pool_std: np.ndarray


def make_box(
    centre: np.ndarray, lattice_range: tuple[float, float], *, fix_angles: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate box around a reference lattice.

    Args:
        centre: Reference ``(a, b, c, alpha, beta, gamma)`` in Å and degrees.
        lattice_range: ``(lo, hi)`` factors applied to every parameter (e.g. 0.9, 1.1).
        fix_angles: Keep the angles at the reference (zero-width in the angles).

    Returns:
        ``(lo (6,), hi (6,))`` corners in Å and degrees.

    Raises:
        DkluqError: The range is not ``0 < lo ≤ hi``.
    """
    lo_f, hi_f = (float(v) for v in lattice_range)
    if not (0 < lo_f <= hi_f) or not np.isfinite([lo_f, hi_f]).all():
        raise DkluqError(
            f"--lattice-range {lo_f:g} {hi_f:g} is not a range of positive factors",
            hint="give LO HI with 0 < LO ≤ HI, e.g. --lattice-range 0.9 1.1",
        )
    c = np.asarray(centre, dtype=float).reshape(6)
    lo, hi = c * lo_f, c * hi_f
    if fix_angles:
        lo[3:], hi[3:] = c[3:], c[3:]
    return lo, hi


def sobol_pool(lo: np.ndarray, hi: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Scrambled Sobol points in the box, invalid cells removed (m ≤ n × 6)."""
    from scipy.stats import qmc

    m = max(1, int(np.ceil(np.log2(max(n, 2)))))
    pts = qmc.Sobol(d=6, scramble=True, seed=seed).random_base2(m)[:n]
    return _valid(lo + pts * (hi - lo))


def random_points(lo: np.ndarray, hi: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` valid points uniform in the box (n × 6)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((0, 6))
    for _ in range(100):
        out = np.vstack([out, _valid(lo + rng.random((2 * n, 6)) * (hi - lo))])
        if len(out) >= n:
            return out[:n]
    raise DkluqError("the box holds almost no valid cells (check the angles)")


def _valid(params: np.ndarray) -> np.ndarray:
    vol = cell_volume(params)
    return params[np.isfinite(vol) & (vol > 0)]


class PosteriorConditioner:
    """Posterior variances of the model's latent GP, conditioned on observations one at a time.

    Works on a fixed set of points X (n × 6). ``add(j)`` conditions on a noisy observation at
    ``X[j]``; ``variance`` is then ``Var[f(X) | y_S]`` in standardised target units. Exact for the
    SVGP posterior q(f): the new column ``Cov_q[f(X), f(X_j)]`` is taken from gpytorch's joint
    posterior of ``[X_chunk, X_j]`` (double precision), then one rank-one update. With a
    polynomial trend, f also carries the trend's coefficient uncertainty, covariance
    ``a(X) Σ_β a(X_j)ᵀ``, so observations shrink that part too.

    Args:
        surrogate: The trained model.
        x: Points in feature units (n × 6).
        noise: Observation noise variance (standardised units); default the model's likelihood
            noise.
        chunk: Points per gpytorch call.
    """

    def __init__(
        self,
        surrogate: Surrogate,
        x: np.ndarray,
        noise: float | None = None,
        chunk: int = 1024,
    ) -> None:
        self._head = surrogate.head
        self._z = surrogate.standardise(x)
        self.noise = surrogate.head.noise_variance() if noise is None else noise
        self.chunk = int(chunk)
        self._trend_root = _trend_root(surrogate, x)
        self.prior_variance = self._variance()
        self.variance = self.prior_variance.copy()
        self._factors: list[np.ndarray] = []
        self.picked: list[int] = []

    def _blocks(self) -> Iterator[Any]:
        for s in range(0, len(self._z), self.chunk):
            yield self._z[s : s + self.chunk]

    def _variance(self) -> np.ndarray:
        out = [self._head.variance64(block) for block in self._blocks()]
        var = np.concatenate(out) + np.sum(self._trend_root**2, axis=1)
        return np.clip(var, 0.0, None)

    def _column(self, j: int) -> np.ndarray:
        """``Cov_q[f(X), f(X_j)]`` (n,), standardised units."""
        zj = self._z[j : j + 1]
        col = [self._head.cross_covariance(block, zj)[:, 0] for block in self._blocks()]
        return np.concatenate(col) + self._trend_root @ self._trend_root[j]

    def add(self, j: int) -> None:
        """Condition on a noisy observation at point ``j``."""
        col = self._column(j)
        for v in self._factors:
            col = col - v * v[j]
        denom = float(self.variance[j]) + self.noise
        v = col / np.sqrt(max(denom, 1e-300))
        self._factors.append(v)
        self.variance = np.clip(self.variance - v**2, 0.0, None)
        self.picked.append(int(j))


def _trend_root(surrogate: Surrogate, x: np.ndarray) -> np.ndarray:
    """R (n × k) with ``R Rᵀ`` the trend's covariance at ``x`` in standardised units (k = 0
    without a trend)."""
    trend = surrogate.trend
    if trend is None:
        return np.zeros((len(x), 0))
    w, v = np.linalg.eigh(trend.cov)
    root = v * np.sqrt(np.clip(w, 0.0, None))
    return trend.design(surrogate.coordinates(x)) @ root / surrogate.y_std


def greedy_batch(conditioner: PosteriorConditioner, n: int) -> tuple[list[int], np.ndarray]:
    """Greedy maximum-conditional-variance (joint-entropy) selection of ``n`` points.

    Returns:
        ``(indices in pick order, latent variance of each pick given the earlier picks)``.
    """
    picks: list[int] = []
    var_at_pick = []
    for _ in range(n):
        score = conditioner.variance.copy()
        score[picks] = -np.inf
        j = int(np.argmax(score))
        var_at_pick.append(float(conditioner.variance[j]))
        conditioner.add(j)
        picks.append(j)
    return picks, np.asarray(var_at_pick)


def suggest(
    surrogate: Surrogate,
    centre: np.ndarray,
    n: int,
    *,
    lattice_range: tuple[float, float] = (0.9, 1.1),
    strategy: str = "batch",
    pool_size: int = DEFAULT_POOL,
    fix_angles: bool = False,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Suggestion:
    """Propose ``n`` lattices to compute next.

    Args:
        surrogate: Model trained on the six lattice parameters.
        centre: Reference lattice (6,) in Å and degrees; the box is ``lattice_range`` × centre.
        n: Number of candidates.
        lattice_range: ``(lo, hi)`` factors.
        strategy: ``batch``, ``max-std`` or ``random`` (see the module docstring).
        pool_size: Sobol pool size for ``batch`` and ``max-std``.
        fix_angles: Keep the angles at the reference.
        seed: Seed of the pool / random points.
        progress: Called with a short message at each stage.

    Returns:
        The :class:`Suggestion`, candidates in rank order.

    Raises:
        DkluqError: Unknown strategy, ``n`` < 1, or a pool smaller than ``n``.
    """
    if strategy not in STRATEGIES:
        raise DkluqError(
            f"unknown strategy {strategy!r}", hint=f"choose one of {', '.join(STRATEGIES)}"
        )
    if n < 1:
        raise DkluqError(f"--n must be at least 1, got {n}")
    check_lattice_features(surrogate, "suggest")
    say = progress or (lambda _msg: None)
    lo, hi = make_box(centre, lattice_range, fix_angles=fix_angles)
    scale = surrogate.y_std * surrogate.sigma_scale
    if strategy == "random":
        params = random_points(lo, hi, n, seed)
        pool = np.zeros((0, 6))
        pool_std = np.zeros(0)
    else:
        pool = sobol_pool(lo, hi, pool_size, seed)
        if len(pool) < n:
            raise DkluqError(
                f"the candidate pool has {len(pool)} valid points, fewer than --n {n}",
                hint="raise --pool",
            )
        say(f"scoring a pool of {len(pool)} points")
        _, pool_std = surrogate.predict(pool)
        if strategy == "max-std":
            order = np.argsort(-pool_std, kind="stable")[:n]
            params = pool[order]
        else:
            say(f"greedy conditional-variance selection of {n} points")
            cond = PosteriorConditioner(surrogate, pool)
            picks, _ = greedy_batch(cond, n)
            params = pool[picks]
    mean, std = surrogate.predict(params)
    # σ of each candidate given the candidates ranked above it (same rule for every strategy)
    cond_c = PosteriorConditioner(surrogate, params)
    var_prev = []
    for j in range(len(params)):
        var_prev.append(float(cond_c.variance[j]))
        cond_c.add(j)
    std_prev = np.sqrt(np.asarray(var_prev) + cond_c.noise) * scale
    return Suggestion(
        params=params,
        mean=mean,
        std=std,
        std_given_previous=std_prev,
        strategy=strategy,
        box_lo=lo,
        box_hi=hi,
        pool_params=pool,
        pool_std=pool_std,
    )


def candidate_frame(sug: Suggestion, target: str, width: int = 3) -> pd.DataFrame:
    """The ``candidates.csv`` table: rank, folder, lattice, volume, prediction and σ.

    Args:
        sug: The suggestion.
        target: The model's target column (``energy_eV`` → ``energy_mean_eV`` ...).
        width: Zero-padding of the folder number.

    Returns:
        One row per candidate, in rank order (rank 1 first).
    """
    import pandas as pd

    from dkluq_cli.predict import output_columns

    cols = output_columns(target)
    base, unit = (target[:-3], "_eV") if target.endswith("_eV") else (target, "")
    df = pd.DataFrame(sug.params, columns=list(LATTICE_FEATURES))
    df.insert(0, "folder", [f"cand_{i + 1:0{width}d}" for i in range(len(df))])
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    df["volume"] = cell_volume(sug.params)
    df[cols["mean"]] = sug.mean
    df[cols["std"]] = sug.std
    df[f"{base}_std_given_previous{unit}"] = sug.std_given_previous
    df["strategy"] = sug.strategy
    return df


def min_pairwise_distance(params: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Smallest distance between two candidates, in box-normalised coordinates (0–1 per axis).

    Axes of zero width (fixed angles) are ignored.
    """
    span = hi - lo
    keep = span > 0
    u = (np.asarray(params)[:, keep] - lo[keep]) / span[keep]
    if len(u) < 2:
        return float("nan")
    d = np.sqrt(((u[:, None, :] - u[None, :, :]) ** 2).sum(-1))
    d[np.diag_indices_from(d)] = np.inf
    return float(d.min())


def summary(sug: Suggestion) -> dict[str, Any]:
    """Numbers for the log line: σ range, diversity."""
    return {
        "n": len(sug.params),
        "mean_std": float(np.mean(sug.std)),
        "max_std": float(np.max(sug.std)),
        "mean_std_given_previous": float(np.mean(sug.std_given_previous)),
        "min_pairwise_distance": min_pairwise_distance(sug.params, sug.box_lo, sug.box_hi),
    }


def write_suggestion(
    sug: Suggestion,
    reference: dict[str, Any],
    out_dir: Path,
    target: str,
    unit: str = "eV",
) -> list[Path]:
    """Write one folder per candidate with a POSCAR, and ``candidates.csv``.

    The output folder must already be prepared (:func:`dkluq_cli.atomic.prepare_output_dir`);
    every file is written atomically. Candidate ``k`` (rank order) goes to ``cand_00k/POSCAR``:
    the reference's species and fractional coordinates in the candidate's lattice.

    Args:
        sug: The suggestion.
        reference: Reference crystal dict (``species``, ``frac_coords``).
        out_dir: Output folder.
        target: The model's target column (for the CSV's column names).
        unit: Target unit (for the POSCAR comment).

    Returns:
        The paths written (``candidates.csv`` first, then the POSCARs).
    """
    from dkluq_cli.lattice import params_to_structure, write_poscar
    from dkluq_cli.table import write_table

    width = max(3, len(str(len(sug.params))))
    df = candidate_frame(sug, target, width=width)
    poscars = []
    for row, params in zip(df.itertuples(index=False), sug.params, strict=True):
        folder = out_dir / str(row.folder)
        folder.mkdir(exist_ok=True)
        comment = (
            f"dkluq suggest rank {row.rank} ({sug.strategy}): predicted "
            f"{sug.mean[row.rank - 1]:.6f} +- {sug.std[row.rank - 1]:.6f} {unit}"
        )
        structure = params_to_structure(params, reference)
        poscars.append(write_poscar(structure, folder / "POSCAR", comment))
    csv = write_table(df, out_dir / "candidates.csv", force=True)
    return [csv, *poscars]
