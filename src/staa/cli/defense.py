"""``staa defense``: put defenses in front of a model, adversarially train one, measure robust accuracy.

Defenses and attacks are written ``name:key=value,...``, e.g. ``median:kernel=5``,
``lowpass:cutoff_hz=4000``, ``pgd:eps=0.05,k_percent=5,steps=10``; a defense pipeline joins stages
with ``+`` (``median:kernel=3+quantize:bits=8``). ``--defence``, the option's earlier spelling, is still
accepted.
"""

from __future__ import annotations

from pathlib import Path

import typer

from staa.cli.common import (  # fmt: skip  # fmt: skip
    CACHE_HELP,
    DEFAULT_CACHE,
    DEVICE_HELP,
    OVERWRITE_HELP,
    ROOT_HELP,
    SECONDS_HELP,
    checked_device,
    checked_places,
    corpus_for_models,
)
from staa.defaults import DEFAULT_EPS

app = typer.Typer(no_args_is_help=True)


@app.command()
def wrap(
    checkpoint: Path = typer.Argument(..., help="victim checkpoint folder"),
    defense: str = typer.Option(..., "--defense", "--defence", help="pipeline, e.g. 'median:kernel=5+quantize:bits=8'"),
    out: Path = typer.Option(..., help="output folder of the defended checkpoint"),
    adaptive: bool = typer.Option(True, help="attacks built on it differentiate through the defense"),
    eot_samples: int = typer.Option(1, min=1, max=1000, help="gradient draws averaged through random defenses (EOT)"),
    overwrite: bool = typer.Option(False, help=OVERWRITE_HELP),
) -> None:
    """Save a defended checkpoint (config.json + victim/) that every attack and evaluator can load."""
    from staa.defenses import Defended, build_defenses
    from staa.errors import ConfigError
    from staa.io.outputs import claimed
    from staa.io.weights import fingerprint
    from staa.models import load_model

    checked_places(out)
    if out.resolve() == checkpoint.resolve():
        raise ConfigError("--out is the victim's own folder: give the defended checkpoint a folder of its own", out)
    model = Defended(load_model(checkpoint), build_defenses(defense), adaptive=adaptive, eot_samples=eot_samples)
    spec = {"victim": fingerprint(model.model), "defended": model.config.to_dict()}
    with claimed(out, spec, outputs=("config.json", "victim"), overwrite=overwrite):
        model.save_pretrained(out)
    typer.echo(f"defended model written to {out}")


@app.command()
def evaluate(
    model: list[Path] = typer.Option(..., help="victim checkpoint folder (repeat for several)"),
    defense: list[str] = typer.Option(..., "--defense", "--defence", help="defense pipeline (repeat for several)"),
    attack: list[str] = typer.Option(..., help="attack spec, e.g. 'pgd:eps=0.05,k_percent=5' (repeat)"),
    out: Path = typer.Option(..., help="output folder (robustness.json, robustness.md)"),
    corpus: str = typer.Option("synthetic", help="corpus name or CSV manifest (its classes must be the models')"),
    root: Path = typer.Option(None, help=ROOT_HELP),
    cache: Path = typer.Option(DEFAULT_CACHE, help=CACHE_HELP),
    seconds: float = typer.Option(None, help=SECONDS_HELP),
    split: str = typer.Option("test", help="train, val or test"),
    limit: int = typer.Option(None, min=1, help="only the first N clips of the split"),
    adaptive: bool = typer.Option(True, help="also run each attack through each defense (BPDA/EOT)"),
    eot_samples: int = typer.Option(1, min=1, max=1000, help="EOT draws for random defenses in adaptive attacks"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="fixes every random choice of the run"),
    overwrite: bool = typer.Option(False, help=OVERWRITE_HELP),
    device: str = typer.Option("cpu", help=DEVICE_HELP, callback=checked_device),
    quiet: bool = typer.Option(False, help="no progress bars or progress lines"),
) -> None:
    """Robust accuracy and ASR of every victim × defense × attack, non-adaptive and adaptive."""
    from staa.defenses import build_defenses
    from staa.errors import ConfigError
    from staa.evaluation.robustness import attack_factory_from_spec
    from staa.evaluation.runs import robustness_run
    from staa.models import load_model

    checked_places(out, cache)
    defenses = {spec: build_defenses(spec) for spec in defense}
    attacks = {spec: attack_factory_from_spec(spec) for spec in attack}
    loaded = [(p, load_model(p)) for p in model]
    names = [_victim_name(p) for p, _ in loaded]
    if len(set(names)) < len(names):
        raise ConfigError(
            f"--model: two folders share the name '{max(names, key=names.count)}' (victims are named by folder)"
        )
    pc = corpus_for_models(loaded, corpus, root, cache, seconds, quiet)
    victims = {name: m.to(device) for name, (_, m) in zip(names, loaded)}
    table = robustness_run(victims, defenses, attacks, pc, split, out, limit=limit, adaptive=adaptive,
                           eot_samples=eot_samples, seed=seed, device=device, overwrite=overwrite)  # fmt: skip
    typer.echo(table.markdown())


@app.command("adv-train")
def adv_train(
    checkpoint: Path = typer.Argument(..., help="model to start from (checkpoint folder)"),
    out: Path = typer.Option(..., help="output folder (best/, last.pt, train.json)"),
    corpus: str = typer.Option("synthetic", help="corpus name or CSV manifest (its classes must be the model's)"),
    root: Path = typer.Option(None, help=ROOT_HELP),
    cache: Path = typer.Option(DEFAULT_CACHE, help=CACHE_HELP),
    seconds: float = typer.Option(None, help=SECONDS_HELP),
    epochs: int = typer.Option(10, help="passes over the training split"),
    lr: float = typer.Option(1e-3, help="Adam step size"),
    batch_size: int = typer.Option(8, help="clips per training step"),
    attack: str = typer.Option(
        "pgd", help="attack spec crafting the examples; pgd's options extend steps=5, loss=ce, early_stop=false"
    ),
    eps: float = typer.Option(DEFAULT_EPS, help="L∞ bound of the training perturbations (as an experiment's eps)"),
    adv_fraction: float = typer.Option(0.5, help="share of each batch replaced by adversarial clips"),
    seed: int = typer.Option(0, help="fixes the data order and the training attack's draws"),
    overwrite: bool = typer.Option(False, help=OVERWRITE_HELP),
    device: str = typer.Option("cpu", help=DEVICE_HELP, callback=checked_device),
    quiet: bool = typer.Option(False, help="no progress bars or progress lines"),
) -> None:
    """Adversarially train (fine-tune) a model; resumes from OUT/last.pt when present."""
    from staa.defenses import parse_spec
    from staa.models import load_model
    from staa.training.adversarial import AdvTrainConfig, adversarial_train, build_training_attack

    checked_places(out, cache)
    spec = parse_spec(attack)
    config = AdvTrainConfig.with_attack(spec.pop("name"), spec, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                                        eps=eps, adv_fraction=adv_fraction)  # fmt: skip
    net = load_model(checkpoint)
    build_training_attack(net, config, 0)  # the attack's options, checked before any work
    pc = corpus_for_models([(checkpoint, net)], corpus, root, cache, seconds, quiet)
    result = adversarial_train(net, pc, out, config, device=device, show_progress=not quiet, overwrite=overwrite)
    typer.echo(f"best validation UAR {result['best_val_uar']:.4f}; checkpoint {out / 'best'}")


def _victim_name(path: Path) -> str:
    """A checkpoint's display name: its folder, or the run folder for ``.../best``."""
    return path.parent.name if path.name in ("best", "last") else path.name
