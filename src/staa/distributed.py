"""torch.distributed plumbing for runs launched with ``torchrun`` (DDP; NCCL on GPUs, gloo on CPUs).

Nothing here launches processes: ``torchrun --nproc-per-node N -m staa.cli ...`` (or ``accelerate
launch``) sets RANK/WORLD_SIZE/MASTER_ADDR and this module only joins the group, shards data and
gathers results. Without those variables every function degrades to the single-process case.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def setup(device: str | torch.device = "cpu") -> None:
    """Join the process group when launched by torchrun; no-op otherwise or when already joined."""
    if is_distributed() or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))


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
