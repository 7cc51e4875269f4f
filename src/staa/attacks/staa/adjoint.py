"""The adjoint generator: STAA-Net whose decoder is the transpose of the threat model's own front end.

Why: on real speech a Wave-U-Net generator fools far fewer clips than sparse PGD. Emo18's gradient lies
at 2–8 kHz and changes sign from sample to sample; the U-Net's magnitudes lay below 500 Hz, and it could
not fit even the clips it was scored on (docs/results/generator-study.md has the measurements). The sign
of the gradient at a sample is fixed by two things: the front end's local state at that sample (which
filter, which max-pooling winner, which side of each leaky ReLU), and one coefficient per front-end
channel and frame that depends on the whole clip. This network is given the first exactly, as a
structure, and learns only the second; at its best it does what one exact sparse gradient step does,
without the gradient.

For a clip x (B, N):

1. h = F(x): a copy of the threat's convolutional front end (standardisation, then Emo18's or Zhao19's
   ``cnn``, or the convolutional feature encoder of wav2vec 2.0, WavLM or HuBERT), frozen, taken when
   the generator is built for the threat and saved with its weights;
2. u = C(h): a context network (convolutions over the front end's frames, each frame also given the
   clip's mean) predicts one coefficient per front-end channel and frame;
3. z = J_F(x)ᵀ u: the coefficients are carried back to the samples through the transpose of F at this
   clip — un-pooling onto each window's winner, the leaky ReLUs' slopes, batch norm's scales, the
   transposed convolutions — computed as a vector–Jacobian product of F. No loss, no label and no
   classifier is involved: with u = ∂L/∂h it would be the threat's gradient, and training learns the
   coefficients that fool;
4. v = ε·bound(a·z / rms(z)) with a learned gain a, and the mask keeps the top-k samples of |z|: where
   one gradient step would put them, with its signs.

The attack then costs about one forward and one backward pass of the front end (the recurrent head or
the transformer is never run), against twenty of the whole model for sparse PGD-20.

The guided generator (``GeneratorConfig.guided()``) gives step 2 the threat's own coefficients too:
u = g + C(h, g) with g = −∂L/∂h at the clean clip (L the C&W margin at the threat's prediction, so no
label is needed) and C's output zero at the start. Untrained it is one exact sparse gradient step; training
learns what that step lacks — what iterating at the perturbed clip gives PGD. A context network that must
predict the coefficients from h alone has to learn the threat's head for every speaker; given g, it learns
a correction. It carries a copy of the threat's head and costs one forward and backward pass of the whole
threat model: one gradient, against PGD-20's twenty. Models without a
convolutional front end (defended wrappers, for example) are refused. The front end stays in eval mode,
so batch norm uses the threat's running statistics, as the threat itself does when it is attacked.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor, nn

from staa.attacks.base import margin_loss
from staa.attacks.staa.config import GeneratorConfig
from staa.attacks.staa.generator import Generator
from staa.attacks.staa.layers import clip_seeds, hashed_bits
from staa.errors import ConfigError
from staa.models.base import standardize
from staa.models.registry import model_class
from staa.validation import check_fields


def front_end(model: nn.Module) -> nn.Module:
    """The convolutional front end of an SER model, or one error line naming the model.

    Emo18's and Zhao19's ``cnn`` (input (B, 1, N)); the foundation models' convolutional feature encoder
    (``encoder.feature_extractor``, input (B, N)), frozen in every staa SER model, whose transformer and
    head then play the part of the recurrent head.
    """
    front = getattr(model, "cnn", None)
    if front is None:
        front = getattr(getattr(model, "encoder", None), "feature_extractor", None)
    if not isinstance(front, nn.Module):
        raise ConfigError(f"the adjoint generator needs a threat model with a convolutional front end (Emo18, "
                          f"Zhao19, or a foundation model's feature encoder); {type(model).__name__} has none")  # fmt: skip
    return front


class Context(nn.Module):
    """One coefficient per front-end channel and frame, from the front end's features and the clip's mean."""

    def __init__(self, channels: int, hidden: int, layers: int, kernel: int, out: int | None = None) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, channels, affine=False)  # the features' scale varies with the clip
        body: list[nn.Module] = []
        for i in range(layers):
            body += [
                nn.Conv1d(2 * channels if i == 0 else hidden, hidden, kernel, padding=kernel // 2),
                nn.LeakyReLU(0.1),
            ]
        self.body = nn.Sequential(*body)
        self.out = nn.Conv1d(hidden, out or channels, 1)

    def forward(self, h: Tensor) -> Tensor:
        h = self.norm(h)
        whole = h.mean(-1, keepdim=True).expand_as(
            h
        )  # what the clip is as a whole: the class the coefficients depend on
        return self.out(self.body(torch.cat([h, whole], dim=1)))


def threat_head(model: nn.Module) -> nn.Module:
    """The head that reads an SER model's front-end features (Emo18's and Zhao19's ``head``), or one error line."""
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Module) or getattr(model, "cnn", None) is None:
        raise ConfigError(f"the guided generator needs a threat whose head reads its convolutional front end "
                          f"(Emo18, Zhao19); {type(model).__name__} has none")  # fmt: skip
    return head


