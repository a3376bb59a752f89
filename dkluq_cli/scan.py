"""Energy landscapes around a reference crystal, with σ, inside and beyond the training domain.

The core of ``dkluq scan``. Starting from a reference set of lattice parameters p₀ (Å,
degrees), it builds grids of relative factors ``s`` in ``[lo, hi]`` and predicts the target
(energy, eV) with its calibrated σ on every grid point in batched forward passes:

* **1-D scans** (``scan = "1d:a"`` … ``"1d:gamma"``): one parameter set to ``s · p₀``, the
  other five held at p₀;
* the **isotropic scan** (``scan = "iso"``): a, b, c all scaled by ``s`` together, angles held
  (the equation-of-state line);
* **2-D maps** (``scan = "2d:a,alpha"``): two parameters scaled independently on an N × N grid.

Lengths and angles are both scaled relative to the reference (0.9–1.1 is ±10 %: 90° becomes
81°–99°). Grid points whose angles make no real cell (see :func:`dkluq_cli.lattice.valid_cells`)
are kept with ``valid_cell = False``, NaN predictions and ``in_domain = False``, and counted in
the log; nothing is predicted for them.

**Reference point.** In order of precedence: ``--reference POSCAR`` (its lattice parameters);
else the model's stored reference structure (``reference.lattice`` in ``model.pt``, written
when the training table had an ingest ``.extxyz`` sidecar); else the **centre of the training
domain**, the midpoint of each parameter's training [min, max]
(:func:`dkluq_cli.lattice.domain_centre`, the rule ``suggest`` and ``eos`` share). ``--at``
values then override single parameters of whichever base was chosen (all six given: no base
needed).

Every table is long-form with all six lattice columns on every row, ``volume_A3``,
``valid_cell``, the mean and σ columns named by :func:`dkluq_cli.predict.output_columns`
(``energy_mean_eV``, ``energy_std_eV`` for an ``energy_eV`` model) and ``in_domain``
(:func:`dkluq_cli.uq.domain.in_domain`: every feature inside its training range and σ ≤ the
99th percentile of the training σ).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.errors import DkluqError, ModelInputMismatchError
from dkluq_cli.lattice import (
    DOMAIN_CENTRE_DESCRIPTION,
    LENGTHS,
    canonical_name,
    cell_volume,
    check_cell,
    domain_centre,
    parse_at,
    read_poscar,
    valid_cells,
)
from dkluq_cli.table import LATTICE_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from dkluq_cli.model.surrogate import Surrogate

logger = logging.getLogger(__name__)

#: Features a scannable model may use besides the six lattice parameters (computed per row).
DERIVED_FEATURES: tuple[str, ...] = ("volume",)
#: Default 2-D map: a lattice length against a lattice angle (the paper's Fig. 3).
DEFAULT_PAIR: tuple[str, str] = ("a", "alpha")
#: The 1-D scans, one per lattice parameter, in this order.
SCAN_1D_NAMES: tuple[str, ...] = tuple(f"1d:{p}" for p in LATTICE_COLUMNS)
ISO_NAME = "iso"


# ----------------------------------------------------------------------------- reference


@dataclass
class Reference:
    """The point the scans are centred on.

    Attributes:
        params: a, b, c (Å), alpha, beta, gamma (degrees), shape (6,).
        kind: ``"poscar"``, ``"model"``, ``"domain-centre"`` or ``"at"`` (the base chosen;
            ``"at"`` only when ``--at`` gave all six values).
        description: One line for humans, e.g. ``"centre of the training domain"``.
        overridden: Parameters set by ``--at``.
    """

    params: np.ndarray
    kind: str
    description: str
    overridden: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, float]:
        """``{name: value}`` of the six parameters."""
        return {k: float(v) for k, v in zip(LATTICE_COLUMNS, self.params, strict=True)}


def check_scannable(surrogate: Surrogate) -> None:
    """Refuse a model that cannot be scanned over the six lattice parameters.

    A scannable model's features are the six lattice parameters (any order), optionally plus
    ``volume`` (computed from the cell on every grid point).

    Raises:
        ModelInputMismatchError: A lattice parameter is missing from the features, or a
            feature is neither a lattice parameter nor derivable from one.
    """
    feats = list(surrogate.features)
    missing = [p for p in LATTICE_COLUMNS if p not in feats]
    foreign = [f for f in feats if f not in LATTICE_COLUMNS and f not in DERIVED_FEATURES]
    if missing or foreign:
        why = []
        if missing:
            why.append(f"it lacks {', '.join(missing)}")
        if foreign:
            why.append(f"{', '.join(foreign)} cannot be set from lattice parameters")
        raise ModelInputMismatchError(
            f"dkluq scan needs a model trained on all six lattice parameters "
            f"{', '.join(LATTICE_COLUMNS)}; this one uses {', '.join(feats)} ({'; '.join(why)})",
            hint="train with --features a,b,c,alpha,beta,gamma (volume may be added)",
        )


def choose_reference(
    surrogate: Surrogate,
    poscar: str | os.PathLike[str] | None = None,
    at: str | dict[str, float] | None = None,
) -> Reference:
    """Pick the scan's reference point (see the module docstring for the precedence).

    Args:
        surrogate: The model.
        poscar: Optional POSCAR/CONTCAR whose lattice parameters are the base.
        at: Optional ``"a=3.914,alpha=90"`` string (or parsed dict) overriding parameters.

    Returns:
        The reference.

    Raises:
        DkluqError: Bad ``--at`` text, an unreadable POSCAR, no base to complete a partial
            ``--at``, or parameters that make no real cell.
    """
    overrides = parse_at(at) if isinstance(at, str) else dict(at or {})
    base: dict[str, float] | None = None
    kind, description = "at", "--at"
    if poscar is not None:
        ref = read_poscar(poscar)
        base = dict(zip(LATTICE_COLUMNS, ref["lattice"], strict=True))
        kind = "poscar"
        description = f"{Path(poscar)} ({ref.get('formula', '?')})"
    elif len(overrides) < len(LATTICE_COLUMNS):
        stored = surrogate.reference or {}
        centre = domain_centre(surrogate)
        if stored.get("lattice") is not None and len(stored["lattice"]) == 6:
            base = dict(zip(LATTICE_COLUMNS, map(float, stored["lattice"]), strict=True))
            kind = "model"
            src = stored.get("source") or "model.pt"
            description = f"the model's reference structure ({stored.get('formula', '?')}, {src})"
        elif len(centre) == len(LATTICE_COLUMNS):
            base = centre
            kind = "domain-centre"
            description = DOMAIN_CENTRE_DESCRIPTION
        else:
            missing = [p for p in LATTICE_COLUMNS if p not in overrides]
            raise DkluqError(
                "the model stores neither a reference structure nor its training domain, so "
                f"the scan has no reference for {', '.join(missing)}",
                hint="pass --reference POSCAR or all six values with --at",
            )
    values = {**(base or {}), **overrides}
    if overrides and base is not None:
        description += " with --at " + ", ".join(f"{k}={v:g}" for k, v in overrides.items())
    params = check_cell(values, "reference" if not overrides else "reference (with --at)")
    return Reference(params=params, kind=kind, description=description, overridden=list(overrides))


# ----------------------------------------------------------------------------- grids


def scale_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` relative factors from ``lo`` to ``hi`` (inclusive).

    Raises:
        DkluqError: ``lo`` ≥ ``hi``, a factor ≤ 0 or non-finite, or ``n`` < 2.
    """
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 or hi <= 0 or lo >= hi:
        raise DkluqError(
            f"lattice range {lo:g}–{hi:g} is not a range of positive factors with LO < HI",
            hint="e.g. --lattice-range 0.9 1.1 (±10 %)",
        )
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


