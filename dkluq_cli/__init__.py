"""dkluq: deep kernel learning surrogates of DFT energy over lattice parameters, with uncertainty.

The package is a thin Typer CLI (:mod:`dkluq_cli.cli`) over a core library that imports neither
typer nor rich. Heavy dependencies (torch, gpytorch, pymatgen, ase) are imported lazily:
``from dkluq_cli import DkluqCalculator`` loads the ASE calculator
(:class:`dkluq_cli.analysis.calculator.DkluqCalculator`) only when it is asked for.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["DkluqCalculator", "__version__"]


def __getattr__(name: str) -> Any:
    """Import the public names that pull in torch or ase on first use."""
    if name == "DkluqCalculator":
        from dkluq_cli.analysis.calculator import DkluqCalculator

        return DkluqCalculator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
