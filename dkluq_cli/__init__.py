"""dkluq: deep kernel learning surrogates of DFT energy over lattice parameters, with uncertainty.

From Python (a notebook)::

    from dkluq_cli import load_model, train

    model = train("table.csv")           # or a DataFrame; TrainConfig fields as keywords
    model.predict(structures)            # DataFrame: mean, σ, 95 % bounds, in_domain
    model.eos().stats()                  # a0, V0, B0, E0 with σ and 95 % intervals

``train``, ``load_model`` and ``TrainedModel`` (:mod:`dkluq_cli.analysis.trained_model`) are
imported on first use, so ``dkluq --help`` does not load torch. The command line is a thin Typer
layer (:mod:`dkluq_cli.cli`) over the same functions.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Any

#: The public API, imported on first access.
_LAZY = {
    "train": "dkluq_cli.analysis.trained_model",
    "load_model": "dkluq_cli.analysis.trained_model",
    "TrainedModel": "dkluq_cli.analysis.trained_model",
}

__all__ = ["TrainedModel", "__version__", "load_model", "train"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dkluq_cli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
