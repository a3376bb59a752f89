"""Energy landscapes around a centre lattice, with σ, inside and beyond the training domain.

The core of ``dkluq scan``. Around a centre lattice p₀ (Å, degrees;
chosen by :func:`dkluq_cli.analysis.centre.choose_centre`) it builds the grids of
:mod:`dkluq_cli.analysis.grids` over relative factors ``s`` in ``[lo, hi]`` and predicts the target
(energy, eV) with its calibrated σ on every grid point in batched forward passes:

* **1-D scans** (``scan = "1d:a"`` … ``"1d:gamma"``): one parameter set to ``s · p₀``, the
  other five held at p₀;
* the **isotropic scan** (``scan = "iso"``): a, b, c all scaled by ``s`` together, angles held
  (the equation-of-state line);
* **2-D maps** (``scan = "2d:a,alpha"``): two parameters scaled independently on an N × N grid.

Grid points whose angles make no real cell (see :func:`dkluq_cli.crystal.lattice.valid_cells`) are kept
with ``valid_cell = False``, NaN predictions and ``in_domain = False``, and counted in the log;
nothing is predicted for them.

Every table is long-form with all six lattice columns on every row, ``volume_A3``,
``valid_cell``, the mean and σ columns named by :func:`dkluq_cli.analysis.predict.output_columns`
(``energy_mean_eV``, ``energy_std_eV`` for an ``energy_eV`` model) and ``in_domain``
(:func:`dkluq_cli.uq.domain.in_domain`: every feature inside its training range and σ ≤ the
99th percentile of the training σ). What the scan found and the files it writes are
:mod:`dkluq_cli.analysis.scan_report`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.analysis.centre import Centre
from dkluq_cli.analysis.grids import grid_1d, grid_2d, grid_iso, scale_grid
from dkluq_cli.analysis.lattice_model import (
    check_scannable,
    in_domain_flags,
    sigma_limit,
    training_ranges,
)
from dkluq_cli.analysis.predict import output_columns
from dkluq_cli.crystal.lattice import LENGTHS, cell_volume, valid_cells
from dkluq_cli.data.table import LATTICE_COLUMNS
from dkluq_cli.errors import ModelInputMismatchError

if TYPE_CHECKING:
    import pandas as pd

    from dkluq_cli.model.surrogate import Surrogate

logger = logging.getLogger(__name__)

#: Default 2-D map: a lattice length against a lattice angle (the paper's Fig. 3).
DEFAULT_PAIR: tuple[str, str] = ("a", "alpha")


def feature_matrix(params: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """Model inputs for lattice parameters: the six columns reordered, ``volume`` computed.

    Args:
        params: Lattice parameters, shape (n, 6), Å and degrees.
        features: The model's feature names.

    Returns:
        Array (n, len(features)) in feature units.
    """
    cols = []
    vol = None
    for f in features:
        if f in LATTICE_COLUMNS:
            cols.append(params[:, LATTICE_COLUMNS.index(f)])
        elif f == "volume":
            vol = cell_volume(params) if vol is None else vol
            cols.append(vol)
        else:  # guarded by check_scannable
            raise ModelInputMismatchError(f"cannot compute feature {f!r} from lattice parameters")
    return np.column_stack(cols) if cols else np.zeros((len(params), 0))


def predict_params(
    surrogate: Surrogate, params: np.ndarray, batch_size: int = 8192
) -> dict[str, np.ndarray]:
    """Predict at lattice parameters, skipping impossible cells.

    Args:
        surrogate: The model (on its device).
        params: Shape (n, 6), Å and degrees.
        batch_size: Rows per forward pass.

    Returns:
        ``volume`` (Å³), ``valid`` (bool), ``mean``, ``std`` (calibrated; target units, NaN
        for invalid cells) and ``in_domain`` (bool, False for invalid cells), each shape (n,).
    """
    params = np.asarray(params, dtype=float)
    n = len(params)
    valid = valid_cells(params)
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    inside = np.zeros(n, dtype=bool)
    if valid.any():
        x = feature_matrix(params[valid], surrogate.features)
        m, s = surrogate.predict(x, batch_size=batch_size)
        mean[valid], std[valid] = m, s
        inside[valid] = in_domain_flags(surrogate, x, s)
    return {
        "volume": cell_volume(params),
        "valid": valid,
        "mean": mean,
        "std": std,
        "in_domain": inside,
    }


@dataclass
class ScanResult:
    """Everything one ``dkluq scan`` computed.

    Attributes:
        centre: The lattice the scan is centred on.
        scan_1d: The six 1-D scans (long table).
        scan_iso: The isotropic scan.
        maps: 2-D maps by parameter pair.
        columns: ``{"mean": ..., "std": ...}`` prediction column names.
        target: Target name (e.g. ``energy_eV``).
        target_unit: Target unit (eV).
        training_range: ``{param: (min, max)}`` of the training data (Å, degrees); empty when
            the model stores no domain.
        iso_training_range: Range of the isotropic factor for which a, b, c are all inside
            their training ranges, or None.
        std_q99: The σ threshold of ``in_domain`` (target units) or None.
        centre_prediction: ``{"mean", "std", "in_domain"}`` at the reference.
        lattice_range: ``(lo, hi)`` relative factors.
        n_structures: Grid points predicted (valid cells).
        predict_seconds: Wall time of the predictions (s).
        device: Device the model ran on.
    """

    centre: Centre
    scan_1d: pd.DataFrame
    scan_iso: pd.DataFrame
    maps: dict[tuple[str, str], pd.DataFrame]
    columns: dict[str, str]
    target: str
    target_unit: str
    training_range: dict[str, tuple[float, float]]
    iso_training_range: tuple[float, float] | None
    std_q99: float | None
    centre_prediction: dict[str, Any]
    lattice_range: tuple[float, float]
    n_structures: int
    predict_seconds: float
    device: str

    def tables(self) -> dict[str, pd.DataFrame]:
        """Output file name → table: ``scan_1d.csv``, ``scan_iso.csv``, ``scan_2d_<p>_<q>.csv``."""
        out = {"scan_1d.csv": self.scan_1d, "scan_iso.csv": self.scan_iso}
        for (p, q), df in self.maps.items():
            out[f"scan_2d_{p}_{q}.csv"] = df
        return out


def iso_range(
    ref: np.ndarray, ranges: dict[str, tuple[float, float]]
) -> tuple[float, float] | None:
    """Isotropic factors s with s·a₀, s·b₀, s·c₀ all inside their training ranges (or None)."""
    if not all(k in ranges for k in LENGTHS):
        return None
    lo = max(ranges[k][0] / ref[i] for i, k in enumerate(LENGTHS))
    hi = min(ranges[k][1] / ref[i] for i, k in enumerate(LENGTHS))
    return (lo, hi) if lo <= hi else None


def run_scan(
    surrogate: Surrogate,
    centre: Centre,
    *,
    lattice_range: tuple[float, float] = (0.9, 1.1),
    points: int = 101,
    points_2d: int | None = None,
    pairs: Sequence[tuple[str, str]] = (DEFAULT_PAIR,),
    batch_size: int = 8192,
    progress: Callable[[str], None] | None = None,
) -> ScanResult:
    """Build every grid, predict on all of them in one batched pass, and flag the domain.

    Args:
        surrogate: The model (see :func:`dkluq_cli.analysis.lattice_model.check_scannable`).
        centre: From :func:`dkluq_cli.analysis.centre.choose_centre`.
        lattice_range: ``(lo, hi)`` relative factors for lengths and angles alike.
        points: Points per axis of the 1-D and isotropic scans.
        points_2d: Points per axis of the 2-D maps (default: ``points``).
        pairs: Parameter pairs for 2-D maps (duplicates dropped).
        batch_size: Rows per forward pass.
        progress: Optional callback receiving one-line status messages.

    Returns:
        The scan tables and bookkeeping.
    """
    check_scannable(surrogate)
    lo, hi = float(lattice_range[0]), float(lattice_range[1])
    scales = scale_grid(lo, hi, points)
    scales_2d = scale_grid(lo, hi, points_2d or points)
    ref = np.asarray(centre.params, dtype=float)
    unique_pairs: list[tuple[str, str]] = []
    for pair in pairs:
        if pair not in unique_pairs:
            unique_pairs.append(pair)

    frames: list[tuple[str, pd.DataFrame]] = [
        ("1d", grid_1d(ref, scales)),
        ("iso", grid_iso(ref, scales)),
    ]
    frames += [(f"2d:{p},{q}", grid_2d(ref, (p, q), scales_2d)) for p, q in unique_pairs]
    params = np.vstack([df[list(LATTICE_COLUMNS)].to_numpy(float) for _, df in frames])
    all_params = np.vstack([ref[None, :], params])
    if progress:
        progress(f"predicting {len(all_params):,} grid points on {surrogate.device}")
    t0 = time.perf_counter()
    pred = predict_params(surrogate, all_params, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    cols_map = _prediction_columns(surrogate.target)
    ref_pred = {
        "mean": float(pred["mean"][0]),
        "std": float(pred["std"][0]),
        "in_domain": bool(pred["in_domain"][0]),
    }
    start = 1
    filled: dict[str, pd.DataFrame] = {}
    for name, df in frames:
        stop = start + len(df)
        df = df.copy()
        df["volume_A3"] = pred["volume"][start:stop]
        df["valid_cell"] = pred["valid"][start:stop]
        df[cols_map["mean"]] = pred["mean"][start:stop]
        df[cols_map["std"]] = pred["std"][start:stop]
        df["in_domain"] = pred["in_domain"][start:stop]
        filled[name] = df
        n_bad = int((~df["valid_cell"]).sum())
        if n_bad:
            logger.warning(
                "%s: %d of %d grid point(s) have angles that make no real cell (volume not "
                "real); they are kept with valid_cell = false and no prediction",
                name if name != "1d" else "1-D scans",
                n_bad,
                len(df),
            )
        start = stop
    ranges = training_ranges(surrogate)
    return ScanResult(
        centre=centre,
        scan_1d=filled["1d"],
        scan_iso=filled["iso"],
        maps={(p, q): filled[f"2d:{p},{q}"] for p, q in unique_pairs},
        columns=cols_map,
        target=surrogate.target,
        target_unit=surrogate.target_unit,
        training_range=ranges,
        iso_training_range=iso_range(ref, ranges),
        std_q99=sigma_limit(surrogate),
        centre_prediction=ref_pred,
        lattice_range=(lo, hi),
        n_structures=int(pred["valid"].sum()),
        predict_seconds=seconds,
        device=str(surrogate.device),
    )


def _prediction_columns(target: str) -> dict[str, str]:
    cols = output_columns(target)
    return {"mean": cols["mean"], "std": cols["std"]}


__all__ = ["DEFAULT_PAIR", "ScanResult", "feature_matrix", "predict_params", "run_scan"]
