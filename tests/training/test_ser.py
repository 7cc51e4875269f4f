"""SER training: it learns the synthetic corpus, keeps the best checkpoint, and resumes exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from staa.data.cache import PreparedCorpus
from staa.models import build_model, load_model
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
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

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
