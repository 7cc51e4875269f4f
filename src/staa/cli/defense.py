"""``staa defense``: put defenses in front of a model, adversarially train one, measure robust accuracy.

Defenses and attacks are written ``name:key=value,...``, e.g. ``median:kernel=5``,
``lowpass:cutoff_hz=4000``, ``pgd:eps=0.05,k_percent=5,steps=10``; a defense pipeline joins stages
with ``+`` (``median:kernel=3+quantize:bits=8``). ``--defence``, the option's earlier spelling, is still
accepted.
"""

from __future__ import annotations

from pathlib import Path

import typer

from staa.cli.common import DEFAULT_CACHE, prepared_corpus
from staa.defaults import DEFAULT_EPS

app = typer.Typer(no_args_is_help=True)


@app.command()
def wrap(
    checkpoint: Path = typer.Argument(..., help="victim checkpoint folder"),
    defense: str = typer.Option(..., "--defense", "--defence", help="pipeline, e.g. 'median:kernel=5+quantize:bits=8'"),
    out: Path = typer.Option(..., help="output folder of the defended checkpoint"),
    adaptive: bool = typer.Option(True, help="attacks built on it differentiate through the defense"),
    eot_samples: int = typer.Option(1, help="gradient draws averaged through random defenses (EOT)"),
) -> None:
    """Save a defended checkpoint (config.json + victim/) that every attack and evaluator can load."""
    from staa.defenses import Defended, build_defenses
    from staa.models import load_model

    model = Defended(load_model(checkpoint), build_defenses(defense), adaptive=adaptive, eot_samples=eot_samples)
    model.save_pretrained(out)
    typer.echo(f"defended model written to {out}")


@app.command()
def evaluate(
    model: list[Path] = typer.Option(..., help="victim checkpoint folder (repeat for several)"),
    defense: list[str] = typer.Option(..., "--defense", "--defence", help="defense pipeline (repeat for several)"),
    attack: list[str] = typer.Option(..., help="attack spec, e.g. 'pgd:eps=0.05,k_percent=5' (repeat)"),
    out: Path = typer.Option(..., help="output folder (robustness.json, robustness.md)"),
    corpus: str = typer.Option("synthetic", help="corpus name or CSV manifest"),
    root: Path = typer.Option(None, help="corpus root folder"),
    cache: Path = typer.Option(DEFAULT_CACHE),
    seconds: float = typer.Option(None),
    split: str = typer.Option("test"),
    limit: int = typer.Option(None, help="only the first N clips of the split"),
    adaptive: bool = typer.Option(True, help="also run each attack through each defense (BPDA/EOT)"),
    eot_samples: int = typer.Option(1, help="EOT draws for random defenses in adaptive attacks"),
    seed: int = typer.Option(0),
    device: str = typer.Option("cpu"),
    quiet: bool = typer.Option(False),
) -> None:
    """Robust accuracy and ASR of every victim × defense × attack, non-adaptive and adaptive."""
    from staa.defenses import build_defenses
    from staa.evaluation.robustness import attack_factory_from_spec
    from staa.evaluation.runs import robustness_run
    from staa.models import load_model

    defenses = {spec: build_defenses(spec) for spec in defense}
    attacks = {spec: attack_factory_from_spec(spec) for spec in attack}
    pc = prepared_corpus(corpus, root, cache, seconds, quiet)
    victims = {_victim_name(p): load_model(p).to(device) for p in model}
    table = robustness_run(victims, defenses, attacks, pc, split, out, limit=limit, adaptive=adaptive,
                           eot_samples=eot_samples, seed=seed, device=device)  # fmt: skip
    typer.echo(table.markdown())


@app.command("adv-train")
def adv_train(
    checkpoint: Path = typer.Argument(..., help="model to start from (checkpoint folder)"),
    out: Path = typer.Option(..., help="output folder (best/, last.pt, train.json)"),
    corpus: str = typer.Option("synthetic"),
    root: Path = typer.Option(None),
    cache: Path = typer.Option(DEFAULT_CACHE),
    seconds: float = typer.Option(None),
    epochs: int = typer.Option(10),
    lr: float = typer.Option(1e-3),
    batch_size: int = typer.Option(8),
    attack: str = typer.Option(
        "pgd", help="attack spec crafting the examples; pgd's options extend steps=5, loss=ce, early_stop=false"
    ),
    eps: float = typer.Option(DEFAULT_EPS, help="L∞ bound of the training perturbations (as an experiment's eps)"),
    adv_fraction: float = typer.Option(0.5, help="share of each batch replaced by adversarial clips"),
    seed: int = typer.Option(0),
    device: str = typer.Option("cpu"),
    quiet: bool = typer.Option(False),
) -> None:
    """Adversarially train (fine-tune) a model; resumes from OUT/last.pt when present."""
    from staa.defenses import parse_spec
    from staa.models import load_model
    from staa.training.adversarial import AdvTrainConfig, adversarial_train

    spec = parse_spec(attack)
    config = AdvTrainConfig.with_attack(spec.pop("name"), spec, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                                        eps=eps, adv_fraction=adv_fraction)  # fmt: skip
    pc = prepared_corpus(corpus, root, cache, seconds, quiet)
    result = adversarial_train(load_model(checkpoint), pc, out, config, device=device, show_progress=not quiet)
    typer.echo(f"best validation UAR {result['best_val_uar']:.4f}; checkpoint {out / 'best'}")


def _victim_name(path: Path) -> str:
    """A checkpoint's display name: its folder, or the run folder for ``.../best``."""
    return path.parent.name if path.name in ("best", "last") else path.name
