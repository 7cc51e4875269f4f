"""The experiment's cross-corpus step: how does each SER model score on speech of another corpus?

``cross_corpus: {corpora: {ravdess: /data/ravdess}, split: test, models: [emo18]}`` prepares each named
corpus (cached under ``cross_corpus/cache/``, at its own clip length: the scratch models read any length)
and scores every listed model (default: every model the experiment trained) on that corpus's clips of the
classes both name (:func:`staa.evaluation.cross_corpus.score_shared_classes`: other clips left out and
counted; a prediction of a class the other corpus lacks is wrong), with the 95 % bootstrap interval over the
kept clips; a row says when the model's pooled pre-training read that corpus's other speakers
(``in_pretraining``), since its language and recordings are then not new to the model. A model that scores
well on its own test speakers and near chance here has learnt its corpus's voices and recording as much as
the emotions: what an attack transfers to is worth reading beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from staa.data.base import SPLITS
from staa.data.cache import prepare
from staa.data.registry import build_corpus
from staa.errors import ConfigError
from staa.evaluation.cross_corpus import score_shared_classes
from staa.experiment.context import ExperimentContext
from staa.experiment.plans import corpus_folders, needed_models, pretrain_settings
from staa.io.paths import resolve_inside

KEYS = {"corpora", "split", "models"}


def validate_cross_corpus(config: dict[str, Any], path: Path | str) -> None:
    """Check ``cross_corpus``: known keys, corpora with their folders (not the experiment's own), a split, models
    of this experiment."""
    spec = config.get("cross_corpus")
    if spec is None:
        return
    if not isinstance(spec, dict) or set(spec) - KEYS:
        raise ConfigError(f"cross_corpus must be a mapping of {', '.join(sorted(KEYS))}, got {spec!r}", path)
    try:
        corpora = corpus_folders(spec.get("corpora"), "cross_corpus.corpora")
    except ConfigError as exc:
        raise ConfigError(str(exc), path) from None
    if config["corpus"]["name"] in corpora:
        raise ConfigError(f"cross_corpus.corpora: '{config['corpus']['name']}' is the experiment's own corpus", path)
    if spec.get("split", "test") not in SPLITS:
        raise ConfigError(f"cross_corpus.split must be one of {', '.join(SPLITS)}, got {spec.get('split')!r}", path)
    trained = needed_models(config)
    if unknown := [m for m in spec.get("models") or [] if m not in trained]:
        raise ConfigError(f"cross_corpus.models: '{unknown[0]}' is not a model this experiment trains "
                          f"({', '.join(trained)})", path)  # fmt: skip


def cross_corpus(ctx: ExperimentContext) -> dict[str, Any] | None:
    """Score the models on the other corpora; the ``cross_corpus`` section of ``results.json`` (None without one)."""
    spec = ctx.config.get("cross_corpus")
    if spec is None:
        return None
    split = spec.get("split", "test")
    models = spec.get("models") or list(ctx.models)
    cache = resolve_inside(ctx.out, "cross_corpus/cache", what="cross_corpus cache")
    rows = []
    for name, root in spec["corpora"].items():
        pc = prepare(build_corpus(name, root), cache, show_progress=ctx.show_progress)
        data = pc.split(split)
        for model in models:
            ctx.log(f"cross-corpus: {model} on {pc.name} ({split}, {len(data)} clips)")
            net = ctx.models[model]
            net.check_fits(None, pc.sample_rate, ctx.out / "models" / model / "best", length=pc.length)
            scored = score_shared_classes(net, data, pc.classes, device=ctx.device)
            pre = pretrain_settings(ctx.config, model)
            rows.append({"model": model, "corpus": pc.name, "root": None if root is None else str(root),
                         "in_pretraining": pre is not None and name in pre["roots"], **scored})  # fmt: skip
    return {"split": split, "rows": rows}
