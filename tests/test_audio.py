"""The audio front end on good input: mono, resampling, length unification and lossless writing."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from staa.audio import SAMPLE_RATE, check_waveform, load_audio, resample, to_mono, unify_length, write_audio
from staa.errors import AudioError


def test_to_mono_averages_channels_and_keeps_mono():
    x = np.array([[1.0, 0.0], [0.5, -0.5], [0.2, 0.4]], dtype=np.float32)
    np.testing.assert_allclose(to_mono(x), [0.5, 0.0, 0.3])
    mono = np.arange(3, dtype=np.float32)
    assert to_mono(mono) is mono


def test_resample_identity_and_lengths():
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 4_800).astype(np.float32)
    same = resample(x, SAMPLE_RATE)
    assert same.dtype == np.float32 and np.array_equal(same, x)
    assert len(resample(x, 48_000)) == 1_600
    assert len(resample(x, 8_000)) == 9_600
    assert len(resample(x[:4_410], 44_100)) == 1_600


def test_resampling_keeps_a_tone_in_band():
    t = np.arange(48_000) / 48_000
    y = resample(np.sin(2 * np.pi * 1_000 * t).astype(np.float32), 48_000)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert np.fft.rfftfreq(len(y), 1 / SAMPLE_RATE)[spectrum.argmax()] == pytest.approx(1_000, abs=1)
    assert np.abs(y[100:-100]).max() == pytest.approx(1.0, abs=0.01)


def test_unify_length_truncates_to_the_head_and_tiles_short_clips():
    x = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(unify_length(x, 4), x[:4])
    np.testing.assert_array_equal(unify_length(x, 10), x)
    np.testing.assert_array_equal(unify_length(x[:3], 8), [0, 1, 2, 0, 1, 2, 0, 1])
    with pytest.raises(ValueError):
        unify_length(x, 0)


def test_check_waveform_accepts_quiet_but_not_silent():
    check_waveform(np.full(10, 1e-6, np.float32))
    check_waveform(np.zeros(10, np.float32), allow_silent=True)
    with pytest.raises(AudioError, match="silent"):
        check_waveform(np.zeros(10, np.float32))


def test_write_then_load_is_lossless_for_tiny_perturbations(tmp_path):
    x = np.random.default_rng(1).uniform(-0.9, 0.9, 8_000).astype(np.float32)
    x[::97] += 1e-5  # a perturbation far below 16-bit resolution survives the float WAV
    path = tmp_path / "adv.wav"
    write_audio(path, x)
    assert sf.info(str(path)).subtype == "FLOAT"
    np.testing.assert_array_equal(load_audio(path), x)
    assert [p.name for p in tmp_path.iterdir()] == ["adv.wav"]  # no temporary left beside it


def test_flac_and_ogg_read_like_wav(tmp_path):
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    x = (0.4 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    sf.write(str(tmp_path / "a.flac"), x, SAMPLE_RATE, subtype="PCM_16")
    np.testing.assert_allclose(load_audio(tmp_path / "a.flac"), x, atol=2 / 2**16)
    sf.write(str(tmp_path / "a.ogg"), x, SAMPLE_RATE, subtype="VORBIS")
    y = load_audio(tmp_path / "a.ogg")
    assert abs(len(y) - len(x)) <= 1 and np.corrcoef(y[: len(x)], x[: len(y)])[0, 1] > 0.99
