"""A universal sparse perturbation: one input-agnostic δ, learned once over a training set.

Where STAA-Net learns a *generator* that maps each clip to its own sparse δ, this learns a single δ
(Moosavi-Dezfooli et al., 2017, made sparse), as the cheapest possible transferable attack: crafting is
one addition. δ = v ⊙ m is factorised like STAA-Net's — magnitudes v = ε·tanh(w) and position scores
∂ = sigmoid(s), both free (N,) parameters — and trained with the same loss
(:func:`~staa.attacks.staa.losses.staa_loss`: C&W margin + λ_m‖v‖₂ + λ_s‖m‖₁ + λ_q‖∂ − m‖₂) by Adam over shuffled batches of the training clips.

The mask has two modes. With a budget (``k`` samples or ``k_percent`` %) it is the top-k of ∂,
binary in the forward pass with a straight-through gradient to ∂, so the sparsity is exact by
construction. Without a budget it is STAA-Net's threshold m = [∂ ≥ γ], mixed soft/hard in training
(see the generator), and λ_s decides the sparsity.

δ has the training clips' length; a clip of another length gets δ tiled periodically and cropped. Under
a relative budget (``eps_db``) the stored δ is in units of ε (|δ| ≤ 1) and each clip gets it scaled by its
own ε (:mod:`staa.attacks.budget`), in the fit as when it is applied.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from staa.attacks.base import BudgetedAttack, FittedAttack, SampleBudget, frozen
from staa.attacks.staa.losses import LossWeights, staa_loss
from staa.errors import CheckpointError, ConfigError
from staa.io.outputs import atomic_path, write_json
from staa.runtime.reproducibility import provenance, seed_everything
from staa.validation import check_fields, number


@dataclass
class UniversalConfig:
    """Optimisation of the universal perturbation (STAA-Net's paper weights, a faster Adam step)."""

    epochs: int = 10
    batch_size: int = 8
    lr: float = 0.05
    lambda_m: float = 1e-3
    lambda_s: float = 1e-4
    lambda_q: float = 1e-4
    gamma: float = 0.5
    quant_prob: float = 0.5
    kappa: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_fields(UniversalConfig, asdict(self), "universal fit")
        number("universal fit: epochs", self.epochs, integer=True, low=1)
        number("universal fit: batch_size", self.batch_size, integer=True, low=1)
        number("universal fit: lr", self.lr, low=0, low_open=True)
        for name in ("lambda_m", "lambda_s", "lambda_q", "kappa", "quant_prob"):
            number(f"universal fit: {name}", getattr(self, name), low=0)
        number("universal fit: gamma", self.gamma, low=0, high=1, low_open=True)


class UniversalPerturbation(FittedAttack, BudgetedAttack):
    """One input-agnostic sparse δ fitted on training clips, then added to any clip.

    ``UniversalPerturbation(model, eps, k_percent=10).fit(x_train)``, then call it on any clips;
    :meth:`from_pretrained` loads a saved one (``perturbation.safetensors``, or the folder holding it).
    """

    name = "universal"

    def __init__(
        self,
        model: nn.Module,
        eps: float | None = None,
        *,
        eps_db: float | None = None,
        k: int | None = None,
        k_percent: float | None = None,
        perturbation: Tensor | None = None,
        targeted: bool = False,
        bounds: tuple[float, float] = (-1.0, 1.0),
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, eps, eps_db=eps_db, targeted=targeted, bounds=bounds, batch_size=batch_size)
        self.sample_budget = SampleBudget(k, k_percent, self.name)
        self.k, self.k_percent = k, k_percent
        self.perturbation = None if perturbation is None else self._checked(torch.as_tensor(perturbation).float())

    def budget(self, n: int) -> int | None:
        """Samples the mask keeps in a perturbation of ``n`` samples, or None in threshold mode."""
        return self.sample_budget.of(n)

    # ---- learning δ ------------------------------------------------------------------------------
    def fit(self, x: Tensor, *, target: int | None = None, config: UniversalConfig | None = None) -> list[dict]:
        """Learn δ on training clips ``x`` (n, N); returns the per-epoch loss history."""
        cfg = config or UniversalConfig()
        if self.targeted != (target is not None):
            raise ConfigError("universal: a targeted perturbation needs target=, an untargeted one none")
        x = self._check_input(x).to(self.device)
        gen = seed_everything(cfg.seed)
        n = x.shape[1]
        w = (0.01 * torch.randn(n, generator=gen)).to(self.device).requires_grad_(True)
        s = (0.01 * torch.randn(n, generator=gen)).to(self.device).requires_grad_(True)
        optimizer = torch.optim.Adam([w, s], lr=cfg.lr)
        weights = LossWeights(cfg.lambda_m, cfg.lambda_s, cfg.lambda_q)
        history = []
        with frozen(self.model):
            labels = self._fit_labels(x, target, cfg.batch_size)
            for epoch in range(cfg.epochs):
                totals: dict[str, float] = {}
                for rows in torch.randperm(len(x), generator=gen).split(cfg.batch_size):
                    v, mask, scores = self._factors(w, s, cfg, training=True)
                    v = v[None] * self._scale(x[rows])
                    x_adv = torch.clamp(x[rows] + v * mask, *self.bounds)
                    terms = staa_loss(
                        [self.model(x_adv)],
                        labels[rows],
                        v,
                        mask[None],
                        scores[None],
                        weights,
                        gamma=cfg.gamma,
                        targeted=self.targeted,
                        kappa=cfg.kappa,
                    )
                    optimizer.zero_grad(set_to_none=True)
                    terms["total"].backward()
                    optimizer.step()
                    for key, value in terms.items():
                        totals[key] = totals.get(key, 0.0) + float(value.detach()) * len(rows)
                history.append({"epoch": epoch + 1, **{k: v / len(x) for k, v in totals.items()}})
        with torch.no_grad():
            v, mask, _ = self._factors(w, s, cfg, training=False)
            self.perturbation = (v * mask).detach()
        return history

    def _fit_labels(self, x: Tensor, target: int | None, batch_size: int) -> Tensor:
        if target is not None:
            return torch.full((len(x),), int(target), dtype=torch.long, device=x.device)
        with torch.no_grad():
            return torch.cat([self.model(x[i : i + batch_size]).argmax(-1) for i in range(0, len(x), batch_size)])

    def _factors(self, w: Tensor, s: Tensor, cfg: UniversalConfig, *, training: bool) -> tuple[Tensor, Tensor, Tensor]:
        """Magnitudes v ∈ (−ε, ε) (relative budget: (−1, 1), in units of each clip's ε), mask m and scores ∂."""
        v, scores = (1.0 if self.amplitude.relative else self.eps) * torch.tanh(w), torch.sigmoid(s)
        k = self.budget(len(scores))
        if k is not None:
            hard = torch.zeros_like(scores).scatter_(0, scores.topk(k).indices, 1.0)
            return v, hard + scores - scores.detach(), scores
        hard = (scores >= cfg.gamma).to(scores.dtype)
        if not training:
            return v, hard, scores
        keep_soft = torch.rand(scores.shape, device=scores.device) < cfg.quant_prob
        return v, torch.where(keep_soft, scores, hard.detach()), scores

    # ---- applying δ ------------------------------------------------------------------------------
    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        if self.perturbation is None:
            raise ConfigError("universal: the perturbation has not been fitted or loaded")
        return x + self.tiled(x.shape[1]).to(x.device) * self._scale(x)

    def _scale(self, x: Tensor) -> Tensor | float:
        """What the stored δ is multiplied by for clips ``x``: 1, or each clip's ε (B, 1) under a relative budget."""
        return self.clip_eps(x) if self.amplitude.relative else 1.0

    def tiled(self, n: int) -> Tensor:
        """δ repeated periodically and cropped to ``n`` samples."""
        assert self.perturbation is not None
        reps = -(-n // len(self.perturbation))
        return self.perturbation.repeat(reps)[:n]

    def _checked(self, delta: Tensor) -> Tensor:
        if delta.dim() != 1 or not torch.isfinite(delta).all():
            raise ConfigError(f"universal: a perturbation must be a finite 1-D tensor, got shape {tuple(delta.shape)}")
        limit, unit = (
            (1.0, "1 (units of each clip's eps)") if self.amplitude.relative else (self.eps, f"eps {self.eps}")
        )
        if delta.abs().max() > limit + 1e-6:
            raise ConfigError(f"universal: perturbation peak {float(delta.abs().max()):.4g} exceeds {unit}")
        budget = self.budget(len(delta))
        if budget is not None and int((delta != 0).sum()) > budget:
            raise ConfigError(
                f"universal: perturbation has {int((delta != 0).sum())} non-zero samples, budget {budget}"
            )
        return delta

    # ---- files -----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write δ and its settings to one safetensors file (settings in its metadata)."""
        if self.perturbation is None:
            raise ConfigError("universal: nothing to save, the perturbation has not been fitted")
        path = Path(path)
        meta = {
            "eps": self.eps,
            "eps_db": self.eps_db,
            "k": self.k,
            "k_percent": self.k_percent,
            "targeted": self.targeted,
        }
        with atomic_path(path) as tmp:
            tensors = {"perturbation": self.perturbation.cpu().contiguous()}
            save_file(tensors, str(tmp), metadata={"settings": json.dumps(meta)})
        return path

    @classmethod
    def from_file(cls, model: nn.Module, path: str | Path, **kwargs: Any) -> UniversalPerturbation:
        """Load a saved δ to attack ``model``; ``kwargs`` override the saved settings (e.g. batch_size)."""
        path = Path(path)
        if not path.exists():
            raise CheckpointError("universal perturbation file not found", path)
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {}).get("settings", "{}"))
            delta = load_file(str(path))["perturbation"]
        except Exception as exc:  # safetensors raises its own error types for corrupt/foreign files
            raise CheckpointError(f"not a universal perturbation file ({str(exc).splitlines()[0]})", path) from None
        if any(kwargs.get(key) is not None and meta.get(key) is None for key in ("eps", "eps_db")):
            saved = "eps_db" if meta.get("eps_db") is not None else "eps"
            raise CheckpointError(f"this perturbation was fitted under {saved}: it keeps that kind of budget", path)
        settings = {**meta, **{k: v for k, v in kwargs.items() if v is not None or k not in ("eps", "eps_db")}}
        return cls(
            model, settings.pop("eps", None), eps_db=settings.pop("eps_db", None), perturbation=delta, **settings
        )

    @classmethod
    def from_pretrained(cls, model: nn.Module, path: str | Path, **kwargs: Any) -> UniversalPerturbation:
        """:meth:`from_file` of a saved δ, or of the ``perturbation.safetensors`` in a fit's output folder."""
        path = Path(path)
        return cls.from_file(model, path / PERTURBATION_FILE if path.is_dir() else path, **kwargs)


