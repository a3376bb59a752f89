"""``dkluq train``: a table's rows → a trained, calibrated :class:`~dkluq_cli.model.surrogate.Surrogate`
and its run directory.

:mod:`.train` (``train()``: split, choose the head, fit, calibrate, record the domain),
:mod:`.fit_svgp` (the paper's Algorithm 1 for large tables, with :mod:`.prepare` and
:mod:`.checkpoint`), :mod:`.fit_exact` (the exact GP for small tables), :mod:`.config` (every
hyperparameter), :mod:`.splits`, :mod:`.job` (one run end to end: read the table, train, write
the folder) and :mod:`.run_dir` (what the folder holds).
"""
