"""``Defended`` is an SER model: same contract, explicit threat model, EOT, checkpoints."""

from __future__ import annotations

import torch

from staa.defenses import Defended, GaussianNoise, MedianFilter, Quantization, build_defenses
from staa.models import SERModel, build_model, load_model


def victim() -> SERModel:
    torch.manual_seed(0)
    return build_model("emo18", num_classes=4, class_names=["a", "b", "c", "d"], hidden=8).eval()


def test_defended_applies_defenses_then_the_victim():
    model = victim()
    defenses = [MedianFilter(kernel=3), Quantization(bits=8)]
    defended = Defended(model, defenses).eval()
    x = torch.rand(3, 4000) - 0.5
    assert isinstance(defended, SERModel) and defended.num_classes == 4
    with torch.no_grad():
        expected = model(defenses[1](defenses[0](x)))
        assert torch.allclose(defended(x), expected)
        assert torch.equal(defended.predict(x), expected.argmax(-1))


def test_threat_model_is_explicit():
    model = victim()
    assert Defended(model, [MedianFilter()], adaptive=True).threat_model.config.model_type == "defended"
    assert Defended(model, [MedianFilter()], adaptive=False).threat_model is model


def test_eot_averages_draws_only_when_gradients_are_recorded():
    model = victim()
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))
    defended = Defended(model, [GaussianNoise(0.01)], eot_samples=4).eval()
    x = torch.rand(2, 4000) - 0.5
    defended(x.requires_grad_(True)).sum().backward()
    assert len(calls) == 4 and x.grad.abs().sum() > 0
    calls.clear()
    defended.predict(x.detach())
    assert len(calls) == 1


def test_checkpoint_round_trip_through_the_model_registry(tmp_path):
    defended = Defended(victim(), build_defenses("median:kernel=5,bpda=true+lowpass:cutoff_hz=3000"), adaptive=False)
    defended.save_pretrained(tmp_path / "ckpt")
    loaded = load_model(tmp_path / "ckpt")
    assert isinstance(loaded, Defended)
    assert loaded.config.to_dict() == defended.config.to_dict()
    x = torch.rand(2, 4000) - 0.5
    with torch.no_grad():
        assert torch.allclose(loaded.eval()(x), defended.eval()(x))
