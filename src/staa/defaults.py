"""Defaults that the library, the experiment files and the command line share, in one torch-free module.

One value per setting, read by every layer that needs it: ``staa attack run --eps``, an experiment's
``eps``, ``staa defense adv-train --eps`` and YAML adversarial training all default to
:data:`DEFAULT_EPS`; ``staa generator train --arch/--preset`` and an experiment's ``generator.preset`` /
``train.preset`` default to :data:`GENERATOR_PRESET` / :data:`TRAINING_PRESET`. The presets themselves
are looked up on their config classes (``GeneratorConfig.preset``, ``STAATrainConfig.preset``). This
module imports nothing, so ``staa --help`` can show these values without loading torch.
"""

DEFAULT_EPS = 0.05  # L∞ bound of δ in waveform units: the paper's DEMoS budget (§4.3)
GENERATOR_PRESET = (
    "adjoint"  # the threat's front end, transposed (GeneratorConfig()'s defaults); "authors": the paper's
)
TRAINING_PRESET = (
    "topk"  # the fast generators' recipe; "paper" reproduces the paper's loss weights and optimiser (§4.4)
)
SER_RECIPE = "paper"  # SER training recipe of an experiment's model without ``recipe:`` (TrainConfig.preset)
#: CPU threads per process (``staa --threads``, ``threads:``): small-batch training gains little from a second
#: thread and collapses when processes share the cores (staa.runtime.threads).
DEFAULT_THREADS = 1

#: The longest clip staa takes in one piece, in seconds: the upper bound of ``--seconds`` (a corpus's unified
#: length) and the default of ``staa generator apply --max-seconds``. A generator ranks the positions of the
#: whole clip and the SER models pool over all of it, so a clip is never cut; memory grows with its length.
#: 60 s keeps one clip against Emo18 at about 2 GiB even with the authors' 50.7 M generator
#: (``benchmarks/clip_memory.py``; docs/results/speed.md#one-long-clip); larger victims need a lower limit.
MAX_CLIP_SECONDS = 60.0
#: Distillation steps of ``staa generator train --teacher``: where the shallow generator's context levelled
#: off against an adjoint teacher on the full EmoDB (docs/results/shallow-generator.md).
DISTIL_STEPS = 600
