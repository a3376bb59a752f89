"""``dkluq ingest``: a tree of VASP runs → one table row or one rejection reason per run.

:mod:`.pipeline` drives it: :mod:`.walk` streams the runs (a folder, or each calculation of a
folder holding several), :mod:`.dispatch` sends chunks of them to an executor
(:mod:`.executors`: in process, a process pool or Dask) whose results land in a :mod:`.store`;
:mod:`.update_cache` is the record of what was read, which every ingest writes and ``--update``
reuses. :func:`.pipeline.write_outputs` writes every output. Reading one run is
:mod:`dkluq_cli.ingest.vasp`.
"""
