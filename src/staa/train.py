"""SER training as in the paper: cross-entropy, Adam, batch 8, model selection on validation UAR.

One epoch = one shuffled pass over the training split. After each epoch the validation UAR decides
whether ``best/`` (safetensors + config) is replaced, and ``last.pt`` records everything needed to
resume, so a killed run continues from its last finished epoch and ends with the same numbers.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from staa.checkpoint import load_state, save_state
from staa.data.cache import PreparedCorpus, Split
from staa.metrics import accuracy, confusion_matrix, uar
from staa.models.base import SERModel
from staa.outputs import write_json
from staa.progress import progress
from staa.reproducibility import provenance, seed_everything


@dataclass
class TrainConfig:
    """Paper defaults for scratch models; foundation models use lr 3e-5 and 20 epochs."""

    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 8
    seed: int = 0
    eval_batch_size: int = 32


def evaluate_ser(model: SERModel, split: Split, batch_size: int = 32, device: str | torch.device = "cpu") -> dict:
    """Accuracy, UAR and confusion matrix of ``model`` on a prepared split."""
    preds = []
    model.eval()
    with torch.no_grad():
        for x, _ in DataLoader(split.dataset(), batch_size=batch_size):
            preds.append(model(x.to(device)).argmax(-1).cpu())
    pred = torch.cat(preds)
    labels = torch.as_tensor(split.labels)
    return {
        "n": len(labels),
        "accuracy": accuracy(pred, labels),
        "uar": uar(pred, labels, model.num_classes),
        "confusion": confusion_matrix(pred, labels, model.num_classes).tolist(),
    }


def train_ser(
    model: SERModel,
    corpus: PreparedCorpus,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    show_progress: bool = True,
) -> dict[str, Any]:
    """Train ``model`` on ``corpus``'s train split, select on val UAR; resume from ``out_dir/last.pt``."""
    cfg = config or TrainConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    model.to(device)
    train, val = corpus.split("train"), corpus.split("val")
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    history: list[dict] = []
    best_uar, start_epoch = -1.0, 0
    state = load_state(out / "last.pt")
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, best_uar, start_epoch = state["history"], state["best_uar"], state["epoch"] + 1
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(start_epoch, cfg.epochs):
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        loader = DataLoader(train.dataset(), batch_size=cfg.batch_size, shuffle=True, generator=gen)
        model.train()
        t0, total, n = time.perf_counter(), 0.0, 0
        for x, y in progress(loader, f"epoch {epoch + 1}/{cfg.epochs}", show_progress):
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, n = total + loss.item() * len(y), n + len(y)
        seconds = time.perf_counter() - t0
        metrics = evaluate_ser(model, val, cfg.eval_batch_size, device)
        history.append(
            {"epoch": epoch + 1, "loss": total / n, "seconds": seconds, "val_uar": metrics["uar"], "val_accuracy": metrics["accuracy"]}
        )
        if metrics["uar"] > best_uar:
            best_uar = metrics["uar"]
            model.save_pretrained(out / "best")
        save_state(
            out / "last.pt",
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            history=history,
            best_uar=best_uar,
            epoch=epoch,
        )
    result = {
        "best_val_uar": best_uar,
        "seconds_per_epoch": sum(h["seconds"] for h in history) / max(1, len(history)),
        "history": history,
        "train_config": asdict(cfg),
        "provenance": provenance({"corpus": str(corpus.path), "model": model.config.to_dict()}, cfg.seed),
    }
    write_json(out / "train.json", result)
    return result
