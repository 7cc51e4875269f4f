"""torch.distributed plumbing for runs launched with ``torchrun`` (DDP; NCCL on GPUs, gloo on CPUs).

Nothing here launches processes: ``torchrun --nproc-per-node N -m staa.cli ...`` (or ``accelerate
launch``) sets RANK/WORLD_SIZE/MASTER_ADDR and this module only joins the group, shards data and
gathers results. Without those variables every function degrades to the single-process case.

Batch convention: a training step consumes one *global* batch of ``batch_size`` examples, split across
ranks by :func:`shard_indices`, and batch-norm statistics are computed over the whole global batch
(:func:`cross_rank_batchnorm`). N ranks therefore compute the same step as one process with the same
``batch_size`` (up to float summation order); more ranks make a step faster, not larger.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from staa.validation import environment_int


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def setup(device: str | torch.device = "cpu") -> None:
    """Join the process group when launched by torchrun; no-op otherwise or when already joined."""
    if is_distributed() or environment_int("WORLD_SIZE", 1, low=1) <= 1:
        return
    backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    if backend == "nccl":
        torch.cuda.set_device(environment_int("LOCAL_RANK", 0))


def shutdown() -> None:
    """Leave the process group once every rank got here: a rank that exits while the group is alive can
    abort in the communication library's threads ("terminate called without an active exception")."""
    if is_distributed():
        dist.barrier()
        dist.destroy_process_group()


def local_device(device: str | torch.device) -> torch.device:
    """``cuda`` means this rank's GPU (LOCAL_RANK) under torchrun; other devices are returned as given."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and is_distributed():
        return torch.device("cuda", environment_int("LOCAL_RANK", 0))
    return device


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Only rank 0 writes files and shows progress."""
    return rank() == 0


def shard_indices(n: int) -> list[int]:
    """This rank's share of ``range(n)``: a strided slice, so every index is seen by exactly one rank."""
    return list(range(rank(), n, world_size()))


def gather_concat(t: Tensor, n_total: int) -> Tensor:
    """Inverse of :func:`shard_indices`: gather every rank's rows and restore the original order.

    Ranks may hold different row counts (the tail), so rows are padded to a common size, gathered and
    interleaved back; the result has exactly ``n_total`` rows, none counted twice or dropped.
    """
    if not is_distributed():
        return t
    ws = world_size()
    per = (n_total + ws - 1) // ws
    pad = torch.zeros((per, *t.shape[1:]), dtype=t.dtype, device=t.device)
    pad[: len(t)] = t
    parts = [torch.empty_like(pad) for _ in range(ws)]
    dist.all_gather(parts, pad)
    out = torch.empty((n_total, *t.shape[1:]), dtype=t.dtype, device=t.device)
    for r, part in enumerate(parts):
        idx = torch.arange(r, n_total, ws, device=t.device)
        out[idx] = part[: len(idx)]
    return out


def all_reduce_sum(values: Tensor) -> Tensor:
    """Sum of ``values`` over ranks (a new tensor; the input is untouched)."""
    out = values.clone()
    if is_distributed():
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def all_reduce_mean_(tensors: list[Tensor]) -> None:
    """Average tensors (e.g. gradients) across ranks in place."""
    if not is_distributed():
        return
    for t in tensors:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= world_size()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. preparing a cache); the others run it afterwards and reuse it."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def data_parallel(model: nn.Module) -> nn.Module:
    """``model`` wrapped in DistributedDataParallel when distributed, else ``model`` itself."""
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [model_device(model).index] if model_device(model).type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


# ---- batch norm over the global batch ------------------------------------------------------------------
class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) with a gradient: d(Σ_r t_r)/dt_r = 1, so the backward pass sums gradients too."""

    @staticmethod
    def forward(ctx, t: Tensor) -> Tensor:  # type: ignore[override]
        return all_reduce_sum(t)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return all_reduce_sum(grad)


def _sum_over_ranks(t: Tensor) -> Tensor:
    return _SumOverRanks.apply(t)


class _CrossRankBatchNorm:
    """Mixin for a batch-norm instance: in training mode under torch.distributed, normalise with the
    mean and variance of the *global* batch (sums all-reduced with gradients), so that a batch split
    over ranks is normalised exactly as one process normalises it. torch's own ``SyncBatchNorm`` does
    the same but refuses CPU tensors, which rules out gloo runs; this one is device-agnostic.
    """

    def forward(self, x: Tensor) -> Tensor:
        bn: _BatchNorm = self  # type: ignore[assignment]
        if not (bn.training and is_distributed()):
            return super().forward(x)  # type: ignore[misc]
        dims = [0, *range(2, x.dim())]
        per_channel = x.numel() // max(1, x.shape[1])
        count = all_reduce_sum(torch.tensor([float(per_channel)], device=x.device, dtype=x.dtype))
        mean = _sum_over_ranks(x.sum(dims)) / count
        shape = [1, -1] + [1] * (x.dim() - 2)
        centred = x - mean.view(shape)
        var = _sum_over_ranks(centred.pow(2).sum(dims)) / count
        if bn.track_running_stats and bn.running_mean is not None and bn.running_var is not None:
            with torch.no_grad():
                bn.num_batches_tracked.add_(1)  # type: ignore[union-attr]
                m = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
                unbiased = var * count / (count - 1).clamp(min=1)
                bn.running_mean.mul_(1 - m).add_(m * mean)
                bn.running_var.mul_(1 - m).add_(m * unbiased)
        y = centred / torch.sqrt(var + bn.eps).view(shape)
        if bn.affine:
            y = y * bn.weight.view(shape) + bn.bias.view(shape)
        return y


@contextlib.contextmanager
def cross_rank_batchnorm(model: nn.Module) -> Iterator[nn.Module]:
    """Make every batch-norm layer of ``model`` normalise over the global batch for the block's duration.

    The layers keep their parameters and buffers (only their class changes, and is restored afterwards),
    so optimiser references and ``state_dict`` keys are untouched and checkpoints stay plain batch norm.
    """
    swapped: list[tuple[nn.Module, type]] = []
    if is_distributed():
        for m in model.modules():
            if isinstance(m, _BatchNorm) and not isinstance(m, _CrossRankBatchNorm):
                cls = type(m)
                m.__class__ = type(f"CrossRank{cls.__name__}", (_CrossRankBatchNorm, cls), {})
                swapped.append((m, cls))
    try:
        yield model
    finally:
        for m, cls in swapped:
            m.__class__ = cls
