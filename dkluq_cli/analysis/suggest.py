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

``target`` (``--for``) says what the picks should teach: ``energy`` (the strategies above), or a
property, ``elastic`` (the components of C) or ``eos`` (a0 and B0): then the ``batch`` picks
are the pool points that shrink that property's posterior variance most, and the expected 95 %
half-width of every quantity after each pick comes with them (:mod:`dkluq_cli.analysis.targeted`);
``until_width`` stops the picks once every half-width is that narrow (% of the value).

The conditioning is :mod:`dkluq_cli.analysis.conditioning`; the box and the points drawn in it are
:mod:`dkluq_cli.analysis.grids`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.analysis.conditioning import PosteriorConditioner, greedy_batch, std_given_previous
from dkluq_cli.analysis.grids import make_box, min_pairwise_distance, random_points, sobol_pool
from dkluq_cli.analysis.lattice_model import LATTICE_FEATURES, check_lattice_features
from dkluq_cli.analysis.predict import output_columns
from dkluq_cli.analysis.targeted import (
    TARGETS,
    TargetConditioner,
    elastic_target,
    eos_target,
    targeted_batch,
)
from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.lattice import cell_volume
from dkluq_cli.crystal.structure_io import write_poscar
from dkluq_cli.data.table import write_table
from dkluq_cli.errors import DkluqError

