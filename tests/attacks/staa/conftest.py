"""Fixtures of the STAA-Net tests: a threat model (the micro corpus is in tests/conftest.py)."""

from __future__ import annotations

import pytest
import torch

from staa.models import build_model
from staa.models.base import SERModel


@pytest.fixture()
def threat() -> SERModel:
    """A small untrained Emo18: its predictions depend on the input, which is all the mechanics need."""
    torch.manual_seed(0)
    return build_model("emo18", num_classes=7, hidden=8).eval()
