"""dkluq: deep kernel learning surrogates of DFT energy over lattice parameters, with uncertainty.

From Python (a notebook)::

    from dkluq_cli import load_model, train

    model = train("table.csv")           # or a DataFrame; TrainConfig fields as keywords
    model.predict(structures)            # DataFrame: mean, σ, 95 % bounds, in_domain
    model.eos().stats()                  # a0, V0, B0, E0 with σ and 95 % intervals
    model.elastic().report()             # the elastic tensor with intervals

``train``, ``load_model``, ``TrainedModel`` (:mod:`dkluq_cli.analysis.trained_model`) and the ASE
calculator ``DkluqCalculator`` (:mod:`dkluq_cli.analysis.calculator`) are imported on first use,
so ``import dkluq_cli`` and ``dkluq --help`` do not load torch or ase. The command line is a thin
Typer layer (:mod:`dkluq_cli.cli`) over the same functions.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public names loaded on first access (PEP 562), and the module each lives in. The face only
#: points inward when a name is asked for, so core modules can read ``__version__`` from here.
_LAZY = {
    "train": "dkluq_cli.analysis.trained_model",
    "load_model": "dkluq_cli.analysis.trained_model",
    "TrainedModel": "dkluq_cli.analysis.trained_model",
    "DkluqCalculator": "dkluq_cli.analysis.calculator",
}

__all__ = ["DkluqCalculator", "TrainedModel", "__version__", "load_model", "train"]


def __getattr__(name: str) -> Any:
    """Import a public name that pulls in torch or ase on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
