"""staa: sparse and transferable adversarial attacks on speech emotion recognition.

The public API reads like the paper: SER models (``Emo18``, ``Zhao19``, ``FoundationSER``), the
STAA-Net ``Generator`` and its ``STAANet`` attack, the baselines (``SparsePGD``, ``SparseFool``,
``OnePixel``) and the metrics (``attack_success_rate``, ``snr_db``, ``sparsity``, ``uar``).
"""

__version__ = "0.1.0"
