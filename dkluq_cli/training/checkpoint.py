"""Snapshots of a running fit, so an interrupted run can be saved and resumed to the same result.

A snapshot is taken at the end of every epoch: weights, optimiser and scheduler state, both random
streams and the early-stopping bookkeeping. Restoring it and training on gives bit for bit what
the uninterrupted run gives. The snapshot is a plain dict of tensors and numbers, so it is saved
with ``torch.save`` into the run directory and read back with ``weights_only=True``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from dkluq_cli.data.output import atomic_write, write_text
from dkluq_cli.errors import InputError, ModelFileError

#: The resumable state of an interrupted run, in its run directory.
CHECKPOINT = "checkpoint.pt"
#: The note that tells a user how to resume.
INTERRUPTED_NOTE = "INTERRUPTED.txt"


def copy_state(obj: Any, to_cpu: bool = False) -> Any:
    """An independent copy of a (nested) state dict.

    Tensors are detached and cloned (onto the CPU when ``to_cpu``), dicts, lists and tuples
    rebuilt, other values shared (numbers, strings and None are immutable): what
    ``copy.deepcopy`` gives for these, without its per-object bookkeeping, which made a snapshot
    of the default model several times dearer.
    """
    import torch

    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        return t.to("cpu", copy=True) if to_cpu else t.clone()
    if isinstance(obj, dict):
        out = type(obj)((k, copy_state(v, to_cpu)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):  # module versions, read by load_state_dict
            out._metadata = copy.deepcopy(obj._metadata)  # type: ignore[attr-defined]
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(copy_state(v, to_cpu) for v in obj)
    return obj


def snapshot(fit: Any) -> dict[str, Any]:
    """Everything needed to continue bit for bit from the end of the current epoch of ``fit``
    (a :class:`dkluq_cli.training.fit_svgp.DKLFit`; typed loosely so this module does not import the fit)."""
    import torch

    return {
        "epoch": fit.epoch,
        "model": copy_state(fit.model.state_dict(), to_cpu=True),
        "likelihood": copy_state(fit.likelihood.state_dict(), to_cpu=True),
        "optimizer": copy_state(fit.optimizer.state_dict()),
        "ngd": copy_state(fit.ngd.state_dict()) if fit.ngd else None,
        "scheduler": copy_state(fit.scheduler.state_dict()),
        "torch_rng": torch.get_rng_state(),
        "shuffle_rng": fit.shuffle_gen.get_state(),
        # history rows and best_state are replaced, never changed in place: sharing them keeps
        # a snapshot O(1) in the number of epochs
        "history": list(fit.history),
        "best_nll": fit.best_nll,
        "best_epoch": fit.best_epoch,
        "best_state": fit.best_state,
        "bad_epochs": fit.bad_epochs,
        "elapsed": fit.elapsed,
    }


def restore(fit: Any, snap: dict[str, Any]) -> None:
    """Continue ``fit`` from a snapshot taken by :func:`snapshot`."""
    import torch

    fit.epoch = int(snap["epoch"])
    fit.model.load_state_dict(snap["model"])
    fit.likelihood.load_state_dict(snap["likelihood"])
    fit.optimizer.load_state_dict(snap["optimizer"])
    if fit.ngd and snap.get("ngd"):
        fit.ngd.load_state_dict(snap["ngd"])
    fit.scheduler.load_state_dict(snap["scheduler"])
    torch.set_rng_state(snap["torch_rng"])
    fit.shuffle_gen.set_state(snap["shuffle_rng"])
    fit.history = list(snap["history"])
    fit.best_nll = float(snap["best_nll"])
    fit.best_epoch = int(snap["best_epoch"])
    fit.best_state = snap["best_state"]
    fit.bad_epochs = int(snap["bad_epochs"])
    fit.elapsed = float(snap["elapsed"])


def save_checkpoint(run_dir: Path, checkpoint: dict[str, Any], note: str) -> Path:
    """Save an interrupted run's resumable state and a human-readable note."""
    import torch

    dest = run_dir / CHECKPOINT
    with atomic_write(dest, force=True) as tmp:
        torch.save(checkpoint, tmp)
    write_text(run_dir / INTERRUPTED_NOTE, note.rstrip() + "\n", force=True)
    return dest


def load_checkpoint(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Read ``config.json``, ``splits.json`` and ``checkpoint.pt`` of an interrupted run.

    Raises:
        InputError: The folder is not an interrupted dkluq run.
        ModelFileError: The checkpoint is unreadable or unsafe.
    """
    import pickle

    import torch

    run_dir = Path(run_dir)
    for name in ("config.json", "splits.json", CHECKPOINT):
        if not (run_dir / name).is_file():
            raise InputError(
                f"{run_dir} cannot be resumed: {name} is missing",
                hint="--resume takes the folder of an interrupted dkluq train run",
            )
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        splits = json.loads((run_dir / "splits.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{run_dir}: config.json or splits.json is not valid JSON") from exc
    try:
        ckpt = torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelFileError(f"refusing to load {run_dir / CHECKPOINT}: unsafe pickle") from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise ModelFileError(f"checkpoint {run_dir / CHECKPOINT} is damaged") from exc
    return config, splits, ckpt