class GuidedContext(nn.Module):
    """u = g + C(h, g): the threat's coefficients g = −∂L/∂h, normalised per clip, and a learned correction
    read from the features and g, zero at the start (the module docstring says why)."""

    def __init__(self, head: nn.Module, channels: int, hidden: int, layers: int, kernel: int) -> None:
        super().__init__()
        self.head = head.requires_grad_(False).eval()
        self.norm = nn.GroupNorm(1, channels, affine=False)  # h on g's unit scale before C's joint norm
        self.correction = Context(2 * channels, hidden, layers, kernel, out=channels)
        nn.init.zeros_(self.correction.out.weight)
        nn.init.zeros_(self.correction.out.bias)

    def coefficients(self, h: Tensor, labels: Tensor | None = None) -> Tensor:
        """−∂L/∂h / rms over each clip, L the unfloored C&W margin of the head at ``labels`` (default: its own
        prediction; a constant: the head is frozen and the clip is not trained through it)."""
        with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):  # cuDNN's RNN backward needs train mode
            hg = h.detach().requires_grad_(True)
            logits = self.head(hg)
            labels = logits.argmax(-1) if labels is None else labels
            (g,) = torch.autograd.grad(margin_loss(logits, labels, kappa=float("inf")).sum(), hg)
        return -g / g.pow(2).mean((1, 2), keepdim=True).sqrt().clamp_min(1e-12)

    def predict(self, h: Tensor) -> Tensor:
        """The head's class for features h: the clean clip's, which every stage of a staged generator attacks."""
        with torch.no_grad():
            return self.head(h).argmax(-1)

    def forward(self, h: Tensor, labels: Tensor | None = None) -> Tensor:
        g = self.coefficients(h, labels)
        return g + self.correction(torch.cat([self.norm(h), g], dim=1))


