"""dkluq: deep kernel learning surrogates of DFT energy over lattice parameters, with uncertainty.

The package is a thin Typer CLI (:mod:`dkluq_cli.cli`) over a core library that imports neither
typer nor rich. Heavy dependencies (torch, gpytorch, pymatgen, ase) are imported lazily.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
