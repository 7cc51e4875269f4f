"""``staa attack NAME``: one command per registered attack, the same options for all of them.

``staa attack NAME --model M (--input FILE|DIR | --corpus C [--root R] [--split S]) --out D [-o key=value ...]``
attacks one audio file, a folder of them or a corpus split with any public attack of the registry and
writes ``D/records.json`` (and ``D/wav/``) in one format whatever the attack. The attack's own settings
are ``-o key=value`` options, checked against its constructor: a key it does not take names the ones it
does, a value of the wrong type names the type expected (``staa attack sparse_rs -o queries=100``). A
fitted attack loads its state with ``--generator``: STAA-Net a generator folder (``staa generator
train``), the universal perturbation a ``perturbation.safetensors`` file or the folder that holds it.

The commands are made from the registry when the CLI is built, each with its class's one-line
description as its help; nothing but the registry's names is imported for that, so ``--help`` loads no
torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from staa.cli.common import (  # fmt: skip
    CACHE_HELP,
    DEFAULT_CACHE,
    DEVICE_HELP,
    OVERWRITE_HELP,
    ROOT_HELP,
    SECONDS_HELP,
    TARGET_HELP,
    audible_warning,
    checked_device,
    checked_places,
    corpus_for_models,
    target_index,
    targeted_pair,
)
from staa.defaults import DEFAULT_EPS, MAX_CLIP_SECONDS

Model = Annotated[Path, typer.Option(help="threat model checkpoint folder (config.json + model.safetensors)")]
Out = Annotated[Path, typer.Option(help="output folder (records.json, wav/: 16 kHz mono 32-bit float)")]
Input = Annotated[Path | None, typer.Option("--input", help="an audio file, or a folder of .wav/.flac/.ogg files "
                                                            "(searched recursively; any rate and length)")]  # fmt: skip
Corpus = Annotated[str | None, typer.Option(help="corpus name or CSV manifest (instead of --input)")]
Options = Annotated[list[str], typer.Option("-o", "--option", help="an option of the attack, key=value "
                                                                   "(e.g. -o k_percent=10 -o steps=50); repeat")]  # fmt: skip
Generator = Annotated[Path | None, typer.Option(help="staa: the generator folder; universal: a perturbation "
                                                     "file or the folder of `staa attack universal`")]  # fmt: skip


DOOR_HELP = (
    "Attacks an audio file, a folder of them (--input) or a corpus split (--corpus) and writes OUT/records.json "
    "and OUT/wav/. -o key=value sets any option of the attack's constructor (a wrong key lists them)."
)


def attack_command(name: str) -> Callable[..., None]:
    """The ``staa attack NAME`` command of one registered attack."""

    def command(
        model: Model,
        out: Out,
        input: Input = None,
        corpus: Corpus = None,
        root: Annotated[Path | None, typer.Option(help=ROOT_HELP)] = None,
        cache: Annotated[Path, typer.Option(help=CACHE_HELP)] = DEFAULT_CACHE,
        seconds: Annotated[float | None, typer.Option(help=SECONDS_HELP)] = None,
        split: Annotated[str, typer.Option(help="--corpus: train, val or test")] = "test",
        limit: Annotated[int | None, typer.Option(min=1, help="--corpus: attack only the first N clips")] = None,
        option: Options = [],  # noqa: B006  (typer reads the default; it is never mutated)
        generator: Generator = None,
        eps: Annotated[float | None, typer.Option(help=f"L∞ budget (default {DEFAULT_EPS}; fitted: theirs)")] = None,
        eps_db: Annotated[
            float | None,
            typer.Option("--eps-db", help="relative L∞ budget instead: δ's peak this many dB under each clip's peak"),
        ] = None,  # fmt: skip
        targeted: Annotated[bool, typer.Option(help="push every clip towards --target-class")] = False,
        target_class: Annotated[str | None, typer.Option(help=TARGET_HELP)] = None,
        batch_size: Annotated[int, typer.Option(min=1, help="--corpus: clips attacked together")] = 8,
        max_seconds: Annotated[
            float, typer.Option(help="--input: refuse longer files before any work")
        ] = MAX_CLIP_SECONDS,
        perceptual: Annotated[bool, typer.Option(help="--corpus: also score PESQ and STOI")] = False,
        seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="fixes every random choice of the run")] = 0,
        overwrite: Annotated[bool, typer.Option(help=OVERWRITE_HELP)] = False,
        device: Annotated[str, typer.Option(help=DEVICE_HELP, callback=checked_device)] = "cpu",
        quiet: Annotated[bool, typer.Option(help="no progress bars or progress lines")] = False,
    ) -> None:
        from staa.attacks.registry import checked_options

        options = checked_options(name, option)
        run_attack(name, model, out, input=input, corpus=corpus, root=root, cache=cache, seconds=seconds, split=split,
                   limit=limit, options=options, generator=generator, eps=eps, eps_db=eps_db, targeted=targeted,
                   target_class=target_class, batch_size=batch_size, max_seconds=max_seconds, perceptual=perceptual,
                   seed=seed, overwrite=overwrite, device=device, quiet=quiet)  # fmt: skip

    return command


def register(app: typer.Typer, *, skip: tuple[str, ...] = ()) -> None:
    """One ``staa attack NAME`` command per public attack of the registry (``skip``: commands made elsewhere)."""
    from staa.attacks.registry import ATTACKS

    for name in ATTACKS:
        if name not in skip:
            app.command(name, help=f"{ATTACKS.description(name)}\n\n{DOOR_HELP}", no_args_is_help=True)(
                attack_command(name)
            )


def run_attack(name: str, model: Path, out: Path, *, input: Path | None, corpus: str | None, root: Path | None,
               cache: Path, seconds: float | None, split: str, limit: int | None, options: dict[str, Any],
               generator: Path | None, eps: float | None, eps_db: float | None, targeted: bool, target_class: str | None, batch_size: int,
               max_seconds: float, perceptual: bool, seed: int, overwrite: bool, device: str,
               quiet: bool) -> None:  # fmt: skip
    """Build attack ``name`` on ``model`` (with its fitted state) and attack ``input`` or a corpus split into ``out``."""
    from staa.attacks.base import FittedAttack
    from staa.attacks.registry import attack_class
    from staa.attacks.staa.export import input_clips
    from staa.audio import SAMPLE_RATE
    from staa.errors import ConfigError
    from staa.evaluation.file_runs import attack_files
    from staa.evaluation.runs import attack_split, settings_identity
    from staa.models import load_model
    from staa.runtime.reproducibility import seed_everything

    cls = attack_class(name)
    fitted = issubclass(cls, FittedAttack)
    if (input is None) == (corpus is None):
        raise ConfigError("give exactly one of --input (a file or folder) or --corpus")
    if fitted and generator is None:
        raise ConfigError(f"attack '{name}' needs --generator (its saved {cls.fitted_state})")
    if not fitted and generator is not None:
        raise ConfigError(f"--generator: attack '{name}' has no fitted state (only staa and universal take one)")
    targeted_pair(targeted, target_class)
    checked_places(out, cache if corpus is not None else None)
    seed_everything(seed)
    net = load_model(model)
    if input is not None:
        net.check_fits(None, SAMPLE_RATE, model)
        classes = list(net.config.class_names or [str(i) for i in range(net.num_classes)])
        clips = input_clips(input, out, max_seconds=max_seconds, min_samples=net.min_samples)
    else:
        pc = corpus_for_models([(model, net)], corpus, root, cache, seconds, quiet)
        classes = list(pc.classes)
    net.to(device)
    target = target_index(target_class, classes)
    settings = {"targeted": targeted, "batch_size": batch_size, **options}
    budget = {"eps": settings.pop("eps", eps), "eps_db": settings.pop("eps_db", eps_db)}
    if budget["eps"] is not None and budget["eps_db"] is not None:
        raise ConfigError("give exactly one amplitude budget: --eps (absolute) or --eps-db (relative to each clip)")
    if fitted:  # no budget given: the one it was fitted under
        attack = cls.from_pretrained(net, generator, **{k: v for k, v in budget.items() if v is not None}, **settings)
    else:
        attack = cls(
            net,
            **(
                budget
                if budget["eps_db"] is not None
                else {"eps": DEFAULT_EPS if budget["eps"] is None else budget["eps"]}
            ),
            **settings,
        )
    given = {k: v for k, v in budget.items() if v is not None}  # the budget asked for, as the claim records it
    config = {"model": str(model), **options, **given, **({cls.fitted_state: str(generator)} if fitted else {})}
    if input is not None:
        records = attack_files(attack, clips, out, target=target, seed=seed, classes=classes, config=config,
                               identity=settings_identity(config), show_progress=not quiet, overwrite=overwrite)  # fmt: skip
        summary = records["summary"]
    else:
        adv = attack_split(attack, pc, split, out, limit=limit, target=target, seed=seed, perceptual=perceptual,
                           config=config, show_progress=not quiet, overwrite=overwrite)  # fmt: skip
        summary = adv.records["summary"]
    print_summary(attack.name, summary, out)


def print_summary(name: str, s: dict[str, Any], out: Path) -> None:
    """One line: ASR, clips, SNR, seconds per clip and where the records are."""
    snr = "n/a" if s["snr_db"] is None else f"{s['snr_db']:.1f} dB"
    typer.echo(f"{name}: ASR {s['asr_threat']:.3f} on {s['n']} clips, SNR {snr}, "
               f"{s['seconds_per_example']:.2f} s/clip -> {out / 'records.json'}")  # fmt: skip
    audible_warning(name, s.get("snr_db_median"))
