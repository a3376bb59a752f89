"""Reading one VASP run: its files, one reader per file kind, what the run gives.

* :mod:`~dkluq_cli.ingest.vasp.files` finds and opens a run's files, and splits a folder into
  its calculations (the files that share a suffix).
* :mod:`~dkluq_cli.ingest.vasp.run` reads one run from its most trustworthy readable source, each
  file kind by one reader: :mod:`~dkluq_cli.ingest.vasp.vasprun` (pymatgen's ``Vasprun``; a killed
  or damaged file cut at its last complete step by :mod:`~dkluq_cli.ingest.vasp.xmlcut`),
  :mod:`~dkluq_cli.ingest.vasp.outcar` (pymatgen's ``Outcar``, ASE for the structure),
  :mod:`~dkluq_cli.ingest.vasp.oszicar` (pymatgen's ``Oszicar``, the structure by pymatgen's
  ``Poscar`` in :mod:`~dkluq_cli.ingest.vasp.structures`). :mod:`~dkluq_cli.ingest.vasp.parsers`
  calls the libraries quietly and compares pymatgen's reading with ASE's (``--cross-check``).
* :mod:`~dkluq_cli.ingest.vasp.convergence` holds the convergence rules;
  :mod:`~dkluq_cli.ingest.vasp.result` what a run gives (a row or a rejection) and
  :mod:`~dkluq_cli.ingest.vasp.extxyz` its final structure as an extxyz frame.

The package imports neither typer nor rich; pymatgen and ASE are imported inside the functions
that need them, so a walk whose runs are all reused never loads them. Energies are in eV,
lengths in Å, angles in degrees.
"""
