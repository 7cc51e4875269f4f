"""``staa attack``: run one registered attack on a prepared split and keep its adversarial audio.

``staa attack run NAME`` crafts with :func:`staa.evaluation.transfer.craft` (resumable chunks, metrics
from x_adv − x, ``records.json`` with per-example success, SNR and sparsity, the summary ASR and the
crafting seconds per example, plus the run's provenance), then writes one 32-bit float WAV per
attacked clip to ``OUT/wav/``. Attack options that the named attack does not take are refused
rather than silently ignored.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import typer

from staa.attacks.registry import attack_class
from staa.audio import write_audio
from staa.cli.common import DEFAULT_CACHE, prepared_corpus
from staa.errors import ConfigError
from staa.evaluation.transfer import craft
from staa.models import load_model
from staa.reproducibility import seed_everything

app = typer.Typer(no_args_is_help=True)


@app.command("run")
def run(
    name: str = typer.Argument(..., help="attack name: pgd, sparsefool, onepixel, ..."),
    model: Path = typer.Option(..., help="threat model checkpoint folder (config.json + model.safetensors)"),
    corpus: str = typer.Option("synthetic", help="corpus name or CSV manifest"),
    root: Path = typer.Option(None, help="corpus root folder"),
    cache: Path = typer.Option(DEFAULT_CACHE),
    seconds: float = typer.Option(None, help="unified clip length (default: the corpus's)"),
    split: str = typer.Option("test", help="train, val or test"),
    out: Path = typer.Option(..., help="output folder (records.json, x_adv.npy, wav/)"),
    eps: float = typer.Option(0.05, help="L∞ budget in waveform units (paper: 0.05 DEMoS, 0.01 IEMOCAP)"),
    k_percent: float = typer.Option(None, help="pgd: % of samples that may change (default: dense)"),
    steps: int = typer.Option(None, help="pgd / sparsefool: iterations"),
    pixels: int = typer.Option(None, help="onepixel: samples changed per clip"),
    popsize: int = typer.Option(None, help="onepixel: candidates per clip"),
    iterations: int = typer.Option(None, help="onepixel: generations"),
    multiplicative: bool = typer.Option(False, help="onepixel: the authors' x·(1+v) change"),
    targeted: bool = typer.Option(False, help="push every clip towards --target-class"),
    target_class: str = typer.Option(None, help="target class name or index (targeted attacks)"),
    limit: int = typer.Option(None, help="attack only the first N clips of the split"),
    batch_size: int = typer.Option(8, help="clips attacked together"),
    perceptual: bool = typer.Option(False, help="also score PESQ and STOI (needs staa[perceptual])"),
    seed: int = typer.Option(0),
    device: str = typer.Option("cpu"),
    quiet: bool = typer.Option(False, help="no progress bars"),
) -> None:
    """Attack a split with a registered attack; writes OUT/records.json and OUT/wav/*.wav."""
    seed_everything(seed)
    pc = prepared_corpus(corpus, root, cache, seconds, quiet)
    data = pc.split(split)
    net = load_model(model).to(device)
    target = _target_index(target_class, pc.classes) if targeted else None
    if targeted and target is None:
        raise ConfigError("--targeted needs --target-class")
    options = {
        "k_percent": k_percent,
        "steps": steps,
        "pixels": pixels,
        "popsize": popsize,
        "iterations": iterations,
        "multiplicative": multiplicative or None,
    }
    kwargs = _attack_kwargs(name, {k: v for k, v in options.items() if v is not None})
    attack = attack_class(name)(net, eps=eps, targeted=targeted, batch_size=batch_size, **kwargs)
    n = len(data) if limit is None else min(limit, len(data))
    if n == 0:
        raise ConfigError(f"split '{split}' of {pc.name} is empty")
    config = {"attack": name, "model": str(model), "corpus": pc.name, "split": split, "eps": eps, **kwargs}
    adv = craft(
        attack,
        data.waves,
        data.labels,
        np.arange(n),
        out,
        items=data.items,
        target=target,
        chunk_size=batch_size,
        seed=seed,
        perceptual=perceptual,
        sample_rate=pc.sample_rate,
        meta={"classes": pc.classes},
        config=config,
        show_progress=not quiet,
    )
    for row, wave in zip(adv.indices, adv.x_adv):
        write_audio(out / "wav" / f"{row:05d}.wav", np.asarray(wave), pc.sample_rate)
    s = adv.records["summary"]
    snr = "n/a" if s["snr_db"] is None else f"{s['snr_db']:.1f} dB"
    typer.echo(
        f"{name}: ASR {s['asr_threat']:.3f} on {s['n']} clips, SNR {snr}, "
        f"{s['seconds_per_example']:.2f} s/clip -> {out / 'records.json'}"
    )


def _target_index(target_class: str | None, classes: list[str]) -> int | None:
    """A class given by name or by index, checked against the corpus's classes."""
    if target_class is None:
        return None
    if target_class in classes:
        return classes.index(target_class)
    if target_class.isdigit() and int(target_class) < len(classes):
        return int(target_class)
    raise ConfigError(f"unknown target class '{target_class}' (classes: {', '.join(classes)})")


def _attack_kwargs(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Options the attack's constructor accepts; an option it does not take is an error, not a no-op.

    No seed is passed: random attacks then draw from torch's global generator, which ``craft`` seeds
    per chunk, so a resumed run produces the same audio as an uninterrupted one.
    """
    accepted = inspect.signature(attack_class(name).__init__).parameters
    for option in options:
        if option not in accepted:
            raise ConfigError(f"attack '{name}' has no option --{option.replace('_', '-')}")
    return options
