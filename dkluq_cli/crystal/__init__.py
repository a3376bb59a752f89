"""Crystals and their lattices, knowing nothing of models.

:mod:`.lattice` (six lattice parameters ↔ cells, volume, ``--at``/``--pair``), :mod:`.crystal`
(the :class:`~dkluq_cli.crystal.crystal.Crystal` value: a reference crystal's atoms on its
lattice), :mod:`.structure_io` (the one POSCAR/structure reader and the POSCAR writer),
:mod:`.strain` (finite strain about a lattice and its polynomials), :mod:`.deformation` (Voigt
strains applied to a cell) and :mod:`.point_group` (a crystal's point group acting on lattices
and strain, via pymatgen's ``SpacegroupAnalyzer``).
Lengths in Å, angles in degrees.
"""
