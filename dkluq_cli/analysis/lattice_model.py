"""What a trained model knows about the lattice it was trained on, read in one place.

The one module that reads a model's stored metadata about its lattice: the training domain
(per-feature ranges and the σ limit of ``in_domain``, :mod:`dkluq_cli.uq.domain`), the
reference crystal (a :class:`~dkluq_cli.crystal.crystal.Crystal`, when one was known) and the
formula it was trained on. ``scan``, ``suggest``, ``eos`` and ``predict`` ask here; they never
open those fields themselves.

Also the feature checks of the lattice commands: ``suggest`` and ``eos`` need the six lattice
parameters in order (:func:`check_lattice_features`), ``scan`` the six in any order, optionally
with ``volume`` (:func:`check_scannable`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.data.table import LATTICE_COLUMNS
from dkluq_cli.errors import DkluqError, ModelInputMismatchError
from dkluq_cli.model.device import resolve_device
from dkluq_cli.model.inputs import REL_TOL, InputMap
from dkluq_cli.model.io import load_model
from dkluq_cli.uq.domain import DomainCheck, check_domain

if TYPE_CHECKING:
    from dkluq_cli.model.surrogate import Surrogate

LATTICE_FEATURES: tuple[str, ...] = LATTICE_COLUMNS
"""The features (in this order) of a model that ``suggest`` and ``eos`` accept."""

#: Features a scannable model may use besides the six lattice parameters (computed per row).
DERIVED_FEATURES: tuple[str, ...] = ("volume",)


def check_lattice_features(surrogate: Surrogate, command: str) -> None:
    """Refuse a model whose features are not the six lattice parameters in order.

    Args:
        surrogate: The model.
        command: The subcommand, for the message (``"suggest"``, ``"eos"``).

    Raises:
        DkluqError: The model was trained on other features.
    """
    if list(surrogate.features) != list(LATTICE_FEATURES):
        raise DkluqError(
            f"dkluq {command} needs a model trained on {', '.join(LATTICE_FEATURES)}; this one "
            f"uses {', '.join(surrogate.features)}",
            hint="train on a lattice table (dkluq ingest output or the sample CSV)",
        )


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


def load_lattice_model(model: str | os.PathLike[str], device: str, command: str) -> Surrogate:
    """Load a model for ``scan``, ``suggest`` or ``eos`` and check its features.

    Args:
        model: Model file or run folder.
        device: ``auto``, ``cpu`` or ``cuda``.
        command: ``"scan"`` (:func:`check_scannable`), else :func:`check_lattice_features`.

    Returns:
        The model on its device.
    """

    surrogate = load_model(model, resolve_device(device))
    if command == "scan":
        check_scannable(surrogate)
    else:
        check_lattice_features(surrogate, command)
    return surrogate


def feature_ranges(surrogate: Surrogate) -> dict[str, tuple[float, float]]:
    """``{feature: (min, max)}`` over the training rows (feature units); empty when the model
    stores no training domain."""
    dom = surrogate.domain
    if dom is None:
        return {}
    return {f: (lo, hi) for f, lo, hi in zip(dom.features, dom.min, dom.max, strict=True)}


def training_ranges(surrogate: Surrogate) -> dict[str, tuple[float, float]]:
    """``{param: (min, max)}`` of the lattice parameters seen in training (Å, degrees)."""
    return {f: r for f, r in feature_ranges(surrogate).items() if f in LATTICE_COLUMNS}


def domain_centre(surrogate: Surrogate) -> dict[str, float]:
    """The centre of the training domain: the midpoint of each lattice parameter's training range.

    The reference lattice of ``scan``, ``suggest`` and ``eos`` when neither ``--reference`` nor
    a reference crystal stored in the model exists (:mod:`dkluq_cli.analysis.centre`): ``(min + max) /
    2`` of each parameter over the training rows, not the training mean, so it stays in the
    middle of the box whatever the rows' distribution.

    Returns:
        ``{name: midpoint}`` (Å, degrees) for the lattice parameters among the features; empty
        when the model stores no training range.
    """
    return {f: 0.5 * (lo + hi) for f, (lo, hi) in training_ranges(surrogate).items()}


def sigma_limit(surrogate: Surrogate) -> float | None:
    """The σ above which a prediction is out of domain (``std_q99``, target units) for a model
    stored before the nearest-row rule; None otherwise."""
    dom = surrogate.domain
    return None if dom is None or dom.neighbours is not None else dom.std_q99


def domain_check(surrogate: Surrogate, x: np.ndarray, std: np.ndarray) -> DomainCheck:
    """:func:`dkluq_cli.uq.domain.check_domain` against the model's stored training domain.

    Args:
        surrogate: The model.
        x: Inputs (n × features), feature units.
        std: Calibrated predictive σ (n,), target units (the σ rule of models stored before
            the nearest-row rule).

    Returns:
        Flags and reasons; all in domain when the model stores no domain. Rows off the manifold
        the model was trained on (``a ≠ b`` for a model of ``a = b = c`` cells, an angle other
        than a constant training angle; :meth:`dkluq_cli.model.inputs.InputMap.deviation`) are
        out.
    """

    dom = surrogate.domain
    if dom is None:
        return DomainCheck.all_in(len(x))
    coords = surrogate.norm.standardise(x) if dom.neighbours is not None else None
    check = check_domain(x, std, dom, coords)
    inputs = getattr(surrogate, "inputs", None)
    if isinstance(inputs, InputMap) and not inputs.is_identity:
        scale = np.maximum(np.abs(np.asarray(x, dtype=float)).max(axis=1), 1.0)
        check.exclude(
            inputs.deviation(x) > 10 * REL_TOL * scale,
            "off the trained manifold (features the training rows tied or held constant)",
        )
    return check


def in_domain_flags(surrogate: Surrogate, x: np.ndarray, std: np.ndarray) -> np.ndarray:
    """The flags (n,) of :func:`domain_check`."""
    return domain_check(surrogate, x, std).flags


def stored_crystal(surrogate: Surrogate) -> Crystal | None:
    """The reference crystal stored in the model, or None."""
    return surrogate.crystal


def trained_formula(surrogate: Surrogate) -> str | None:
    """The reduced formula the model was trained on, if it was recorded."""
    crystal = surrogate.crystal
    return surrogate.record.formula or (crystal.formula if crystal is not None else None) or None


__all__ = [
    "DERIVED_FEATURES",
    "LATTICE_FEATURES",
    "check_lattice_features",
    "check_scannable",
    "domain_centre",
    "domain_check",
    "feature_ranges",
    "in_domain_flags",
    "load_lattice_model",
    "sigma_limit",
    "stored_crystal",
    "trained_formula",
    "training_ranges",
]
