"""The paper's Fig. 3 for chosen examples, and the WAV files to listen to them.

A figure shows, for one clip, the waveform (left) and log-Mel spectrogram (right) of the clean clip,
the adversarial clip and the perturbation δ = x_adv − x. Clean and adversarial spectrograms share
one colour scale so that a visible difference is a real one. A last row puts the positions of δ on
the time axis under the clean waveform — the share of perturbed samples in every 10 ms — so a reader
sees at a glance whether a sparse attack sits on the speech, in the pauses, or on a fixed lattice. The log-Mel front end is computed here
with ``torch.stft`` and a triangular HTK-Mel filterbank, so no audio library beyond torch is needed.
Figures are drawn with Matplotlib's non-interactive Agg backend and written atomically as PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from staa.audio import SAMPLE_RATE, write_audio
from staa.io.outputs import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LOG_FLOOR = 1e-10


def hz_to_mel(f: Tensor | float) -> Tensor:
    """HTK Mel scale: 2595·log10(1 + f/700)."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(f, dtype=torch.float64) / 700.0)


def mel_to_hz(m: Tensor) -> Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: int = SAMPLE_RATE, f_min: float = 0.0, f_max: float | None = None
) -> Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters with peaks of 1 at Mel-equidistant centres.

    Filter i rises linearly from centre i−1 to centre i and falls to centre i+1 (centres include the
    two edges ``f_min`` and ``f_max``), so neighbouring filters cross at 0.5 and together cover the band.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"need 0 <= f_min < f_max <= sample_rate/2, got {f_min}, {f_max}")
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2, dtype=torch.float64))
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    lo, centre, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lo) / (centre - lo)
    falling = (hi - bins) / (hi - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


def log_mel(
    x: Tensor | np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    n_fft: int = 512,
    win_length: int = 400,
    hop_length: int = 160,
    n_mels: int = 64,
) -> Tensor:
    """Log-Mel power spectrogram in dB, shape (..., n_mels, frames): 25 ms Hann windows, 10 ms hop."""
    x = torch.as_tensor(np.array(x, dtype=np.float32) if isinstance(x, np.ndarray) else x, dtype=torch.float32)
    lead = x.shape[:-1]
    spec = torch.stft(
        x.reshape(-1, x.shape[-1]),
        n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=torch.hann_window(win_length),
        center=True,
        return_complex=True,
    )
    power = spec.abs().pow(2)
    mel = mel_filterbank(n_mels, n_fft, sample_rate) @ power
    return (10.0 * torch.log10(mel.clamp(min=LOG_FLOOR))).reshape(*lead, n_mels, -1)


def plot_example(
    clean: np.ndarray,
    adversarial: np.ndarray,
    path: str | Path,
    *,
    sample_rate: int = SAMPLE_RATE,
    title: str = "",
) -> Path:
    """Fig. 3 for one clip: waveform and log-Mel spectrogram of clean, adversarial and δ (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    clean = np.asarray(clean, dtype=np.float32)
    adversarial = np.asarray(adversarial, dtype=np.float32)
    rows = [("Original audio", clean), ("Adversarial audio", adversarial), ("Perturbation δ", adversarial - clean)]
    mels = [log_mel(x, sample_rate).numpy() for _, x in rows]
    vmax = max(m.max() for m in mels[:2])
    vmin = vmax - 80.0  # an 80 dB window, the usual dynamic range of a spectrogram display
    t = np.arange(len(clean)) / sample_rate
    seconds = len(clean) / sample_rate
    fig = plt.figure(figsize=(10, 9), constrained_layout=True)
    grid = fig.add_gridspec(4, 2, height_ratios=[1, 1, 1, 0.8])
    axes = np.array([[fig.add_subplot(grid[i, j]) for j in range(2)] for i in range(3)])
    for (label, x), mel, (ax_wave, ax_mel) in zip(rows, mels, axes):
        ax_wave.plot(t, x, linewidth=0.4, color="tab:blue")
        ax_wave.set(title=f"{label} — waveform", xlabel="Time (s)", ylabel="Amplitude", xlim=(0, seconds))
        image = ax_mel.imshow(
            mel, origin="lower", aspect="auto", extent=(0, seconds, 0, mel.shape[0]), vmin=vmin, vmax=vmax, cmap="magma"
        )
        ax_mel.set(title=f"{label} — log-Mel spectrogram", xlabel="Time (s)", ylabel="Mel band")
    fig.colorbar(image, ax=axes[:, 1], label="dB", shrink=0.8)
    _plot_positions(fig.add_subplot(grid[3, :]), clean, adversarial - clean, sample_rate)
    if title:
        fig.suptitle(title)
    return save_png(fig, path)


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write a Matplotlib figure as a 100 dpi PNG, atomically, and close it."""
    from matplotlib import pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(path)


def position_density(delta: np.ndarray, window: int) -> np.ndarray:
    """Share (%) of perturbed samples in consecutive windows of ``window`` samples (the last may be shorter)."""
    changed = (np.asarray(delta) != 0).astype(np.float64)
    starts = np.arange(0, len(changed), window)
    return 100.0 * np.add.reduceat(changed, starts) / np.diff(np.append(starts, len(changed)))


def _plot_positions(ax: Any, clean: np.ndarray, delta: np.ndarray, sample_rate: int) -> None:
    """The clean waveform (grey) and, on a second axis, the share of perturbed samples per 10 ms."""
    window = max(1, sample_rate // 100)
    density = position_density(delta, window)
    seconds = len(clean) / sample_rate
    ax.plot(np.arange(len(clean)) / sample_rate, clean, linewidth=0.4, color="0.6")
    ax.set(title=f"Where δ ≠ 0 ({100 * np.mean(delta != 0):.1f} % of samples) under the original waveform",
           xlabel="Time (s)", ylabel="Amplitude", xlim=(0, seconds))  # fmt: skip
    share = ax.twinx()
    share.step(np.arange(len(density)) * window / sample_rate, density, where="post", color="tab:red", linewidth=0.9)
    share.set(ylabel="% of samples / 10 ms", ylim=(0, 100))
    share.yaxis.label.set_color("tab:red")


def write_listening_files(
    directory: str | Path, clean: np.ndarray, adversarial: np.ndarray, sample_rate: int = SAMPLE_RATE
) -> dict[str, Path]:
    """``clean.wav``, ``adversarial.wav`` and ``perturbation.wav`` (32-bit float, lossless) in ``directory``."""
    directory = Path(directory)
    clean = np.asarray(clean, dtype=np.float32)
    adversarial = np.asarray(adversarial, dtype=np.float32)
    files = {"clean": clean, "adversarial": adversarial, "perturbation": adversarial - clean}
    paths = {}
    for name, x in files.items():
        paths[name] = directory / f"{name}.wav"
        write_audio(paths[name], x, sample_rate)
    return paths
