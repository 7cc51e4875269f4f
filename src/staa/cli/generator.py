"""``staa generator``: train an STAA-Net generator against threat models, apply it to audio."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from staa.cli.common import (  # fmt: skip  # fmt: skip
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
    choice,
    corpus_for_models,
    fmt,
    is_main_rank,
    target_index,
    targeted_pair,
)
from staa.defaults import DEFAULT_EPS, DISTIL_STEPS, GENERATOR_PRESET, MAX_CLIP_SECONDS, TRAINING_PRESET
from staa.errors import ConfigError

app = typer.Typer(no_args_is_help=True)

# The train command's options whose help takes more than a line.
PresetOption = Annotated[
    str, typer.Option(help="loss weights, optimiser and schedule: topk (for top-k generators), paper or authors")
]
ArchOption = Annotated[
    str,
    typer.Option(
        help="generator architecture: authors (≈50.7 M parameters), fast (≈0.2 M), realtime (fast on 2-sample frames), "
        "adjoint (the threat's own front end, transposed: Emo18's or Zhao19's convolutions, "
        "a foundation model's feature encoder), or shallow (the adjoint through the first block only, "
        "about three times faster; Emo18 and Zhao19)"
    ),
]
TeacherOption = Annotated[
    Path | None,
    typer.Option(
        help="a trained adjoint generator (same threat) whose sample map the new one first learns (distillation)"
    ),
]
BoundOption = Annotated[
    str | None,
    typer.Option(help="tanh (ε·tanh, the authors), clip (hard clip, the paper) or sign; default: the architecture's"),
]
MaskOption = Annotated[
    str | None,
    typer.Option(
        help="topk (the k highest position scores of each clip) or threshold (the paper's [∂ ≥ γ] with ‖m‖₁); "
        "default: the architecture's (topk for fast, realtime and adjoint)"
    ),
]
DenseStepsOption = Annotated[
    int | None,
    typer.Option(help="first steps with every sample perturbed (top-k) or without the sparsity terms (threshold)"),
]
BudgetSparsityOption = Annotated[
    float | None,
    typer.Option(help="threshold mask: adapt λ_s after every validation until the sparsity reaches this % of samples"),
]
BudgetUpdateOption = Annotated[
    str, typer.Option(help="multiplicative (the budget is an upper bound) or additive (met from both sides)")
]


def _checked_sources(values: list[str] | None) -> list[Any] | None:
    """--data parsed and checked as it is read, before any work (:func:`staa.data.speech.parse_sources`)."""
    from staa.data.speech import parse_sources

    return parse_sources(list(values)) if values else None


DataOption = Annotated[
    list[str] | None,
    typer.Option(
        "--data",
        callback=_checked_sources,
        help=(
            "training speech instead of the corpus's training split (validation stays on its val split), repeatable: train "
            "(that split), NAME:ROOT (a corpus), FILE.csv (a manifest, labels optional) or a folder of audio of any rate; "
            "never a val/test clip (staa.data.speech)"
        ),
    ),
]
EpsDbOption = Annotated[
    float | None,
    typer.Option("--eps-db", help="relative L∞ bound instead: δ's peak this many dB under each clip's peak"),
]
NoiseChannelsOption = Annotated[
    int | None, typer.Option(help="±1 carrier channels drawn from each clip (default: the architecture's)")
]
CheckpointingOption = Annotated[
    bool, typer.Option(help="recompute activations in the backward pass: less memory, more time")
]


@app.command()
def train(
    threat: list[Path] = typer.Option(..., help="threat SER checkpoint folder; repeat for an ensemble"),
    corpus: str = typer.Option("synthetic", help="corpus name or CSV manifest"),
    root: Path = typer.Option(None, help=ROOT_HELP),
    out: Path = typer.Option(..., help="output folder (best/, last/, state.pt, train.json)"),
    cache: Path = typer.Option(DEFAULT_CACHE, help=CACHE_HELP),
    seconds: float = typer.Option(None, help=SECONDS_HELP),
    preset: PresetOption = TRAINING_PRESET,
    arch: ArchOption = GENERATOR_PRESET,
    eps: float = typer.Option(DEFAULT_EPS, help="L∞ bound ε of the perturbation"),
    eps_db: EpsDbOption = None,
    bound: BoundOption = None,
    mask: MaskOption = None,
    k_percent: float = typer.Option(None, help="top-k mask: % of each clip's samples perturbed (default 10)"),
    sparsity_pct: float = typer.Option(None, hidden=True, help="the earlier name of --k-percent"),
    noise_channels: NoiseChannelsOption = None,
    alignment: str = typer.Option("exact", help="exact, or authors (reproduce the shifted-clip bug)"),
    steps: int = typer.Option(None, help="optimisation steps (default: the preset's; paper: --epochs passes)"),
    epochs: int = typer.Option(None, help="passes over the training split when no --steps (paper: 20)"),
    lr: float = typer.Option(None, help="default: the preset's"),
    batch_size: int = typer.Option(None, help="default: the preset's (8)"),
    lambda_s: float = typer.Option(None, help="sparsity weight (default: the preset's)"),
    kappa: float = typer.Option(None, help="C&W confidence φ: the margin floor (default: the preset's, 0)"),
    dense_steps: DenseStepsOption = None,
    anneal_steps: int = typer.Option(None, help="steps from the dense start to the budget (default: the preset's)"),
    targeted: bool = typer.Option(False, help="push every clip to --target-class"),
    target_class: str = typer.Option(None, help=TARGET_HELP),
    no_factorisation: bool = typer.Option(False, "--no-factorisation", help="ablation: δ = v, ‖v‖₁ sparsity"),
    no_magnitude: bool = typer.Option(False, "--no-magnitude", help="ablation: λ_m = 0"),
    no_sparsity: bool = typer.Option(False, "--no-sparsity", help="ablation: λ_s = 0"),
    no_quantisation: bool = typer.Option(False, "--no-quantisation", help="ablation: λ_q = 0"),
    budget_k_percent: BudgetSparsityOption = None,
    budget_sparsity: float = typer.Option(None, hidden=True, help="the earlier name of --budget-k-percent"),
    budget_snr: float = typer.Option(None, help="adapt λ_m after every validation until the SNR reaches this dB"),
    budget_update: BudgetUpdateOption = "multiplicative",
    budget_lr: float = typer.Option(1.0, help="dual step size of the budget controllers (per validation)"),
    checkpointing: CheckpointingOption = False,
    micro_batch: int = typer.Option(None, help="accumulate each batch's gradient over parts of this many clips"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="fixes the initial weights and the data order"),
    data: DataOption = None,
    teacher: TeacherOption = None,
    distil_steps: int = typer.Option(DISTIL_STEPS, min=1, help="distillation steps with --teacher"),
    overwrite: bool = typer.Option(False, help=OVERWRITE_HELP),
    device: str = typer.Option("cpu", help=DEVICE_HELP, callback=checked_device),
    quiet: bool = typer.Option(False, help="no progress bars or progress lines"),
) -> None:
    """Train a generator (resumes from OUT/state.pt); data-parallel under torchrun.

    A top-k generator (the default architectures) perturbs exactly --k-percent % of each clip. With a
    budget (--budget-k-percent for the threshold mask, --budget-snr) the loss weight it controls is
    adapted after every validation (dual ascent, :mod:`staa.attacks.staa.budget`); train.json records the
    weights at every validation next to the measured sparsity and SNR.
    """
    from staa.attacks.staa import GeneratorConfig, STAATrainConfig
    from staa.models import load_model
    from staa.training.generator import budget_controllers, check_train_config, train_staa_generator

    checked_places(out, cache)
    k_percent, budget_k_percent = (sparsity_pct if k_percent is None else k_percent), (budget_sparsity if budget_k_percent is None else budget_k_percent)  # fmt: skip
    for option, value, cls in (("--arch", arch, GeneratorConfig), ("--preset", preset, STAATrainConfig)):
        choice(option, value, cls.PRESETS)
    targeted_pair(targeted, target_class)
    given = {"epochs": epochs, "steps": steps, "lr": lr, "batch_size": batch_size, "lambda_s": lambda_s, "kappa": kappa,
             "micro_batch": micro_batch, "target_class": 0 if targeted else None, "dense_steps": dense_steps,
             "anneal_steps": anneal_steps}  # fmt: skip
    options = {**{k: v for k, v in given.items() if v is not None}, "seed": seed, "targeted": targeted,
               "no_factorisation": no_factorisation, "no_magnitude": no_magnitude, "no_sparsity": no_sparsity,
               "no_quantisation": no_quantisation, "checkpointing": checkpointing}  # fmt: skip
    config = check_train_config(STAATrainConfig.preset(preset, **options))  # every option checked before any work
    budgets = budget_controllers(config, budget_k_percent, budget_snr, update=budget_update, lr=budget_lr)
    shape = {"bound": bound, "mask": mask, "k_percent": k_percent, "noise_channels": noise_channels}
    arch_config = GeneratorConfig.preset(arch, eps=eps, eps_db=eps_db, alignment=alignment, factorised=not no_factorisation,
                                         **{k: v for k, v in shape.items() if v is not None})  # fmt: skip
    threat_models = [(path, load_model(path)) for path in threat]
    pc = _with_speech(corpus_for_models(threat_models, corpus, root, cache, seconds, quiet, device=device), data, cache, quiet)  # fmt: skip
    config = replace(config, target_class=target_index(target_class, pc.classes)) if targeted else config
    result = train_staa_generator(arch_config, config, [m for _, m in threat_models], pc, out, budgets=budgets, device=device,
                                  show_progress=not quiet, overwrite=overwrite, teacher=teacher, distil_steps=distil_steps)  # fmt: skip
    if is_main_rank():
        _report(result, out)


@app.command()
def apply(
    generator: Path = typer.Argument(..., help="generator folder (config.json + model.safetensors)"),
    model: Path = typer.Option(..., help="SER checkpoint folder to attack"),
    out: Path = typer.Option(
        ..., help="folder for wav/ (the adversarial clips: 16 kHz mono 32-bit float) and result.json"
    ),
    corpus: str = typer.Option(None, help="corpus name or CSV manifest (or use --input-dir)"),
    root: Path = typer.Option(None, help=ROOT_HELP),
    cache: Path = typer.Option(DEFAULT_CACHE, help=CACHE_HELP),
    seconds: float = typer.Option(None, help=SECONDS_HELP),
    split: str = typer.Option("test", help="split of --corpus"),
    input_dir: Path = typer.Option(
        None,
        help="folder of .wav/.flac/.ogg files of any rate and length, searched recursively (instead of --corpus); "
        "the outputs keep its tree",
    ),
    max_seconds: float = typer.Option(
        MAX_CLIP_SECONDS,
        help="--input-dir: refuse longer files before any work (a clip is attacked whole; memory grows with length)",
    ),
    eps: float = typer.Option(None, help="default: the generator's training ε"),
    eps_db: float = typer.Option(
        None, "--eps-db", help="relative ε: dB under each clip's peak (default: the generator's budget)"
    ),
    target_class: str = typer.Option(None, help="evaluate as a targeted attack towards this class (name or index)"),
    batch_size: int = typer.Option(8, min=1, help="--corpus: clips attacked together"),
    overwrite: bool = typer.Option(False, help=OVERWRITE_HELP),
    device: str = typer.Option("cpu", help=DEVICE_HELP, callback=checked_device),
    quiet: bool = typer.Option(False, help="no progress bars or progress lines"),
) -> None:
    """Write adversarial WAVs for a corpus split or a folder, and OUT/result.json (per-example and summary).

    `staa attack staa --generator GEN --input DIR` attacks the same clips into OUT/records.json, the record
    format of every attack.

    Every clip comes back as a 16 kHz mono 32-bit float WAV under OUT/wav/, whatever its rate and channels
    (a 48 kHz stereo file is down-mixed and resampled first). A folder is checked whole before anything is
    written. The summary has the names of every crafted set's (docs/results-schema.md): ``n``,
    ``n_success``, ``asr_threat``, ``snr_db``, ``sparsity_pct``, ``seconds_per_example``.
    """
    from staa.attacks.staa import STAANet
    from staa.attacks.staa.export import clip_batches, folder_clips, split_batches
    from staa.audio import SAMPLE_RATE
    from staa.evaluation.runs import apply_generator
    from staa.models import load_model
    from staa.validation import number

    if (corpus is None) == (input_dir is None):
        raise ConfigError("give exactly one of --corpus or --input-dir")
    number("--max-seconds", max_seconds, low=0, low_open=True)
    checked_places(out, cache if corpus is not None else None)
    victim = load_model(model)
    if input_dir is not None:
        victim.check_fits(None, SAMPLE_RATE, model)
        classes = victim.config.class_names or [str(i) for i in range(victim.num_classes)]
    else:
        pc = corpus_for_models([(model, victim)], corpus, root, cache, seconds, quiet)
        classes = pc.classes
    target = target_index(target_class, classes)
    attack = STAANet.from_pretrained(victim.to(device), generator, eps=eps, eps_db=eps_db, targeted=target is not None)
    if input_dir is not None:
        clips = folder_clips(input_dir, out, max_seconds=max_seconds, min_samples=victim.min_samples)
        batches, total, source, names = clip_batches(clips), len(clips), str(input_dir), [n for n, _ in clips]
    else:
        data = pc.split(split)
        batches, total, source = split_batches(data, batch_size), -(-len(data) // batch_size), f"{corpus}/{split}"
        names = [item["path"] for item in data.items]
    record = apply_generator(attack, batches, out, target=target, total=total, show_progress=not quiet, inputs=names,
                             source={"generator": str(generator), "model": str(model), "source": source},
                             overwrite=overwrite)  # fmt: skip
    s = record["summary"]
    typer.echo(
        f"{s['n']} clips: ASR {s['asr_threat']:.4f}, sparsity {fmt(s['sparsity_pct'])} %, SNR {fmt(s['snr_db'])} dB, "
        f"{1000 * s['seconds_per_example']:.1f} ms/clip -> {out / 'wav'}"
    )
    audible_warning("STAA-Net", s.get("snr_db_median"))


def _with_speech(pc: Any, sources: list[Any] | None, cache: Path, quiet: bool) -> Any:
    """``pc``, or with ``sources`` (--data) its training split replaced by their speech, pooled into ``cache``."""
    if not sources:
        return pc
    from staa.data.speech import pooled_speech
    from staa.runtime import distributed as ddp

    with ddp.main_first():  # under torchrun rank 0 pools, the others reuse its cache
        return pooled_speech(sources, pc, cache, show_progress=not quiet and ddp.is_main())


def _report(result: dict[str, Any], out: Path) -> None:
    """The last validation's ASR, sparsity and SNR, where the generator is, and each budget's outcome."""
    last = result["history"][-1] if result["history"] else {}
    typer.echo(
        f"validation ASR {last.get('val_asr', float('nan')):.4f}, sparsity {fmt(last.get('val_sparsity'))} %, "
        f"SNR {fmt(last.get('val_snr_db'))} dB (last validation); generator {out / 'best'}"
    )
    for budget in result.get("budgets", []):
        typer.echo(_budget_line(budget, last))


def _budget_line(budget: dict[str, Any], last: dict[str, Any]) -> str:
    """What a budget asked for, what the last validation measured, and the weight it ended at."""
    if budget["weight"] == "lambda_s":
        asked = f"sparsity {budget['target']:.2f} % of all samples"
        achieved = f"{fmt(last.get('val_sparsity_all'))} %"
    else:
        asked, achieved = f"SNR {budget['target']:.2f} dB", f"{fmt(last.get('val_snr_db'))} dB"
    weight = last.get(budget["weight"])
    return f"budget {asked}: achieved {achieved} (last validation), {budget['weight']} = {fmt(weight, '.4g')}"
