"""``staa generator``: train an STAA-Net generator against threat models, apply it to audio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from staa.cli.common import DEFAULT_CACHE, fmt, is_main_rank, prepared_corpus, prepared_corpus_for_ranks
from staa.defaults import DEFAULT_EPS, GENERATOR_PRESET, TRAINING_PRESET
from staa.errors import ConfigError

app = typer.Typer(no_args_is_help=True)


@app.command()
def train(
    threat: list[Path] = typer.Option(..., help="threat SER checkpoint folder; repeat for an ensemble"),
    corpus: str = typer.Option("synthetic", help="corpus name or CSV manifest"),
    root: Path = typer.Option(None, help="corpus root folder"),
    out: Path = typer.Option(..., help="output folder (best/, last/, state.pt, train.json)"),
    cache: Path = typer.Option(DEFAULT_CACHE),
    seconds: float = typer.Option(None, help="unified clip length (default: the corpus's)"),
    preset: str = typer.Option(
        TRAINING_PRESET, help="loss weights, optimiser and schedule: topk (for top-k generators), paper or authors"
    ),
    arch: str = typer.Option(
        GENERATOR_PRESET,
        help="generator architecture: authors (≈50.7 M parameters), fast (≈0.2 M), or realtime (fast on 2-sample frames)",
    ),
    eps: float = typer.Option(DEFAULT_EPS, help="L∞ bound ε of the perturbation"),
    bound: str = typer.Option(
        None, help="tanh (ε·tanh, the authors), clip (hard clip, the paper) or sign; default: the architecture's"
    ),
    mask: str = typer.Option(
        None, help="topk (the k highest position scores of each clip) or threshold (the paper's [∂ ≥ γ] with ‖m‖₁); "
        "default: the architecture's (topk for fast and realtime)",
    ),
    sparsity_pct: float = typer.Option(None, help="top-k mask: % of each clip's samples perturbed (default 10)"),
    alignment: str = typer.Option("exact", help="exact, or authors (reproduce the shifted-clip bug)"),
    steps: int = typer.Option(None, help="optimisation steps (default: the preset's; paper: --epochs passes)"),
    epochs: int = typer.Option(None, help="passes over the training split when no --steps (paper: 20)"),
    lr: float = typer.Option(None, help="default: the preset's"),
    batch_size: int = typer.Option(None, help="default: the preset's (8)"),
    lambda_s: float = typer.Option(None, help="sparsity weight (default: the preset's)"),
    kappa: float = typer.Option(None, help="C&W confidence φ: the margin floor (default: the preset's, 0)"),
    dense_steps: int = typer.Option(
        None, help="first steps with every sample perturbed (top-k) or without the sparsity terms (threshold)"
    ),
    anneal_steps: int = typer.Option(None, help="steps from the dense start to the budget (default: the preset's)"),
    targeted: bool = typer.Option(False, help="push every clip to --target-class"),
    target_class: int = typer.Option(None, help="class index of a targeted attack"),
    no_factorisation: bool = typer.Option(False, help="ablation: no position decoder, δ = v, ‖v‖₁ sparsity"),
    no_magnitude: bool = typer.Option(False, help="ablation: λ_m = 0"),
    no_sparsity: bool = typer.Option(False, help="ablation: λ_s = 0"),
    no_quantisation: bool = typer.Option(False, help="ablation: λ_q = 0"),
    budget_sparsity: float = typer.Option(
        None, help="threshold mask: adapt λ_s after every validation until the sparsity reaches this % of samples"
    ),
    budget_snr: float = typer.Option(None, help="adapt λ_m after every validation until the SNR reaches this dB"),
    budget_update: str = typer.Option(
        "multiplicative", help="multiplicative (the budget is an upper bound) or additive (met from both sides)"
    ),
    budget_lr: float = typer.Option(1.0, help="dual step size of the budget controllers (per validation)"),
    checkpointing: bool = typer.Option(
        False, help="recompute activations in the backward pass (the authors' network at batch 8: 7.1 → 3.0 GiB)"
    ),
    micro_batch: int = typer.Option(None, help="accumulate each batch's gradient over parts of this many clips"),
    seed: int = typer.Option(0),
    device: str = typer.Option("cpu"),
    quiet: bool = typer.Option(False, help="no progress bars"),
) -> None:
    """Train a generator (resumes from OUT/state.pt); data-parallel under torchrun.

    A top-k generator (the default architectures) perturbs exactly --sparsity-pct % of each clip. With a
    budget (--budget-sparsity for the threshold mask, --budget-snr) the loss weight it controls is
    adapted after every validation (dual ascent, :mod:`staa.attacks.staa.budget`); train.json records the
    weights at every validation next to the measured sparsity and SNR.
    """
    from staa.attacks.staa import GeneratorConfig, STAATrainConfig
    from staa.models import load_model
    from staa.training.generator import budget_controllers, train_staa_generator

    given = {"epochs": epochs, "steps": steps, "lr": lr, "batch_size": batch_size, "lambda_s": lambda_s, "kappa": kappa,
             "target_class": target_class, "micro_batch": micro_batch, "dense_steps": dense_steps,
             "anneal_steps": anneal_steps}  # fmt: skip
    config = STAATrainConfig.preset(
        preset, **{k: v for k, v in given.items() if v is not None}, seed=seed, targeted=targeted,
        no_factorisation=no_factorisation, no_magnitude=no_magnitude, no_sparsity=no_sparsity,
        no_quantisation=no_quantisation, checkpointing=checkpointing,
    )  # fmt: skip
    shape = {"bound": bound, "mask": mask, "sparsity_pct": sparsity_pct}
    arch_config = GeneratorConfig.preset(arch, eps=eps, alignment=alignment, factorised=not no_factorisation,
                                         **{k: v for k, v in shape.items() if v is not None})  # fmt: skip
    budgets = budget_controllers(config, budget_sparsity, budget_snr, update=budget_update, lr=budget_lr)
    pc = prepared_corpus_for_ranks(device, corpus, root, cache, seconds, quiet)
    threat_models = [load_model(path) for path in threat]
    result = train_staa_generator(arch_config, config, threat_models, pc, out, budgets=budgets, device=device,
                                  show_progress=not quiet)  # fmt: skip
    if is_main_rank():
        last = result["history"][-1] if result["history"] else {}
        typer.echo(
            f"validation ASR {last.get('val_asr', float('nan')):.4f}, sparsity {fmt(last.get('val_sparsity'))} %, "
            f"SNR {fmt(last.get('val_snr_db'))} dB (last validation); generator {out / 'best'}"
        )
        for budget in result.get("budgets", []):
            typer.echo(_budget_line(budget, last))


@app.command()
def apply(
    generator: Path = typer.Argument(..., help="generator folder (config.json + model.safetensors)"),
    model: Path = typer.Option(..., help="SER checkpoint folder to attack"),
    out: Path = typer.Option(..., help="folder for the adversarial WAVs and result.json"),
    corpus: str = typer.Option(None, help="corpus name or CSV manifest (or use --input-dir)"),
    root: Path = typer.Option(None),
    cache: Path = typer.Option(DEFAULT_CACHE),
    seconds: float = typer.Option(None),
    split: str = typer.Option("test", help="split of --corpus"),
    input_dir: Path = typer.Option(None, help="folder of audio files of any length (instead of --corpus)"),
    eps: float = typer.Option(None, help="default: the generator's training ε"),
    target_class: int = typer.Option(None, help="evaluate as a targeted attack towards this class"),
    batch_size: int = typer.Option(8),
    device: str = typer.Option("cpu"),
    quiet: bool = typer.Option(False),
) -> None:
    """Write adversarial WAVs for a corpus split or a folder, and OUT/result.json (per-example and summary).

    The summary has the names of every crafted set's (docs/results-schema.md): ``n``, ``n_success``,
    ``asr_threat``, ``snr_db``, ``sparsity_pct``, ``seconds_per_example``.
    """
    from staa.attacks.staa import STAANet
    from staa.attacks.staa.export import folder_batches, split_batches
    from staa.evaluation.runs import apply_generator
    from staa.models import load_model

    if (corpus is None) == (input_dir is None):
        raise ConfigError("give exactly one of --corpus or --input-dir")
    victim = load_model(model).to(device)
    attack = STAANet.from_pretrained(victim, generator, eps=eps, targeted=target_class is not None)
    if input_dir is not None:
        batches, total, source = folder_batches(input_dir), None, str(input_dir)
    else:
        data = prepared_corpus(corpus, root, cache, seconds, quiet).split(split)
        batches, total, source = split_batches(data, batch_size), -(-len(data) // batch_size), f"{corpus}/{split}"
    record = apply_generator(attack, batches, out, target=target_class, total=total, show_progress=not quiet,
                             source={"generator": str(generator), "model": str(model), "source": source})  # fmt: skip
    s = record["summary"]
    typer.echo(
        f"{s['n']} clips: ASR {s['asr_threat']:.4f}, sparsity {fmt(s['sparsity_pct'])} %, SNR {fmt(s['snr_db'])} dB, "
        f"{1000 * s['seconds_per_example']:.1f} ms/clip -> {out}"
    )


def _budget_line(budget: dict[str, Any], last: dict[str, Any]) -> str:
    """What a budget asked for, what the last validation measured, and the weight it ended at."""
    if budget["weight"] == "lambda_s":
        asked = f"sparsity {budget['target']:.2f} % of all samples"
        achieved = f"{fmt(last.get('val_sparsity_all'))} %"
    else:
        asked, achieved = f"SNR {budget['target']:.2f} dB", f"{fmt(last.get('val_snr_db'))} dB"
    weight = last.get(budget['weight'])
    return f"budget {asked}: achieved {achieved} (last validation), {budget['weight']} = {fmt(weight, '.4g')}"
