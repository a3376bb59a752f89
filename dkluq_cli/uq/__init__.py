"""Uncertainty, independent of the model that produced it: :mod:`.metrics` (uncertainty-toolbox
names), :mod:`.calibration` (σ scales and their out-of-sample coverage), :mod:`.domain` (the
training domain and ``in_domain``), :mod:`.neighbours` (distance to the nearest training row)
and :mod:`.extrapolation` (how σ grows beyond the training box)."""
