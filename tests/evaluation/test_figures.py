"""Fig. 3 (waveform + log-Mel of clean, adversarial and δ), its Mel front end and the listening files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from staa.evaluation.figures import hz_to_mel, log_mel, mel_filterbank, mel_to_hz, plot_example, write_listening_files

SR = 16_000


def test_mel_scale_round_trip_and_anchor():
    assert float(hz_to_mel(1000.0)) == pytest.approx(1000.0, abs=0.1)  # the HTK scale puts 1 kHz at ~1000 mel
    f = torch.tensor([0.0, 440.0, 4000.0, 8000.0], dtype=torch.float64)
    assert torch.allclose(mel_to_hz(hz_to_mel(f)), f)


def test_filterbank_triangles_peak_at_one_and_cover_the_band():
    fb = mel_filterbank(40, 512, SR)
    assert fb.shape == (40, 257) and (fb >= 0).all() and (fb <= 1).all()
    fine = mel_filterbank(40, 16384, SR)  # bins 1 Hz apart resolve every centre
    assert (fine.max(dim=1).values > 0.99).all()
    centres = fb.argmax(dim=1)
    assert (centres[1:] >= centres[:-1]).all()  # centres increase with the filter index
    inner = fb[:, 20:240].sum(dim=0)
    assert torch.allclose(inner, torch.ones_like(inner), atol=1e-4)  # neighbours cross at 0.5 and sum to 1


def test_log_mel_of_a_tone_peaks_in_its_band():
    t = np.arange(SR) / SR
    spec = log_mel(0.5 * np.sin(2 * np.pi * 1000 * t).astype(np.float32), SR, n_mels=64)
    assert spec.shape == (64, SR // 160 + 1)
    edges = mel_to_hz(torch.linspace(0, float(hz_to_mel(SR / 2)), 66, dtype=torch.float64))
    expected = int(torch.argmin((edges[1:-1] - 1000).abs()))
    assert int(spec[:, 10:-10].mean(dim=1).argmax()) == expected
    silent = log_mel(np.zeros(SR, dtype=np.float32))
    assert torch.all(silent == -100.0)  # the 1e-10 floor, not −inf


def test_log_mel_batches_rows_independently():
    x = torch.randn(2, 3, 4000)
    assert torch.allclose(log_mel(x)[1, 2], log_mel(x[1, 2]), atol=1e-4)


def test_plot_example_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    clean = (0.3 * rng.standard_normal(SR // 2)).astype(np.float32)
    adversarial = clean.copy()
    adversarial[::50] += 0.05
    path = plot_example(clean, adversarial, tmp_path / "fig" / "example.png", title="clip 0")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_listening_files_are_lossless(tmp_path):
    rng = np.random.default_rng(1)
    clean = (0.3 * rng.standard_normal(4000)).astype(np.float32)
    adversarial = clean + np.where(np.arange(4000) % 97 == 0, 1e-4, 0).astype(np.float32)
    paths = write_listening_files(tmp_path, clean, adversarial)
    assert set(paths) == {"clean", "adversarial", "perturbation"}
    back = {k: sf.read(p, dtype="float32")[0] for k, p in paths.items()}
    assert np.array_equal(back["clean"], clean) and np.array_equal(back["adversarial"], adversarial)
    assert np.array_equal(back["perturbation"], adversarial - clean)
    assert np.count_nonzero(back["perturbation"]) == len(range(0, 4000, 97))
