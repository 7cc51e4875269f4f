"""Training: SER models (plain and adversarial, one epoch loop) and STAA-Net generators.

* :mod:`~staa.training.loop` — the epoch loop both SER trainings share: resume, ``best/`` on validation
  UAR, ``last.pt``, ``train.json``, torchrun.
* :mod:`~staa.training.ser` — :class:`TrainConfig`, :func:`train_ser`, :func:`evaluate_ser`.
* :mod:`~staa.training.adversarial` — :class:`AdvTrainConfig`, :func:`adversarial_train`.
* :mod:`~staa.training.generator` — :func:`train_staa_generator`: a fresh generator, seeded, with budgets;
  the loop itself is :func:`staa.attacks.staa.train_generator`.
"""

from staa.training.adversarial import AdvTrainConfig, adversarial_train
from staa.training.generator import budget_controllers, train_staa_generator
from staa.training.ser import TrainConfig, evaluate_ser, train_ser

__all__ = [
    "AdvTrainConfig",
    "TrainConfig",
    "adversarial_train",
    "budget_controllers",
    "evaluate_ser",
    "train_ser",
    "train_staa_generator",
]