def grid_iso(ref: np.ndarray, scales: np.ndarray) -> pd.DataFrame:
    """The isotropic scan: a, b, c multiplied by ``scale`` together, angles held.

    Args:
        ref: Reference parameters, shape (6,).
        scales: Relative factors, shape (n,).

    Returns:
        Table of n rows with ``scan = "iso"``, ``scale`` and the six parameters.
    """
    import pandas as pd

    p = np.tile(ref, (len(scales), 1))
    p[:, :3] = ref[:3] * scales[:, None]
    df = pd.DataFrame(p, columns=list(LATTICE_COLUMNS))
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


def parse_pair(text: str) -> tuple[str, str]:
    """``"a,alpha"`` → ``("a", "alpha")`` (α β γ accepted).

    Raises:
        DkluqError: Not two comma-separated names, an unknown name, or the same name twice.
    """
    parts = [s for s in str(text).replace(" ", "").split(",") if s]
    if len(parts) != 2:
        raise DkluqError(
            f"--pair {text!r} must be two parameters separated by a comma",
            hint="e.g. --pair a,alpha",
        )
    p, q = (canonical_name(s) for s in parts)
    if p == q:
        raise DkluqError(f"--pair {text!r} names {p} twice", hint="e.g. --pair a,alpha")
    return p, q


