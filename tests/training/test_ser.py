"""SER training: it learns the synthetic corpus, keeps the best checkpoint, resumes exactly under either
recipe, stops early, reports its speed, and evaluates with bootstrap intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from staa.data.cache import PreparedCorpus
from staa.errors import ConfigError
from staa.models import build_model, load_model
from staa.models.zhao19 import Zhao19
from staa.training import loop
from staa.training.ser import TrainConfig, evaluate_ser, train_ser

CHANCE = 1 / 7


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Training here is small-batch; on a shared 2-core machine a second thread oversubscribes the CPU
    and makes each step many times slower, so these tests run single-threaded."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fresh_model(name: str = "zhao19", seed: int = 0):
    """The same initial weights every time, as a new process with the same seed would build them."""
    torch.manual_seed(seed)
    return build_model(name, num_classes=7)


@pytest.fixture(scope="module")
def trained(small_corpus: PreparedCorpus, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Zhao19 (the faster of the two scratch models) for 3 epochs on 10 speakers × 7 emotions × 6 clips of 1 s."""
    out = tmp_path_factory.mktemp("train")
    config = TrainConfig(epochs=3, lr=1e-3, batch_size=8)
    result = train_ser(fresh_model(), small_corpus, out, config, show_progress=False)
    return out, result


@pytest.mark.slow  # the trained fixture: 3 epochs of Zhao19 on the demo-sized corpus
def test_learns_emotions_of_unseen_speakers(trained: tuple[Path, dict[str, Any]]) -> None:
    """Validation speakers are not in training; an untrained or broken model stays near chance (0.14)."""
    _, result = trained
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3]
    assert result["history"][-1]["loss"] < result["history"][0]["loss"]
    assert result["best_val_uar"] == max(h["val_uar"] for h in result["history"])
    assert result["best_val_uar"] >= 2.5 * CHANCE


@pytest.mark.slow  # the trained fixture: 3 epochs of Zhao19 on the demo-sized corpus
def test_best_checkpoint_reproduces_its_validation_uar(
    trained: tuple[Path, dict[str, Any]], small_corpus: PreparedCorpus
) -> None:
    out, result = trained
    best = load_model(out / "best", expected="zhao19")
    val = evaluate_ser(best, small_corpus.split("val"))
    assert val["uar"] == pytest.approx(result["best_val_uar"], abs=1e-12)
    assert (out / "train.json").exists() and (out / "last.pt").exists()
    assert result["provenance"]["seed"] == 0


def test_interrupted_run_resumes_to_the_same_result(tiny_corpus: PreparedCorpus, tmp_path: Path) -> None:
    """Epochs 1..k, then a new process continuing to n, ends exactly like one run of n epochs.

    Adam's moments and the epoch counter must come back from ``last.pt``: without them the weights differ.
    """

    def run(model, out: str, epochs: int) -> dict[str, Any]:
        config = TrainConfig(epochs=epochs, lr=1e-3, batch_size=8, seed=3)
        return train_ser(model, tiny_corpus, tmp_path / out, config, show_progress=False)

    straight_model = fresh_model()
    straight = run(straight_model, "a", 3)
    run(fresh_model(), "b", 1)
    resumed_model = fresh_model()
    torch.manual_seed(12345)  # whatever the new process did to the global RNG before resuming
    resumed = run(resumed_model, "b", 3)

    def without_time(history: list[dict]) -> list[dict]:
        return [{k: v for k, v in h.items() if k not in ("seconds", "clips_per_second")} for h in history]

    assert without_time(resumed["history"]) == without_time(straight["history"])
    assert resumed["best_val_uar"] == straight["best_val_uar"]
    final = straight_model.state_dict()
    for key, value in resumed_model.state_dict().items():
        assert torch.equal(value, final[key]), key
    best = load_model(tmp_path / "a" / "best").state_dict()
    assert all(torch.equal(v, best[k]) for k, v in load_model(tmp_path / "b" / "best").state_dict().items())


def test_finished_run_is_not_trained_again(tiny_corpus: PreparedCorpus, tmp_path: Path) -> None:
    first = train_ser(fresh_model(), tiny_corpus, tmp_path, TrainConfig(epochs=1), show_progress=False)
    model = fresh_model()  # the same initial weights: other ones would be other settings, refused
    again = train_ser(model, tiny_corpus, tmp_path, TrainConfig(epochs=1), show_progress=False)
    assert again["history"] == first["history"]
    reference = load_model(tmp_path / "best").state_dict()
    assert all(torch.equal(v, reference[k]) for k, v in model.state_dict().items())  # weights restored from last.pt


