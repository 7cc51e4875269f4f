"""The README's Python example runs as written: its first ```python block under "## From Python"."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from staa.attacks.base import AttackResult
from staa.audio import write_audio
from staa.models import Emo18, Emo18Config

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    """The first python block after the "## From Python" heading."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## From Python") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_python_example_attacks_a_clip(tmp_path: Path):
    code = readme_example()
    assert '"runs/demo/models/emo18/best"' in code and '"clip.wav"' in code  # the two paths it names
    checkpoint = Emo18(Emo18Config(num_classes=4, hidden=8)).save_pretrained(tmp_path / "emo18" / "best")
    t = np.arange(8000) / 16_000
    write_audio(tmp_path / "clip.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16_000)
    code = code.replace('"runs/demo/models/emo18/best"', repr(str(checkpoint)))
    code = code.replace('"clip.wav"', repr(str(tmp_path / "clip.wav")))
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, AttackResult)
    assert namespace["x"].shape == (1, 8000) and result.x_adv.shape == (1, 8000)
    assert torch.equal(result.delta, result.x_adv - namespace["x"])
    assert float(result.delta.abs().max()) <= 0.05 + 1e-6
    assert int((result.delta != 0).sum()) <= 800  # k_percent=10 of 8000 samples


def test_import_staa_gives_the_public_api_without_loading_torch():
    """``import staa`` names the API; torch loads only when a name is used (``python -m staa --help`` stays light)."""
    import subprocess
    import sys

    probe = "import sys, staa; print('torch' in sys.modules, set(staa.__all__) <= set(dir(staa)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]
    import staa

    assert all(getattr(staa, name) is not None for name in staa.__all__)
    assert issubclass(staa.STAANet, staa.Attack) and callable(staa.load_model)