# ----------------------------------------------------------------------------- prediction


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
    from dkluq_cli.uq.domain import in_domain

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
        dom = surrogate.domain
        if dom and {"features", "min", "max", "std_q99"} <= set(dom):
            inside[valid] = in_domain(x, s, dom)
        else:
            inside[valid] = True
    return {
        "volume": cell_volume(params),
        "valid": valid,
        "mean": mean,
        "std": std,
        "in_domain": inside,
    }


# ----------------------------------------------------------------------------- the scan


@dataclass
class ScanResult:
    """Everything one ``dkluq scan`` computed.

    Attributes:
        reference: The reference point.
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
        reference_prediction: ``{"mean", "std", "in_domain"}`` at the reference.
        lattice_range: ``(lo, hi)`` relative factors.
        n_structures: Grid points predicted (valid cells).
        predict_seconds: Wall time of the predictions (s).
        device: Device the model ran on.
    """

    reference: Reference
    scan_1d: pd.DataFrame
    scan_iso: pd.DataFrame
    maps: dict[tuple[str, str], pd.DataFrame]
    columns: dict[str, str]
    target: str
    target_unit: str
    training_range: dict[str, tuple[float, float]]
    iso_training_range: tuple[float, float] | None
    std_q99: float | None
    reference_prediction: dict[str, Any]
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


def training_ranges(surrogate: Surrogate) -> dict[str, tuple[float, float]]:
    """``{param: (min, max)}`` of the lattice parameters seen in training (Å, degrees)."""
    dom = surrogate.domain or {}
    if not {"features", "min", "max"} <= set(dom):
        return {}
    return {
        f: (float(lo), float(hi))
        for f, lo, hi in zip(dom["features"], dom["min"], dom["max"], strict=True)
        if f in LATTICE_COLUMNS
    }


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
    reference: Reference,
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
        surrogate: The model (see :func:`check_scannable`).
        reference: From :func:`choose_reference`.
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
    ref = np.asarray(reference.params, dtype=float)
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
    dom = surrogate.domain or {}
    return ScanResult(
        reference=reference,
        scan_1d=filled["1d"],
        scan_iso=filled["iso"],
        maps={(p, q): filled[f"2d:{p},{q}"] for p, q in unique_pairs},
        columns=cols_map,
        target=surrogate.target,
        target_unit=surrogate.target_unit,
        training_range=ranges,
        iso_training_range=iso_range(ref, ranges),
        std_q99=float(dom["std_q99"]) if "std_q99" in dom else None,
        reference_prediction=ref_pred,
        lattice_range=(lo, hi),
        n_structures=int(pred["valid"].sum()),
        predict_seconds=seconds,
        device=str(surrogate.device),
    )


def _prediction_columns(target: str) -> dict[str, str]:
    from dkluq_cli.predict import output_columns

    cols = output_columns(target)
    return {"mean": cols["mean"], "std": cols["std"]}


# ----------------------------------------------------------------------------- summary


def iso_minimum(result: ScanResult) -> dict[str, Any] | None:
    """The isotropic scan's energy minimum, refined by a parabola through the lowest 3 points.

    Returns:
        ``{"a", "b", "c"`` (Å), ``"scale"``, ``"volume_A3"``, ``"energy"``, ``"std"`` (target
        units, σ at the nearest grid point), ``"at_edge"`` (the lowest grid point is an end of
        the scan: the true minimum may lie outside), ``"in_domain"}``; None without valid rows.
    """
    df = result.scan_iso[result.scan_iso["valid_cell"]]
    if len(df) == 0:
        return None
    mean = df[result.columns["mean"]].to_numpy(float)
    s = df["scale"].to_numpy(float)
    k = int(np.nanargmin(mean))
    at_edge = k in (0, len(df) - 1)
    s_min, e_min = float(s[k]), float(mean[k])
    if not at_edge:
        x3, y3 = s[k - 1 : k + 2], mean[k - 1 : k + 2]
        c2, c1, c0 = np.polyfit(x3, y3, 2)
        if c2 > 0:
            s_min = float(np.clip(-c1 / (2 * c2), x3[0], x3[-1]))
            e_min = float(np.polyval([c2, c1, c0], s_min))
    ref = result.reference.params
    abc = ref[:3] * s_min
    params = np.concatenate([abc, ref[3:]])
    return {
        "a": float(abc[0]),
        "b": float(abc[1]),
        "c": float(abc[2]),
        "scale": s_min,
        "volume_A3": float(cell_volume(params[None, :])[0]),
        "energy": e_min,
        "std": float(df[result.columns["std"]].iloc[k]),
        "at_edge": at_edge,
        "in_domain": bool(df["in_domain"].iloc[k]),
    }


