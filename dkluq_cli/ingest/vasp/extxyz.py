"""A run's final structure as one extxyz frame, written exactly as ASE's ``extxyz`` writer
writes an ``Atoms`` with the same info, without building one (the frame is made where the run
is read, for every accepted run). Lengths in Å.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _quote(text: str) -> str:
    """ASE's extxyz ``escape``: quote a value holding spaces, quotes, braces or brackets."""
    if any(c in text for c in " \"'{}[]"):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def _value(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "T" if value else "F"
    if isinstance(value, float | int | np.floating | np.integer):
        return f"{value}"
    return str(value)


def extxyz_frame(symbols: list[str], cart: Any, matrix: Any, info: dict[str, Any]) -> str:
    """The frame ASE's ``write(..., format="extxyz")`` writes for this periodic structure.

    Args:
        symbols: Chemical symbol of each atom.
        cart: Cartesian positions (Å), one row per atom.
        matrix: Lattice vectors (Å), rows a, b, c.
        info: The frame's info (string and number values), in order.

    Returns:
        The frame's text: atom count, comment line, one line per atom.
    """
    matrix = np.asarray(matrix, dtype=float).reshape(3, 3)
    cart = np.asarray(cart, dtype=float).reshape(len(symbols), 3)
    comment = ""
    if matrix.any():
        comment = 'Lattice="' + " ".join(str(x) for x in matrix.reshape(9)) + '" '
    comment += "Properties=species:S:1:pos:R:3"
    pairs = [f"{_quote(k)}={_quote(_value(v))}" for k, v in info.items()]
    comment += " " + " ".join([*pairs, 'pbc="T T T"'])
    lines = [f"{len(symbols)}\n", comment + "\n"]
    lines += [
        "%-2s %16.8f %16.8f %16.8f\n" % (s, *xyz)  # noqa: UP031 - ASE's own format
        for s, xyz in zip(symbols, cart.tolist(), strict=True)
    ]
    return "".join(lines)
