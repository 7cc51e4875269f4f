"""The experiment context: claimed step folders."""

from __future__ import annotations

import pytest

from staa.errors import ConfigError
from staa.experiment.context import claim_folder


def test_outputs_made_with_other_settings_are_not_reused(tmp_path):
    claim_folder(tmp_path, {"epochs": 1, "lr": 0.1})
    claim_folder(tmp_path, {"epochs": 1, "lr": 0.1})  # same settings: fine
    with pytest.raises(ConfigError, match=r"other settings \(epochs\)"):
        claim_folder(tmp_path, {"epochs": 2, "lr": 0.1})