if TYPE_CHECKING:
    import pandas as pd

    from dkluq_cli.model.surrogate import Surrogate

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
        target: What the picks aim at (``energy``, ``elastic``, ``eos``).
        quantities: The property's quantity names (empty for ``energy``).
        widths: Expected 95 % half-width of each quantity in % of its value, before any pick
            (row 0) and after each (picks + 1, quantities); empty for ``energy``.
        floor: The part of each half-width (%) no run removes (the model's trend truncation).
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
    target: str = "energy"
    quantities: list[str] = field(default_factory=list)
    widths: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    floor: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def volume(self) -> np.ndarray:
        """Cell volume of each candidate (Å³)."""
        return cell_volume(self.params)

    @property
    def pool_volume(self) -> np.ndarray:
        """Cell volume of each pool point (Å³)."""
        return cell_volume(self.pool_params)


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
    target: str = "energy",
    until_width: float | None = None,
    n_atoms: int | None = None,
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
        target: ``energy``, ``elastic`` or ``eos`` (see the module docstring).
        until_width: With a property target: stop once every expected 95 % half-width is at
            most this many % of the value (``n`` is then the most picks).
        n_atoms: Atoms per cell (a property of a per-atom model needs it).

    Returns:
        The :class:`Suggestion`, candidates in rank order.

    Raises:
        DkluqError: Unknown strategy or target, ``n`` < 1, a pool smaller than ``n``, or
            ``until_width`` without a property target.
    """
    if strategy not in STRATEGIES:
        raise DkluqError(
            f"unknown strategy {strategy!r}", hint=f"choose one of {', '.join(STRATEGIES)}"
        )
    if n < 1:
        raise DkluqError(f"--n must be at least 1, got {n}")
    check_lattice_features(surrogate, "suggest")
    _check_target(target, strategy, until_width)
    say = progress or (lambda _msg: None)
    lo, hi = make_box(centre, lattice_range, fix_angles=fix_angles)
    if target != "energy":
        pool = sobol_pool(lo, hi, pool_size, seed)
        return _for_property(
            surrogate,
            centre,
            pool,
            (lo, hi),
            n=n,
            target=target,
            until_width=until_width,
            n_atoms=n_atoms,
            say=say,
        )
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
    std_prev = std_given_previous(surrogate, params)
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


def _check_target(target: str, strategy: str, until_width: float | None) -> None:
    """Refuse an unknown target, a property with a strategy other than ``batch``, and a width
    goal without a property."""
    if target not in TARGETS:
        raise DkluqError(f"unknown --for {target!r}", hint=f"choose one of {', '.join(TARGETS)}")
    if target != "energy" and strategy != "batch":
        raise DkluqError(
            f"--for {target} picks by the property's variance; --strategy {strategy} does not",
            hint="leave --strategy at batch (random draws: --for energy --strategy random)",
        )
    if until_width is not None:
        if target == "energy":
            raise DkluqError(
                "--until-width needs a property: --for elastic or --for eos",
                hint="an energy has no width in % to aim at; use --n for the energy",
            )
        if not until_width > 0:
            raise DkluqError(f"--until-width must be > 0 %, got {until_width:g}")


def _for_property(
    surrogate: Surrogate,
    centre: np.ndarray,
    pool: np.ndarray,
    box: tuple[np.ndarray, np.ndarray],
    *,
    n: int,
    target: str,
    until_width: float | None,
    n_atoms: int | None,
    say: Callable[[str], None],
) -> Suggestion:
    """The ``batch`` picks for a property (:func:`dkluq_cli.analysis.targeted.targeted_batch`)
    from the candidate ``pool`` drawn in ``box``."""
    lo, hi = box
    make = elastic_target if target == "elastic" else eos_target
    prop = make(surrogate, centre, n_atoms)
    say(f"{target}: {', '.join(prop.names)} at the zero-stress cell of the posterior mean")
    cond = TargetConditioner(surrogate, pool, prop)
    picks, widths = targeted_batch(cond, n, until_width)
    params = pool[picks]
    _, pool_std = surrogate.predict(pool)
    if len(params):
        mean, std = surrogate.predict(params)
        std_prev = std_given_previous(surrogate, params)
    else:
        mean = std = std_prev = np.zeros(0)
    return Suggestion(
        params=params,
        mean=mean,
        std=std,
        std_given_previous=std_prev,
        strategy="batch",
        box_lo=lo,
        box_hi=hi,
        pool_params=pool,
        pool_std=pool_std,
        target=target,
        quantities=list(prop.names),
        widths=widths,
        floor=cond.floor_pct,
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

    cols = output_columns(target)
    base, unit = (target[:-3], "_eV") if target.endswith("_eV") else (target, "")
    df = pd.DataFrame(sug.params, columns=list(LATTICE_FEATURES))
    df.insert(0, "folder", [f"cand_{i + 1:0{width}d}" for i in range(len(df))])
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    df["volume"] = sug.volume
    df[cols["mean"]] = sug.mean
    df[cols["std"]] = sug.std
    df[f"{base}_std_given_previous{unit}"] = sug.std_given_previous
    df["strategy"] = sug.strategy
    if sug.quantities:
        df["for"] = sug.target
        df["expected_max_halfwidth95_pct"] = sug.widths[1:].max(axis=1)
    return df


def widths_frame(sug: Suggestion) -> pd.DataFrame:
    """``widths.csv``: the expected 95 % half-width of each quantity (% of its value) before any
    pick (``pick`` 0) and after each."""
    import pandas as pd

    df = pd.DataFrame(sug.widths, columns=[f"{q}_halfwidth95_pct" for q in sug.quantities])
    df.insert(0, "pick", np.arange(len(df)))
    return df


def summary(sug: Suggestion) -> dict[str, Any]:
    """Numbers for the log line: σ range, diversity (NaN without candidates)."""
    if len(sug.params) == 0:
        nan = float("nan")
        return {
            "n": 0,
            "mean_std": nan,
            "max_std": nan,
            "mean_std_given_previous": nan,
            "min_pairwise_distance": nan,
        }
    return {
        "n": len(sug.params),
        "mean_std": float(np.mean(sug.std)),
        "max_std": float(np.max(sug.std)),
        "mean_std_given_previous": float(np.mean(sug.std_given_previous)),
        "min_pairwise_distance": min_pairwise_distance(sug.params, sug.box_lo, sug.box_hi),
    }


def write_suggestion(
    sug: Suggestion,
    crystal: Crystal,
    out_dir: Path,
    *,
    target: str,
    unit: str = "eV",
) -> list[Path]:
    """Write one folder per candidate with a POSCAR, and ``candidates.csv``.

    The output folder must already be prepared (:func:`dkluq_cli.data.output.prepare_output_dir`);
    every file is written atomically. Candidate ``k`` (rank order) goes to ``cand_00k/POSCAR``:
    the reference's species and fractional coordinates in the candidate's lattice.

    Args:
        sug: The suggestion.
        crystal: The reference crystal (its species and fractional coordinates).
        out_dir: Output folder.
        target: The model's target column (for the CSV's column names).
        unit: Target unit (for the POSCAR comment).

    Returns:
        The paths written (``candidates.csv`` first, then the POSCARs).
    """

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
        structure = crystal.structure(params)
        poscars.append(write_poscar(structure, folder / "POSCAR", comment))
    csv = write_table(df, out_dir / "candidates.csv", force=True)
    if sug.quantities:
        poscars.append(write_table(widths_frame(sug), out_dir / "widths.csv", force=True))
    return [csv, *poscars]
