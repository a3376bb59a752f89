"""Grids of lattice parameters around a reference: the lines, maps and boxes of the lattice
commands.

Every grid is built from relative factors ``s`` applied to a reference p₀ (Å, degrees), given on
the command line as ``--lattice-range LO HI`` and checked by one rule,
:func:`lattice_range_problem` (0 < LO < HI, both finite). Lengths and angles are both scaled
relative to the reference (0.9–1.1 is ±10 %: 90° becomes 81°–99°).

* 1-D scans (:func:`grid_1d`): one parameter set to ``s · p₀``, the other five held;
* the isotropic line (:func:`iso_params`, :func:`grid_iso`): a, b, c scaled by ``s`` together,
  angles held (``scan``'s equation-of-state line and ``eos``'s line);
* 2-D maps (:func:`grid_2d`): two parameters scaled independently on an N × N grid;
* the candidate box of ``suggest`` (:func:`make_box`) and the points drawn in it
  (:func:`sobol_pool`, :func:`random_points`), and how far apart points in it lie
  (:func:`min_pairwise_distance`).

Grids may hold impossible cells (:func:`dkluq_cli.crystal.lattice.valid_cells`); the box samplers drop
them, the scans keep and flag them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from dkluq_cli.crystal.lattice import cell_volume
from dkluq_cli.data.table import LATTICE_COLUMNS
from dkluq_cli.errors import DkluqError

if TYPE_CHECKING:
    import pandas as pd

ISO_NAME = "iso"
"""The ``scan`` column value of the isotropic line."""


def lattice_range_problem(lo: float, hi: float) -> str | None:
    """What is wrong with ``--lattice-range LO HI``, or None when ``0 < LO < HI`` (finite).

    Args:
        lo: Lower relative factor.
        hi: Upper relative factor.
    """
    if not (lo > 0 and hi > 0):
        return f"factors must be > 0, got {lo:g} {hi:g}"
    if not lo < hi:
        return f"LO must be smaller than HI, got {lo:g} {hi:g}"
    if not np.isfinite([lo, hi]).all():
        return f"factors must be finite, got {lo:g} {hi:g}"
    return None


def check_lattice_range(lattice_range: Sequence[float]) -> tuple[float, float]:
    """``(lo, hi)`` as floats, checked by :func:`lattice_range_problem`.

    Raises:
        DkluqError: The range breaks the rule.
    """
    lo, hi = (float(v) for v in lattice_range)
    problem = lattice_range_problem(lo, hi)
    if problem:
        raise DkluqError(
            f"--lattice-range {lo:g} {hi:g}: {problem}",
            hint="e.g. --lattice-range 0.9 1.1 (±10 % of the reference)",
        )
    return lo, hi


def scale_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` relative factors from ``lo`` to ``hi`` (inclusive).

    Raises:
        DkluqError: The range breaks :func:`lattice_range_problem`, or ``n`` < 2.
    """
    lo, hi = check_lattice_range((lo, hi))
    if n < 2:
        raise DkluqError(f"a scan needs at least 2 points per axis, got {n}")
    return np.linspace(lo, hi, int(n))


def grid_1d(ref: np.ndarray, scales: np.ndarray) -> pd.DataFrame:
    """Six 1-D scans: rows ``scan = "1d:<p>"``, ``scale``, and the six parameters.

    Args:
        ref: Reference parameters, shape (6,), Å and degrees.
        scales: Relative factors, shape (n,).

    Returns:
        Long table of 6 n rows.
    """
    import pandas as pd

    blocks = []
    for j, name in enumerate(LATTICE_COLUMNS):
        p = np.tile(ref, (len(scales), 1))
        p[:, j] = ref[j] * scales
        block = pd.DataFrame(p, columns=list(LATTICE_COLUMNS))
        block.insert(0, "scale", scales)
        block.insert(0, "scan", f"1d:{name}")
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True)


def iso_params(ref: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The isotropic line: a, b, c multiplied by each scale together, angles held.

    Args:
        ref: Reference parameters, shape (6,), Å and degrees.
        scales: Relative factors, shape (n,).

    Returns:
        Lattice parameters, shape (n, 6).
    """
    ref = np.asarray(ref, dtype=float).reshape(6)
    p = np.tile(ref, (len(scales), 1))
    p[:, :3] = ref[:3] * scales[:, None]
    return p


def grid_iso(ref: np.ndarray, scales: np.ndarray) -> pd.DataFrame:
    """The isotropic line as a table of n rows: ``scan = "iso"``, ``scale``, the six parameters.

    Args:
        ref: Reference parameters, shape (6,).
        scales: Relative factors, shape (n,).
    """
    import pandas as pd

    df = pd.DataFrame(iso_params(ref, scales), columns=list(LATTICE_COLUMNS))
    df.insert(0, "scale", scales)
    df.insert(0, "scan", ISO_NAME)
    return df


def grid_2d(ref: np.ndarray, pair: tuple[str, str], scales: np.ndarray) -> pd.DataFrame:
    """A 2-D map of two parameters, each scaled over ``scales``; the other four held.

    Rows run over the first parameter slowest: row ``i · n + j`` has ``pair[0]`` at
    ``scales[i]`` and ``pair[1]`` at ``scales[j]``.

    Args:
        ref: Reference parameters, shape (6,).
        pair: Two distinct parameter names.
        scales: Relative factors, shape (n,).

    Returns:
        Table of n² rows: ``scan = "2d:p,q"``, ``scale_<p>``, ``scale_<q>``, six parameters.
    """
    import pandas as pd

    p, q = pair
    ip, iq = LATTICE_COLUMNS.index(p), LATTICE_COLUMNS.index(q)
    sp, sq = np.meshgrid(scales, scales, indexing="ij")
    params = np.tile(ref, (sp.size, 1))
    params[:, ip] = ref[ip] * sp.ravel()
    params[:, iq] = ref[iq] * sq.ravel()
    df = pd.DataFrame(params, columns=list(LATTICE_COLUMNS))
    df.insert(0, f"scale_{q}", sq.ravel())
    df.insert(0, f"scale_{p}", sp.ravel())
    df.insert(0, "scan", f"2d:{p},{q}")
    return df


def make_box(
    centre: np.ndarray, lattice_range: Sequence[float], *, fix_angles: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate box around a reference lattice.

    Args:
        centre: Reference ``(a, b, c, alpha, beta, gamma)`` in Å and degrees.
        lattice_range: ``(lo, hi)`` factors applied to every parameter (e.g. 0.9, 1.1).
        fix_angles: Keep the angles at the reference (zero-width in the angles).

    Returns:
        ``(lo (6,), hi (6,))`` corners in Å and degrees.

    Raises:
        DkluqError: The range breaks :func:`lattice_range_problem`.
    """
    lo_f, hi_f = check_lattice_range(lattice_range)
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


__all__ = [
    "ISO_NAME",
    "check_lattice_range",
    "grid_1d",
    "grid_2d",
    "grid_iso",
    "iso_params",
    "lattice_range_problem",
    "make_box",
    "min_pairwise_distance",
    "random_points",
    "scale_grid",
    "sobol_pool",
]
