"""Generator training: outputs, frozen threat models, resume, callbacks, ensembles, targeted, guards."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import torch

from staa.attacks.staa import Generator, GeneratorConfig, STAATrainConfig, train_generator
from staa.attacks.staa.trainer import backward_step
from staa.errors import ConfigError
from staa.models import build_model


def tiny_generator(seed: int = 0, **kw) -> Generator:
    torch.manual_seed(seed)
    return Generator(GeneratorConfig.authors(levels=3, features=4, **kw))


def short(**kw) -> STAATrainConfig:
    return STAATrainConfig(**{"epochs": 2, "lr": 1e-3, "batch_size": 4, "eval_batch_size": 7, **kw})


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_training_writes_checkpoints_history_and_provenance(threat, micro_corpus, tmp_path) -> None:
    g = tiny_generator()
    before, threat_before = weights(g), weights(threat)
    flags = [p.requires_grad for p in threat.parameters()]
    result = train_generator(g, [threat], micro_corpus, tmp_path, short(), show_progress=False)
    for name in ("best/model.safetensors", "best/config.json", "last/model.safetensors", "state.pt", "train.json"):
        assert (tmp_path / name).exists(), name
    record = json.loads((tmp_path / "train.json").read_text())
    assert record["provenance"]["seed"] == 0 and record["provenance"]["config"]["generator"]["levels"] == 3
    assert [h["epoch"] for h in record["history"]] == [1, 2]
    h = record["history"][-1]
    assert 0.0 <= h["val_asr"] <= 1.0 and 0.0 <= h["val_sparsity_all"] <= 100.0 and h["val_n"] == 7
    assert {"loss_adversarial", "loss_magnitude", "loss_sparsity", "loss_quantisation", "loss_total"} <= set(h)
    assert result["history"] == record["history"]
    assert any(not torch.equal(before[k], v) for k, v in g.state_dict().items())  # the generator learned
    assert all(torch.equal(threat_before[k], v) for k, v in threat.state_dict().items())  # the threat did not
    assert [p.requires_grad for p in threat.parameters()] == flags
    reloaded = Generator.from_pretrained(tmp_path / "last").eval()
    x = torch.from_numpy(micro_corpus.split("val").waves[:2].copy())
    assert torch.equal(reloaded(x).x_adv, g.eval()(x).x_adv)


def test_validation_on_a_seeded_draw_of_the_val_split(threat, micro_corpus, tmp_path) -> None:
    cfg = short(epochs=1, val_examples=3)
    record = train_generator(tiny_generator(), [threat], micro_corpus, tmp_path, cfg, show_progress=False)
    assert len(micro_corpus.split("val")) > 3 and [h["val_n"] for h in record["history"]] == [3]
    with pytest.raises(ConfigError, match="val_examples must be ≥ 1"):
        short(val_examples=0)


def test_a_resumed_run_ends_exactly_where_an_uninterrupted_one_does(threat, micro_corpus, tmp_path) -> None:
    straight = tiny_generator(seed=3)
    train_generator(straight, [threat], micro_corpus, tmp_path / "a", short(), show_progress=False)
    resumed = tiny_generator(seed=3)
    train_generator(resumed, [threat], micro_corpus, tmp_path / "b", short(epochs=1), show_progress=False)
    fresh = tiny_generator(seed=99)  # a new process would build different initial weights; resume replaces them
    result = train_generator(fresh, [threat], micro_corpus, tmp_path / "b", short(), show_progress=False)
    assert [h["epoch"] for h in result["history"]] == [1, 2]
    for k, v in straight.state_dict().items():
        assert torch.equal(v, fresh.state_dict()[k]), k


class Tenfold:
    """A controller that multiplies λ_s by ten after every validation and remembers what it was shown."""

    weight = "lambda_s"

    def __init__(self, within: Callable[[dict], bool] = lambda record: True) -> None:
        self.seen: list[tuple[int, float]] = []
        self.within = within

    def __call__(self, step: int, record: dict, config: STAATrainConfig) -> None:
        self.seen.append((step, record["val_sparsity_all"]))
        config.lambda_s *= 10

    def met(self, record: dict) -> bool:
        return self.within(record)

    def state(self) -> list[float]:
        return [float(len(self.seen))]

    def load_state(self, values: list[float]) -> None:
        self.restored = values


def test_controllers_change_the_loss_weights_after_every_validation_and_on_resume(
    threat, micro_corpus, tmp_path
) -> None:
    controller = Tenfold()  # 7 training clips in batches of 4: 2 steps per pass, validated after each pass
    result = train_generator(tiny_generator(), [threat], micro_corpus, tmp_path, short(epochs=2), show_progress=False,
                             callbacks=[controller])  # fmt: skip
    assert [s for s, _ in controller.seen] == [1, 3]  # after steps 2 and 4
    assert [h["lambda_s"] for h in result["history"]] == pytest.approx(
        [1e-4, 1e-3]
    )  # the weight each pass trained with
    resumed_cfg, resumed = short(epochs=3), Tenfold()
    result = train_generator(tiny_generator(), [threat], micro_corpus, tmp_path, resumed_cfg, show_progress=False,
                             callbacks=[resumed])  # fmt: skip
    assert resumed.restored == [2.0] and [s for s, _ in resumed.seen] == [5]  # the controller's state came back
    assert result["history"][-1]["lambda_s"] == pytest.approx(1e-2)  # the adapted weight survived the restart
    assert resumed_cfg.lambda_s == pytest.approx(1e-1)


def test_ensemble_and_targeted_training(threat, micro_corpus, tmp_path) -> None:
    torch.manual_seed(5)
    second = build_model("emo18", num_classes=7, hidden=8).eval()
    cfg = short(epochs=1, targeted=True, target_class=2)
    result = train_generator(tiny_generator(), [threat, second], micro_corpus, tmp_path, cfg, show_progress=False)
    h = result["history"][0]
    assert result["provenance"]["config"]["train"]["target_class"] == 2
    assert len(result["provenance"]["config"]["threat_models"]) == 2
    # targeted ASR counts landings on class 2: bounded by what the first threat model predicts anywhere
    assert 0.0 <= h["val_asr"] <= 1.0


def test_no_factorisation_trains_a_dense_generator(threat, micro_corpus, tmp_path) -> None:
    g = tiny_generator(factorised=False)
    result = train_generator(
        g, [threat], micro_corpus, tmp_path, short(epochs=1, no_factorisation=True), show_progress=False
    )
    h = result["history"][0]
    assert "loss_quantisation" not in h
    assert h["val_sparsity_all"] > 99.0  # δ = v: every sample perturbed


def test_inconsistent_setups_are_refused(threat, micro_corpus, tmp_path) -> None:
    with pytest.raises(ConfigError, match="factorised=False"):
        train_generator(tiny_generator(), [threat], micro_corpus, tmp_path, short(no_factorisation=True))
    with pytest.raises(ConfigError, match="at least one threat model"):
        train_generator(tiny_generator(), [], micro_corpus, tmp_path, short())
    with pytest.raises(ConfigError, match="outside"):
        train_generator(tiny_generator(), [threat], micro_corpus, tmp_path, short(targeted=True, target_class=9))


def test_activation_checkpointing_trains_to_the_same_weights(threat, micro_corpus, tmp_path) -> None:
    plain, checkpointed = tiny_generator(seed=4), tiny_generator(seed=4)
    train_generator(plain, [threat], micro_corpus, tmp_path / "a", short(epochs=1), show_progress=False)
    result = train_generator(
        checkpointed, [threat], micro_corpus, tmp_path / "b", short(epochs=1, checkpointing=True), show_progress=False
    )
    assert result["train_config"]["checkpointing"] is True
    assert checkpointed.encoder[0].checkpointing  # switched on in the trained generator
    for k, v in plain.state_dict().items():
        assert torch.allclose(v, checkpointed.state_dict()[k], rtol=0, atol=1e-6), k
    with pytest.raises(ConfigError, match="batch norm"):
        train_generator(tiny_generator(norm="bn"), [threat], micro_corpus, tmp_path / "c", short(checkpointing=True))


def test_micro_batches_accumulate_the_full_batch_gradient(threat, micro_corpus, tmp_path) -> None:
    x = torch.from_numpy(micro_corpus.split("train").waves[:7].copy()).double()
    threat = threat.double()

    def step(micro_batch: int | None) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        g = tiny_generator(seed=2, quant_prob=1.0).double().train()  # all-soft mask: no random draw
        means = backward_step(g, [threat], x, short(micro_batch=micro_batch), weight=0.5)
        return means, {k: p.grad for k, p in g.named_parameters()}

    (whole, whole_grads), (parts, part_grads) = step(None), step(3)  # parts of 3, 3 and 1 clips
    assert whole.keys() == parts.keys() and whole["total"] > 0
    for k in whole:
        assert parts[k] == pytest.approx(whole[k], rel=1e-12), k
    assert all(g.abs().sum() > 0 for g in whole_grads.values())
    for k, grad in whole_grads.items():
        torch.testing.assert_close(part_grads[k], grad, rtol=1e-10, atol=1e-14)
    with pytest.raises(ConfigError, match="batch norm"):
        train_generator(tiny_generator(norm="bn"), [threat], micro_corpus, tmp_path, short(micro_batch=2))
    with pytest.raises(ConfigError, match="micro_batch"):
        short(micro_batch=0)


def test_a_dense_start_ramps_the_threshold_masks_weights_and_is_never_best(threat, micro_corpus, tmp_path) -> None:
    cfg = short(steps=6, eval_every=2, dense_steps=2, anneal_steps=2, lambda_s=0.5)
    result = train_generator(tiny_generator(), [threat], micro_corpus, tmp_path, cfg, show_progress=False)
    lambdas = [(h["lambda_s"], h["lambda_q"]) for h in result["history"]]  # the weights in effect at steps 2, 4, 6
    assert lambdas == [(0.0, 0.0), pytest.approx((0.5, 1e-4)), pytest.approx((0.5, 1e-4))]
    assert [h["budget_met"] for h in result["history"]] == [False, True, True]
    chosen = max(result["history"][1:], key=lambda h: (h["val_asr"], -h["val_sparsity_all"]))
    assert result["best"] == {
        "val_asr": chosen["val_asr"],
        "val_sparsity_all": chosen["val_sparsity_all"],
        "budget_met": True,
    }


def test_a_top_k_mask_anneals_from_dense_to_its_budget(threat, micro_corpus, tmp_path) -> None:
    g = tiny_generator(mask="topk", k_percent=10.0)
    cfg = short(steps=8, eval_every=2, dense_steps=2, anneal_steps=3)
    result = train_generator(g, [threat], micro_corpus, tmp_path, cfg, show_progress=False)
    budgets = [h["sparsity_budget_pct"] for h in result["history"]]
    assert budgets[0] == 100.0 and 10.0 < budgets[1] < 100.0 and budgets[2:] == [pytest.approx(10.0)] * 2
    assert all(h["lambda_s"] == 0.0 and h["lambda_q"] == 0.0 for h in result["history"])  # the k is the budget
    assert all(h["val_sparsity_all"] <= 10.0 for h in result["history"])  # inference keeps the budget throughout
    with pytest.raises(ConfigError, match="by construction"):
        train_generator(g, [threat], micro_corpus, tmp_path / "b", cfg, callbacks=[Tenfold()])


def test_augmented_training_is_fixed_by_the_seed(threat, micro_corpus, tmp_path) -> None:
    cfg = short(steps=3, eval_every=3, augment={"speed": 0.1, "gain_db": 6.0, "noise_prob": 1.0, "crop_seconds": 0.2})
    a, b = tiny_generator(seed=1), tiny_generator(seed=1)
    train_generator(a, [threat], micro_corpus, tmp_path / "a", cfg, show_progress=False)
    train_generator(b, [threat], micro_corpus, tmp_path / "b", cfg, show_progress=False)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    with pytest.raises(ConfigError, match="augmentation"):
        short(augment={"speed": 2.0})


def test_best_is_chosen_among_checkpoints_that_meet_the_budget(threat, micro_corpus, tmp_path) -> None:
    """A controller that declares only the second validation within budget makes it best/, whatever the ASRs."""
    second_only = Tenfold(within=lambda record: record["step"] == 4)
    result = train_generator(tiny_generator(), [threat], micro_corpus, tmp_path, short(epochs=3, lambda_s=0.0),
                             show_progress=False, callbacks=[second_only])  # fmt: skip
    second = result["history"][1]
    assert result["best"] == {
        "val_asr": second["val_asr"],
        "val_sparsity_all": second["val_sparsity_all"],
        "budget_met": True,
    }


def test_a_checkpoint_at_the_end_of_the_dense_start_is_not_within_the_budget(threat, micro_corpus, tmp_path) -> None:
    """Without annealing the budget starts right after the dense steps; the dense checkpoint never counts."""
    cfg = short(steps=4, eval_every=2, dense_steps=2, anneal_steps=0)
    result = train_generator(tiny_generator(), [threat], micro_corpus, tmp_path, cfg, show_progress=False)
    assert [h["budget_met"] for h in result["history"]] == [False, True]
    assert (
        result["best"]["budget_met"] and result["best"]["val_sparsity_all"] == result["history"][1]["val_sparsity_all"]
    )