def edge_sigmas(result: ScanResult) -> dict[str, tuple[float, float]]:
    """σ at the two ends (first and last valid point) of each 1-D scan and the isotropic scan.

    Returns:
        ``{scan name: (σ at lo, σ at hi)}`` in target units.
    """
    out: dict[str, tuple[float, float]] = {}
    std = result.columns["std"]
    for name, df in [*result.scan_1d.groupby("scan", sort=False), (ISO_NAME, result.scan_iso)]:
        ok = df[df["valid_cell"]]
        if len(ok):
            out[str(name)] = (float(ok[std].iloc[0]), float(ok[std].iloc[-1]))
    return out


def summarise(result: ScanResult) -> dict[str, Any]:
    """Numbers for the CLI summary and for tests: σ at the reference vs the scan edges,
    the isotropic minimum, and row counts.

    Returns:
        ``reference`` (params and how chosen), ``std_reference``, ``edge_std`` (per scan),
        ``edge_ratio_min`` / ``edge_ratio_median`` (edge σ ÷ reference σ over all 1-D and
        isotropic ends), ``iso_minimum``, ``rows`` / ``rows_outside_domain`` /
        ``rows_invalid`` per output file, ``n_structures``, ``predict_seconds``,
        ``structures_per_s``.
    """
    s_ref = result.reference_prediction["std"]
    edges = edge_sigmas(result)
    flat = np.array([v for pair in edges.values() for v in pair], dtype=float)
    ratios = flat / s_ref if s_ref > 0 else np.full_like(flat, np.inf)
    rows, outside, invalid = {}, {}, {}
    for fname, df in result.tables().items():
        rows[fname] = len(df)
        outside[fname] = int((~df["in_domain"].astype(bool)).sum())
        invalid[fname] = int((~df["valid_cell"].astype(bool)).sum())
    return {
        "reference": {**result.reference.as_dict(), "chosen": result.reference.description},
        "lattice_range": list(result.lattice_range),
        "target": result.target,
        "target_unit": result.target_unit,
        "mean_reference": result.reference_prediction["mean"],
        "std_reference": s_ref,
        "reference_in_domain": result.reference_prediction["in_domain"],
        "edge_std": {k: list(v) for k, v in edges.items()},
        "edge_ratio_min": float(np.min(ratios)) if len(ratios) else None,
        "edge_ratio_median": float(np.median(ratios)) if len(ratios) else None,
        "iso_minimum": iso_minimum(result),
        "rows": rows,
        "rows_outside_domain": outside,
        "rows_invalid": invalid,
        "n_structures": result.n_structures,
        "predict_seconds": result.predict_seconds,
        "structures_per_s": result.n_structures / result.predict_seconds
        if result.predict_seconds > 0
        else None,
        "device": result.device,
    }


# ----------------------------------------------------------------------------- output


def write_scan(
    result: ScanResult, out_dir: str | os.PathLike[str], fmt: str = "png", *, plots: bool = True
) -> list[Path]:
    """Write the CSVs, ``scan_summary.json`` and (unless ``plots`` is false) the figures.

    Files: ``scan_1d.csv``, ``scan_iso.csv``, ``scan_2d_<p>_<q>.csv``, ``scan_summary.json``;
    figures ``scan_1d.<fmt>``, ``scan_iso.<fmt>``, ``scan_2d_<p>_<q>.<fmt>``,
    ``scan_overview.<fmt>``. Existing files of those names in ``out_dir`` are replaced (the
    caller checks the folder with :func:`dkluq_cli.atomic.prepare_output_dir`).

    Args:
        result: From :func:`run_scan`.
        out_dir: Existing folder.
        fmt: ``png``, ``svg`` or ``pdf``.
        plots: Draw the figures.

    Returns:
        The paths written.
    """
    import json

    from dkluq_cli.atomic import write_text
    from dkluq_cli.table import write_table

    out = Path(out_dir)
    files = [write_table(df, out / name, force=True) for name, df in result.tables().items()]
    summary = summarise(result)
    files.append(
        write_text(out / "scan_summary.json", json.dumps(summary, indent=2) + "\n", force=True)
    )
    if plots:
        from dkluq_cli.plots.scan import scan_figures

        files.extend(scan_figures(result, out, fmt))
    return files


__all__ = [
    "DEFAULT_PAIR",
    "Reference",
    "ScanResult",
    "check_scannable",
    "choose_reference",
    "edge_sigmas",
    "grid_1d",
    "grid_2d",
    "grid_iso",
    "iso_minimum",
    "parse_pair",
    "predict_params",
    "run_scan",
    "summarise",
    "write_scan",
]
