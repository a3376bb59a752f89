"""Residual MLP feature extractor with soft spectral normalisation (DUE's ``FCResNet``).

``x -> first(x) -> h + dropout(act(SN(Linear)(h)))`` repeated ``depth`` times. With every
residual branch at most c-Lipschitz (c < 1), each block is bi-Lipschitz, so distances in feature
space track distances in the (standardised) input space: inputs far from the training data stay
far in feature space, which is what lets the GP's σ grow there.
"""

from __future__ import annotations

from torch import Tensor, nn

from dkluq_cli.model.svgp.spectral_norm import soft_spectral_norm

ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "silu": nn.SiLU, "tanh": nn.Tanh}


class FCResNet(nn.Module):
    """Spectrally normalised residual MLP.

    Args:
        input_dim: Number of (standardised) input features.
        width: Hidden and output feature width W.
        depth: Number of residual blocks D.
        dropout: Dropout rate inside the residual branches.
        activation: One of ``relu, elu, silu, tanh``.
        spectral_norm: Apply soft spectral normalisation to every linear layer.
        sn_coeff: The bound c on each layer's spectral norm.
        n_power_iterations: Power-iteration steps per training step.
    """

    def __init__(
        self,
        input_dim: int,
        *,
        width: int = 128,
        depth: int = 4,
        dropout: float = 0.01,
        activation: str = "relu",
        spectral_norm: bool = True,
        sn_coeff: float = 0.95,
        n_power_iterations: int = 1,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}"
            )
        self.first = nn.Linear(input_dim, width)
        self.residuals = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.dropout = nn.Dropout(dropout)
        self.activation = ACTIVATIONS[activation]()
        if spectral_norm:
            soft_spectral_norm(self.first, sn_coeff, n_power_iterations)
            for layer in self.residuals:
                soft_spectral_norm(layer, sn_coeff, n_power_iterations)

    def forward(self, x: Tensor) -> Tensor:
        """Map standardised inputs (n × input_dim) to features (n × width)."""
        h = self.first(x)
        for layer in self.residuals:
            h = h + self.dropout(self.activation(layer(h)))
        return h
