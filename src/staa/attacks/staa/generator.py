"""The STAA-Net generator: a Wave-U-Net with one encoder and two decoders (paper §3.2, Eq. 1–2).

UB₁ gives the perturbation magnitudes v ∈ [−ε, ε], UB₂ the position scores ∂ = (tanh + 1)/2 ∈ [0, 1];
the perturbation is δ = v ⊗ m with m the quantised positions and x_adv = clamp(x + δ, −1, 1).

Quantisation (as the authors' code, not the paper's Eq. 2, whose inequality is inverted): at inference
m = 1 where ∂ ≥ γ and 0 elsewhere — exactly binary. In training every element independently keeps
its continuous score with probability ``quant_prob`` (differentiable) and otherwise takes the binary
value, detached; the sparsity and quantisation losses then push ∂ towards 0 or 1.

Any clip length works: :mod:`staa.attacks.staa.sizes` plans the padded input and the heads are cropped
to the clip (the authors' network accepted only one length, and added δ to a shifted clip —
reproducible with ``alignment="authors"``).

Space-to-depth (``fold`` = f > 1, the real-time configuration): the padded input is cut into frames of
f samples that enter as f channels, the whole U-Net runs at 1/f of the sample rate, and each head
emits f channels that are interleaved back into samples. Every layer then costs about 1/f as much,
while the full-rate resolution of δ and of the mask is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from staa.attacks.budget import AmplitudeBudget, clip_peak
from staa.attacks.staa.config import GeneratorConfig
from staa.attacks.staa.layers import (
    Checkpointed,
    Decoder,
    DownBlock,
    clip_seeds,
    depth_to_space,
    hashed_noise,
    reflect_indices,
    space_to_depth,
)
from staa.attacks.staa.masks import budget, threshold_mask, topk_mask
from staa.attacks.staa.sizes import Plan, plan
from staa.errors import CheckpointError, ConfigError
from staa.io.weights import WEIGHTS_NAME, load_weights, read_config, save_folder


@dataclass
class GeneratorOutput:
    """All (B, N): the adversarial clip, δ = v ⊗ m, magnitudes v, mask m, and the position scores (None if
    not factorised): ∂ ∈ [0, 1] for the threshold mask, the logits that a top-k mask ranks otherwise."""

    x_adv: Tensor
    delta: Tensor
    magnitudes: Tensor
    mask: Tensor
    scores: Tensor | None


class Generator(nn.Module):
    """``Generator(GeneratorConfig.authors())(x)`` → :class:`GeneratorOutput` for x of shape (B, N).

    Subclasses are other architectures behind the same output, mask and checkpoint format; each names its
    ``architecture`` (the config field) and :meth:`for_config` builds the right one.
    """

    architecture: ClassVar[str] = "wave-u-net"
    _architectures: ClassVar[dict[str, type[Generator]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "architecture" in cls.__dict__:  # a subclass that keeps its parent's architecture (a probe) is no builder
            Generator._architectures[cls.architecture] = cls

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GeneratorConfig.authors()
        if config.architecture != self.architecture:
            raise ConfigError(f"generator config: a '{config.architecture}' generator is built by "
                              f"Generator.for_config, not {type(self).__name__}")  # fmt: skip
        self._plans: dict[int, Plan] = {}
        self._build(config)

    @classmethod
    def for_config(cls, config: GeneratorConfig, threat_models: Sequence[nn.Module] = ()) -> Generator:
        """A fresh generator of ``config``'s architecture, to be trained against ``threat_models``.

        The Wave-U-Net ignores them; the adjoint architecture takes its front end from the first (without
        any, from ``config.front``, with fresh weights: what loading a checkpoint starts from).
        """
        return cls._architectures[config.architecture].initialised(config, threat_models)

    @classmethod
    def initialised(cls, config: GeneratorConfig, threat_models: Sequence[nn.Module]) -> Generator:
        """This architecture's fresh generator for ``threat_models`` (:meth:`for_config`)."""
        return cls(config)

    def _build(self, config: GeneratorConfig) -> None:
        ch, k, s, d, norm = config.channels, config.kernel_size, config.stride, config.depth, config.norm
        f = config.fold
        self.encoder = nn.ModuleList(
            DownBlock(f * (1 + config.noise_channels) if i == 0 else ch[i], ch[i], ch[i + 1], k, s, d, norm)
            for i in range(config.levels - 1)
        )
        up = config.upsample
        self.magnitude_decoder = Decoder(ch, k, s, d, norm, f, up)
        self.position_decoder = Decoder(ch, k, s, d, norm, f, up) if config.factorised else None

    def plan(self, length: int) -> Plan:
        if length not in self._plans:
            self._plans[length] = plan(self.config, length)
        return self._plans[length]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def checkpoint_activations(self, enabled: bool = True) -> Generator:
        """Recompute every block and layer in the backward pass instead of storing it (training memory).

        The authors' 50.7 M network keeps full-rate activations of 32–64 channels per layer, so checkpointing
        cuts a training step's peak memory by more than half, and micro-batches
        (``STAATrainConfig.micro_batch``) cut it further (``benchmarks/training.py``;
        docs/results/speed.md#training-memory).
        Decoders, blocks and layers are checkpointed nested, so a layer runs forward up to three more
        times; values and gradients are unchanged. Batch norm is refused: recomputing it in train mode
        would update its running statistics a second time.
        """
        if enabled and self.config.norm == "bn":
            raise ConfigError("activation checkpointing needs norm 'gn' or 'none': batch norm would update twice")
        for module in self.modules():
            if isinstance(module, Checkpointed):
                module.checkpointing = enabled
        return self

    def forward(self, x: Tensor, eps: float | Tensor | None = None, k_percent: float | None = None) -> GeneratorOutput:
        """Perturb ``x`` under ``eps`` (a float, or one per clip of shape (B, 1); None: the config's budget,
        :meth:`clip_eps`); ``k_percent`` overrides a top-k mask's budget (training anneals it from 100 %)."""
        if x.dim() != 2:
            raise ConfigError(f"generator: expected a (batch, samples) waveform, got shape {tuple(x.shape)}")
        eps = self.clip_eps(x) if eps is None else eps
        clean, magnitudes, mask, scores = self.perturb(x, eps, k_percent)
        delta = magnitudes * mask
        return GeneratorOutput(torch.clamp(clean + delta, -1.0, 1.0), delta, magnitudes, mask, scores)

    def clip_eps(self, x: Tensor) -> Tensor:
        """The config's budget for clips ``x``: ε per clip, shape (B, 1) (absolute ``eps`` or relative ``eps_db``)."""
        return AmplitudeBudget(
            None if self.config.eps_db is not None else self.config.eps, self.config.eps_db, "generator"
        ).of(x)

    def perturb(
        self, x: Tensor, eps: float | Tensor, k_percent: float | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """(the clip δ is added to, v, m, scores) of :meth:`forward`: the heads on the padded clip, then the mask.

        Under a relative budget (``eps_db``) the heads see each clip scaled to a unit peak, so that a clip
        recorded at another level gets the same δ relative to it (the network is not scale-equivariant).
        """
        n = x.shape[-1]
        p = self.plan(n)
        padded = x[:, reflect_indices(n, p.left, p.right).to(x.device)]
        level = clip_peak(x).clamp_min(1e-12) if self.config.eps_db is not None else 1.0
        magnitudes, scores = self.heads(padded / level, n, eps)
        if scores is None:
            mask = torch.ones_like(magnitudes)
        else:
            mask, scores = self.quantise(scores, k_percent)
        return (x if self.config.alignment == "exact" else padded[:, :n]), magnitudes, mask, scores

    def heads(self, padded: Tensor, count: int, eps: float | Tensor) -> tuple[Tensor, Tensor | None]:
        """Magnitudes v and scores ∂ (None if not factorised) of the first ``count`` outputs of a padded input.

        ``padded`` is already reflection-padded (offline: by :meth:`plan`; streaming: a segment of the
        stream), its length a whole number of ``fold``-sample frames.
        """
        cfg = self.config
        inputs = padded
        if cfg.noise_channels:  # a pseudo-random ±1 carrier beside the clip: high frequencies to shape
            seed = cfg.noise_seed if cfg.noise == "fixed" else clip_seeds(padded, cfg.noise_seed)
            noise = hashed_noise(cfg.noise_channels, padded.shape[-1], seed, padded.device).to(padded.dtype)
            inputs = torch.cat([padded[:, None], noise.expand(len(padded), -1, -1)], dim=1)
        h, skips = space_to_depth(inputs, cfg.fold), []
        for block in self.encoder:
            h, skip = block(h)
            skips.append(skip)
        magnitudes = self._bound(depth_to_space(self.magnitude_decoder(h, skips))[:, :count], eps)
        if self.position_decoder is None:
            return magnitudes, None
        logits = depth_to_space(self.position_decoder(h, skips))[:, :count]
        return magnitudes, logits if self.config.mask == "topk" else (torch.tanh(logits) + 1) / 2

    def _bound(self, z: Tensor, eps: float | Tensor) -> Tensor:
        """v = ε·tanh(z) (authors, smooth), ε·clip(z, −1, 1) (the paper's hard clip) or ε·sign(z) (straight-through tanh)."""
        if self.config.bound == "tanh":
            return eps * torch.tanh(z)
        if self.config.bound == "clip":
            return eps * torch.clamp(z, -1.0, 1.0)
        soft = torch.tanh(z)
        return eps * (torch.sign(z) + (soft - soft.detach()))

    def quantise(self, scores: Tensor, k_percent: float | None = None) -> tuple[Tensor, Tensor]:
        """(m, ∂): the mask of :mod:`staa.attacks.staa.masks` and the scores to report.

        ``threshold``: ``scores`` are ∂ ∈ [0, 1]. ``topk``: ``scores`` are the position logits z, whose
        order within a clip is what the mask keeps. Both are returned as they are.
        """
        cfg = self.config
        if cfg.mask == "threshold":
            return threshold_mask(scores, cfg.gamma, cfg.quant_prob, self.training), scores
        k = budget(cfg.k_percent if k_percent is None else k_percent, scores.shape[-1])
        return topk_mask(scores, k)[0], scores

    # ---- checkpoints -----------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` atomically into ``directory``."""
        return save_folder(self, self.config.to_dict(), directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> Generator:
        """Load a generator folder; refuses checkpoints of other model types and mismatching weights."""
        config = read_config(directory)
        if config.get("model_type") != GeneratorConfig.model_type:
            raise CheckpointError(
                f"checkpoint is a '{config.get('model_type')}' model, not a '{GeneratorConfig.model_type}'", directory
            )
        generator = Generator.for_config(GeneratorConfig.from_dict(config))
        load_weights(generator, Path(directory) / WEIGHTS_NAME)
        return generator


Generator._architectures[Generator.architecture] = Generator  # subclasses register themselves
