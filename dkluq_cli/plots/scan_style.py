"""The labels, symbols and colours shared by the scan figures (:mod:`.scan`, :mod:`.scan_maps`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dkluq_cli.analysis.scan import ScanResult

#: Axis labels with units.
LABELS: dict[str, str] = {
    "a": "a (Å)",
    "b": "b (Å)",
    "c": "c (Å)",
    "alpha": "α (deg)",
    "beta": "β (deg)",
    "gamma": "γ (deg)",
}
SYMBOL: dict[str, str] = {"a": "a", "b": "b", "c": "c", "alpha": "α", "beta": "β", "gamma": "γ"}
TRAIN_COLOUR = "tab:green"


def unit_of(result: ScanResult) -> str:
    """The target's unit for axis labels."""
    return result.target_unit or "target units"


def target_label(result: ScanResult) -> str:
    """The target's name for axis labels (``energy_eV`` → ``energy``)."""
    return result.target.removesuffix("_eV").removesuffix("_per_atom").replace("_", " ")
