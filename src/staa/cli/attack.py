"""``staa attack``: run one registered attack on a prepared split and keep its adversarial audio.

``staa attack run NAME`` crafts with :func:`staa.evaluation.runs.attack_split` (resumable chunks, metrics
from x_adv − x, ``records.json`` with per-example success, SNR and sparsity, the summary ASR and the
crafting seconds per example, plus the run's provenance), then writes one 32-bit float WAV per
attacked clip to ``OUT/wav/``. Attack options that the named attack does not take are refused
rather than silently ignored.

``staa attack universal`` first fits one input-agnostic sparse perturbation on a training split and
saves it (``OUT/perturbation.safetensors``), then attacks a split with it through that same path;
``staa attack run universal --perturbation FILE`` applies a saved one. ``staa attack targets NAME``
measures which emotions a targeted attack can impose: success per target class (``targeted.json``,
``targeted.md``). ``staa attack sweep NAME --k-percent 1 --k-percent 5 …`` draws ASR against measured
sparsity on the threat model and every ``--victim`` (:func:`staa.evaluation.runs.sweep_run`:
``curves.csv``, ``curves.png``, ``curves.json``, one resumable adversarial set per budget).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from staa.attacks.registry import ATTACKS
from staa.cli.attack_door import Input, Options, print_summary, register, run_attack
from staa.cli.common import (  # fmt: skip  # fmt: skip
    CACHE_HELP,
    DEFAULT_CACHE,
    DEVICE_HELP,
    OVERWRITE_HELP,
    ROOT_HELP,
    SECONDS_HELP,
    TARGET_HELP,
    checked_device,
    checked_places,
    checked_target,
    corpus_for_models,
)
from staa.defaults import DEFAULT_EPS, MAX_CLIP_SECONDS
from staa.errors import ConfigError

app = typer.Typer(no_args_is_help=True)

# Options shared by the commands, declared once.
Model = Annotated[Path, typer.Option(help="threat model checkpoint folder (config.json + model.safetensors)")]
Corpus = Annotated[str, typer.Option(help="corpus name or CSV manifest (its classes must be the model's)")]
Root = Annotated[Path | None, typer.Option(help=ROOT_HELP)]
Cache = Annotated[Path, typer.Option(help=CACHE_HELP)]
Seconds = Annotated[float | None, typer.Option(help=SECONDS_HELP)]
SplitName = Annotated[str, typer.Option(help="train, val or test")]
Limit = Annotated[int | None, typer.Option(min=1, help="attack only the first N clips of the split")]
Eps = Annotated[float, typer.Option(help="L∞ budget in waveform units")]
KPercent = Annotated[float | None, typer.Option(help="pgd / universal: % of samples that may change (default: dense)")]
Steps = Annotated[int | None, typer.Option(help="pgd / sparsefool: iterations")]
Pixels = Annotated[int | None, typer.Option(help="onepixel: samples changed per clip")]
Popsize = Annotated[int | None, typer.Option(help="onepixel: candidates per clip")]
Iterations = Annotated[int | None, typer.Option(help="onepixel: generations")]
Multiplicative = Annotated[bool, typer.Option(help="onepixel: the authors' x·(1+v) change")]
Targeted = Annotated[bool, typer.Option(help="push every clip towards --target-class")]
TargetClass = Annotated[str | None, typer.Option(help=TARGET_HELP)]
BatchSize = Annotated[int, typer.Option(min=1, help="clips attacked together")]
Perceptual = Annotated[
    bool, typer.Option(help="also score PESQ and STOI (needs the extra: pip install 'staa\\[perceptual]')")
]
Seed = Annotated[int, typer.Option(min=0, max=2**32 - 1, help="fixes every random choice of the run")]
Overwrite = Annotated[bool, typer.Option(help=OVERWRITE_HELP)]
Device = Annotated[str, typer.Option(help=DEVICE_HELP, callback=checked_device)]
Quiet = Annotated[bool, typer.Option(help="no progress bars or progress lines")]


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="a registered attack (`staa attack --help` lists them)")],
    model: Model,
    out: Annotated[Path, typer.Option(help="output folder (records.json, x_adv.npy, wav/: 16 kHz mono 32-bit float)")],
    corpus: Corpus = "synthetic",
    root: Root = None,
    cache: Cache = DEFAULT_CACHE,
    seconds: Seconds = None,
    split: SplitName = "test",
    eps: Annotated[
        float | None,
        typer.Option(help=f"L∞ budget in waveform units (default {DEFAULT_EPS}; universal: the fitted one)"),
    ] = None,
    eps_db: Annotated[
        float | None,
        typer.Option("--eps-db", help="relative L∞ budget instead: δ's peak this many dB under each clip's peak"),
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
    overwrite: Overwrite = False,
    device: Device = "cpu",
    quiet: Quiet = False,
) -> None:
    """Attack a split with a registered attack (as `staa attack NAME`, its options as flags); writes OUT/records.json.

    A killed run resumes where it stopped; rerunning it with other settings is refused (--overwrite starts over).
    """
    from staa.attacks.base import FittedAttack
    from staa.attacks.registry import attack_class, attack_options

    # No seed is passed: random attacks draw from torch's global generator, which the adversarial-set
    # store seeds per chunk, so a resumed run produces the same audio as an uninterrupted one.
    kwargs = attack_options(name, k_percent=k_percent, steps=steps, pixels=pixels, popsize=popsize,
                            iterations=iterations, multiplicative=multiplicative or None)  # fmt: skip
    if issubclass(attack_class(name), FittedAttack) != (perturbation is not None):
        raise ConfigError(f"attack '{name}' needs --perturbation FILE (fit one with `staa attack {name}`)"
                          if perturbation is None else "--perturbation applies only to attack 'universal'")  # fmt: skip
    run_attack(name, model, out, input=None, corpus=corpus, root=root, cache=cache, seconds=seconds, split=split,
               limit=limit, options=kwargs, generator=perturbation, eps=eps, eps_db=eps_db, targeted=targeted,
               target_class=target_class, batch_size=batch_size, max_seconds=MAX_CLIP_SECONDS, perceptual=perceptual,
               seed=seed, overwrite=overwrite, device=device, quiet=quiet)  # fmt: skip


@app.command(help=ATTACKS.description("universal"))
def universal(
    model: Model,
    out: Annotated[Path, typer.Option(help="output folder (perturbation.safetensors, fit.json, records.json, wav/)")],
    input: Input = None,
    generator: Annotated[
        Path | None,
        typer.Option(
            "--generator",
            "--perturbation",
            help="a saved perturbation (file, or the folder of an earlier fit) to apply instead of fitting one",
        ),
    ] = None,  # fmt: skip
    option: Options = [],  # noqa: B006  (typer reads the default; it is never mutated)
    corpus: Annotated[str | None, typer.Option(help="corpus name or CSV manifest (default synthetic)")] = None,
    root: Root = None,
    cache: Cache = DEFAULT_CACHE,
    seconds: Seconds = None,
    fit_split: Annotated[str, typer.Option(help="split the perturbation is learned on")] = "train",
    fit_limit: Annotated[int | None, typer.Option(min=1, help="learn on the first N clips only")] = None,
    split: Annotated[str, typer.Option(help="split attacked with the learned perturbation")] = "test",
    limit: Limit = None,
    eps: Eps = DEFAULT_EPS,
    k_percent: Annotated[
        float | None, typer.Option(help="% of samples perturbed (default: no budget, λ_s decides)")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="passes over the fit split (default: UniversalConfig's)")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Adam step size (default: UniversalConfig's)")] = None,
    targeted: Targeted = False,
    target_class: TargetClass = None,
    batch_size: BatchSize = 8,
    perceptual: Perceptual = False,
    seed: Seed = 0,
    overwrite: Overwrite = False,
    device: Device = "cpu",
    quiet: Quiet = False,
) -> None:
    """Learn one sparse perturbation for all clips, save it, attack a split with it (as `staa attack run`).

    A rerun into the same OUT with the same settings reuses OUT/perturbation.safetensors instead of fitting
    again; other settings are refused (--overwrite starts over). With --generator a saved perturbation
    attacks --input (a file or folder) or the --corpus split, as every `staa attack NAME` does.
    """
    from staa.attacks.registry import checked_options
    from staa.attacks.universal import UniversalConfig, UniversalPerturbation

    options = checked_options("universal", option)
    if generator is not None:
        return run_attack("universal", model, out, input=input, corpus=corpus, root=root, cache=cache, seconds=seconds,
                          split=split, limit=limit, options=options, generator=generator, eps=options.pop("eps", None),
                          eps_db=options.pop("eps_db", None),
                          targeted=targeted, target_class=target_class, batch_size=batch_size,
                          max_seconds=MAX_CLIP_SECONDS, perceptual=perceptual, seed=seed, overwrite=overwrite,
                          device=device, quiet=quiet)  # fmt: skip
    if input is not None:
        raise ConfigError("--input: a universal perturbation is fitted on a corpus; apply a saved one with --generator")
    eps, k_percent = options.pop("eps", eps), options.pop("k_percent", k_percent)
    if options:
        raise ConfigError(f"-o {', '.join(options)}: a fit takes eps and k_percent (and --epochs, --lr)")
    corpus = corpus or "synthetic"
    from staa.evaluation.runs import universal_run
    from staa.models import load_model
    from staa.runtime.reproducibility import seed_everything

    checked_places(out, cache)
    fit_config = UniversalConfig(**{k: v for k, v in {"epochs": epochs, "lr": lr}.items() if v is not None},
                                 batch_size=batch_size, seed=seed)  # fmt: skip
    UniversalPerturbation(None, eps, k_percent=k_percent, targeted=targeted)  # type: ignore[arg-type]  # checks the options
    seed_everything(seed)
    net = load_model(model)
    pc = corpus_for_models([(model, net)], corpus, root, cache, seconds, quiet)
    net.to(device)
    target = checked_target(targeted, target_class, pc.classes)
    adv = universal_run(net, pc, out, fit_split=fit_split, fit_limit=fit_limit, split=split, limit=limit, eps=eps,
                        target=target, config=fit_config, settings={"k_percent": k_percent, "batch_size": batch_size},
                        seed=seed, perceptual=perceptual, record={"model": str(model), "k_percent": k_percent},
                        show_progress=not quiet, overwrite=overwrite)  # fmt: skip
    print_summary(adv.records["attack"], adv.records["summary"], out)


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
    eps: Eps = DEFAULT_EPS,
    k_percent: KPercent = None,
    steps: Steps = None,
    pixels: Pixels = None,
    popsize: Popsize = None,
    iterations: Iterations = None,
    multiplicative: Multiplicative = False,
    batch_size: BatchSize = 8,
    seed: Seed = 0,
    overwrite: Overwrite = False,
    device: Device = "cpu",
    quiet: Quiet = False,
) -> None:
    """Targeted success per target class: each class is imposed on the clips the model does not already give it."""
    from staa.attacks.base import FittedAttack
    from staa.attacks.registry import attack_class, attack_options
    from staa.evaluation.robustness import attack_factory
    from staa.evaluation.runs import targeted_success_run
    from staa.models import load_model
    from staa.runtime.reproducibility import seed_everything

    if issubclass(attack_class(name), FittedAttack):
        raise ConfigError(f"a fitted attack is fitted per target: use `staa attack {name} --targeted`")
    kwargs = attack_options(name, k_percent=k_percent, steps=steps, pixels=pixels, popsize=popsize,
                            iterations=iterations, multiplicative=multiplicative or None)  # fmt: skip
    checked_places(out, cache)
    factory = attack_factory(name, eps=eps, targeted=True, batch_size=batch_size, **kwargs)
    seed_everything(seed)
    net = load_model(model)
    pc = corpus_for_models([(model, net)], corpus, root, cache, seconds, quiet)
    net.to(device)
    factory(net)  # the attack's options, checked before any work
    settings = {"attack": name, "model": str(model), "eps": eps, **kwargs}
    table = targeted_success_run(factory, net, pc, split, out, limit=limit, batch_size=batch_size, settings=settings,
                                 seed=seed, device=device, overwrite=overwrite)  # fmt: skip
    typer.echo(table.markdown())


@app.command()
def sweep(
    name: Annotated[
        str,
        typer.Argument(
            help="budgeted attack (pgd, pgd0, sparse_rs: crafted per budget) or minimum-norm "
            "attack (sigma_zero, fmn: one run, read at every budget)"
        ),
    ],
    model: Model,
    out: Annotated[Path, typer.Option(help="output folder (curves.csv, curves.png, curves.json, one set per budget)")],
    k_percent: Annotated[
        list[float], typer.Option("--k-percent", help="sample budget in % of the clip; repeat for each")
    ],
    victim: Annotated[
        list[Path], typer.Option(help="victim checkpoint folder; repeat (the threat model is always one)")
    ] = [],  # noqa: B006  (typer reads the default; it is never mutated)
    corpus: Corpus = "synthetic",
    root: Root = None,
    cache: Cache = DEFAULT_CACHE,
    seconds: Seconds = None,
    split: SplitName = "test",
    limit: Limit = None,
    eps: Eps = DEFAULT_EPS,
    steps: Annotated[int | None, typer.Option(help="pgd / pgd0 / sigma_zero / fmn: iterations")] = None,
    queries: Annotated[int | None, typer.Option(help="sparse_rs: model queries per clip")] = None,
    batch_size: BatchSize = 8,
    seed: Seed = 0,
    device: Device = "cpu",
    quiet: Quiet = False,
    overwrite: Overwrite = False,
) -> None:
    """ASR versus measured sparsity over sample budgets, on the threat model and every victim.

    A killed sweep resumes at its first unfinished budget; other settings are refused (--overwrite starts over).
    """
    from staa.attacks.base import FittedAttack
    from staa.attacks.registry import attack_class, attack_options, build_attack
    from staa.evaluation.curves import minimum_norm as seeks_minimum
    from staa.evaluation.curves import sweepable
    from staa.evaluation.runs import sweep_run
    from staa.runtime.reproducibility import seed_everything

    minimum_norm = seeks_minimum(name)
    if issubclass(attack_class(name), FittedAttack) or not (minimum_norm or sweepable(name)):
        raise ConfigError(f"attack '{name}' cannot be swept here: use pgd, pgd0 or sparse_rs (crafted per budget) or "
                          "sigma_zero, fmn (minimum-norm); a universal perturbation is swept in an experiment file")  # fmt: skip
    if any(not 0 < k <= 100 for k in k_percent) or len(set(k_percent)) < len(k_percent):
        raise ConfigError(f"--k-percent: distinct budgets in (0, 100] expected, got {k_percent}")
    kwargs = attack_options(name, steps=steps, queries=queries)
    checked_places(out, cache)
    seed_everything(seed)
    paths = list(dict.fromkeys([model, *victim]))
    victims = _checkpoints(paths, device)
    pc = corpus_for_models([(p, m) for p, (m, _) in zip(paths, victims.values())], corpus, root, cache, seconds, quiet)
    net = next(iter(victims.values()))[0]
    common = {"eps": eps, "batch_size": batch_size, **kwargs}

    def make_attack(k: float | None) -> Any:
        return build_attack(name, net, **common, **({} if k is None else {"k_percent": k}))

    points = sweep_run(make_attack, k_percent, victims, pc, split, out, attacker=name, minimum_norm=minimum_norm,
                       limit=limit, seed=seed, config={"attack": name, "model": str(model), **common},
                       device=device, show_progress=not quiet, overwrite=overwrite)  # fmt: skip
    for p in points:
        typer.echo(
            f"{name} k {p.budget:g} %: sparsity {p.sparsity_pct:.2f} %, ASR on {p.victim} {p.asr:.3f} ({p.n_clips} clips)"
        )
    typer.echo(f"-> {out / 'curves.csv'}, {out / 'curves.png'}, {out / 'curves.json'}")


def _checkpoints(paths: list[Path], device: str) -> dict[str, tuple[Any, str]]:
    """Models by name (a ``best``/``last`` folder is named after its parent) with a key for their weights."""
    from staa.evaluation.adversarial_set import file_fingerprint
    from staa.models import load_model
    from staa.models.base import WEIGHTS_NAME

    out: dict[str, tuple[Any, str]] = {}
    for path in dict.fromkeys(paths):
        name = path.parent.name if path.name in ("best", "last") else path.name
        if name in out:
            raise ConfigError(f"two checkpoints are both named '{name}'", path)
        weights = path / WEIGHTS_NAME
        out[name] = (
            load_model(path).to(device),
            file_fingerprint(weights) if weights.exists() else str(path.resolve()),
        )
    return out


register(app, skip=("universal",))  # `staa attack NAME` for every other registered attack
