"""Evaluation and reporting: transfer matrix, perceptual scores, the paper's tables, figures, HTML report.

Data flows one way: :mod:`~staa.evaluation.transfer` crafts adversarial sets and replays them on victims,
:mod:`~staa.evaluation.perceptual` adds PESQ/STOI, and ``results.json`` (assembled by
:mod:`staa.experiment`) feeds :mod:`~staa.evaluation.tables`, :mod:`~staa.evaluation.figures` and
:mod:`~staa.evaluation.report`.
"""

from staa.evaluation.perceptual import pesq_wb, stoi
from staa.evaluation.tables import Table, attack_table, paper_tables, ser_table, write_tables
from staa.evaluation.transfer import AdversarialSet, craft, evaluate_victim, transfer_row

__all__ = [
    "AdversarialSet",
    "Table",
    "attack_table",
    "craft",
    "evaluate_victim",
    "paper_tables",
    "pesq_wb",
    "ser_table",
    "stoi",
    "transfer_row",
    "write_tables",
]
