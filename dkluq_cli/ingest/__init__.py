"""``dkluq ingest``: a tree of VASP runs → one table row or one rejection reason per run.

:mod:`.pipeline` drives it: :mod:`.walk` streams the run folders, :mod:`.dispatch` sends chunks
of them to an executor (:mod:`.executors`: a process pool or Dask) whose results land in a
:mod:`.store`; :mod:`.update_cache` keeps ``--update``'s record of what was read. Reading one run
is :mod:`dkluq_cli.ingest.vasp`.
"""
