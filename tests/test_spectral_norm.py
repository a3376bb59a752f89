"""Soft spectral normalisation: untouched below the bound, clipped to it above."""

from __future__ import annotations

import torch
from torch import nn

from dkluq_cli.model.svgp.resnet import FCResNet
from dkluq_cli.model.svgp.spectral_norm import soft_spectral_norm, spectral_norm_of


def _layer_with_sigma(sigma: float, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    layer = nn.Linear(16, 16)
    with torch.no_grad():
        w = layer.weight
        layer.weight.copy_(w / torch.linalg.matrix_norm(w, ord=2) * sigma)
    return layer


def test_layer_below_bound_is_untouched():
    layer = _layer_with_sigma(0.5)
    before = layer.weight.detach().clone()
    soft_spectral_norm(layer, coeff=0.95)
    layer.train()
    for _ in range(5):
        layer(torch.randn(4, 16))
    assert torch.allclose(layer.weight, before, atol=1e-6)
    assert abs(spectral_norm_of(layer) - 0.5) < 1e-5


def test_layer_above_bound_ends_at_bound():
    layer = _layer_with_sigma(3.0)
    soft_spectral_norm(layer, coeff=0.95)
    layer.train()
    for _ in range(30):  # power iteration converges over training steps
        layer(torch.randn(4, 16))
    assert abs(spectral_norm_of(layer) - 0.95) < 1e-3


def test_bound_holds_after_training_steps():
    torch.manual_seed(0)
    net = FCResNet(6, width=32, depth=2, spectral_norm=True, sn_coeff=0.95)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    x = torch.randn(64, 6)
    for _ in range(100):
        opt.zero_grad()
        loss = (net(x) ** 2).mean() * -1.0  # push weights to grow
        loss.backward()
        opt.step()
    net.train()
    for _ in range(20):
        net(x)
    for layer in [net.first, *net.residuals]:
        assert spectral_norm_of(layer) <= 0.95 + 5e-3


def test_no_spectral_norm_ablation_grows_beyond_bound():
    torch.manual_seed(0)
    net = FCResNet(6, width=32, depth=2, spectral_norm=False)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    x = torch.randn(64, 6)
    for _ in range(100):
        opt.zero_grad()
        (-(net(x) ** 2).mean()).backward()
        opt.step()
    assert max(spectral_norm_of(layer) for layer in net.residuals) > 1.0


def test_state_dict_is_plain_tensors(tmp_path):
    net = FCResNet(6, width=8, depth=1)
    path = tmp_path / "sd.pt"
    torch.save(net.state_dict(), path)
    sd = torch.load(path, weights_only=True)
    net2 = FCResNet(6, width=8, depth=1)
    net2.load_state_dict(sd)
    x = torch.randn(3, 6)
    net.eval()
    net2.eval()
    assert torch.equal(net(x), net2(x))
