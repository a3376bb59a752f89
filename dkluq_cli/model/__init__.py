"""What a trained model is: :mod:`.surrogate` (inputs → head → trend → calibrated σ, what users
hold), :mod:`.normalisation`, :mod:`.inputs`, :mod:`.trend`, :mod:`.truncation`, :mod:`.record`,
the head protocol :mod:`.head` with its two heads :mod:`dkluq_cli.model.svgp` and
:mod:`dkluq_cli.model.exact`, :mod:`.io` (the model file) and :mod:`.device`."""
