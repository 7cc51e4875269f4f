"""Zhao19 (Zhao et al., 2019): four conv/ELU/pool blocks, a 2-layer LSTM, a linear output.

Kernels of 3 and max-pools of 4 (a 256-sample hop); about 1.01 M parameters at 7 classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from staa.models.base import SERConfig, SERModel
from staa.models.recurrent import RecurrentHead, init_conv
from staa.validation import number


@dataclass
class Zhao19Config(SERConfig):
    model_type = "zhao19"
    hidden: int = 256

    def check_recorded(self) -> None:
        super().check_recorded()
        number("hidden", self.hidden, integer=True, low=1, high=4096)


class Zhao19(SERModel):
    config_class = Zhao19Config
    min_samples = 256  # four pools of 4 leave one frame

    def __init__(self, config: Zhao19Config | None = None) -> None:
        config = config or Zhao19Config()
        super().__init__(config)
        blocks = []
        for c_in, c_out in ((1, 64), (64, 64), (64, 128), (128, 128)):
            blocks += [nn.Conv1d(c_in, c_out, 3, padding=1), nn.BatchNorm1d(c_out), nn.ELU(), nn.MaxPool1d(4, 4)]
        self.cnn = nn.Sequential(*blocks)
        init_conv(self.cnn)
        self.head = RecurrentHead(128, config.num_classes, config.hidden)

    def classify(self, x: Tensor) -> Tensor:
        return self.head(self.cnn(x.unsqueeze(1)))
