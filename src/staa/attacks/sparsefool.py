"""SparseFool (Modas et al., CVPR 2019) for raw audio, with an ε box, batched and vectorised.

Each outer iteration (at most ``steps``) does two things for every clip not yet fooled:

1. **Boundary point.** DeepFool from the current iterate x_i: linearise the classifier, step to the
   nearest linearised class boundary, repeat until the point x_i + (1 + overshoot)·r crosses it. The
   normal w of the boundary is the gradient of (z_adv − z_label) at that crossing point (the original
   takes it at x_i + r; reusing the crossing point saves a gradient evaluation per iteration), and the
   boundary point is pushed ``lam`` times as far, x_B = x_i + λ·r (λ = 10 in the paper, 3 in Modas).
2. **Linear solver.** Reach the hyperplane {x : wᵀ(x − x_B) = 0} by moving the samples with the
   largest |w| first, each as far as the box [x₀ − ε, x₀ + ε] ∩ [−1, 1] allows. Modas et al. move
   one coordinate per Python iteration with a full-length dot product each time (O(k·N), the reason
   for the paper's 8–418 s per clip); here |w| is sorted once per clip and the cumulative gain of
   the sorted prefix finds, in one pass, every coordinate that moves fully and the one that moves
   partially — the same point the greedy loop reaches.

The candidate x₀ + (1 + overshoot)(x_i − x₀), clipped to the box, is checked after every outer
iteration; a fooled clip keeps it and leaves the batch, and so does a clip the solver can no longer
move (every useful sample already at its bound), whose later iterations would repeat themselves.

Multi-class linearisation needs one gradient per candidate class (C − 1 backward passes per DeepFool
step for untargeted attacks, batched over clips) and dominates the cost; ``candidates`` restricts it
to the classes with the highest logits, like DeepFool's own top-class restriction (``candidates=1``
needs one backward pass instead of C − 1; benchmarks/baselines.py times both). Targeted attacks linearise the
boundary between the target and the strongest other class, one backward pass per step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from staa.attacks.base import Attack
from staa.errors import ConfigError

PLANE_MARGIN = 1e-3  # how far past the hyperplane the solver aims (Modas et al.'s β), in wᵀx units
MIN_STEP = 1e-4  # smallest DeepFool step length, so a flat linearisation still moves


class SparseFool(Attack):
    """Sparse L0 attack inside an L∞ box of radius ``eps`` (paper: steps 20, λ 10, overshoot 0.02)."""

    name = "sparsefool"

    def __init__(
        self,
        model: nn.Module,
        eps: float | None = None,
        *,
        eps_db: float | None = None,
        steps: int = 20,
        lam: float = 10.0,
        overshoot: float = 0.02,
        deepfool_steps: int = 50,
        candidates: int | None = None,
        targeted: bool = False,
        bounds: tuple[float, float] = (-1.0, 1.0),
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, eps, eps_db=eps_db, targeted=targeted, bounds=bounds, batch_size=batch_size)
        if steps < 1 or deepfool_steps < 1:
            raise ConfigError(f"sparsefool: steps and deepfool_steps must be at least 1, got {steps}, {deepfool_steps}")
        if lam < 1:
            raise ConfigError(f"sparsefool: lam must be at least 1, got {lam}")
        if overshoot < 0:
            raise ConfigError(f"sparsefool: overshoot must be non-negative, got {overshoot}")
        if candidates is not None and candidates < 1:
            raise ConfigError(f"sparsefool: candidates must be at least 1, got {candidates}")
        self.steps = steps
        self.lam = float(lam)
        self.overshoot = float(overshoot)
        self.deepfool_steps = deepfool_steps
        self.candidates = candidates

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        eps = self.clip_eps(x)
        lo, hi = self._project(x, x - eps), self._project(x, x + eps)
        x_i, x_adv = x.clone(), x.clone()
        active = torch.arange(len(x), device=x.device)
        for _ in range(self.steps):
            a = active
            r, normal = self.deepfool(x_i[a], labels[a])
            solved = linear_solve(x_i[a], normal, x_i[a] + self.lam * r, lo[a], hi[a])
            moved = (solved != x_i[a]).any(dim=1)  # a clip pinned to its box corner cannot progress
            x_i[a] = solved
            x_adv[a] = torch.clamp(x[a] + (1 + self.overshoot) * (x_i[a] - x[a]), lo[a], hi[a])
            active = a[moved & ~self.is_success(self.predict(x_adv[a]), labels[a])]
            if not len(active):
                break
        return x_adv

    def deepfool(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """DeepFool from ``x``: the step r to the nearest class boundary and the unit boundary normal.

        The normal is taken where the clip first crosses (x + (1 + overshoot)·r); a clip that has
        not crossed after ``deepfool_steps`` keeps the normal of its nearest linearised boundary.
        """
        r = torch.zeros_like(x)
        normal = torch.zeros_like(x)
        active = torch.arange(len(x), device=x.device)
        for step in range(self.deepfool_steps):
            a = active
            gap, w, crossed = self._linearise(x[a] + (1 + self.overshoot) * r[a], labels[a])
            done = crossed if step < self.deepfool_steps - 1 else torch.ones_like(crossed)  # last: keep w
            norm = w.norm(dim=1).clamp_min(1e-12)[:, None]
            normal[a[done]] = w[done] / norm[done]
            todo = ~done
            dist = (gap[todo].abs()[:, None] / norm[todo]).clamp_min(MIN_STEP)
            r[a[todo]] += dist * w[todo] / norm[todo]
            active = a[todo]
            if not len(active):
                break
        return r, normal

    def _linearise(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per clip: the logit gap and gradient of the nearest linearised boundary, and whether x crossed it.

        Untargeted: among classes k ≠ label (the top ``candidates`` by logit) the one minimising
        |z_k − z_label| / ‖∇(z_k − z_label)‖; for a clip already fooled, its predicted class.
        Targeted: the pair (target, strongest other class). The gap is z_k − z_label, negative before
        the crossing, and the gradient points towards the adversarial side.
        """
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            logits = self.model(x)
            pred = logits.detach().argmax(-1)
            crossed = self.is_success(pred, labels)
            pairs = self._pairs(logits.detach(), labels, crossed)
            best_gap = torch.zeros(len(x), device=x.device)
            best_grad = torch.zeros_like(x)
            best_dist = torch.full((len(x),), float("inf"), device=x.device)
            for i, (up, down) in enumerate(pairs):
                cotangent = torch.zeros_like(logits)
                rows = torch.arange(len(x), device=x.device)
                cotangent[rows, up] += 1.0
                cotangent[rows, down] -= 1.0
                (grad,) = torch.autograd.grad(logits, x, cotangent, retain_graph=i < len(pairs) - 1)
                gap = logits.detach()[rows, up] - logits.detach()[rows, down]
                dist = gap.abs() / grad.norm(dim=1).clamp_min(1e-12)
                better = (dist < best_dist) & (up != down)
                best_gap = torch.where(better, gap, best_gap)
                best_grad = torch.where(better[:, None], grad, best_grad)
                best_dist = torch.where(better, dist, best_dist)
        return best_gap, best_grad, crossed

    def _pairs(self, logits: Tensor, labels: Tensor, crossed: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(class to raise, class to lower) per clip, one tensor pair per backward pass."""
        if self.targeted:
            others = logits.scatter(1, labels[:, None], float("-inf"))
            return [(labels, others.argmax(-1))]
        if bool(crossed.all()):
            return [(logits.argmax(-1), labels)]
        order = logits.scatter(1, labels[:, None], float("-inf")).argsort(dim=1, descending=True)
        count = logits.shape[1] - 1 if self.candidates is None else min(self.candidates, logits.shape[1] - 1)
        pairs = []
        for rank in range(count):
            up = order[:, rank]
            if rank > 0:  # a fooled clip needs only the boundary of its new class (rank 0)
                up = torch.where(crossed, labels, up)
            pairs.append((up, labels))
        return pairs


def linear_solve(x: Tensor, normal: Tensor, plane_point: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """Move ``x`` onto the far side of the hyperplane through ``plane_point`` with normal ``normal``.

    Coordinates are taken in order of decreasing |normal|; each goes to its box bound until the next
    one can close the remaining gap alone. All rows are solved at once: sort, cumulative sum of the
    gains |w_j|·room_j, and a clamp give every coordinate's move without a Python loop.
    """
    gap = ((plane_point - x) * normal).sum(dim=1, dtype=torch.float64)  # wᵀ(x_B − x): what must be gained
    toward = torch.where(gap >= 0, 1.0, -1.0).to(x.dtype)[:, None] * normal.sign()  # direction per sample
    room = torch.where(toward > 0, hi - x, x - lo).clamp_min(0)
    magnitude = normal.abs()
    order = magnitude.argsort(dim=1, descending=True)
    mag_sorted, room_sorted = magnitude.gather(1, order), room.gather(1, order)
    gain = (mag_sorted * room_sorted).double()
    before = gain.cumsum(dim=1) - gain
    need = gap.abs()[:, None] + PLANE_MARGIN
    move = ((need - before) / mag_sorted.double().clamp_min(1e-30)).clamp_min(0)
    move = torch.minimum(move, room_sorted.double()).to(x.dtype)
    move = torch.where(mag_sorted > 0, move, torch.zeros_like(move))
    step = torch.zeros_like(x).scatter_(1, order, move)
    return torch.clamp(x + toward * step, lo, hi)
