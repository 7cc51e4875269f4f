"""STAA-Net: a sparse, transferable, generator-based adversarial attack on speech emotion recognition.

``Generator`` (Wave-U-Net with magnitude and position decoders), ``AdjointGenerator`` (the threat's own
front end, transposed, as the decoder), ``ShallowAdjointGenerator`` (its first block only, for speed), their ``GeneratorConfig``, the training
loop ``train_generator`` with ``STAATrainConfig``, and ``STAANet``, the trained generator as an attack.
"""

from staa.attacks.staa.adjoint import AdjointGenerator
from staa.attacks.staa.attack import STAANet
from staa.attacks.staa.config import GeneratorConfig
from staa.attacks.staa.generator import Generator, GeneratorOutput
from staa.attacks.staa.shallow import ShallowAdjointGenerator
from staa.attacks.staa.train_config import STAATrainConfig
from staa.attacks.staa.trainer import train_generator

__all__ = [
    "AdjointGenerator",
    "Generator",
    "GeneratorConfig",
    "GeneratorOutput",
    "STAANet",
    "ShallowAdjointGenerator",
    "STAATrainConfig",
    "train_generator",
]
