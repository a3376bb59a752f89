"""dkluq: deep kernel learning surrogates of DFT energy over lattice parameters, with uncertainty.

The package is a thin Typer CLI (:mod:`dkluq_cli.cli`) over a core library that imports neither
typer nor rich. Heavy dependencies (torch, gpytorch, pymatgen, ase) are imported lazily:
``from dkluq_cli import DkluqCalculator`` loads the ASE calculator
(:class:`dkluq_cli.analysis.calculator.DkluqCalculator`) only when it is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public names loaded on first access (PEP 562), and the module each lives in. The face only
#: points inward when a name is asked for, so ``import dkluq_cli`` (and ``dkluq --help``) stays
#: free of torch and ase, and core modules can read ``__version__`` from here.
_LAZY = {"DkluqCalculator": "dkluq_cli.analysis.calculator"}

__all__ = ["DkluqCalculator", "__version__"]


def __getattr__(name: str) -> Any:
    """Import a public name that pulls in torch or ase on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