def test_killed_small_corpus_run_resumes_to_the_same_result(
    tiny_corpus: PreparedCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The small-corpus recipe with every random part on (crop, speed, noise, same-class mixing, balanced
    batches, warm-up and cosine lr, AdamW): a run stopped after its first epoch's checkpoint and started
    again ends exactly like an uninterrupted one, so batches, augmentation and lr depend on (seed, epoch,
    step) only."""
    augment = {"crop_seconds": 0.3, "mix_prob": 0.5, "noise_prob": 0.5}
    config = TrainConfig.small_corpus(Zhao19, epochs=3, batch_size=8, seed=3, warmup_epochs=1, augment=augment)
    straight_model = fresh_model()
    straight = train_ser(straight_model, tiny_corpus, tmp_path / "a", config, show_progress=False)
    real_end_epoch = loop._end_epoch

    def killed_after_first(*args: Any) -> float:
        real_end_epoch(*args)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(loop, "_end_epoch", killed_after_first)
        with pytest.raises(KeyboardInterrupt):
            train_ser(fresh_model(), tiny_corpus, tmp_path / "b", config, show_progress=False)
    resumed_model = fresh_model()
    torch.manual_seed(12345)  # whatever the new process did to the global RNG before resuming
    resumed = train_ser(resumed_model, tiny_corpus, tmp_path / "b", config, show_progress=False)
    timeless = [{k: v for k, v in h.items() if k not in ("seconds", "clips_per_second")} for h in straight["history"]]
    assert [{k: h[k] for k in timeless[0]} for h in resumed["history"]] == timeless and len(timeless) == 3
    final = straight_model.state_dict()
    assert all(torch.equal(value, final[key]) for key, value in resumed_model.state_dict().items())


def test_history_reports_clips_per_second(tiny_corpus: PreparedCorpus, tmp_path: Path) -> None:
    result = train_ser(fresh_model(), tiny_corpus, tmp_path, TrainConfig(epochs=2, batch_size=8), show_progress=False)
    n_train = len(tiny_corpus.split("train"))
    for h in result["history"]:
        assert h["clips_per_second"] == pytest.approx(n_train / h["seconds"])
    mean = sum(h["clips_per_second"] for h in result["history"]) / 2
    assert result["clips_per_second"] == pytest.approx(mean) and result["stopped_early"] is False


def test_early_stopping_ends_after_patience_epochs_without_a_new_best(
    tiny_corpus: PreparedCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation UARs 0.3, 0.5, 0.4, 0.45, ...: with patience 2 the run stops after epoch 4, best is epoch 2,
    and running it again (as a resumed process would) trains no further."""
    scripted = iter([0.3, 0.5, 0.4, 0.45, 0.9, 0.9])
    monkeypatch.setattr("staa.training.ser.validate_ser", lambda *a, **k: {"uar": next(scripted), "accuracy": 0.0})
    config = TrainConfig(epochs=6, batch_size=16, patience=2)
    result = train_ser(fresh_model(), tiny_corpus, tmp_path, config, show_progress=False)
    assert [h["val_uar"] for h in result["history"]] == [0.3, 0.5, 0.4, 0.45]
    assert result["best_val_uar"] == 0.5 and result["stopped_early"] is True
    again = train_ser(fresh_model(), tiny_corpus, tmp_path, config, show_progress=False)
    assert len(again["history"]) == 4


def test_cosine_schedule_claims_its_number_of_epochs(tiny_corpus: PreparedCorpus, tmp_path: Path) -> None:
    """A decaying lr depends on the planned last epoch: continuing such a run to more epochs is refused."""
    config = TrainConfig(epochs=1, batch_size=16, schedule="cosine")
    train_ser(fresh_model(), tiny_corpus, tmp_path, config, show_progress=False)
    with pytest.raises(ConfigError, match="other settings|spec"):
        train_ser(fresh_model(), tiny_corpus, tmp_path, TrainConfig(epochs=2, batch_size=16, schedule="cosine"),
                  show_progress=False)  # fmt: skip


def test_evaluation_carries_bootstrap_intervals(tiny_corpus: PreparedCorpus, tmp_path: Path) -> None:
    train_ser(fresh_model(), tiny_corpus, tmp_path, TrainConfig(epochs=1, batch_size=16), show_progress=False)
    metrics = evaluate_ser(load_model(tmp_path / "best"), tiny_corpus.split("test"))
    for name in ("uar", "accuracy"):
        ci = metrics[f"{name}_ci"]
        assert ci["value"] == metrics[name] and ci["n"] == metrics["n"] and ci["level"] == 0.95
        assert ci["low"] <= metrics[name] <= ci["high"]
    assert evaluate_ser(load_model(tmp_path / "best"), tiny_corpus.split("test"), intervals=False).keys() == {
        "n",
        "accuracy",
        "uar",
        "confusion",
        "absent_classes",
    }
