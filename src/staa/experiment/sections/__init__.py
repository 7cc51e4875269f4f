"""The robustness lab's parts of an experiment, each a ``results.json`` section with its own YAML keys.

* :mod:`~staa.experiment.sections.budgets` — ``attackers.<id>.train.budget``; section ``budgets``.
* :mod:`~staa.experiment.sections.cross_corpus` — ``cross_corpus``; section ``cross_corpus``.
* :mod:`~staa.experiment.sections.curves` — ``attackers.<id>.sweep``; section ``curves``.
* :mod:`~staa.experiment.sections.robustness` — ``defenses``; section ``robustness``.
* :mod:`~staa.experiment.sections.targeted` — ``targeted``; section ``targeted``.

A section reads the finished steps through the :class:`~staa.experiment.context.ExperimentContext` and
builds its attacks from the :mod:`~staa.experiment.plans`, exactly as the steps do (the curves section
through :func:`~staa.experiment.steps.build_attack_for` itself, since a swept universal perturbation is
fitted like the attack table's); it never calls back into the runner.
"""
