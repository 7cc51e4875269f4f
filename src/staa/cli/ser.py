"""``staa ser``: train and evaluate SER models; each writes a JSON result next to its checkpoint."""

from __future__ import annotations

from pathlib import Path

import typer

from staa.cli.common import DEFAULT_CACHE, is_main_rank, prepared_corpus_for_ranks

app = typer.Typer(no_args_is_help=True)


@app.command()
def train(
    model: str = typer.Argument(..., help="emo18, zhao19, wav2vec2, wavlm or hubert"),
    corpus: str = typer.Option("synthetic", help="corpus name or CSV manifest"),
    root: Path = typer.Option(None, help="corpus root folder"),
    out: Path = typer.Option(..., help="output folder (checkpoint in OUT/best)"),
    cache: Path = typer.Option(DEFAULT_CACHE),
    seconds: float = typer.Option(None),
    epochs: int = typer.Option(None, help="default: 30 for scratch models, 20 for foundation models (the paper)"),
    lr: float = typer.Option(None, help="default: 1e-3 for scratch models, 3e-5 for foundation models (the paper)"),
    batch_size: int = typer.Option(8),
    seed: int = typer.Option(0),
    pretrained: str = typer.Option(None, help="foundation models: local folder or hub id of the encoder"),
    device: str = typer.Option("cpu"),
    quiet: bool = typer.Option(False, help="no progress bars"),
) -> None:
    """Train an SER model (resumes from OUT/last.pt when present); data-parallel under torchrun."""
    from staa.models import build_model
    from staa.reproducibility import seed_everything
    from staa.training.ser import TrainConfig, train_ser

    pc = prepared_corpus_for_ranks(device, corpus, root, cache, seconds, quiet)
    kwargs = {"num_classes": len(pc.classes), "class_names": pc.classes}
    if pretrained:
        kwargs["pretrained"] = pretrained
    seed_everything(seed)  # the initial weights too are fixed by --seed
    net = build_model(model, **kwargs)
    config = TrainConfig.paper(type(net), epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
    result = train_ser(net, pc, out, config, device=device, show_progress=not quiet)
    if is_main_rank():
        typer.echo(f"best validation UAR {result['best_val_uar']:.4f}; checkpoint {out / 'best'}")


@app.command()
def evaluate(
    checkpoint: Path = typer.Argument(..., help="checkpoint folder (config.json + model.safetensors)"),
    corpus: str = typer.Option("synthetic"),
    root: Path = typer.Option(None),
    cache: Path = typer.Option(DEFAULT_CACHE),
    seconds: float = typer.Option(None),
    split: list[str] = typer.Option(["val", "test"], help="splits to evaluate"),
    device: str = typer.Option("cpu"),
    quiet: bool = typer.Option(False),
) -> None:
    """Accuracy, UAR and confusion matrix per split; writes CHECKPOINT/eval.json; sharded under torchrun."""
    from staa import distributed as ddp
    from staa.models import load_model
    from staa.outputs import write_json
    from staa.reproducibility import provenance
    from staa.training.ser import evaluate_ser

    pc = prepared_corpus_for_ranks(device, corpus, root, cache, seconds, quiet)
    net = load_model(checkpoint).to(ddp.local_device(device))
    results = {s: evaluate_ser(net, pc.split(s), device=device) for s in split}
    if not is_main_rank():
        return
    write_json(checkpoint / "eval.json", {"corpus": pc.name, "splits": results, "provenance": provenance()})
    for s, r in results.items():
        typer.echo(f"{s}: UAR {r['uar']:.4f}  accuracy {r['accuracy']:.4f}  (n={r['n']})")
