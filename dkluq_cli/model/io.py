"""The model file ``model.pt``: a plain dict of tensors, numbers, strings and lists.

Saved with ``torch.save`` and loaded with ``torch.load(weights_only=True, map_location="cpu")``,
so loading never unpickles arbitrary objects (a file carrying one is refused) and a model trained
on CUDA predicts on a CPU-only machine.

Keys: ``format_version``, ``dkluq_version``, ``torch_version``, ``gpytorch_version``, ``created``,
``config`` (every hyperparameter), ``features``, ``feature_units``, ``target``, ``target_unit``,
``inputs`` (:class:`~dkluq_cli.model.inputs.InputMap` or
:class:`~dkluq_cli.crystal.strain.StrainCoordinates`), ``x_mean``, ``x_std``, ``y_mean``,
``y_std``, ``trend`` (:class:`~dkluq_cli.model.trend.PolynomialTrend`), ``head`` (``svgp`` or
``exact``) and ``state`` (its tensors), ``sigma_scale``, ``domain``, ``reference`` and ``record``
(:class:`~dkluq_cli.model.record.TrainingRecord`). Each part is written by its own
``to_dict`` and read by its ``from_dict``; this module only assembles and checks them.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dkluq_cli import __version__
from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.strain import StrainCoordinates
from dkluq_cli.data.output import atomic_write, plain
from dkluq_cli.errors import ModelFileError
from dkluq_cli.model.exact.head import ExactHead
from dkluq_cli.model.inputs import InputMap
from dkluq_cli.model.normalisation import Normalisation
from dkluq_cli.model.record import TrainingRecord
from dkluq_cli.model.surrogate import Surrogate
from dkluq_cli.model.svgp.dkl import build_dkl, build_extractor
from dkluq_cli.model.svgp.head import DKLHead
from dkluq_cli.model.trend import PolynomialTrend
from dkluq_cli.model.truncation import TruncationBand
from dkluq_cli.uq.domain import Domain
from dkluq_cli.uq.extrapolation import BoxInflation

FORMAT_VERSION = 3
"""Bumped whenever a key's meaning changes; files this dkluq cannot read are refused with a hint.
Version 2 added ``trend`` (the polynomial the GP's output is added to), version 3 ``inputs`` (the
map from feature columns to model coordinates, which sets the length of ``x_mean``): an older
dkluq would ignore them and predict wrongly."""

READABLE_VERSIONS = (1, 2, 3)
"""Version 1 files have no trend (the GP's output is added to the constant ``y_mean``); versions
1 and 2 take every feature column as a model coordinate."""

REQUIRED_KEYS = (
    "format_version",
    "config",
    "features",
    "feature_units",
    "target",
    "target_unit",
    "x_mean",
    "x_std",
    "y_mean",
    "y_std",
    "state",
    "sigma_scale",
)


def model_to_dict(surrogate: Surrogate) -> dict[str, Any]:
    """The model-file dict of a surrogate (all tensors moved to CPU)."""
    import datetime

    import gpytorch

    return {
        "format_version": FORMAT_VERSION,
        "dkluq_version": __version__,
        "torch_version": str(torch.__version__),
        "gpytorch_version": gpytorch.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": plain(surrogate.config),
        "features": list(surrogate.features),
        "feature_units": list(surrogate.feature_units),
        "target": surrogate.target,
        "target_unit": surrogate.target_unit,
        "x_mean": torch.as_tensor(surrogate.x_mean, dtype=torch.float64),
        "x_std": torch.as_tensor(surrogate.x_std, dtype=torch.float64),
        "y_mean": float(surrogate.y_mean),
        "y_std": float(surrogate.y_std),
        "trend": surrogate.trend.to_dict(),
        "inputs": _inputs_dict(surrogate.inputs),
        "beyond": surrogate.beyond.to_dict() if surrogate.beyond is not None else None,
        "head": surrogate.head.kind,
        "state": surrogate.head.state(),
        "sigma_scale": float(surrogate.sigma_scale),
        "domain": surrogate.domain.to_dict() if surrogate.domain is not None else None,
        "reference": surrogate.crystal.to_dict() if surrogate.crystal is not None else None,
        "record": plain(surrogate.record.to_dict()),
    }


def save_model(surrogate: Surrogate, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write ``model.pt`` atomically.

    Args:
        surrogate: The trained model.
        path: Destination file.
        force: Replace an existing file.

    Returns:
        The destination path.
    """
    with atomic_write(path, force=force) as tmp:
        torch.save(model_to_dict(surrogate), tmp)
    return Path(path)


def read_model_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate the raw model dict, refusing anything unsafe or malformed.

    Raises:
        ModelFileError: Missing, truncated, not a dkluq model, unsafe pickle, or another format
            version.
    """
    src = Path(path)
    if not src.exists():
        raise ModelFileError(f"model file {src} does not exist", hint="pass runs/NAME/model.pt")
    if src.is_dir():
        if (src / "model.pt").is_file():
            src = src / "model.pt"
        else:
            raise ModelFileError(f"{src} is a folder without model.pt", hint="pass the model file")
    if not src.is_file():
        raise ModelFileError(f"model file {src} is not a regular file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = torch.load(src, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        culprit = next((ln for ln in lines if "GLOBAL" in ln or "global" in ln), "")
        raise ModelFileError(
            f"refusing to load {src}: it contains pickled objects that could run code"
            + (f" ({culprit[:160]})" if culprit else ""),
            hint="only load model files written by dkluq train",
        ) from exc
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        UnicodeDecodeError,
    ) as exc:
        raise ModelFileError(
            f"cannot read model file {src}: truncated or not a dkluq model ({type(exc).__name__})",
            hint="retrain, or copy the file again",
        ) from exc
    if not isinstance(data, dict) or "format_version" not in data:
        raise ModelFileError(f"{src} is not a dkluq model file (no format_version)")
    version = data["format_version"]
    if version not in READABLE_VERSIONS:
        raise ModelFileError(
            f"{src} has model format version {version}; this dkluq ({__version__}) reads "
            f"version(s) {', '.join(map(str, READABLE_VERSIONS))}",
            hint="retrain the model with this dkluq version, or use the dkluq that wrote it",
        )
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ModelFileError(f"{src} lacks key(s) {', '.join(missing)}: damaged model file")
    data["_path"] = str(src)
    return data


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Surrogate:
    """Load a trained surrogate from ``model.pt`` (or a run folder holding one).

    Args:
        path: Model file or run folder.
        device: Device to place the model on after loading on CPU.

    Returns:
        The surrogate, in eval mode.
    """
    data = read_model_dict(path)
    config = dict(data["config"])
    try:
        head = _head(data, config)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise ModelFileError(
            f"model file {data['_path']} does not match its own configuration: {str(exc)[:160]}"
        ) from exc
    try:
        surrogate = _surrogate(data, head, config)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(
            f"damaged model file {data['_path']}: {type(exc).__name__}: {str(exc)[:120]}"
        ) from exc
    return surrogate.to(device)


def _head(data: dict[str, Any], config: dict[str, Any]) -> Any:
    """Rebuild the GP head the file describes (the SN-ResNet + SVGP before format 3)."""
    if data.get("head") == "exact":
        return ExactHead.from_state(data["state"])
    model, likelihood = build_dkl(config, build_extractor(config, len(data["x_mean"])))
    if config.get("double"):
        model.double()
        likelihood.double()
    model.load_state_dict(data["state"]["model"])
    likelihood.load_state_dict(data["state"]["likelihood"])
    head = DKLHead(model, likelihood, float(config.get("jitter", 1e-4)))
    head.eval()
    return head


def _inputs_dict(inputs: Any) -> dict[str, Any] | None:
    """The coordinate map, tagged with its kind (``columns`` or ``strain``)."""
    if inputs is None:
        return None
    kind = "columns" if isinstance(inputs, InputMap) else "strain"
    return {"kind": kind, **inputs.to_dict()}


def _inputs(data: dict[str, Any] | None) -> Any:
    """The stored coordinate map (None before format 3: every feature its own coordinate)."""
    if not data:
        return None
    if data.get("kind") == "strain":
        return StrainCoordinates.from_dict(data)
    return InputMap.from_dict(data)


def _surrogate(data: dict[str, Any], head: Any, config: dict[str, Any]) -> Surrogate:
    norm = Normalisation(
        features=list(data["features"]),
        feature_units=list(data["feature_units"]),
        target=str(data["target"]),
        target_unit=str(data["target_unit"]),
        inputs=_inputs(data.get("inputs")),
        x_mean=data["x_mean"].numpy().astype(np.float64),
        x_std=data["x_std"].numpy().astype(np.float64),
        y_mean=float(data["y_mean"]),
        y_std=float(data["y_std"]),
        trend=_trend(data),
    )
    return Surrogate(
        head=head,
        norm=norm,
        beyond=_beyond(data.get("beyond")),
        sigma_scale=float(data["sigma_scale"]),
        domain=Domain.from_dict(data.get("domain")),
        config=config,
        crystal=Crystal.from_dict(data.get("reference")),
        record=TrainingRecord.from_dict(data.get("record", data.get("extra"))),
    )


def _trend(data: dict[str, Any]) -> PolynomialTrend:
    """The stored trend; files without one (format 1, or a format-2 model trained with
    ``--trend 0``) add the GP's output to the constant ``y_mean``."""
    if data.get("trend"):
        return PolynomialTrend.from_dict(data["trend"])
    x_mean = data["x_mean"].numpy().astype(np.float64)
    return PolynomialTrend.constant(float(data["y_mean"]), x_mean, data["x_std"].numpy())


def _beyond(data: dict[str, Any] | None) -> TruncationBand | BoxInflation | None:
    """The stored widening of σ beyond the training box (none before format 3)."""
    if not data:
        return None
    return (
        BoxInflation.from_dict(data)
        if data.get("kind") == "inflation"
        else TruncationBand.from_dict(data)
    )
