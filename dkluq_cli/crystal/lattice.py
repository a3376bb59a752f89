"""Lattice parameters: names, cell validity and volume, ``--at`` and ``--pair``.

Lattice parameters are always the six numbers ``a, b, c`` (Å) and ``alpha, beta, gamma``
(degrees) of pymatgen's ``Lattice.from_parameters``: α is the angle between **b** and **c**, β
between **a** and **c**, γ between **a** and **b**. Arrays of parameters have shape (n, 6) in
that order (:data:`dkluq_cli.data.table.LATTICE_COLUMNS`).

Not every set of six numbers is a cell: the three angles must satisfy the triangle-like
inequalities that make the metric tensor positive definite. :func:`cell_volume` evaluates the
standard formula

    V = a b c √(1 − cos²α − cos²β − cos²γ + 2 cos α cos β cos γ)

and returns NaN where the radicand is not positive (no real volume), so a scan can flag such
grid points instead of crashing.

This layer knows nothing of models: a crystal (:mod:`dkluq_cli.crystal.crystal`) and
the files they come from are :mod:`dkluq_cli.crystal.structure_io`; what a model stores about its lattice is
:mod:`dkluq_cli.analysis.lattice_model`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dkluq_cli.data.table import LATTICE_COLUMNS
from dkluq_cli.errors import DkluqError

if TYPE_CHECKING:
    from pymatgen.core import Structure

LENGTHS: tuple[str, ...] = ("a", "b", "c")
"""The three cell lengths (Å)."""

ANGLES: tuple[str, ...] = ("alpha", "beta", "gamma")
"""The three cell angles (degrees)."""

#: Spellings accepted for the parameter names in ``--at`` and ``--pair`` (lower-cased).
ALIASES: dict[str, str] = {
    **{name: name for name in LATTICE_COLUMNS},
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
}

#: Smallest radicand (1 − Σcos² + 2Πcos) accepted as a real cell; guards against round-off.
MIN_RADICAND = 1e-10


def canonical_name(name: str) -> str:
    """The canonical lattice-parameter name for a user's spelling.

    Args:
        name: ``a``, ``alpha``, ``α``, ``Alpha`` ...

    Returns:
        One of :data:`dkluq_cli.data.table.LATTICE_COLUMNS`.

    Raises:
        DkluqError: The name is not a lattice parameter (the message suggests the closest).
    """
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    near = difflib.get_close_matches(key, list(LATTICE_COLUMNS), n=1)
    raise DkluqError(
        f"{name.strip()!r} is not a lattice parameter",
        hint=(f"did you mean {near[0]!r}? " if near else "")
        + "use a, b, c (Å) and alpha, beta, gamma (degrees)",
    )


def volume_radicand(params: np.ndarray) -> np.ndarray:
    """``1 − cos²α − cos²β − cos²γ + 2 cos α cos β cos γ`` for each row.

    Args:
        params: Lattice parameters, shape (n, 6) or (6,), Å and degrees.

    Returns:
        Array of shape (n,) (or a 0-d array for one row); ≤ 0 means no real cell.
    """
    p = np.asarray(params, dtype=float)
    ca, cb, cg = (np.cos(np.radians(p[..., i])) for i in (3, 4, 5))
    return 1.0 - ca**2 - cb**2 - cg**2 + 2.0 * ca * cb * cg


def valid_cells(params: np.ndarray) -> np.ndarray:
    """Which rows describe a real cell: finite, lengths > 0, angles in (0°, 180°), volume real.

    Args:
        params: Lattice parameters, shape (n, 6), Å and degrees.

    Returns:
        Boolean array of shape (n,).
    """
    p = np.atleast_2d(np.asarray(params, dtype=float))
    finite = np.isfinite(p).all(axis=1)
    with np.errstate(invalid="ignore"):
        lengths_ok = (p[:, :3] > 0).all(axis=1)
        angles_ok = ((p[:, 3:] > 0) & (p[:, 3:] < 180)).all(axis=1)
        radicand_ok = volume_radicand(p) > MIN_RADICAND
    return finite & lengths_ok & angles_ok & radicand_ok


def cell_volume(params: np.ndarray) -> np.ndarray:
    """Cell volume from lattice parameters; NaN where the parameters make no real cell.

    Args:
        params: Lattice parameters, shape (n, 6), Å and degrees.

    Returns:
        Volumes in Å³, shape (n,).
    """
    p = np.atleast_2d(np.asarray(params, dtype=float))
    ok = valid_cells(p)
    vol = np.full(len(p), np.nan)
    vol[ok] = p[ok, 0] * p[ok, 1] * p[ok, 2] * np.sqrt(volume_radicand(p[ok]))
    return vol


def check_cell(params: Mapping[str, float] | Sequence[float], source: str = "cell") -> np.ndarray:
    """Validate one set of six lattice parameters.

    Args:
        params: A mapping with the six names, or six numbers in :data:`LATTICE_COLUMNS` order.
        source: Where the values came from, for the message (e.g. ``"--at"``).

    Returns:
        The parameters as a float array of shape (6,).

    Raises:
        DkluqError: A value is missing or non-finite, a length is ≤ 0, an angle is outside
            (0°, 180°), or the angles admit no real volume.
    """
    if isinstance(params, Mapping):
        missing = [k for k in LATTICE_COLUMNS if k not in params]
        if missing:
            raise DkluqError(f"{source}: missing lattice parameter(s) {', '.join(missing)}")
        values = np.array([float(params[k]) for k in LATTICE_COLUMNS])
    else:
        values = np.asarray(params, dtype=float).reshape(-1)
        if values.shape != (6,):
            raise DkluqError(f"{source}: expected six lattice parameters, got {values.size}")
    names = dict(zip(LATTICE_COLUMNS, values, strict=True))
    bad = [k for k, v in names.items() if not math.isfinite(v)]
    if bad:
        raise DkluqError(f"{source}: {', '.join(bad)} not finite")
    bad = [f"{k}={names[k]:g}" for k in LENGTHS if names[k] <= 0]
    if bad:
        raise DkluqError(f"{source}: lengths must be > 0 Å ({', '.join(bad)})")
    bad = [f"{k}={names[k]:g}" for k in ANGLES if not 0 < names[k] < 180]
    if bad:
        raise DkluqError(
            f"{source}: angles must lie strictly between 0 and 180 degrees ({', '.join(bad)})"
        )
    if not valid_cells(values[None, :])[0]:
        raise DkluqError(
            f"{source}: angles alpha={names['alpha']:g}, beta={names['beta']:g}, "
            f"gamma={names['gamma']:g} degrees make no real cell (volume not real)",
            hint="each angle must be smaller than the sum of the other two, and their sum below 360",
        )
    return values


def parse_at(text: str) -> dict[str, float]:
    """Parse an ``--at`` string such as ``"a=3.914,alpha=90"`` into parameter values.

    Names may be given as ``a b c alpha beta gamma`` (any case) or ``α β γ``; pairs are
    separated by commas (white space is ignored). Lengths are in Å, angles in degrees.

    Args:
        text: The option value.

    Returns:
        ``{name: value}`` for the parameters given (a subset of the six is allowed).

    Raises:
        DkluqError: Empty string, a pair without ``=``, an unknown or repeated name, a value
            that is not a finite number, a length ≤ 0 or an angle outside (0°, 180°).
    """
    out: dict[str, float] = {}
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise DkluqError("--at is empty", hint="e.g. --at a=3.914,alpha=90")
    for part in parts:
        if not part:
            continue
        if "=" not in part:
            raise DkluqError(
                f"--at: {part!r} is not NAME=VALUE", hint="e.g. --at a=3.914,b=3.914,alpha=90"
            )
        raw_name, raw_value = (s.strip() for s in part.split("=", 1))
        name = canonical_name(raw_name)
        if name in out:
            raise DkluqError(f"--at: {name} given twice")
        try:
            value = float(raw_value)
        except ValueError:
            raise DkluqError(f"--at: {name}={raw_value!r} is not a number") from None
        if not math.isfinite(value):
            raise DkluqError(f"--at: {name}={raw_value} is not finite")
        if name in LENGTHS and value <= 0:
            raise DkluqError(f"--at: length {name}={value:g} must be > 0 Å")
        if name in ANGLES and not 0 < value < 180:
            raise DkluqError(
                f"--at: angle {name}={value:g} must lie strictly between 0 and 180 degrees",
                hint="angles are in degrees, not radians",
            )
        out[name] = value
    return out


def parse_pair(text: str) -> tuple[str, str]:
    """``"a,alpha"`` → ``("a", "alpha")`` (α β γ accepted).

    Raises:
        DkluqError: Not two comma-separated names, an unknown name, or the same name twice.
    """
    parts = [s for s in str(text).replace(" ", "").split(",") if s]
    if len(parts) != 2:
        raise DkluqError(
            f"--pair {text!r} must be two parameters separated by a comma",
            hint="e.g. --pair a,alpha",
        )
    p, q = (canonical_name(s) for s in parts)
    if p == q:
        raise DkluqError(f"--pair {text!r} names {p} twice", hint="e.g. --pair a,alpha")
    return p, q


def structure_to_params(structure: Structure) -> np.ndarray:
    """The six lattice parameters of a pymatgen structure (Å, degrees), shape (6,)."""
    lat = structure.lattice
    return np.array([lat.a, lat.b, lat.c, lat.alpha, lat.beta, lat.gamma], dtype=float)


__all__ = [
    "ANGLES",
    "LENGTHS",
    "canonical_name",
    "cell_volume",
    "check_cell",
    "parse_at",
    "parse_pair",
    "structure_to_params",
    "valid_cells",
    "volume_radicand",
]
