"""Emo18 (Tzirakis et al., 2018): three conv/pool blocks on raw audio, a 2-layer LSTM, a linear output.

Block sizes follow the end2you implementation the paper used (kernels 8/6/6, pools 10/8/8, a 640-sample
hop); about 1.30 M parameters at 7 classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from staa.models.base import SERConfig, SERModel
from staa.models.recurrent import RecurrentHead, init_conv
from staa.validation import number


@dataclass
class Emo18Config(SERConfig):
    model_type = "emo18"
    hidden: int = 256

    def check_recorded(self) -> None:
        super().check_recorded()
        number("hidden", self.hidden, integer=True, low=1, high=4096)


class Emo18(SERModel):
    config_class = Emo18Config
    min_samples = 731  # conv k8 → pool 10 → conv k6 → pool 8 → conv k6 → pool 8 leave one frame

    def __init__(self, config: Emo18Config | None = None) -> None:
        config = config or Emo18Config()
        super().__init__(config)
        blocks = []
        for c_in, c_out, k, pool in ((1, 64, 8, 10), (64, 128, 6, 8), (128, 256, 6, 8)):
            blocks += [
                nn.Conv1d(c_in, c_out, k, padding=(k - 1) // 2),
                nn.BatchNorm1d(c_out),
                nn.LeakyReLU(0.01),
                nn.MaxPool1d(pool, pool),
            ]
        self.cnn = nn.Sequential(*blocks)
        init_conv(self.cnn)
        self.head = RecurrentHead(256, config.num_classes, config.hidden)

    def classify(self, x: Tensor) -> Tensor:
        return self.head(self.cnn(x.unsqueeze(1)))
