"""Distillation: a shallow generator's context first learns a trained adjoint generator's sample map."""

from __future__ import annotations

import json

import pytest
import torch

from staa.attacks.staa import Generator, GeneratorConfig, STAATrainConfig
from staa.attacks.staa.distil import check_teacher, distil
from staa.errors import ConfigError
from staa.models import build_model
from staa.training import generator as training


def threat(seed: int = 0):
    torch.manual_seed(seed)
    return build_model("emo18", num_classes=7, hidden=8).eval()


def pair(model, seed: int = 0) -> tuple[Generator, Generator]:
    torch.manual_seed(seed)
    teacher = Generator.for_config(GeneratorConfig.adjoint(context_channels=16), [model]).eval()
    student = Generator.for_config(GeneratorConfig.shallow(context_channels=16), [model])
    return student, teacher


def test_the_student_comes_closer_to_the_teachers_map(micro_corpus) -> None:
    student, teacher = pair(threat())
    history = distil(student, teacher, micro_corpus, 60, batch_size=4, lr=3e-3, crop_seconds=0.25, every=20)
    assert [h["step"] for h in history] == [20, 40, 60]
    val = torch.tensor(micro_corpus.split("val").waves)
    with torch.no_grad():
        fresh, _ = pair(threat())
        before = torch.nn.functional.cosine_similarity(fresh.eval().adjoint(val), teacher.adjoint(val), dim=-1)
    assert history[-1]["val_cosine"] > float(before.mean()) + 0.05, (float(before.mean()), history)
    assert all(p.grad is None for p in teacher.parameters())  # the teacher is never trained


def test_a_teacher_of_another_kind_or_threat_is_refused() -> None:
    model = threat()
    student, teacher = pair(model)
    wave_u_net = Generator(GeneratorConfig.fast())
    with pytest.raises(ConfigError, match="adjoint-family"):
        check_teacher(student, wave_u_net, "t")
    _, other = pair(build_model("zhao19", num_classes=7, hidden=8).eval())
    with pytest.raises(ConfigError, match="another threat model"):
        check_teacher(student, other, "t")
    assert check_teacher(student, teacher, "t") == (student, teacher)


def test_training_with_a_teacher_distils_once_then_trains(micro_corpus, tmp_path, monkeypatch) -> None:
    model = threat()
    _, teacher = pair(model)
    teacher.save_pretrained(tmp_path / "teacher")
    config = STAATrainConfig.preset("topk", steps=2, eval_every=2, dense_steps=0, anneal_steps=0, batch_size=4)
    shallow = GeneratorConfig.shallow(context_channels=16)
    out = tmp_path / "student"
    training.train_staa_generator(shallow, config, [model], micro_corpus, out, show_progress=False,
                                  teacher=tmp_path / "teacher", distil_steps=3)  # fmt: skip
    record = json.loads((out / "distilled" / "distil.json").read_text())
    assert record["steps"] == 3 and record["history"][-1]["step"] == 3
    assert json.loads((out / "spec.json").read_text())["distil"]["steps"] == 3
    assert Generator.from_pretrained(out / "best").config.architecture == "shallow-adjoint"
    # a second run of a finished folder, or one resumed after distilling, does not distil again
    monkeypatch.setattr(training, "distil", lambda *a, **k: pytest.fail("distilled twice"))
    (out / "train.json").unlink()
    training.train_staa_generator(shallow, config, [model], micro_corpus, out, show_progress=False,
                                  teacher=tmp_path / "teacher", distil_steps=3)  # fmt: skip
    with pytest.raises(ConfigError, match="no generator folder"):
        training.train_staa_generator(shallow, config, [model], micro_corpus, tmp_path / "other", show_progress=False,
                                      teacher=tmp_path / "nowhere")  # fmt: skip
