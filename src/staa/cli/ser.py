"""``staa ser``: train and evaluate SER models; each writes a JSON result next to its checkpoint."""

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
    is_main_rank,
    prepared_corpus_for_ranks,
)
from staa.defaults import SER_RECIPE

app = typer.Typer(no_args_is_help=True)


@app.command()
def train(
    model: str = typer.Argument(..., help="emo18, zhao19, wav2vec2, wavlm or hubert"),
    corpus: str = typer.Option("synthetic", help="corpus name or CSV manifest"),
    root: Path = typer.Option(None, help=ROOT_HELP),
    out: Path = typer.Option(..., help="output folder (checkpoint in OUT/best)"),
    cache: Path = typer.Option(DEFAULT_CACHE, help=CACHE_HELP),
    seconds: float = typer.Option(None, help=SECONDS_HELP),
    recipe: str = typer.Option(
        SER_RECIPE,
        help="paper (the paper's schedule) or small_corpus (augmentation, balanced "
        "batches, warm-up + cosine lr, early stopping: for corpora of a few speakers)",
    ),
    epochs: int = typer.Option(
        None, help="default: the recipe's (paper: 30 for scratch models, 20 for foundation models)"
    ),
    lr: float = typer.Option(None, help="default: the recipe's (1e-3 for scratch models, 3e-5 for foundation models)"),
    batch_size: int = typer.Option(8, min=1, help="clips per training step"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="fixes the initial weights and the data order"),
    pretrained: str = typer.Option(None, help="foundation models: local folder or hub id of the encoder"),
    init_from: Path = typer.Option(
        None,
        help="start from this checkpoint folder of the same architecture (e.g. `staa ser pretrain`'s "
        "OUT/pretrain/best): every weight copied, the output rows by class name",
    ),
    overwrite: bool = typer.Option(False, help=OVERWRITE_HELP),
    device: str = typer.Option("cpu", help=DEVICE_HELP, callback=checked_device),
    quiet: bool = typer.Option(False, help="no progress bars or progress lines"),
) -> None:
    """Train an SER model (resumes from OUT/last.pt when present); data-parallel under torchrun."""
    from staa.models import build_model
    from staa.models.registry import model_class
    from staa.runtime.reproducibility import seed_everything
    from staa.training.ser import TrainConfig, train_ser

    checked_places(out, cache)
    config = TrainConfig.preset(recipe, model_class(model), epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                                init_from=init_from)  # fmt: skip
    pc = prepared_corpus_for_ranks(device, corpus, root, cache, seconds, quiet)
    kwargs = {"num_classes": len(pc.classes), "class_names": pc.classes}
    if pretrained:
        kwargs["pretrained"] = pretrained
    seed_everything(seed)  # the initial weights too are fixed by --seed
    net = build_model(model, **kwargs)
    result = train_ser(net, pc, out, config, device=device, show_progress=not quiet, overwrite=overwrite)
    if is_main_rank():
        typer.echo(f"best validation UAR {result['best_val_uar']:.4f}; checkpoint {out / 'best'}")


@app.command()
def pretrain(
    corpus: list[str] = typer.Option(
        ..., help="NAME=FOLDER of a corpus to pool (emodb, ravdess, nemo, a .csv manifest); two or more"
    ),  # fmt: skip
    out: Path = typer.Option(..., help="output folder (pooled.csv, cache/, checkpoint in OUT/pretrain/best)"),
    model: str = typer.Option("emo18", help="emo18 or zhao19"),
    train_only: list[str] = typer.Option(
        [],
        help="a pooled corpus that gives its training speakers only: the one you will fine-tune on, so that "
        "its validation speakers choose the fine-tuning's epoch unseen",
    ),
    seconds: float = typer.Option(3.0, help="length every pooled clip is unified to"),
    epochs: int = typer.Option(None, help="default: the pooled recipe's (16)"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="fixes the initial weights and the data order"),
    device: str = typer.Option("cpu", help=DEVICE_HELP, callback=checked_device),
    quiet: bool = typer.Option(False, help="no progress bars or progress lines"),
) -> None:
    """Pre-train an SER model on pooled emotional corpora (resumes); fine-tune it with `ser train --init-from`."""
    from staa.errors import ConfigError
    from staa.training.pretrain import pretrain as run_pretraining
    from staa.training.ser import TrainConfig

    roots: dict[str, str] = {}
    for pair in corpus:
        name, sep, folder = pair.partition("=")
        if not name or (not sep and not name.endswith(".csv")):
            raise ConfigError(f"--corpus takes NAME=FOLDER (or a manifest's .csv), got {pair!r}")
        roots[name] = folder or None
    config = TrainConfig.pooled(epochs=epochs, seed=seed)
    result = run_pretraining(roots, out, model=model, train_only=train_only, seconds=seconds, config=config,
                             device=device, show_progress=not quiet)  # fmt: skip
    test = result["test"]
    typer.echo(f"best validation UAR {result['best_val_uar']:.4f}; pooled test UAR {test['uar']:.4f} "
               f"(n={test['n']}); checkpoint {out / 'pretrain' / 'best'}")  # fmt: skip


