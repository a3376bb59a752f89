"""Reading VASP run folders: file discovery, one run → one record or one rejection, tree walks.

* :mod:`~dkluq_cli.ingest.walk` streams the run folders of a tree; :mod:`~dkluq_cli.ingest.vasp.files`
  finds and opens each run's files.
* :mod:`~dkluq_cli.ingest.vasp.run` reads one run: the single-pass readers
  (:mod:`~dkluq_cli.ingest.vasp.vasprun` with :mod:`~dkluq_cli.ingest.vasp.xmlblocks`,
  :mod:`~dkluq_cli.ingest.vasp.outcar` with :mod:`~dkluq_cli.ingest.vasp.outcar_text`) first, the
  cross-checked pymatgen+ASE readings (:mod:`~dkluq_cli.ingest.vasp.crosscheck`,
  :mod:`~dkluq_cli.ingest.vasp.structures`, :mod:`~dkluq_cli.ingest.vasp.oszicar`) for what they are unsure
  of; :mod:`~dkluq_cli.ingest.vasp.convergence` holds the convergence rules,
  :mod:`~dkluq_cli.ingest.vasp.result` and :mod:`~dkluq_cli.ingest.vasp.cell` what a run gives.
* :mod:`~dkluq_cli.ingest.dispatch` sends chunks of runs to an executor
  (:mod:`~dkluq_cli.ingest.executors`: process pool or Dask) into a
  :mod:`~dkluq_cli.ingest.store`; :mod:`~dkluq_cli.ingest.update_cache` is the ``--update`` sidecar.

The package imports neither typer nor rich; pymatgen, ASE, lxml and pandas are imported inside
the functions that need them. Energies are in eV, lengths in Å, angles in degrees.
"""