class AdjointGenerator(Generator):
    """``Generator.for_config(GeneratorConfig.adjoint(), [threat])``: see the module docstring."""

    architecture = "adjoint"

    @classmethod
    def initialised(cls, config: GeneratorConfig, threat_models: Sequence[nn.Module]) -> Generator:
        """A fresh adjoint generator carrying a copy of the first threat model's front end (without threat
        models, the front end that ``config.front`` describes, to load a checkpoint's weights into)."""
        if not threat_models:
            return cls(config)
        threat = threat_models[0]
        front = front_end(threat)
        generator = cls(replace(config, front=threat.config.to_dict()))
        generator.front.load_state_dict(front.state_dict())
        if config.threat_gradient:
            for context in generator.stages():
                context.head.load_state_dict(threat_head(threat).state_dict())
        return generator

    def _build(self, config: GeneratorConfig) -> None:
        if config.front is None:
            raise ConfigError("generator config: an adjoint generator needs 'front', the threat model's config")
        kind = model_class(str(config.front.get("model_type")))
        check_fields(kind.config_class, config.front, "front")
        recorded = kind.config_class.from_dict(config.front)
        recorded.check_recorded()  # a checkpoint's front end is checked like an SER checkpoint's config
        model = kind(recorded)
        self.front = front_end(model).requires_grad_(False)
        self.channel_axis = isinstance(self.front, nn.Sequential)  # Emo18/Zhao19 take (B, 1, N), encoders (B, N)
        self.standardized = getattr(recorded, "normalize", True) is not False  # as the threat's own forward
        self.context = self._context(config)
        if config.threat_gradient:
            sizes = (
                self.context.out.out_channels,
                config.context_channels,
                config.context_layers,
                config.context_kernel,
            )
            self.context = GuidedContext(copy.deepcopy(threat_head(model)), *sizes)
            if config.stages > 1:  # only then: the state-dict keys of one-stage generators stay as they were
                self.later = nn.ModuleList(GuidedContext(copy.deepcopy(threat_head(model)), *sizes)
                                           for _ in range(config.stages - 1))  # fmt: skip
        self.gain = nn.Parameter(torch.tensor(3.0))  # the scale of z/rms(z) before the bound, learned

    def _context(self, config: GeneratorConfig) -> nn.Module:
        """The network that predicts the coefficients: one per channel and frame of the front end's output."""
        channels = [m.out_channels for m in self.front.modules() if isinstance(m, nn.Conv1d)][-1]
        return Context(channels, config.context_channels, config.context_layers, config.context_kernel)

    def stages(self) -> list[nn.Module]:
        """The context network of each step: one, or ``config.stages`` for a staged guided generator."""
        return [self.context, *getattr(self, "later", [])]

    def train(self, mode: bool = True) -> AdjointGenerator:
        super().train(mode)
        self.front.eval()  # the threat's running statistics, always
        for context in self.stages():
            if isinstance(context, GuidedContext):
                context.head.eval()  # the head as it is attacked: no dropout
        return self

    def perturb(
        self, x: Tensor, eps: float | Tensor, k_percent: float | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """v = ε·bound(a·z/rms(z)) and the top-k |z| as the mask, for z = J_F(x)ᵀC(F(x)); δ is added to x itself."""
        if self.config.stages > 1:
            return self.staged(x, eps, k_percent)
        z = _normalised(self.adjoint(x)) if self.config.draws == 1 else self.smoothed(x, eps)
        magnitudes = self._bound(self.gain * z, eps)
        if not self.config.factorised:
            return x, magnitudes, torch.ones_like(magnitudes), None
        mask, scores = self.quantise(z.abs(), k_percent)
        return x, magnitudes, mask, scores

    def staged(
        self, x: Tensor, eps: float | Tensor, k_percent: float | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """Each step reads the front end and the threat's gradient at the clip the steps before it made and adds
        its normalised z to theirs; v and the mask come from the sum, as one step's from its z. Learned
        iteration: what PGD gains over one gradient step, at the cost of one backward pass of the threat a step.

        Every step attacks the clean clip's class, as PGD keeps its labels: a step that read the class at the clip
        before it would, on a clip the steps before it had already flipped, push it back.
        """
        xi, h = self._linearised(x)
        labels = self.context.predict(h.detach())  # the front end's pass at x serves the first step too
        total, current = torch.zeros_like(x), x
        for step, context in enumerate(self.stages()):
            if step:
                xi, h = self._linearised(current)
            total = total + _normalised(self._transposed(xi, h, context, labels))
            z = _normalised(total)
            magnitudes = self._bound(self.gain * z, eps)
            mask, scores = self.quantise(z.abs(), k_percent)
            current = torch.clamp(x + magnitudes * mask, -1.0, 1.0)
        return x, magnitudes, mask, scores

    def smoothed(self, x: Tensor, eps: float | Tensor) -> Tensor:
        """The mean of z/rms(z) over ``draws`` copies of each clip with ±ε on a random ``k_percent`` % of
        its samples: the transpose where the attack will take the clip, not only where it starts.

        Why: the front end is piecewise linear (max-pooling winners, leaky ReLUs), and a perturbation of ε
        on 10 % of the samples moves many pieces, so the Jacobian at the clean clip is a poor guide to
        it. One exact sparse step along the threat's own gradient averaged this way fools clearly more
        clips than the gradient at the clean clip (``research/position_oracle.py``;
        docs/results/generator-study.md). The draws are a hash of each clip, so a clip
        gets the same δ on every machine and in every batch.
        """
        b, n, d = len(x), x.shape[-1], self.config.draws
        bits = hashed_bits(d, n, clip_seeds(x, 0), x.device)  # (B, draws, N)
        chosen = (bits >> 8).to(torch.float64) < self.config.k_percent / 100 * 2**24
        eps = eps.reshape(-1, 1, 1) if isinstance(eps, Tensor) else eps  # per clip: over its draws and samples
        noise = eps * ((bits & 1) * 2 - 1).to(x.dtype) * chosen.to(x.dtype)
        z = self.adjoint(torch.clamp(x[:, None] + noise, -1.0, 1.0).reshape(b * d, n)).reshape(b, d, n)
        return _normalised(_normalised(z).mean(1))

    def features(self, x: Tensor) -> Tensor:
        """F(x): the front end's (B, channels, frames) features of a clip, standardised as the threat does."""
        x = standardize(x) if self.standardized else x
        return self.front(x[:, None] if self.channel_axis else x)

    def adjoint(self, x: Tensor, context: nn.Module | None = None, labels: Tensor | None = None) -> Tensor:
        """J_F(x)ᵀ C(F(x)): the coefficients of ``context`` (default: this generator's; a guided one's at ``labels``)
        carried back to the samples."""
        return self._transposed(*self._linearised(x), context, labels)

    def _linearised(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x as a leaf and F(x) with its graph, whatever the grad mode: what the transpose J_F(x)ᵀ is taken from."""
        with torch.enable_grad():
            xi = x.detach().requires_grad_(True)
            return xi, self.features(xi)

    def _transposed(self, xi: Tensor, h: Tensor, context: nn.Module | None, labels: Tensor | None) -> Tensor:
        """J_F(xi)ᵀ u for h = F(xi), u the coefficients of ``context`` read from h. In training (grad mode on)
        gradients reach the context network through the product; at inference it builds no graph."""
        context = self.context if context is None else context
        keep = torch.is_grad_enabled()
        u = context(h.detach()) if labels is None else context(h.detach(), labels)
        return torch.autograd.grad(h, xi, u, create_graph=keep)[0]


def _normalised(z: Tensor) -> Tensor:
    """z / rms(z) over the last axis: only the shape of the map matters, its scale is the learned gain's."""
    return z / z.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-12)
