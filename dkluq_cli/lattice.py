"""Lattice parameters ↔ structures, the reference crystal, cell validity, POSCAR I/O, ``--at``.

Lattice parameters are always the six numbers ``a, b, c`` (Å) and ``alpha, beta, gamma``
(degrees) of pymatgen's ``Lattice.from_parameters``: α is the angle between **b** and **c**, β
between **a** and **c**, γ between **a** and **b**. Arrays of parameters have shape (n, 6) in
that order (:data:`dkluq_cli.table.LATTICE_COLUMNS`).

Not every set of six numbers is a cell: the three angles must satisfy the triangle-like
inequalities that make the metric tensor positive definite. :func:`cell_volume` evaluates the
standard formula

    V = a b c √(1 − cos²α − cos²β − cos²γ + 2 cos α cos β cos γ)

and returns NaN where the radicand is not positive (no real volume), so a scan can flag such
grid points instead of crashing.

A *reference crystal* is a plain dict ``{"species": [...], "frac_coords": [[...], ...],
"lattice": [a, b, c, alpha, beta, gamma], "formula": str, "source": str}``, the shape stored in
``model.pt`` by ``dkluq train`` when the table came with an ingest sidecar and the shape
:func:`read_poscar` returns. New structures keep the reference's species and fractional
coordinates and take new lattice parameters (:func:`params_to_structure`).

**Default reference lattice.** ``scan``, ``suggest`` and ``eos`` centre on, in order:
``--reference POSCAR``; else the model's stored reference crystal; else the **centre of the
training domain**, the midpoint ``(min + max) / 2`` of each parameter's training range
(:func:`domain_centre`), not the training mean.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dkluq_cli.errors import DkluqError, InputError
from dkluq_cli.table import LATTICE_COLUMNS

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from dkluq_cli.model.surrogate import Surrogate

LENGTHS: tuple[str, ...] = ("a", "b", "c")
"""The three cell lengths (Å)."""

ANGLES: tuple[str, ...] = ("alpha", "beta", "gamma")
"""The three cell angles (degrees)."""

LATTICE_FEATURES: tuple[str, ...] = LATTICE_COLUMNS
"""The features (in this order) of a model that ``suggest`` and ``eos`` accept."""

#: How the fallback reference (:func:`domain_centre`) is described to users.
DOMAIN_CENTRE_DESCRIPTION = "centre of the training domain (midpoint of each training range)"

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
        One of :data:`dkluq_cli.table.LATTICE_COLUMNS`.

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


def read_poscar(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a POSCAR/CONTCAR into a reference-crystal dict.

    The file is parsed as a POSCAR whatever its name. Only when that fails and the name does
    not look like a POSCAR (``POSCAR*``, ``CONTCAR*``, ``*.vasp``, ``*.poscar``) is it tried as
    another structure file pymatgen reads by its extension (e.g. ``.cif``).

    Args:
        path: The file.

    Returns:
        ``{"species", "frac_coords", "lattice": [a, b, c, alpha, beta, gamma] (Å, degrees),
        "formula", "source"}`` (the same shape as a model's ``reference``).

    Raises:
        InputError: The file is missing, a folder, or not a readable POSCAR.
    """
    src = Path(path)
    if not src.exists():
        raise InputError(f"reference {src} does not exist", hint="give a POSCAR or CONTCAR file")
    if src.is_dir():
        raise InputError(f"reference {src} is a folder", hint="give a POSCAR or CONTCAR file")
    try:
        from pymatgen.io.vasp import Poscar

        structure = Poscar.from_file(str(src), check_for_potcar=False).structure
    except Exception as exc:  # any parser failure means "not a POSCAR"
        structure = _read_other_structure(src)
        if structure is None:
            text = str(exc).strip()
            first = text.splitlines()[0][:160] if text else type(exc).__name__
            raise InputError(f"cannot read reference {src} as a POSCAR: {first}") from exc
    return structure_to_reference(structure, source=str(src))


def _read_other_structure(src: Path) -> Structure | None:
    """``src`` read by pymatgen from its extension, or None (POSCAR-like name, or no parse)."""
    name = src.name.upper()
    if name.startswith(("POSCAR", "CONTCAR")) or src.suffix.lower() in (".vasp", ".poscar"):
        return None
    try:
        from pymatgen.core import Structure

        return Structure.from_file(str(src))
    except Exception:  # noqa: BLE001 - the POSCAR error is the one reported
        return None


