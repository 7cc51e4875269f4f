"""One STAA-Net generator training step, as one process or under torchrun; test_distributed.py compares.

``python tests/ddp_generator_run.py CORPUS OUT.safetensors`` runs the trainer's epoch loop on one global
batch of the whole training split (42 clips: 21 per rank under 2 ranks) with a zero learning rate and
saves the resulting gradient of a batch-norm generator (rank 0). ``quant_prob = 1`` removes the only
random draw of a training step (the stochastic quantisation mask, drawn per rank from torch's global
RNG), so both launches compute the same quantity. The epoch loop is private; this script pins its
distributed arithmetic (share-weighted gradient averaging, global-batch batch norm).
"""

from __future__ import annotations

import sys

import torch
from safetensors.torch import save_file

from staa import distributed as ddp
from staa.attacks.staa import trainer
from staa.attacks.staa.config import GeneratorConfig
from staa.attacks.staa.generator import Generator
from staa.data.cache import PreparedCorpus
from staa.models import build_model


def main(corpus_dir: str, out_file: str) -> None:
    torch.set_num_threads(1)
    ddp.setup("cpu")
    train = PreparedCorpus.load(corpus_dir).split("train")
    torch.manual_seed(0)
    threat = build_model("emo18", num_classes=7, hidden=8).eval()
    generator = Generator(GeneratorConfig.fast(eps=0.05, norm="bn", quant_prob=1.0))
    config = trainer.STAATrainConfig(epochs=1, batch_size=len(train), seed=4)
    optimizer = torch.optim.SGD(generator.parameters(), lr=0.0)
    with trainer._frozen_all([threat]), ddp.cross_rank_batchnorm(generator):
        trainer._train_epoch(generator, [threat], train, optimizer, config, 0, torch.device("cpu"), False)
    if ddp.is_main():
        save_file({n: p.grad.contiguous() for n, p in generator.named_parameters()}, out_file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
