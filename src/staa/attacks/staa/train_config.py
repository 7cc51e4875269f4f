"""The settings of generator training (:class:`STAATrainConfig`) and its presets, in one record.

``train.json`` stores this record, and experiments and the CLI build it by preset name
(:meth:`STAATrainConfig.preset`), so a run is always reproducible from what it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from staa.attacks.staa.budget import DualController
from staa.attacks.staa.generator import Generator
from staa.attacks.staa.losses import REDUCTIONS, LossWeights
from staa.data import augment
from staa.data.cache import PreparedCorpus
from staa.errors import ConfigError, DataError
from staa.models.base import SERModel

LR_SCHEDULES = ("step", "cosine")


@dataclass
class STAATrainConfig:
    """Loss weights, optimisation, mask schedule and ablation switches of generator training.

    Presets: :meth:`paper` (the paper's weights and schedule, its loss reduction), :meth:`authors`
    (their script's defaults) and :meth:`topk` (for the top-k generators: thousands of steps, dense
    start and annealing, augmentation, per-sample loss normalisation).

    ``lambda_p`` weighs the saliency term of top-k masks (:func:`staa.attacks.staa.losses.saliency_loss`,
    not in the paper): the position scores learn where the threat model's gradient is large. ``focus`` τ
    weights the C&W term of each batch towards the clips nearest the boundary
    (:func:`staa.attacks.staa.losses.boundary_weights`, not in the paper; None: the plain mean).

    Ablations (paper Table 6): ``no_magnitude`` sets λ_m = 0, ``no_sparsity`` λ_s = 0,
    ``no_quantisation`` λ_q = 0; ``no_factorisation`` needs a generator built with
    ``factorised=False`` (δ = v dense), puts the sparsity loss on v (‖v‖₁) and drops the
    quantisation loss.

    Length: ``steps`` optimisation steps, or ``epochs`` passes over the training split when ``steps``
    is None; ``eval_every`` steps between validations (None: once per pass), each on the validation split
    or, with ``val_examples``, on a fixed seeded draw of that many of its clips: choosing the kept checkpoint
    needs a few hundred clips, and a large split (nEMO's 1 079 clips of 3.4 s) costs more per validation
    than fifty training steps. ``lr_schedule``:
    ``step`` multiplies the rate by ``gamma_lr`` every ``step_size`` passes (the paper's StepLR),
    ``cosine`` decays it to zero over the run.

    Mask schedule (:class:`~staa.attacks.staa.schedule.DensitySchedule`): ``dense_steps`` at 100 %,
    then ``anneal_steps`` down to the generator's budget. For the paper's threshold mask the same two
    numbers ramp λ_s and λ_q up from 0 instead (a warm-up; without it a fresh generator's mask can empty
    before it is useful). ``augment``: the settings of :class:`staa.data.augment.Augmentation` for the
    training clips (None: the clips as they are, the paper).

    Memory, for the authors' network on long clips — the same steps in less memory: ``checkpointing``
    recomputes the generator's activations in the backward pass instead of storing them
    (:meth:`Generator.checkpoint_activations`); ``micro_batch`` accumulates each batch's gradient over
    parts of that many clips. Both need a generator without batch norm (its statistics would change).
    """

    lambda_m: float = 1e-3
    lambda_s: float = 1e-4
    lambda_q: float = 1e-4
    lambda_p: float = 0.0
    kappa: float = 0.0
    focus: float | None = None
    reduction: str = "sum"
    lr: float = 1e-4
    lr_schedule: str = "step"
    step_size: int = 5
    gamma_lr: float = 0.5
    epochs: int = 20
    steps: int | None = None
    eval_every: int | None = None
    val_examples: int | None = None
    batch_size: int = 8
    seed: int = 0
    targeted: bool = False
    target_class: int | None = None
    no_factorisation: bool = False
    no_magnitude: bool = False
    no_sparsity: bool = False
    no_quantisation: bool = False
    eval_batch_size: int = 16
    checkpointing: bool = False
    dense_steps: int = 0
    anneal_steps: int = 0
    augment: dict[str, Any] | None = None
    micro_batch: int | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1 or self.step_size < 1:
            raise ConfigError("generator training: epochs, batch sizes and step_size must be ≥ 1")
        if (self.steps is not None and self.steps < 1) or (self.eval_every is not None and self.eval_every < 1):
            raise ConfigError("generator training: steps and eval_every must be ≥ 1")
        if self.focus is not None and not self.focus > 0:
            raise ConfigError(f"generator training: focus must be > 0 (or null for the plain mean), got {self.focus}")
        if self.val_examples is not None and self.val_examples < 1:
            raise ConfigError(f"generator training: val_examples must be ≥ 1, got {self.val_examples}")
        if self.dense_steps < 0 or self.anneal_steps < 0:
            raise ConfigError("generator training: dense_steps and anneal_steps must be ≥ 0")
        if self.micro_batch is not None and self.micro_batch < 1:
            raise ConfigError(f"generator training: micro_batch must be ≥ 1, got {self.micro_batch}")
        if not self.lr > 0 or not 0 < self.gamma_lr <= 1:
            raise ConfigError(f"generator training: need lr > 0 and gamma_lr in (0, 1], got {self.lr}, {self.gamma_lr}")
        if min(self.lambda_m, self.lambda_s, self.lambda_q, self.lambda_p, self.kappa) < 0:
            raise ConfigError("generator training: loss weights and kappa must be ≥ 0")
        if self.reduction not in REDUCTIONS or self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(
                f"generator training: reduction must be one of {REDUCTIONS} and lr_schedule one of {LR_SCHEDULES}"
            )
        if self.targeted != (self.target_class is not None):
            raise ConfigError("generator training: a targeted attack needs target_class, an untargeted one none")
        self.augmentation()  # settings checked up front

    def augmentation(self) -> augment.Augmentation | None:
        return None if self.augment is None else augment.Augmentation.from_dict(dict(self.augment))

    def weights(self, eps: float | Tensor = 1.0) -> LossWeights:
        """The λs of Eq. 7 after the ablation switches, read afresh at every step."""
        return LossWeights(
            magnitude=0.0 if self.no_magnitude else self.lambda_m,
            sparsity=0.0 if self.no_sparsity else self.lambda_s,
            quantisation=0.0 if self.no_quantisation or self.no_factorisation else self.lambda_q,
            factorised=not self.no_factorisation,
            reduction=self.reduction,
            eps=eps,
        )

    @classmethod
    def paper(cls, **overrides: Any) -> STAATrainConfig:
        """§4.4: λ_m 1e-3, λ_s 1e-4, λ_q 1e-4 (summed norms), Adam lr 1e-4, StepLR(5, 0.5), 20 epochs, batch 8."""
        return cls(**overrides)

    @classmethod
    def authors(cls, **overrides: Any) -> STAATrainConfig:
        """The authors' script defaults (docs/official-code.md §4.3): λ_m 0, λ_s 0.1, λ_q 1e-6, lr 1e-3."""
        return cls(**{"lambda_m": 0.0, "lambda_s": 0.1, "lambda_q": 1e-6, "lr": 1e-3, **overrides})

    @classmethod
    def topk(cls, **overrides: Any) -> STAATrainConfig:
        """For top-k generators (the ``fast``/``realtime`` presets): 2 000 steps of Adam at 1e-3 with cosine
        decay, 300 dense steps then 600 of annealing, augmented clips, C&W margin κ 0.5 (a clip keeps
        pulling until its margin is clearly crossed, which transfers better), a light RMS penalty on v."""
        return cls(**{
            "lambda_m": 0.05, "lambda_s": 0.0, "lambda_q": 0.0, "kappa": 0.5, "reduction": "mean", "lr": 1e-3,
            "lr_schedule": "cosine", "steps": 2000, "eval_every": 100, "dense_steps": 300, "anneal_steps": 600,
            "augment": {"speed": 0.1, "gain_db": 6.0, "noise_prob": 0.5, "snr_db": [20.0, 40.0]}, **overrides,
        })  # fmt: skip

    PRESETS = ("paper", "authors", "topk")  # no annotation: a class constant, not a dataclass field

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> STAATrainConfig:
        """The training preset ``name`` (one of :attr:`PRESETS`) with ``overrides``.

        The one lookup by name that experiment files and the CLI share. Asking for ``epochs`` without
        ``steps`` means a length in passes, so it replaces a preset's step count.
        """
        if name not in cls.PRESETS:
            raise ConfigError(f"unknown training preset '{name}' (expected {', '.join(cls.PRESETS)})")
        if overrides.get("epochs") is not None and "steps" not in overrides:
            overrides = {**overrides, "steps": None}
        return getattr(cls, name)(**overrides)


LAMBDAS = ("lambda_m", "lambda_s", "lambda_q")  # the weights a budget may adapt


def check_setup(
    generator: Generator,
    threat_models: Sequence[SERModel],
    corpus: PreparedCorpus,
    cfg: STAATrainConfig,
    callbacks: Sequence[DualController] = (),
) -> None:
    """Refuse inconsistent set-ups before any work: one line naming the problem."""
    g = generator.config
    if g.factorised and g.mask == "topk" and any(c.weight == "lambda_s" for c in callbacks):
        raise ConfigError(
            f"a top-k generator keeps its sparsity budget by construction ({g.k_percent} %): set the generator's "
            "k_percent instead of a sparsity budget"
        )
    if not threat_models:
        raise ConfigError("generator training needs at least one threat model")
    if (cfg.checkpointing or cfg.micro_batch) and generator.config.norm == "bn":
        raise ConfigError("checkpointing and micro_batch need a generator without batch norm (norm 'gn' or 'none')")
    if cfg.no_factorisation == generator.config.factorised:
        raise ConfigError(
            "no_factorisation needs a generator built with factorised=False, and only then "
            f"(generator factorised={generator.config.factorised}, no_factorisation={cfg.no_factorisation})"
        )
    classes = {m.num_classes for m in threat_models}
    if len(classes) != 1:
        raise ConfigError(f"threat models disagree on the number of classes: {sorted(classes)}")
    (n_classes,) = classes
    if n_classes != len(corpus.classes):
        raise DataError(f"corpus has {len(corpus.classes)} classes, the threat models {n_classes}", corpus.path)
    if cfg.targeted and not 0 <= int(cfg.target_class) < n_classes:  # type: ignore[arg-type]
        raise ConfigError(f"target class {cfg.target_class} outside the {n_classes} classes")
