"""Run the pipeline once, as one process or under torchrun; tests/runtime/test_distributed.py compares both.

``python tests/runtime/ddp_run.py CORPUS OUT [CHECKPOINT]`` writes, from rank 0 only:

* ``OUT/grads.safetensors`` — the gradient of one global batch of 7 clips (uneven over 2 ranks),
* ``OUT/recipe_grads.safetensors`` — the same under the small-corpus recipe (augmentation drawn for the
  global batch, same-class mixing on every clip, class-weighted loss), each rank slicing the one draw,
* ``OUT/generator_grads.safetensors`` — the gradient of one STAA-Net generator training step on the
  whole training split (42 clips, 21 per rank), taken through the trainer's epoch loop with a zero
  learning rate. The generator uses batch norm, so cross-rank batch norm is exercised, and
  ``quant_prob = 1`` removes the step's only random draw (the stochastic quantisation mask, drawn per
  rank from torch's global RNG), so both launches compute the same quantity. The epoch loop is
  private; this pins its distributed arithmetic (share-weighted gradient averaging).
* ``OUT/result.json`` — 2 epochs of Emo18 training (batch 5: global batches split 3/2 over 2 ranks,
  tail of 2), the final model's test logits, and evaluation of CHECKPOINT (default: the final model)
  on val, test and an odd-sized test subset,
* ``OUT/final/`` — the trained weights.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from staa.attacks.staa import trainer
from staa.attacks.staa.config import GeneratorConfig
from staa.attacks.staa.generator import Generator
from staa.data.cache import PreparedCorpus, Split
from staa.io.outputs import write_json
from staa.models import build_model, load_model
from staa.models.emo18 import Emo18
from staa.runtime import distributed as ddp
from staa.training.ser import TrainConfig, backward_global_batch, evaluate_ser, predict_split, train_ser


def fresh_model(n_classes: int):
    torch.manual_seed(0)
    return build_model("emo18", num_classes=n_classes, hidden=32)


def global_batch_gradient(corpus: PreparedCorpus, config: TrainConfig | None = None) -> dict[str, torch.Tensor]:
    model = fresh_model(len(corpus.classes))
    net = ddp.data_parallel(model)
    with ddp.cross_rank_batchnorm(model):
        backward_global_batch(net, corpus.split("train"), [0, 5, 9, 13, 20, 31, 40], torch.device("cpu"), config)
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}


# every per-clip random choice and weight of the small-corpus recipe in one batch: augmentation with
# same-class mixing on every clip, and class-weighted cross-entropy
RECIPE = TrainConfig.small_corpus(
    Emo18, balance="loss", augment={"mix_prob": 1.0, "noise_prob": 0.5, "crop_seconds": 0.3}
)


def generator_step_gradient(corpus: PreparedCorpus) -> dict[str, torch.Tensor]:
    train = corpus.split("train")
    threat = fresh_model(len(corpus.classes))
    generator = Generator(GeneratorConfig.fast(eps=0.05, norm="bn", quant_prob=1.0))
    config = trainer.STAATrainConfig(epochs=1, batch_size=len(train), seed=4)
    optimizer = torch.optim.SGD(generator.parameters(), lr=0.0)
    with trainer._frozen_all([threat]), ddp.cross_rank_batchnorm(generator):
        run = trainer._plan(generator, config, len(train))  # one step: the whole split is one global batch
        trainer._train_step(generator, [threat], train, optimizer, config, run, 0, torch.device("cpu"))
    return {name: p.grad.detach().clone() for name, p in generator.named_parameters()}


def main(corpus_dir: str, out_dir: str, checkpoint: str | None) -> None:
    torch.set_num_threads(1)
    ddp.setup("cpu")
    out = Path(out_dir)
    corpus = PreparedCorpus.load(corpus_dir)
    grads = global_batch_gradient(corpus)
    recipe_grads = global_batch_gradient(corpus, RECIPE)
    generator_grads = generator_step_gradient(corpus)
    model = fresh_model(len(corpus.classes))
    config = TrainConfig(epochs=2, lr=1e-3, batch_size=5, seed=3, eval_batch_size=4)
    result = train_ser(model, corpus, out, config, show_progress=False)
    test = corpus.split("test")
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(np.array(test.waves)))
        val_logits = model(torch.from_numpy(np.array(corpus.split("val").waves)))
    judged = load_model(checkpoint) if checkpoint else model
    odd = Split(test.waves[:13], test.labels[:13], test.items[:13])  # 13 rows: 7 + 6 over 2 ranks
    evaluation = {s: evaluate_ser(judged, corpus.split(s), batch_size=4) for s in ("val", "test")}
    evaluation["test[:13]"] = evaluate_ser(judged, odd, batch_size=4)
    preds = predict_split(judged, test, batch_size=3)
    if ddp.is_main():
        save_file(grads, str(out / "grads.safetensors"))
        save_file(recipe_grads, str(out / "recipe_grads.safetensors"))
        save_file(generator_grads, str(out / "generator_grads.safetensors"))
        model.save_pretrained(out / "final")
        write_json(
            out / "result.json",
            {
                "world_size": ddp.world_size(),
                "history": result["history"],
                "test_logits": logits.tolist(),
                "val_logits": val_logits.tolist(),
                "evaluation": evaluation,
                "preds": preds.tolist(),
            },
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    ddp.shutdown()
