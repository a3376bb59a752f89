"""The lattice that ``scan``, ``suggest`` and ``eos`` centre on, and why it was chosen.

One rule for all three commands, in order of precedence:

1. ``--reference POSCAR``: the reference crystal's lattice parameters (and its atoms, for
   ``suggest``'s POSCARs and ``eos``'s atoms per cell);
2. else the model's stored reference crystal (written by ``dkluq train`` when the training table
   came from ``dkluq ingest``, which finds the campaign's parent crystal);
3. else the **centre of the training domain**, the midpoint ``(min + max) / 2`` of each
   parameter's training range (:func:`dkluq_cli.analysis.lattice_model.domain_centre`), not the training mean.

``scan``'s ``--at`` then overrides single parameters of whichever base was chosen (all six given:
no base needed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dkluq_cli.analysis.lattice_model import domain_centre, stored_crystal, trained_formula
from dkluq_cli.crystal.crystal import Crystal
from dkluq_cli.crystal.lattice import check_cell, parse_at
from dkluq_cli.crystal.structure_io import read_poscar
from dkluq_cli.data.table import LATTICE_COLUMNS
from dkluq_cli.errors import DkluqError

if TYPE_CHECKING:
    from dkluq_cli.model.surrogate import Surrogate

#: How the fallback centre (:func:`dkluq_cli.analysis.lattice_model.domain_centre`) is described to users.
DOMAIN_CENTRE_DESCRIPTION = "centre of the training domain (midpoint of each training range)"


@dataclass
class Centre:
    """The lattice a scan, a candidate box or an EOS line is centred on.

    Attributes:
        params: a, b, c (Å), alpha, beta, gamma (degrees), shape (6,).
        kind: ``"poscar"``, ``"model"``, ``"domain-centre"`` or ``"at"`` (the base chosen;
            ``"at"`` only when ``--at`` gave all six values).
        description: One line for humans with the details, e.g. ``"POSCAR (SrTiO3) with --at
            c=4"`` (``scan``'s summary and figures).
        source: A shorter phrase, e.g. ``"the model's reference crystal"`` (``eos.json``,
            ``suggest``'s log).
        crystal: The reference crystal whose atoms go into new structures: ``--reference``'s,
            else the model's stored one when it has atoms, else None.
    """

    params: np.ndarray
    kind: str
    description: str
    source: str
    crystal: Crystal | None = None

    @property
    def n_atoms(self) -> int | None:
        """Atoms per cell of :attr:`crystal`, or None without one."""
        return self.crystal.n_atoms if self.crystal is not None else None

    def as_dict(self) -> dict[str, float]:
        """``{name: value}`` of the six parameters."""
        return {k: float(v) for k, v in zip(LATTICE_COLUMNS, self.params, strict=True)}


def choose_centre(
    surrogate: Surrogate,
    poscar: str | os.PathLike[str] | None = None,
    at: str | dict[str, float] | None = None,
    *,
    match_composition: bool = False,
    command: str = "scan",
) -> Centre:
    """Pick the centre (see the module docstring for the precedence).

    Args:
        surrogate: The model.
        poscar: Optional POSCAR/CONTCAR whose lattice parameters are the base.
        at: Optional ``"a=3.914,alpha=90"`` string (or parsed dict) overriding parameters.
        match_composition: Refuse a POSCAR whose reduced formula differs from the model's
            (for commands that use its atoms).
        command: The subcommand, for messages.

    Returns:
        The reference.

    Raises:
        InputError: An unreadable POSCAR.
        DkluqError: Bad ``--at`` text, a POSCAR of another composition, no base to complete a
            partial ``--at``, or parameters that make no real cell.
    """
    overrides = parse_at(at) if isinstance(at, str) else dict(at or {})
    stored = stored_crystal(surrogate)
    atoms = stored if stored is not None and stored.has_atoms else None
    base: dict[str, float] | None = None
    kind, description, source = "at", "--at", "--at"
    if poscar is not None:
        crystal = read_poscar(poscar)
        trained = trained_formula(surrogate) if match_composition else None
        if trained and crystal.formula != trained:
            raise DkluqError(
                f"reference {poscar} is {crystal.formula} but the model was trained on {trained}",
                hint="pass a POSCAR of the composition the model knows",
            )
        base = dict(zip(LATTICE_COLUMNS, crystal.lattice, strict=True))
        kind, atoms = "poscar", crystal
        description = f"{Path(poscar)} ({crystal.formula or '?'})"
        source = f"reference {crystal.source}".strip()
    elif len(overrides) < len(LATTICE_COLUMNS):
        centre = domain_centre(surrogate)
        if stored is not None and len(stored.lattice) == len(LATTICE_COLUMNS):
            base = dict(zip(LATTICE_COLUMNS, stored.lattice, strict=True))
            kind = "model"
            src = stored.source or "model.pt"
            description = f"the model's reference structure ({stored.formula or '?'}, {src})"
            source = "the model's reference crystal"
        elif len(centre) == len(LATTICE_COLUMNS):
            base = centre
            kind = "domain-centre"
            description = DOMAIN_CENTRE_DESCRIPTION
            source = f"the {DOMAIN_CENTRE_DESCRIPTION}"
        else:
            missing = [p for p in LATTICE_COLUMNS if p not in overrides]
            raise DkluqError(
                "the model stores neither a reference crystal nor its training domain, so "
                f"dkluq {command} has no reference for {', '.join(missing)}",
                hint="pass --reference POSCAR"
                + (" or all six values with --at" if command == "scan" else ""),
            )
    values = {**(base or {}), **overrides}
    if overrides and base is not None:
        description += " with --at " + ", ".join(f"{k}={v:g}" for k, v in overrides.items())
    params = check_cell(values, "reference" if not overrides else "reference (with --at)")
    return Centre(params, kind, description, source, atoms)


def require_atoms(centre: Centre) -> Crystal:
    """The reference crystal whose atoms go into new POSCARs.

    Raises:
        DkluqError: Neither ``--reference`` nor a reference crystal with atoms stored in the
            model.
    """
    if centre.crystal is not None:
        return centre.crystal
    raise DkluqError(
        "the model stores no reference crystal (its table did not come from dkluq ingest), so "
        "there are no atoms to put into the POSCARs",
        hint="pass --reference POSCAR (species and fractional coordinates are taken from it)",
    )


__all__ = ["DOMAIN_CENTRE_DESCRIPTION", "Centre", "choose_centre", "require_atoms"]
