"""Validation during generator training: the binary-mask generator attacks a split, measured as every attack.

Also the labels a step pushes away from (or towards): :func:`clean_labels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from staa.attacks.staa.generator import Generator
from staa.attacks.staa.train_config import STAATrainConfig
from staa.data.cache import Split
from staa.metrics import mean_snr, snr_db, sparsity, succeeded
from staa.models.base import SERModel
from staa.runtime import distributed as ddp


def clean_labels(model: SERModel, x: Tensor, cfg: STAATrainConfig) -> Tensor:
    """Targets (targeted) or the model's clean predictions (untargeted, the paper's protocol)."""
    if cfg.targeted:
        return torch.full((len(x),), int(cfg.target_class), dtype=torch.long, device=x.device)
    with torch.no_grad():
        return model(x).argmax(-1)


def validate(
    generator: Generator,
    threat_models: Sequence[SERModel],
    split: Split,
    cfg: STAATrainConfig,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """White-box ASR of the binary-mask generator on ``split`` (first threat model), sparsity and SNR.

    Sparsity and SNR are measured on x_adv − x, as for every attack; ``val_sparsity`` and
    ``val_snr_db`` average over successful clips (the paper), ``val_sparsity_all`` over all clips.
    """
    was_training = generator.training
    generator.eval()
    idx = ddp.shard_indices(len(split))
    parts: dict[str, list[Tensor]] = {"clean": [], "adv": [], "sparsity": [], "snr": []}
    with torch.no_grad():
        for i in range(0, len(idx), cfg.eval_batch_size):
            x = torch.from_numpy(np.asarray(split.waves[idx[i : i + cfg.eval_batch_size]], dtype=np.float32)).to(device)
            x_adv = generator(x).x_adv
            parts["clean"].append(threat_models[0](x).argmax(-1))
            parts["adv"].append(threat_models[0](x_adv).argmax(-1))
            parts["sparsity"].append(sparsity(x_adv - x).to(device))
            parts["snr"].append(snr_db(x, x_adv - x).to(device))
    generator.train(was_training)
    empty = {"clean": torch.long, "adv": torch.long, "sparsity": torch.float64, "snr": torch.float64}
    cat = {
        k: ddp.gather_concat(torch.cat(v) if v else torch.zeros(0, dtype=empty[k], device=device), len(split)).cpu()
        for k, v in parts.items()
    }
    clean, adv = cat["clean"], cat["adv"]
    success = succeeded(clean, adv, int(cfg.target_class) if cfg.targeted else None)  # the rule of every attack
    snr = mean_snr(cat["snr"][success])
    return {
        "val_asr": float(success.double().mean()) if len(success) else float("nan"),
        "val_sparsity": float(cat["sparsity"][success].mean()) if success.any() else None,
        "val_sparsity_all": float(cat["sparsity"].mean()),
        "val_snr_db": snr.mean_db,
        "val_n": len(split),
        "val_successes": int(success.sum()),
    }
