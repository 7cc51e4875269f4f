"""The generator's configuration: architecture, perturbation bound and quantisation, as one JSON record.

A trained generator folder holds this record in ``config.json`` (``model_type = "staa-generator"``) next
to ``model.safetensors``, so a checkpoint always rebuilds exactly the network it was trained as.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from staa.attacks.budget import MAX_EPS_DB
from staa.defaults import DEFAULT_EPS
from staa.errors import ConfigError

NORMS = ("gn", "bn", "none")
GROWTHS = ("double", "add")
BOUNDS = ("tanh", "clip", "sign")
ALIGNMENTS = ("exact", "authors")
MASKS = ("topk", "threshold")
UPSAMPLINGS = ("linear", "transposed")
NOISES = ("clip", "fixed")  # where the carrier channels come from
ARCHITECTURES = ("wave-u-net", "adjoint", "shallow-adjoint")
# What the fast generators use instead of the authors' choices (the authors' positions were a comb set
# by the architecture, docs/generators.md): a per-clip top-k mask at a 10 % budget, linear up-sampling,
# the paper's hard clip of the magnitudes, and one carrier channel drawn from each clip, which trained
# better than none or four on the synthetic corpus (docs/results/demo.md#carrier-channels).
TOPK = {"mask": "topk", "k_percent": 10.0, "upsample": "linear", "bound": "clip", "noise_channels": 1}
# The authors' Wave-U-Net where the defaults (the adjoint generator's) differ; also what a stored config
# written before these fields existed was trained with.
AUTHORS = {
    "architecture": "wave-u-net",
    "mask": "threshold",
    "upsample": "transposed",
    "bound": "tanh",
    "noise_channels": 0,
}


@dataclass
class GeneratorConfig:
    """STAA-Net's generator: its architecture, perturbation bound, mask and quantisation.

    The defaults are the shipped default generator, :meth:`adjoint` (:data:`staa.defaults.GENERATOR_PRESET`,
    what ``staa generator train`` and the experiments build when no preset is named); :meth:`authors` is the
    Wave-U-Net of the paper (§3.2, the authors' ``generator_train.py`` defaults).

    ``levels`` channel stages (``levels − 1`` down/up-sampling blocks) of ``features`` base channels that
    ``growth`` doubles (32→64→…, the authors) or adds (32→64→96→…); every stage has ``depth`` valid
    convolutions of ``kernel_size``, and resolution changes by learned stride-``stride`` (transposed)
    convolutions. ``bound`` turns the magnitude head into v ∈ [−ε, ε]: ``tanh`` is the authors' ε·tanh
    (smooth, never reaches ε), ``clip`` the paper's hard clip ε·clip(z, −1, 1). Both scale linearly with
    ε, so a generator can be run at another ε. ``eps_db`` (None: the absolute ``eps``) is the relative budget
    of :mod:`staa.attacks.budget`: ε is then each clip's peak, ``eps_db`` dB lower, in training and inference
    alike, and ``eps`` is unused (a checkpoint without the field is an absolute one). ``gamma`` thresholds the position scores; in training
    each element keeps its continuous score with probability ``quant_prob``. ``factorised = False`` is
    the "w/o factorisation" ablation (no position decoder, δ = v dense). ``alignment = "authors"``
    reproduces the authors' bug of adding δ to the first N samples of the reflection-padded input, a
    shifted clip (docs/official-code.md §3.5), so that its effect can be measured; ``exact`` adds δ to x.
    ``fold`` > 1 is space-to-depth: frames of ``fold`` samples enter as channels and the U-Net runs at
    1/``fold`` of the sample rate (1, the authors' network, keeps every existing checkpoint valid).
    ``mask`` is ``threshold`` (the paper's [∂ ≥ γ], sparsity from the ‖m‖₁ penalty) or ``topk`` (exactly
    ``k_percent`` % of each clip's samples, the highest scores; :mod:`~staa.attacks.staa.masks`).
    ``upsample``: ``transposed`` convolutions (the authors; their phases make a comb) or ``linear``
    interpolation then a convolution. ``noise_channels`` ±1 carriers enter beside the clip, because a
    U-Net that up-samples smoothly cannot make the high frequencies the SER models are most sensitive
    to from the clip alone: ``noise = "clip"`` draws them from a hash of each clip (its own carrier, so
    that no sample index is favoured for every clip), ``fixed`` from the sample index alone (the same
    carrier for every clip, which lets the network learn one universal set of positions).
    ``architecture = "adjoint"`` replaces the Wave-U-Net by :class:`~staa.attacks.staa.adjoint.AdjointGenerator`:
    ``front`` records the threat model's config, whose convolutional front end the generator carries, and
    ``context_channels``, ``context_layers`` and ``context_kernel`` size the network that predicts its
    coefficients (the U-Net fields above are then unused). ``draws`` > 1 averages its transpose over that
    many copies of the clip perturbed at random (±ε on ``k_percent`` % of the samples, drawn from a
    hash of the clip): the front end's Jacobian at the scale of the attack rather than at the clean clip.
    ``threat_gradient`` (adjoint only, the :meth:`guided` preset) also gives the context network the threat's own coefficients
    −∂L/∂h at the clean clip: the generator then carries the threat's head too and costs one backward
    pass of the threat model at attack time. ``stages`` > 1 (guided only) repeats that step at the clip the
    steps before it made, each with its own correction: that many backward passes of the threat.
    """

    model_type: ClassVar[str] = "staa-generator"
    levels: int = 6
    features: int = 32
    growth: str = "double"
    kernel_size: int = 5
    stride: int = 4
    depth: int = 1
    norm: str = "gn"
    eps: float = DEFAULT_EPS
    eps_db: float | None = None
    bound: str = "clip"
    gamma: float = 0.5
    quant_prob: float = 0.5
    factorised: bool = True
    alignment: str = "exact"
    fold: int = 1
    mask: str = "topk"
    k_percent: float = 10.0
    upsample: str = "linear"
    noise_channels: int = 0
    noise: str = "clip"
    noise_seed: int = 0
    architecture: str = "adjoint"
    front: dict[str, Any] | None = None
    context_channels: int = 256
    context_layers: int = 2
    context_kernel: int = 3
    draws: int = 1
    threat_gradient: bool = False
    stages: int = 1

    def __post_init__(self) -> None:
        checks = [
            (2 <= self.levels <= 12, f"levels must be in [2, 12], got {self.levels}"),
            (1 <= self.features <= 1024, f"features must be in [1, 1024], got {self.features}"),
            (2 <= self.kernel_size <= 255, f"kernel_size must be in [2, 255], got {self.kernel_size}"),
            (2 <= self.stride <= 64, f"stride must be in [2, 64], got {self.stride}"),
            (1 <= self.depth <= 16, f"depth must be in [1, 16], got {self.depth}"),
            (1 <= self.fold <= 64, f"fold must be in [1, 64], got {self.fold}"),
            (0 <= self.noise_channels <= 64, f"noise_channels must be in [0, 64], got {self.noise_channels}"),
            (0 < self.eps <= 1, f"eps must be in (0, 1], got {self.eps}"),
            (
                self.eps_db is None or 0 <= self.eps_db <= MAX_EPS_DB,
                f"eps_db must be in [0, {MAX_EPS_DB:g}], got {self.eps_db}",
            ),
            (0 < self.gamma < 1, f"gamma must be in (0, 1), got {self.gamma}"),
            (0 <= self.quant_prob <= 1, f"quant_prob must be in [0, 1], got {self.quant_prob}"),
            (self.norm in NORMS, f"norm must be one of {NORMS}, got '{self.norm}'"),
            (self.growth in GROWTHS, f"growth must be one of {GROWTHS}, got '{self.growth}'"),
            (self.bound in BOUNDS, f"bound must be one of {BOUNDS}, got '{self.bound}'"),
            (self.alignment in ALIGNMENTS, f"alignment must be one of {ALIGNMENTS}, got '{self.alignment}'"),
            (self.mask in MASKS, f"mask must be one of {MASKS}, got '{self.mask}'"),
            (self.upsample in UPSAMPLINGS, f"upsample must be one of {UPSAMPLINGS}, got '{self.upsample}'"),
            (0 < self.k_percent <= 100, f"k_percent must be in (0, 100], got {self.k_percent}"),
            (self.noise in NOISES, f"noise must be one of {NOISES}, got '{self.noise}'"),
            (
                self.architecture in ARCHITECTURES,
                f"architecture must be one of {ARCHITECTURES}, got '{self.architecture}'",
            ),
            (1 <= self.context_channels <= 4096, f"context_channels must be in [1, 4096], got {self.context_channels}"),
            (1 <= self.context_layers <= 16, f"context_layers must be in [1, 16], got {self.context_layers}"),
            (
                1 <= self.context_kernel <= 63 and self.context_kernel % 2 == 1,
                f"context_kernel must be odd and in [1, 63], got {self.context_kernel}",
            ),
            (1 <= self.draws <= 64, f"draws must be in [1, 64], got {self.draws}"),
        ]
        if self.architecture != "wave-u-net":
            checks += [
                (
                    self.mask == "topk" or not self.factorised,
                    "the adjoint architecture ranks its positions: mask must be 'topk'",
                ),
                (
                    self.fold == 1 and self.noise_channels == 0,
                    "the adjoint architecture takes neither fold nor carrier channels",
                ),
                (
                    self.alignment == "exact",
                    "the adjoint architecture adds δ to the clip itself: alignment must be 'exact'",
                ),
            ]
        else:
            checks.append(
                (self.draws == 1, "draws > 1 needs the adjoint architecture (it perturbs its front end's input)")
            )
        if self.threat_gradient and self.architecture != "adjoint":
            checks.append((False, f"threat_gradient needs the adjoint architecture, got '{self.architecture}'"))
        checks.append((1 <= self.stages <= 8, f"stages must be in [1, 8], got {self.stages}"))
        if self.stages > 1:
            checks.append((self.threat_gradient and self.draws == 1 and self.factorised,
                           "stages > 1 needs threat_gradient (the guided preset), draws 1 and a factorised δ"))  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"generator config: {message}")

    @property
    def channels(self) -> list[int]:
        """Channels of each stage: ``features·2^i`` (double) or ``features·(i+1)`` (add)."""
        if self.growth == "double":
            return [self.features * 2**i for i in range(self.levels)]
        return [self.features * (i + 1) for i in range(self.levels)]

    @classmethod
    def authors(cls, **overrides: Any) -> GeneratorConfig:
        """The authors' architecture (6 levels, 32 features, double growth, k5, s4, GroupNorm): ≈50.7 M parameters."""
        return cls(**{**AUTHORS, **cls.renamed(overrides)})

    @classmethod
    def fast(cls, **overrides: Any) -> GeneratorConfig:
        """A small CPU-friendly generator: 4 levels of 8→64 channels (≈0.2 M parameters, ~11–14× faster).

        A Wave-U-Net level costs ∝ C² per input sample at its resolution (channels double while the
        length quarters, so every level costs about the same): 4× fewer channels and two fewer levels
        leave mostly per-sample overhead; benchmarks/generator_speed.py measures the real ratio.
        4 base channels would be ~25× faster, but in short CPU runs against a weakly trained Emo18 its
        position map collapsed to all-zero even with the adversarial loss alone, where 8 learned.
        """
        return cls(**{**AUTHORS, "levels": 4, "features": 8, **TOPK, **cls.renamed(overrides)})

    @classmethod
    def realtime(cls, **overrides: Any) -> GeneratorConfig:
        """The real-time generator: :meth:`fast` run on frames of 2 samples (space-to-depth).

        Folding f samples into f input channels runs every layer at 1/f of the rate, so the generator
        crafts about twice as fast as :meth:`fast` and attacks about as well, its sparsity slightly
        higher (``research/tradeoff.py``; docs/results/speed.md#speed-against-success-trained-generators).

        Why not f = 4: each head channel is one sample phase of the frame, with its own random bias. At
        f = 4 one phase starts well above the threshold on every sample (tanh is far from saturated), and
        the few parameters that are that phase's own barely move within the budget's steps: it stays on,
        a quarter of the samples. Tying the bias across phases or starting it below γ emptied the mask or
        left it dense. Every threshold mask of this kind, fast's too, is a periodic comb (the phases of the
        fold and of the transposed convolutions), so a point of sparsity is which phases survived, not where
        the speech is. It keeps GroupNorm: with batch norm or no norm the f = 4 mask never left its initial
        state; ``norm="bn"`` streams (:mod:`staa.attacks.staa.streaming`) but was not trained at f = 2.
        """
        return cls(**{**AUTHORS, "levels": 4, "features": 8, "fold": 2, **TOPK, **cls.renamed(overrides)})

    @classmethod
    def adjoint(cls, **overrides: Any) -> GeneratorConfig:
        """The adjoint generator (:mod:`staa.attacks.staa.adjoint`): the threat's own front end, transposed,
        carries learned coefficients to the samples; a top-k mask at 10 % and the paper's hard clip.

        ``front`` is filled from the threat model when the generator is built for it
        (:meth:`~staa.attacks.staa.generator.Generator.for_config`).
        """
        return cls(**cls.renamed(overrides))

    @classmethod
    def shallow(cls, **overrides: Any) -> GeneratorConfig:
        """The shallow adjoint generator (:mod:`staa.attacks.staa.shallow`): the adjoint generator through the
        threat's first front-end block only, its other blocks' part learned by a two-rate context network;
        a quarter of the adjoint's cost (Emo18 and Zhao19 threats). Its coarse branch is narrower than the
        adjoint's context (128 channels, a quarter of the cost of 256): it only scales and shifts the local
        branch, which does the work at the first block's frame rate."""
        return cls(**{"architecture": "shallow-adjoint", "context_channels": 128, **cls.renamed(overrides)})

    @classmethod
    def guided(cls, **overrides: Any) -> GeneratorConfig:
        """The guided adjoint generator (:class:`~staa.attacks.staa.adjoint.GuidedContext`): the adjoint
        generator whose context network starts from the threat's own coefficients −∂L/∂h at the clean clip
        and learns a correction to them. It needs the threat's head as well as its front end (Emo18 and
        Zhao19 threats) and one backward pass of the threat model per clip: a learned one-step attack."""
        return cls(**{"threat_gradient": True, **cls.renamed(overrides)})

    PRESETS = (
        "authors",
        "fast",
        "realtime",
        "adjoint",
        "shallow",
        "guided",
    )  # no annotation: a class constant, not a dataclass field

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> GeneratorConfig:
        """The architecture preset ``name`` (one of :attr:`PRESETS`) with ``overrides``.

        The one lookup by name that experiment files, the CLI and the benchmarks share.
        """
        if name not in cls.PRESETS:
            raise ConfigError(f"unknown generator preset '{name}' (expected {', '.join(cls.PRESETS)})")
        return getattr(cls, name)(**overrides)

    def to_dict(self) -> dict[str, Any]:
        """The config as ``config.json`` and folder claims hold it; an absolute budget leaves ``eps_db`` out and
        an unguided generator ``threat_gradient`` and ``stages``, so their files and claims read as those written before."""
        d = asdict(self)
        if d["eps_db"] is None:
            del d["eps_db"]
        for key, unset in (("threat_gradient", False), ("stages", 1)):  # as every generator written before them
            if d[key] == unset:
                del d[key]
        return {"model_type": self.model_type, **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeneratorConfig:
        """A stored config; a field it lacks was added after it was written, so takes the authors' value."""
        names = {f.name for f in fields(cls)}
        return cls(**{**AUTHORS, **{k: v for k, v in cls.renamed(d).items() if k in names}})

    #: Field names of earlier versions, still read from stored configs and experiment files: old → new.
    RENAMED = {"sparsity_pct": "k_percent"}  # no annotation: a class constant, not a dataclass field

    @classmethod
    def renamed(cls, d: dict[str, Any]) -> dict[str, Any]:
        """``d`` with the keys of :attr:`RENAMED` under their current names (a current name given too wins)."""
        out = {cls.RENAMED[k]: v for k, v in d.items() if k in cls.RENAMED}
        out.update((k, v) for k, v in d.items() if k not in cls.RENAMED)
        return out
