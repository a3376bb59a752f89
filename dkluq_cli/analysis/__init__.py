"""What users ask of a trained model: the numbers behind ``predict``, ``scan``, ``eos`` and
``suggest``.

Each command has a core module here that takes a :class:`~dkluq_cli.model.surrogate.Surrogate`
and returns numbers (and writes its tables): :mod:`.predict`, :mod:`.scan` (+ :mod:`.scan_report`),
:mod:`.eos` (+ :mod:`.eos_report`), :mod:`.suggest` (+ :mod:`.conditioning`, the posterior conditioned on runs not yet
made, and :mod:`.targeted`, a property's variance given such runs), :mod:`.elastic` (+
:mod:`.strain_stencil`, :mod:`.zero_stress`, :mod:`.elastic_moduli`, :mod:`.elastic_report`).
:mod:`.calculator` serves a model to ASE; :mod:`.cell_energy` turns the target into a cell's
energy. :mod:`.lattice_model` is the one reader of what a model stores about its lattice (domain,
reference crystal, formula); :mod:`.centre` picks the lattice a command centres on; :mod:`.grids`
builds every line, map and box; :mod:`.posterior_fits` counts the per-sample fits behind a
derived quantity and refuses a result resting on too few. Nothing here draws (figures are :mod:`dkluq_cli.plots`, called by
the CLI) or imports typer or rich.
"""
