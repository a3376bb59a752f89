"""Uncertainty, independent of the model that produced it: :mod:`.metrics` (uncertainty-toolbox
names), :mod:`.calibration` (σ scales), :mod:`.domain` (the training domain and ``in_domain``)
and :mod:`.extrapolation` (how σ grows beyond the training box)."""
