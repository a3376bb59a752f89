"""A trained model as an ASE calculator: energy, stress and σ for any cell of its crystal.

``DkluqCalculator(model_path)`` gives ASE's tools the learned energy surface: relax a cell with
``ase.filters.FrechetCellFilter`` and ``ase.optimize.BFGS``, fit ``ase.eos.EquationOfState``
to energies along a volume line, or run anything else that asks for energy and stress.

The model knows the energy as a function of the lattice only, with the atoms at the fractional
coordinates of its training cells; the calculator reads the lattice from the ``Atoms`` and never
looks at the positions.
"""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from dkluq_cli.analysis.cell_energy import cell_energy_factor
from dkluq_cli.analysis.lattice_model import (
    check_lattice_features,
    load_lattice_model,
    stored_crystal,
    trained_formula,
)
from dkluq_cli.crystal.deformation import deformed_params
from dkluq_cli.errors import DkluqError
from dkluq_cli.model.surrogate import Surrogate

logger = logging.getLogger(__name__)

#: Strain step (engineering Voigt units) of the central differences that give the stress.
STRAIN_STEP = 1e-3


class DkluqCalculator(Calculator):
    """ASE calculator of a dkluq model (the posterior mean, with its σ).

    Results:
        ``energy``, ``free_energy``: the posterior mean of the cell's energy (eV; the same
        number: the model is of one energy).
        ``stress``: ``(1/V) ∂E/∂ε`` of the posterior mean (eV/Å³, ASE's sign: positive when the
        cell would rather shrink), Voigt order xx yy zz yz xz xy, in the Cartesian frame of the
        ``Atoms``' cell; central differences of the mean in strain (step :data:`STRAIN_STEP`).
        ``forces``: zeros. The model has none to give (it learned the energy of the lattice with
        the atoms at fixed fractional coordinates); they are set so that ASE's cell filters,
        which ask for forces too, run with the atoms carried along by the cell.
        ``energy_std``: the calibrated predictive standard deviation of the energy, in eV (the
        ``energy_std_eV`` of ``dkluq predict``) — a standard deviation, not a variance.

    Args:
        model: ``model.pt`` (or its run folder), or a loaded
            :class:`~dkluq_cli.model.surrogate.Surrogate`.
        device: ``auto``, ``cpu`` or ``cuda`` (when a path is given).
        **kwargs: Passed to :class:`ase.calculators.calculator.Calculator`.

    Raises:
        DkluqError: The model is not one of the six lattice parameters, or (when a structure is
            computed) the atoms are of another composition or number than the model's cells.
    """

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "stress", "forces"]

    def __init__(
        self, model: str | os.PathLike[str] | Surrogate, device: str = "cpu", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(model, str | os.PathLike):
            self.surrogate = load_lattice_model(model, device, "calculator")
        else:
            check_lattice_features(model, "calculator")
            self.surrogate = model
        self.formula = trained_formula(self.surrogate)
        crystal = stored_crystal(self.surrogate)
        self.n_atoms = crystal.n_atoms if crystal is not None and crystal.has_atoms else None
        if not self.formula:
            logger.warning(
                "the model records no composition: the calculator cannot check that the atoms "
                "are of the crystal it was trained on"
            )

    def check_atoms(self, atoms: Any) -> None:
        """Refuse atoms the model was not trained on.

        Raises:
            DkluqError: Not periodic in three dimensions, another reduced formula, or another
                number of atoms than the model's reference cell.
        """
        from pymatgen.core import Composition

        if not all(atoms.pbc):
            raise DkluqError("DkluqCalculator needs a crystal periodic in all three directions")
        formula = Composition(atoms.get_chemical_formula()).reduced_formula
        if self.formula and formula != Composition(self.formula).reduced_formula:
            raise DkluqError(
                f"the atoms are {formula} but the model was trained on {self.formula}",
                hint="a dkluq model knows the one crystal its table was computed for",
            )
        if self.n_atoms is not None and len(atoms) != self.n_atoms:
            raise DkluqError(
                f"the atoms are a cell of {len(atoms)} atoms but the model's cells have "
                f"{self.n_atoms}",
                hint="give the cell the model was trained on (not a supercell)",
            )

    def calculate(
        self,
        atoms: Any = None,
        properties: Any = ("energy",),
        system_changes: Any = all_changes,
    ) -> None:
        """Energy, stress, zero forces and σ of ``atoms`` (ASE's calculator protocol)."""
        super().calculate(atoms, properties, system_changes)
        self.check_atoms(self.atoms)
        factor = cell_energy_factor(self.surrogate, len(self.atoms), "DkluqCalculator")
        strains = np.zeros((13, 6))
        for k in range(6):
            strains[1 + 2 * k, k] = STRAIN_STEP
            strains[2 + 2 * k, k] = -STRAIN_STEP
        cell = np.asarray(self.atoms.cell.array, dtype=float)
        mean, std = self.surrogate.predict(deformed_params(cell, strains))
        mean = mean * factor
        grad = (mean[1::2] - mean[2::2]) / (2.0 * STRAIN_STEP)
        energy = float(mean[0])
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "stress": grad / abs(float(np.linalg.det(cell))),
            "forces": np.zeros((len(self.atoms), 3)),
            "energy_std": float(std[0] * factor),
        }


__all__ = ["STRAIN_STEP", "DkluqCalculator"]
