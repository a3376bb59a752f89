"""The model's target as the total energy of one cell, in eV.

Commands that differentiate the energy with respect to the cell (``eos``-like fits, ``elastic``,
the ASE calculator) need the energy of the whole cell: a model of ``energy_eV`` gives it, a
model of ``energy_per_atom_eV`` gives it times the atoms per cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dkluq_cli.errors import DkluqError

if TYPE_CHECKING:
    from dkluq_cli.model.surrogate import Surrogate


def cell_energy_factor(surrogate: Surrogate, n_atoms: int | None, command: str) -> float:
    """What the model's target is multiplied by to give the cell's energy (eV).

    Args:
        surrogate: The model.
        n_atoms: Atoms per cell, when known (needed for an eV/atom target).
        command: The command, for messages.

    Raises:
        DkluqError: The target is not an energy in eV or eV/atom, or it is per atom and the
            number of atoms per cell is unknown.
    """
    unit = surrogate.target_unit
    if unit == "eV":
        return 1.0
    if unit == "eV/atom":
        if not n_atoms:
            raise DkluqError(
                "the model predicts eV/atom and the number of atoms per cell is unknown",
                hint="pass --reference POSCAR so the cell's energy can be formed",
            )
        return float(n_atoms)
    raise DkluqError(
        f"{command} needs an energy target in eV or eV/atom; this model predicts "
        f"{surrogate.target} in {unit or 'no unit'}"
    )


__all__ = ["cell_energy_factor"]
