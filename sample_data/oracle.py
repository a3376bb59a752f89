"""CHGNet stand-in for PBE-DFT total energies of the SrTiO3 5-atom cell.

The paper's VASP energies are not public, so the sample data use the universal machine-learning
potential CHGNet (model ``"0.3.0"``, weights shipped inside the ``chgnet`` wheel, no network) as the
energy oracle. **These energies are CHGNet predictions, not DFT.**

The structure is the ideal cubic-perovskite 5-atom cell with fixed fractional coordinates
(Sr 0,0,0; Ti 1/2,1/2,1/2; O 1/2,1/2,0 / 1/2,0,1/2 / 0,1/2,1/2) placed in a lattice built from the
six lattice parameters by :meth:`pymatgen.core.Lattice.from_parameters`. No relaxation is done.

``chgnet`` is a generator-only dependency (the ``sample-data`` extra); ``dkluq_cli`` never imports
this module. A later benchmark (active learning against the oracle) imports
:func:`srtio3_energies`.

Example:
    >>> import numpy as np
    >>> from sample_data.oracle import srtio3_energies
    >>> srtio3_energies(np.array([[3.914, 3.914, 3.914, 90.0, 90.0, 90.0]]))  # doctest: +SKIP
    array([-41.9...])
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from pymatgen.core import Lattice, Structure

#: Cubic reference lattice constant of the sample box (Å); the box is ±10 % around it.
A0_ANGSTROM = 3.914
#: Reference parameters ``(a, b, c, alpha, beta, gamma)`` in Å and degrees.
P0 = np.array([A0_ANGSTROM, A0_ANGSTROM, A0_ANGSTROM, 90.0, 90.0, 90.0])
#: Species of the 5-atom cell, in site order.
SPECIES = ("Sr", "Ti", "O", "O", "O")
#: Fractional coordinates of the 5 sites (fixed for every structure).
FRAC_COORDS = (
    (0.0, 0.0, 0.0),
    (0.5, 0.5, 0.5),
    (0.5, 0.5, 0.0),
    (0.5, 0.0, 0.5),
    (0.0, 0.5, 0.5),
)
N_ATOMS = len(SPECIES)
FORMULA = "SrTiO3"
#: CHGNet model version used as the oracle.
CHGNET_MODEL = "0.3.0"
#: Structures per CHGNet forward pass. Results do not depend on it (checked in the tests).
BATCH_SIZE = 1


def srtio3_structure(params: Sequence[float] | np.ndarray) -> Structure:
    """Build the SrTiO3 5-atom cell for one set of lattice parameters.

    Args:
        params: ``(a, b, c, alpha, beta, gamma)``; lengths in Å, angles in degrees.

    Returns:
        A pymatgen ``Structure`` with the fixed fractional coordinates of :data:`FRAC_COORDS`.

    Raises:
        ValueError: If ``params`` does not have six entries or the lattice has no positive volume.
    """
    p = np.asarray(params, dtype=float).reshape(-1)
    if p.shape != (6,):
        raise ValueError(
            f"expected 6 lattice parameters (a, b, c, alpha, beta, gamma), got {p.shape}"
        )
    lattice = Lattice.from_parameters(*(float(x) for x in p))
    if not np.isfinite(lattice.volume) or lattice.volume <= 0:
        raise ValueError(
            f"lattice parameters {p.tolist()} give no valid cell (volume {lattice.volume})"
        )
    return Structure(lattice, list(SPECIES), [list(x) for x in FRAC_COORDS])


@functools.lru_cache(maxsize=1)
def _model():
    """Load CHGNet once, on CPU, with one torch thread (deterministic, shares the CPU politely)."""
    import torch
    from chgnet.model import CHGNet

    torch.set_num_threads(1)
    return CHGNet.load(model_name=CHGNET_MODEL, use_device="cpu", verbose=False)


def srtio3_energies(params: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Total energies of SrTiO3 cells from CHGNet (the stand-in for PBE-DFT).

    Args:
        params: Array of shape ``(n, 6)`` (or ``(6,)``) of ``(a, b, c, alpha, beta, gamma)`` in Å
            and degrees.
        batch_size: Structures per CHGNet forward pass.

    Returns:
        Array of shape ``(n,)``: total energy of the 5-atom cell in eV (CHGNet's per-atom energy
        times 5). Deterministic: the same parameters give bitwise the same energies.
    """
    import torch

    p = np.atleast_2d(np.asarray(params, dtype=float))
    if p.ndim != 2 or p.shape[1] != 6:
        raise ValueError(f"params must have shape (n, 6), got {p.shape}")
    if len(p) == 0:
        return np.zeros(0)
    structures = [srtio3_structure(row) for row in p]
    model = _model()
    torch.set_num_threads(1)
    preds = model.predict_structure(structures, task="e", batch_size=batch_size)
    if isinstance(preds, dict):
        preds = [preds]
    e_per_atom = np.array([float(np.asarray(pr["e"]).reshape(-1)[0]) for pr in preds], dtype=float)
    return e_per_atom * N_ATOMS


def srtio3_stresses(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energies and stresses of SrTiO3 cells given by their lattice vectors, from CHGNet.

    For the elastic-constant benchmark: a cell is given as a lattice matrix (rows are the
    vectors, Å) rather than six parameters, so a strained cell keeps the Cartesian frame its
    strain is written in, and so does its stress.

    Args:
        matrices: (n, 3, 3) or (3, 3) lattice matrices (Å).

    Returns:
        ``(energy (n,) eV per cell, stress (n, 6) GPa)``: the stress in Voigt order xx yy zz yz
        xz xy with ASE's sign (σ = (1/V) ∂E/∂ε, positive when the cell would rather shrink).
    """
    import torch

    mats = np.asarray(matrices, dtype=float).reshape(-1, 3, 3)
    structures = [
        Structure(Lattice(m), list(SPECIES), [list(x) for x in FRAC_COORDS]) for m in mats
    ]
    model = _model()
    torch.set_num_threads(1)
    preds = model.predict_structure(structures, task="efs", batch_size=BATCH_SIZE)
    if isinstance(preds, dict):
        preds = [preds]
    energy = np.array([float(np.asarray(p["e"]).reshape(-1)[0]) for p in preds]) * N_ATOMS
    pairs = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
    stress = np.array([[np.asarray(p["s"])[i, j] for i, j in pairs] for p in preds], dtype=float)
    return energy, stress