def structure_to_params(structure: Structure) -> np.ndarray:
    """The six lattice parameters of a pymatgen structure (Å, degrees), shape (6,)."""
    lat = structure.lattice
    return np.array([lat.a, lat.b, lat.c, lat.alpha, lat.beta, lat.gamma], dtype=float)


def structure_to_reference(structure: Structure, source: str = "") -> dict[str, Any]:
    """A reference-crystal dict (plain lists) from a pymatgen structure."""
    return {
        "species": [str(site.specie) for site in structure],
        "frac_coords": structure.frac_coords.tolist(),
        "lattice": structure_to_params(structure).tolist(),
        "formula": structure.composition.reduced_formula,
        "source": source,
    }


def params_to_structure(params: Sequence[float], reference: Mapping[str, Any]) -> Structure:
    """The reference crystal's atoms (fixed fractional coordinates) in a cell with ``params``.

    Args:
        params: Six lattice parameters (Å, degrees).
        reference: Dict with ``species`` and ``frac_coords`` (e.g. a model's ``reference``).

    Returns:
        A pymatgen ``Structure``.

    Raises:
        DkluqError: The parameters make no real cell, or the reference lacks atoms.
    """
    from pymatgen.core import Lattice, Structure

    values = check_cell(params, "lattice parameters")
    if not reference.get("species") or reference.get("frac_coords") is None:
        raise DkluqError("the reference crystal has no atoms (species / frac_coords)")
    lattice = Lattice.from_parameters(*values)
    return Structure(lattice, list(reference["species"]), np.asarray(reference["frac_coords"]))


def write_poscar(structure: Structure, path: str | os.PathLike[str], comment: str) -> Path:
    """Write a POSCAR atomically (replacing an existing file).

    Args:
        structure: The structure.
        path: Destination file.
        comment: First line of the POSCAR (white space collapsed to single spaces).

    Returns:
        The path written.
    """
    from pymatgen.io.vasp import Poscar

    from dkluq_cli.atomic import write_text

    text = Poscar(structure, comment=" ".join(comment.split())).get_str(significant_figures=12)
    return write_text(path, text, force=True)


def check_lattice_features(surrogate: Surrogate, command: str) -> None:
    """Refuse a model whose features are not the six lattice parameters in order.

    Args:
        surrogate: The model.
        command: The subcommand, for the message (``"suggest"``, ``"eos"``).

    Raises:
        DkluqError: The model was trained on other features.
    """
    if list(surrogate.features) != list(LATTICE_FEATURES):
        raise DkluqError(
            f"dkluq {command} needs a model trained on {', '.join(LATTICE_FEATURES)}; this one "
            f"uses {', '.join(surrogate.features)}",
            hint="train on a lattice table (dkluq ingest output or the sample CSV)",
        )


def domain_centre(surrogate: Surrogate) -> dict[str, float]:
    """The centre of the training domain: the midpoint of each lattice parameter's training range.

    This is the reference lattice of ``scan``, ``suggest`` and ``eos`` when neither
    ``--reference`` nor a reference crystal stored in the model exists: ``(min + max) / 2`` of
    each parameter over the training rows (``domain["min"]``, ``domain["max"]`` in ``model.pt``),
    not the training mean, so it stays in the middle of the box whatever the rows' distribution.

    Args:
        surrogate: The model.

    Returns:
        ``{name: midpoint}`` (Å, degrees) for the lattice parameters among the features; empty
        when the model stores no training range.
    """
    dom = surrogate.domain or {}
    if not {"features", "min", "max"} <= set(dom):
        return {}
    return {
        f: 0.5 * (float(lo) + float(hi))
        for f, lo, hi in zip(dom["features"], dom["min"], dom["max"], strict=True)
        if f in LATTICE_COLUMNS
    }


