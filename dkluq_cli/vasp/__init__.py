"""Reading VASP run folders: file discovery, one run → one record or one rejection, tree walks.

* :mod:`~dkluq_cli.vasp.walk` streams the run folders of a tree; :mod:`~dkluq_cli.vasp.files`
  finds and opens each run's files.
* :mod:`~dkluq_cli.vasp.run` reads one run: the single-pass readers
  (:mod:`~dkluq_cli.vasp.vasprun` with :mod:`~dkluq_cli.vasp.xmlblocks`,
  :mod:`~dkluq_cli.vasp.outcar` with :mod:`~dkluq_cli.vasp.outcar_text`) first, the
  cross-checked pymatgen+ASE readings (:mod:`~dkluq_cli.vasp.crosscheck`,
  :mod:`~dkluq_cli.vasp.structures`, :mod:`~dkluq_cli.vasp.oszicar`) for what they are unsure
  of; :mod:`~dkluq_cli.vasp.convergence` holds the convergence rules,
  :mod:`~dkluq_cli.vasp.result` and :mod:`~dkluq_cli.vasp.cell` what a run gives.
* :mod:`~dkluq_cli.vasp.dispatch` sends chunks of runs to an executor
  (:mod:`~dkluq_cli.vasp.executors`: process pool or Dask) into a
  :mod:`~dkluq_cli.vasp.store`; :mod:`~dkluq_cli.vasp.cache` is the ``--update`` sidecar.

The package imports neither typer nor rich; pymatgen, ASE, lxml and pandas are imported inside
the functions that need them. Energies are in eV, lengths in Å, angles in degrees.
"""
