"""``staa attack``: run one registered attack on a prepared split and keep its adversarial audio.

``staa attack run NAME`` crafts with :func:`staa.evaluation.adversarial_set.craft_adversarial_set` (resumable chunks, metrics
from x_adv − x, ``records.json`` with per-example success, SNR and sparsity, the summary ASR and the
crafting seconds per example, plus the run's provenance), then writes one 32-bit float WAV per
attacked clip to ``OUT/wav/``. Attack options that the named attack does not take are refused
rather than silently ignored.

``staa attack universal`` first fits one input-agnostic sparse perturbation on a training split and
saves it (``OUT/perturbation.safetensors``), then attacks a split with it through that same path;
``staa attack run universal --perturbation FILE`` applies a saved one. ``staa attack targets NAME``
measures which emotions a targeted attack can impose: success per target class (``targeted.json``,
``targeted.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import typer

from staa.attacks.base import Attack
from staa.attacks.registry import attack_class
from staa.attacks.universal import UniversalConfig, UniversalPerturbation
from staa.audio import write_audio
from staa.cli.common import DEFAULT_CACHE, attack_options, first_clips, prepared_corpus
from staa.data.cache import PreparedCorpus
from staa.evaluation.robustness import attack_factory
from staa.defaults import DEFAULT_EPS
from staa.errors import ConfigError
from staa.evaluation.tables import targeted_success_table
from staa.evaluation.adversarial_set import craft_adversarial_set
from staa.evaluation.targeted import targeted_success_by_class
from staa.models import load_model
from staa.outputs import write_json, write_text
from staa.reproducibility import provenance, seed_everything

app = typer.Typer(no_args_is_help=True)

# Options shared by the commands, declared once.
Model = Annotated[Path, typer.Option(help="threat model checkpoint folder (config.json + model.safetensors)")]
Corpus = Annotated[str, typer.Option(help="corpus name or CSV manifest")]
Root = Annotated[Path | None, typer.Option(help="corpus root folder")]
Cache = Annotated[Path, typer.Option()]
Seconds = Annotated[float | None, typer.Option(help="unified clip length (default: the corpus's)")]
SplitName = Annotated[str, typer.Option(help="train, val or test")]
Limit = Annotated[int | None, typer.Option(min=1, help="attack only the first N clips of the split")]
KPercent = Annotated[float | None, typer.Option(help="pgd / universal: % of samples that may change (default: dense)")]
Steps = Annotated[int | None, typer.Option(help="pgd / sparsefool: iterations")]
Pixels = Annotated[int | None, typer.Option(help="onepixel: samples changed per clip")]
Popsize = Annotated[int | None, typer.Option(help="onepixel: candidates per clip")]
Iterations = Annotated[int | None, typer.Option(help="onepixel: generations")]
Multiplicative = Annotated[bool, typer.Option(help="onepixel: the authors' x·(1+v) change")]
Targeted = Annotated[bool, typer.Option(help="push every clip towards --target-class")]
TargetClass = Annotated[str | None, typer.Option(help="target class name or index (targeted attacks)")]
BatchSize = Annotated[int, typer.Option(help="clips attacked together")]
Perceptual = Annotated[bool, typer.Option(help="also score PESQ and STOI (needs staa[perceptual])")]
Seed = Annotated[int, typer.Option()]
Device = Annotated[str, typer.Option()]
Quiet = Annotated[bool, typer.Option(help="no progress bars")]


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="attack name: pgd, sparsefool, onepixel, universal, zero")],
    model: Model,
    out: Annotated[Path, typer.Option(help="output folder (records.json, x_adv.npy, wav/)")],
    corpus: Corpus = "synthetic",
    root: Root = None,
    cache: Cache = DEFAULT_CACHE,
    seconds: Seconds = None,
    split: SplitName = "test",
    eps: Annotated[
        float | None, typer.Option(help=f"L∞ budget in waveform units (default {DEFAULT_EPS}; universal: the fitted one)")
    ] = None,
    k_percent: KPercent = None,
    steps: Steps = None,
    pixels: Pixels = None,
    popsize: Popsize = None,
    iterations: Iterations = None,
    multiplicative: Multiplicative = False,
    perturbation: Annotated[
        Path | None, typer.Option(help="universal: a perturbation saved by `staa attack universal`")
    ] = None,
    targeted: Targeted = False,
    target_class: TargetClass = None,
    limit: Limit = None,
    batch_size: BatchSize = 8,
    perceptual: Perceptual = False,
    seed: Seed = 0,
    device: Device = "cpu",
    quiet: Quiet = False,
) -> None:
    """Attack a split with a registered attack; writes OUT/records.json and OUT/wav/*.wav."""
    # No seed is passed: random attacks draw from torch's global generator, which ``craft`` seeds per
    # chunk, so a resumed run produces the same audio as an uninterrupted one.
    kwargs = attack_options(name, k_percent=k_percent, steps=steps, pixels=pixels, popsize=popsize,
                            iterations=iterations, multiplicative=multiplicative or None)  # fmt: skip
    seed_everything(seed)
    pc = prepared_corpus(corpus, root, cache, seconds, quiet)
    net = load_model(model).to(device)
    target = _target(targeted, target_class, pc.classes)
    if name == "universal":
        if perturbation is None:
            raise ConfigError("attack 'universal' needs --perturbation FILE (fit one with `staa attack universal`)")
        override = {} if eps is None else {"eps": eps}
        attack: Attack = UniversalPerturbation.from_file(
            net, perturbation, targeted=targeted, batch_size=batch_size, **override, **kwargs
        )
        kwargs["perturbation"] = str(perturbation)
    else:
        if perturbation is not None:
            raise ConfigError("--perturbation applies only to attack 'universal'")
        attack = attack_class(name)(net, eps=DEFAULT_EPS if eps is None else eps, targeted=targeted,
                                    batch_size=batch_size, **kwargs)  # fmt: skip
    craft_split(attack, pc, split, limit, out, target=target, seed=seed, perceptual=perceptual, quiet=quiet,
                config={"model": str(model), **kwargs})  # fmt: skip


@app.command()
def universal(
    model: Model,
    out: Annotated[Path, typer.Option(help="output folder (perturbation.safetensors, fit.json, records.json, wav/)")],
    corpus: Corpus = "synthetic",
    root: Root = None,
    cache: Cache = DEFAULT_CACHE,
    seconds: Seconds = None,
    fit_split: Annotated[str, typer.Option(help="split the perturbation is learned on")] = "train",
    fit_limit: Annotated[int | None, typer.Option(min=1, help="learn on the first N clips only")] = None,
    split: Annotated[str, typer.Option(help="split attacked with the learned perturbation")] = "test",
    limit: Limit = None,
    eps: Annotated[float, typer.Option(help="L∞ budget in waveform units")] = DEFAULT_EPS,
    k_percent: Annotated[
        float | None, typer.Option(help="% of samples perturbed (default: no budget, λ_s decides)")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="passes over the fit split")] = UniversalConfig.epochs,
    lr: Annotated[float, typer.Option(help="Adam step size")] = UniversalConfig.lr,
    targeted: Targeted = False,
    target_class: TargetClass = None,
    batch_size: BatchSize = 8,
    perceptual: Perceptual = False,
    seed: Seed = 0,
    device: Device = "cpu",
    quiet: Quiet = False,
) -> None:
    """Learn one sparse perturbation for all clips, save it, attack a split with it (as `staa attack run`).

    A rerun into the same OUT reuses OUT/perturbation.safetensors instead of fitting again.
    """
    seed_everything(seed)
    pc = prepared_corpus(corpus, root, cache, seconds, quiet)
    net = load_model(model).to(device)
    target = _target(targeted, target_class, pc.classes)
    saved = out / "perturbation.safetensors"
    if saved.exists():
        attack = UniversalPerturbation.from_file(net, saved, targeted=targeted, batch_size=batch_size)
    else:
        attack = UniversalPerturbation(net, eps, k_percent=k_percent, targeted=targeted, batch_size=batch_size)
        data, n = first_clips(pc, fit_split, limit=fit_limit)
        fit_config = UniversalConfig(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
        history = attack.fit(torch.from_numpy(np.array(data.waves[:n], dtype=np.float32)), target=target,
                             config=fit_config)  # fmt: skip
        settings = {"model": str(model), "corpus": pc.name, "fit_split": fit_split, "n": n, "eps": eps,
                    "k_percent": k_percent, "target": target, **vars(fit_config)}  # fmt: skip
        write_json(out / "fit.json", {"history": history, "provenance": provenance(settings, seed)})
        attack.save(saved)  # written last: its presence marks a finished fit
        if not quiet:
            typer.echo(f"universal perturbation fitted on {n} clips of {fit_split} -> {saved}")
    config = {"model": str(model), "perturbation": str(saved), "fit_split": fit_split, "k_percent": attack.k_percent}
    craft_split(attack, pc, split, limit, out, target=target, seed=seed, perceptual=perceptual, quiet=quiet,
                config=config)  # fmt: skip


@app.command()
def targets(
    name: Annotated[str, typer.Argument(help="attack name: pgd, sparsefool, onepixel")],
    model: Model,
    out: Annotated[Path, typer.Option(help="output folder (targeted.json, targeted.md)")],
    corpus: Corpus = "synthetic",
    root: Root = None,
    cache: Cache = DEFAULT_CACHE,
    seconds: Seconds = None,
    split: SplitName = "test",
    limit: Limit = None,
    eps: Annotated[float, typer.Option(help="L∞ budget in waveform units")] = DEFAULT_EPS,
    k_percent: KPercent = None,
    steps: Steps = None,
    pixels: Pixels = None,
    popsize: Popsize = None,
    iterations: Iterations = None,
    multiplicative: Multiplicative = False,
    batch_size: BatchSize = 8,
    seed: Seed = 0,
    device: Device = "cpu",
    quiet: Quiet = False,
) -> None:
    """Targeted success per target class: each class is imposed on the clips the model does not already give it."""
    if name == "universal":
        raise ConfigError("a universal perturbation is fitted per target: use `staa attack universal --targeted`")
    kwargs = attack_options(name, k_percent=k_percent, steps=steps, pixels=pixels, popsize=popsize,
                            iterations=iterations, multiplicative=multiplicative or None)  # fmt: skip
    seed_everything(seed)
    pc = prepared_corpus(corpus, root, cache, seconds, quiet)
    data, n = first_clips(pc, split, limit)
    net = load_model(model).to(device)
    factory = attack_factory(name, eps=eps, targeted=True, batch_size=batch_size, **kwargs)
    x = torch.from_numpy(np.array(data.waves[:n], dtype=np.float32)).to(device)
    result = targeted_success_by_class(factory, net, x, batch_size=batch_size)
    settings = {"attack": name, "model": str(model), "corpus": pc.name, "split": split, "n": n, "eps": eps, **kwargs}
    write_json(out / "targeted.json", {**settings, **result, "provenance": provenance(settings, seed)})
    title = f"Targeted success of {name} per target class ({pc.name}, {split}, {n} clips)"
    table = targeted_success_table(result, title)
    write_text(out / "targeted.md", table.markdown())
    typer.echo(table.markdown())


def craft_split(
    attack: Attack,
    pc: PreparedCorpus,
    split: str,
    limit: int | None,
    out: Path,
    *,
    target: int | None,
    seed: int,
    perceptual: bool,
    quiet: bool,
    config: dict[str, Any],
) -> None:
    """The one path from an attack to OUT/records.json and OUT/wav/*.wav, shared by `run` and `universal`."""
    data, n = first_clips(pc, split, limit)
    chunk = attack.batch_size or 8
    settings = {"attack": attack.name, "corpus": pc.name, "split": split, "eps": attack.eps, **config}
    adv = craft_adversarial_set(
        attack,
        data.waves,
        data.labels,
        np.arange(n),
        out,
        items=data.items,
        target=target,
        chunk_size=chunk,
        seed=seed,
        perceptual=perceptual,
        sample_rate=pc.sample_rate,
        meta={"classes": pc.classes},
        config=settings,
        show_progress=not quiet,
    )
    for row, wave in zip(adv.indices, adv.x_adv):
        write_audio(out / "wav" / f"{row:05d}.wav", np.asarray(wave), pc.sample_rate)
    s = adv.records["summary"]
    snr = "n/a" if s["snr_db"] is None else f"{s['snr_db']:.1f} dB"
    typer.echo(
        f"{attack.name}: ASR {s['asr_threat']:.3f} on {s['n']} clips, SNR {snr}, "
        f"{s['seconds_per_example']:.2f} s/clip -> {out / 'records.json'}"
    )


def _target(targeted: bool, target_class: str | None, classes: list[str]) -> int | None:
    """The target index of a targeted run (by name or index, checked against the corpus), else None."""
    if not targeted:
        return None
    if target_class is None:
        raise ConfigError("--targeted needs --target-class")
    if target_class in classes:
        return classes.index(target_class)
    if target_class.isdigit() and int(target_class) < len(classes):
        return int(target_class)
    raise ConfigError(f"unknown target class '{target_class}' (classes: {', '.join(classes)})")
