"""The CNN → 2-layer LSTM → per-frame linear → mean-over-frames head shared by Emo18 and Zhao19.

This is end2you's ``AudioRNNModel`` as the authors used it; the mean of per-frame logits equals the
linear map of the mean hidden state, and it keeps the model length-agnostic.
"""

from __future__ import annotations

from torch import Tensor, nn


class RecurrentHead(nn.Module):
    def __init__(self, in_features: int, num_classes: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(in_features, hidden, num_layers=layers, batch_first=True)
        self.linear = nn.Linear(hidden, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        """(B, C, T') CNN features → (B, num_classes) logits."""
        hidden, _ = self.lstm(features.transpose(1, 2))
        return self.linear(hidden).mean(dim=1)


def init_conv(module: nn.Module) -> None:
    """Kaiming-uniform convolution weights and zero biases, as end2you initialises its CNNs."""
    for m in module.modules():
        if isinstance(m, nn.Conv1d):
            nn.init.kaiming_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
