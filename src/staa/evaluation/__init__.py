"""Evaluation and reporting: adversarial sets, transfer, robustness, targeted success, tables, figures, report.

Data flows one way: :mod:`~staa.evaluation.adversarial_set` crafts and stores adversarial sets,
:mod:`~staa.evaluation.transfer` replays them on victims, :mod:`~staa.evaluation.perceptual` adds
PESQ/STOI; :mod:`~staa.evaluation.robustness` scores defended victims and
:mod:`~staa.evaluation.targeted` targeted success per class; ``results.json`` (assembled by
:mod:`staa.experiment.results`) feeds :mod:`~staa.evaluation.tables`, :mod:`~staa.evaluation.figures`
and :mod:`~staa.evaluation.report`.
"""

from staa.evaluation.adversarial_set import AdversarialSet, craft_adversarial_set, crafted_summary
from staa.evaluation.perceptual import pesq_wb, stoi
from staa.evaluation.tables import Table, attack_table, paper_tables, ser_table, write_tables
from staa.evaluation.transfer import evaluate_victim, transfer_row

__all__ = [
    "AdversarialSet",
    "Table",
    "attack_table",
    "craft_adversarial_set",
    "crafted_summary",
    "evaluate_victim",
    "paper_tables",
    "pesq_wb",
    "ser_table",
    "stoi",
    "transfer_row",
    "write_tables",
]
