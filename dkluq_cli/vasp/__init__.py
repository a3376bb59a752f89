"""Reading VASP run folders: file discovery, one run → one record or one rejection, tree walks.

The package imports neither typer nor rich; pymatgen, ASE and pandas are imported inside the
functions that need them. Energies are in eV, lengths in Å, angles in degrees.
"""