@app.command()
def evaluate(
    checkpoint: Path = typer.Argument(..., help="checkpoint folder (config.json + model.safetensors)"),
    corpus: str = typer.Option(
        "synthetic", help="corpus name or CSV manifest (its classes must be the model's, unless --shared-classes)"
    ),
    root: Path = typer.Option(None, help=ROOT_HELP),
    cache: Path = typer.Option(DEFAULT_CACHE, help=CACHE_HELP),
    seconds: float = typer.Option(None, help=SECONDS_HELP),
    split: list[str] = typer.Option(["val", "test"], help="splits to evaluate"),
    shared_classes: bool = typer.Option(
        False,
        "--shared-classes",
        help="cross-corpus: score only the clips of "
        "the classes the model and the corpus both name (others left out and "
        "counted); writes CHECKPOINT/eval-<corpus>.json",
    ),
    device: str = typer.Option("cpu", help=DEVICE_HELP, callback=checked_device),
    quiet: bool = typer.Option(False, help="no progress bars or progress lines"),
) -> None:
    """Accuracy, UAR and confusion matrix per split; writes CHECKPOINT/eval.json; sharded under torchrun."""
    if shared_classes:
        return _evaluate_shared(checkpoint, corpus, root, cache, seconds, split, device, quiet)
    from staa.io.outputs import write_json
    from staa.models import load_model
    from staa.runtime import distributed as ddp
    from staa.runtime.reproducibility import provenance
    from staa.training.ser import evaluate_ser

    net = load_model(checkpoint)
    checked_places(checkpoint, cache)
    pc = corpus_for_models([(checkpoint, net)], corpus, root, cache, seconds, quiet, device=device)
    net.to(ddp.local_device(device))
    results = {s: evaluate_ser(net, pc.split(s), device=device) for s in split}
    if not is_main_rank():
        return
    write_json(checkpoint / "eval.json", {"corpus": pc.name, "splits": results, "provenance": provenance()})
    for s, r in results.items():
        typer.echo(f"{s}: UAR {r['uar']:.4f}  accuracy {r['accuracy']:.4f}  (n={r['n']})")


def _evaluate_shared(checkpoint: Path, corpus: str, root: Path | None, cache: Path, seconds: float | None,
                     splits: list[str], device: str, quiet: bool) -> None:  # fmt: skip
    """``--shared-classes``: the model scored on another corpus's clips of the classes both name."""
    from staa.evaluation.cross_corpus import score_shared_classes
    from staa.io.outputs import write_json
    from staa.models import load_model
    from staa.runtime import distributed as ddp
    from staa.runtime.reproducibility import provenance

    net = load_model(checkpoint)
    checked_places(checkpoint, cache)
    pc = prepared_corpus_for_ranks(device, corpus, root, cache, seconds, quiet)
    net.check_fits(None, pc.sample_rate, checkpoint, length=pc.length)
    net.to(ddp.local_device(device))
    results = {s: score_shared_classes(net, pc.split(s), pc.classes, device=device) for s in splits}
    if not is_main_rank():
        return
    write_json(checkpoint / f"eval-{pc.name}.json", {"corpus": pc.name, "data_classes": pc.classes,
                                                    "splits": results, "provenance": provenance()})  # fmt: skip
    for s, r in results.items():
        ci, gone = r["uar_ci"], ", ".join(f"{c} {n}" for c, n in r["left_out"].items()) or "none"
        typer.echo(
            f"{s}: UAR {r['uar']:.4f} [{ci['low']:.4f}, {ci['high']:.4f}] over {len(r['shared_classes'])} "
            f"shared classes (n={r['n']}; left out: {gone})"
        )
