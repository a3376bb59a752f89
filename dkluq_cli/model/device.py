"""Compute-device and thread selection."""

from __future__ import annotations

import logging

from dkluq_cli.errors import DeviceError

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str):  # -> torch.device
    """Turn ``auto|cpu|cuda`` (or ``cuda:N``) into a torch device.

    Raises:
        DeviceError: CUDA was asked for but torch sees no GPU.
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                "CUDA requested but torch sees no GPU (torch.cuda.is_available() is False)",
                hint="use --device cpu (or auto)",
            )
        return torch.device(name)
    raise DeviceError(f"unknown device {name!r}", hint="use auto, cpu or cuda")


def set_threads(n: int | None) -> int:
    """Set torch's intra-op thread count (``None`` keeps the default); returns the count in use.

    On small shared machines one thread is often fastest for this model's small matrices: with
    another busy process, two threads ran the same training steps several times slower.
    """
    import torch

    if n is not None:
        if n < 1:
            raise DeviceError(f"--threads must be at least 1, got {n}")
        torch.set_num_threads(n)
    return torch.get_num_threads()