PERTURBATION_FILE = "perturbation.safetensors"
FIT_FILE = "fit.json"
SAVED_SETTINGS = ("eps", "eps_db", "k", "k_percent", "targeted")  # stored with δ; a reloaded δ keeps them


def fitted_universal(
    model: nn.Module,
    directory: str | Path,
    clips: Callable[[], Tensor],
    *,
    eps: float | None = None,
    eps_db: float | None = None,
    target: int | None = None,
    config: UniversalConfig | None = None,
    settings: dict[str, Any] | None = None,
    record: dict[str, Any] | None = None,
) -> UniversalPerturbation:
    """The universal perturbation fitted in ``directory``, or one fitted now on ``clips()`` and saved there.

    ``settings`` are the attack's options (``k``, ``k_percent``, ``batch_size``); a saved δ keeps the
    budget it was fitted with. ``fit.json`` (loss history, fit config and the provenance of ``record``) is
    written after δ, so the two files together mark a finished fit; ``clips`` is only called to fit.
    The one fit-or-reuse path of ``staa attack universal`` and of experiments.
    """
    directory, cfg, settings = Path(directory), config or UniversalConfig(), dict(settings or {})
    path, targeted = directory / PERTURBATION_FILE, target is not None
    if path.exists() and (directory / FIT_FILE).exists():
        options = {k: v for k, v in settings.items() if k not in SAVED_SETTINGS}
        return UniversalPerturbation.from_file(model, path, targeted=targeted, **options)
    attack = UniversalPerturbation(model, eps, eps_db=eps_db, targeted=targeted, **settings)
    history = attack.fit(clips(), target=target, config=cfg)
    attack.save(path)
    write_json(directory / FIT_FILE, {"history": history, "fit_config": asdict(cfg),
                                       "provenance": provenance(record or {}, cfg.seed)})  # fmt: skip
    return attack