def reference_lattice(
    surrogate: Surrogate, reference: Mapping[str, Any] | None
) -> tuple[np.ndarray, str]:
    """The lattice parameters to centre a box or a line on, and where they come from.

    Order: an explicit reference (``--reference``), the model's stored reference crystal, else
    the centre of the training domain, the midpoint of each parameter's training [min, max]
    (:func:`domain_centre`; the same rule as ``dkluq scan``).

    Args:
        surrogate: The model.
        reference: The ``--reference`` crystal (:func:`load_reference_option`) or None.

    Returns:
        ``(params (6,) in Å and degrees, source description)``.

    Raises:
        DkluqError: No reference and the model stores no training range of all six parameters.
    """
    if reference is not None:
        params = np.asarray(reference["lattice"], dtype=float)
        return params, f"reference {reference.get('source') or ''}".strip()
    stored = surrogate.reference or {}
    if stored.get("lattice") is not None and len(stored["lattice"]) == len(LATTICE_COLUMNS):
        return np.asarray(stored["lattice"], dtype=float), "the model's reference crystal"
    centre = domain_centre(surrogate)
    if len(centre) != len(LATTICE_COLUMNS):
        raise DkluqError(
            "the model has neither a reference crystal nor a training domain to centre on",
            hint="pass --reference POSCAR",
        )
    return np.array([centre[k] for k in LATTICE_COLUMNS]), f"the {DOMAIN_CENTRE_DESCRIPTION}"


def require_structure_reference(
    surrogate: Surrogate, reference: dict[str, Any] | None
) -> dict[str, Any]:
    """The reference crystal whose atoms go into new POSCARs.

    Args:
        surrogate: The model.
        reference: The ``--reference`` crystal or None.

    Returns:
        ``reference`` if given, else the model's stored reference crystal.

    Raises:
        DkluqError: Neither ``--reference`` nor a reference stored in the model.
    """
    if reference is not None:
        return reference
    if surrogate.reference and surrogate.reference.get("species"):
        return surrogate.reference
    raise DkluqError(
        "the model stores no reference crystal (its table had no ingest .extxyz sidecar), so "
        "there are no atoms to put into the POSCARs",
        hint="pass --reference POSCAR (species and fractional coordinates are taken from it)",
    )


def load_reference_option(
    surrogate: Surrogate, path: str | os.PathLike[str] | None
) -> dict[str, Any] | None:
    """Read ``--reference`` (if given) and check it has the model's composition.

    Args:
        surrogate: The model.
        path: The option value.

    Returns:
        The reference dict (:func:`read_poscar`), or None when no path was given.

    Raises:
        InputError: Missing or unreadable file.
        DkluqError: Its reduced formula differs from the one the model was trained on.
    """
    if path is None:
        return None
    ref = read_poscar(path)
    trained = surrogate.record.formula or (surrogate.reference or {}).get("formula")
    if trained and ref["formula"] != trained:
        raise DkluqError(
            f"reference {path} is {ref['formula']} but the model was trained on {trained}",
            hint="pass a POSCAR of the composition the model knows",
        )
    return ref


def open_lattice_model(
    model: str | os.PathLike[str],
    device: str,
    reference: str | os.PathLike[str] | None,
    command: str,
) -> tuple[Surrogate, dict[str, Any] | None, np.ndarray, str]:
    """Load a model for a lattice command and settle its reference (``suggest``, ``eos``).

    Args:
        model: Model file or run folder.
        device: ``auto``, ``cpu`` or ``cuda``.
        reference: The ``--reference`` POSCAR, or None.
        command: Command name, for messages.

    Returns:
        ``(surrogate, reference crystal from --reference or None, centre lattice (6,) in Å and
        degrees, where the centre came from)``.
    """
    from dkluq_cli.device import resolve_device
    from dkluq_cli.model.io import load_model

    surrogate = load_model(model, resolve_device(device))
    check_lattice_features(surrogate, command)
    ref = load_reference_option(surrogate, reference)
    centre, source = reference_lattice(surrogate, ref)
    return surrogate, ref, centre, source


__all__ = [
    "ANGLES",
    "DOMAIN_CENTRE_DESCRIPTION",
    "LATTICE_FEATURES",
    "LENGTHS",
    "canonical_name",
    "cell_volume",
    "check_cell",
    "check_lattice_features",
    "domain_centre",
    "load_reference_option",
    "open_lattice_model",
    "params_to_structure",
    "parse_at",
    "read_poscar",
    "reference_lattice",
    "require_structure_reference",
    "structure_to_params",
    "structure_to_reference",
    "valid_cells",
    "volume_radicand",
    "write_poscar",
]
