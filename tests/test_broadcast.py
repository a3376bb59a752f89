"""The training fast path for torch.broadcast_shapes gives torch's answers and torch's errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dkluq_cli.model.broadcast import _TORCH_BROADCAST_SHAPES, broadcast_int_shapes, fast_broadcast

dims = st.lists(st.sampled_from([0, 1, 2, 3, 5]), max_size=4).map(tuple)


@settings(deadline=None)  # the first torch call imports its symbolic-shape module
@given(st.lists(dims, max_size=4))
def test_same_result_or_same_error_as_torch(shapes):
    try:
        expected = _TORCH_BROADCAST_SHAPES(*shapes)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            broadcast_int_shapes(*shapes)
        return
    got = broadcast_int_shapes(*shapes)
    assert got == expected and type(got) is torch.Size


def test_ints_sizes_and_non_int_fallback():
    assert broadcast_int_shapes(5, (1, 5)) == torch.Size([1, 5])
    assert broadcast_int_shapes(torch.Size([4, 1]), [3]) == torch.Size([4, 3])
    assert broadcast_int_shapes() == torch.Size([])
    with pytest.raises(Exception) as ours:
        broadcast_int_shapes((2.5,), (1,))
    with pytest.raises(Exception) as theirs:
        _TORCH_BROADCAST_SHAPES((2.5,), (1,))
    assert type(ours.value) is type(theirs.value)  # torch's own error, raised by torch


def test_context_manager_restores_torch():
    original = torch.broadcast_shapes
    with fast_broadcast():
        assert torch.broadcast_shapes is broadcast_int_shapes
        assert torch.broadcast_shapes((3, 1), (1, 4)) == torch.Size([3, 4])
    assert torch.broadcast_shapes is original
    with pytest.raises(ValueError), fast_broadcast():
        raise ValueError("boom")
    assert torch.broadcast_shapes is original


def test_training_is_bit_identical_with_and_without_the_fast_path(monkeypatch):
    import contextlib

    import numpy as np

    from dkluq_cli.model import broadcast
    from dkluq_cli.training import TrainConfig, train

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(120, 2))
    y = np.sin(3 * x[:, 0]) + x[:, 1] ** 2
    cfg = TrainConfig(
        features=["x1", "x2"], target="y", epochs=4, inducing=6, width=8, depth=1, device="cpu"
    )
    calls = []

    def counted(*shapes):
        calls.append(shapes)
        return broadcast_int_shapes(*shapes)

    monkeypatch.setattr(broadcast, "broadcast_int_shapes", counted)
    fast = train(x, y, cfg).surrogate.predict(x)
    assert len(calls) > 100  # the fast path really ran during training
    monkeypatch.setattr(broadcast, "fast_broadcast", contextlib.nullcontext)
    plain = train(x, y, cfg).surrogate.predict(x)
    np.testing.assert_array_equal(fast[0], plain[0])
    np.testing.assert_array_equal(fast[1], plain[1])
