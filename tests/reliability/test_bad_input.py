"""Bad input, case by case: a one-line :class:`StaaError` naming the file and the problem, or a documented repair.

Every error case goes through :func:`expect_error`, which checks the error class, that the message is a
single line, that it names the offending file (when there is one) and that it states the problem.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from staa.attacks.base import Attack
from staa.attacks.pgd import SparsePGD
from staa.attacks.registry import build_attack
from staa.audio import load_audio, resample, unify_length
from staa.data.base import Item, speaker_split, validate_items
from staa.data.cache import PreparedCorpus, Split, prepare
from staa.data.emodb import EmoDB
from staa.data.registry import build_corpus
from staa.errors import AudioError, CheckpointError, ConfigError, DataError, StaaError
from staa.models import Emo18, Zhao19, build_model, load_model
from staa.training.ser import TrainConfig, evaluate_ser, train_ser

SR = 16_000


def expect_error(call, cls: type[StaaError], fragment: str, path: Path | str | None = None) -> str:
    """Run ``call``; assert it raises ``cls`` with a one-line message containing ``fragment`` (and ``path``)."""
    with pytest.raises(cls) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and message.strip() == message
    assert fragment.lower() in message.lower(), message
    if path is not None:
        assert str(path) in message, message
    return message


def tone(seconds: float = 0.5, sr: int = SR, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(x: np.ndarray, sr: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[spectrum.argmax()])


# ---- 1. audio files that cannot be used ------------------------------------------------------------------
def _write_bytes(data: bytes):
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return make


def _truncated_header(path: Path) -> Path:
    sf.write(str(path), tone(), SR, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:30])
    return path


def _header_only(path: Path) -> Path:
    sf.write(str(path), np.zeros(0, dtype=np.float32), SR, subtype="PCM_16")
    return path


def _float_with(value: float):
    def make(path: Path) -> Path:
        x = tone()
        x[100] = value
        sf.write(str(path), x, SR, subtype="FLOAT")
        return path

    return make


def _silent(path: Path) -> Path:
    sf.write(str(path), np.zeros(SR // 2, dtype=np.float32), SR, subtype="PCM_16")
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


UNUSABLE = {
    "empty file": (_write_bytes(b""), "empty file (0 bytes)"),
    "wav header only, no samples": (_header_only, "empty audio (0 samples)"),
    "truncated inside the header": (_truncated_header, "not a readable audio file"),
    "corrupt bytes": (_write_bytes(bytes(range(256)) * 40), "not a readable audio file"),
    "text file named .wav": (_write_bytes(b"path,label\na.wav,anger\n"), "not a readable audio file"),
    "numpy file named .wav": (_write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}"), "not a readable audio file"),
    "folder named .wav": (_folder, "is a folder"),
    "NaN sample": (_float_with(float("nan")), "NaN or infinite"),
    "infinite sample": (_float_with(float("inf")), "NaN or infinite"),
    "silent clip": (_silent, "silent audio"),
}


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_unusable_audio_is_refused(case, tmp_path):
    make, fragment = UNUSABLE[case]
    path = make(tmp_path / "clip.wav")
    expect_error(lambda: load_audio(path), AudioError, fragment, path)


def test_missing_audio_file(tmp_path):
    expect_error(lambda: load_audio(tmp_path / "nope.wav"), AudioError, "file not found", tmp_path / "nope.wav")


def test_invalid_sample_rate_is_refused():
    expect_error(lambda: resample(tone(), 0), AudioError, "invalid sample rate")


# ---- 2. audio that is repaired, as documented in load_audio ---------------------------------------------
def test_silent_clip_allowed_on_request(tmp_path):
    x = load_audio(_silent(tmp_path / "s.wav"), allow_silent=True)
    assert x.shape == (SR // 2,) and not x.any()


def test_clipping_float_file_is_clipped_with_a_warning(tmp_path):
    x = tone(amp=0.5)
    x[10], x[20] = 1.7, -2.5
    path = tmp_path / "hot.wav"
    sf.write(str(path), x, SR, subtype="FLOAT")
    with pytest.warns(UserWarning, match="hot.wav.*clipped"):
        y = load_audio(path)
    assert y[10] == 1.0 and y[20] == -1.0
    np.testing.assert_allclose(np.delete(y, [10, 20]), np.delete(x, [10, 20]))


def test_truncated_data_yields_the_complete_frames(tmp_path):
    path = tmp_path / "cut.wav"
    x = tone()
    sf.write(str(path), x, SR, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[: 44 + 2 * 1000 + 1])  # 1000 frames and half a sample
    y = load_audio(path)
    assert len(y) == 1000
    np.testing.assert_allclose(y, x[:1000], atol=1 / 2**15)


@pytest.mark.parametrize("channels", [2, 6])
def test_multichannel_is_downmixed_by_averaging(channels, tmp_path):
    data = np.stack([tone(freq=200 + 100 * c, amp=0.1 + 0.1 * (c % 3)) for c in range(channels)], axis=1)
    path = tmp_path / "multi.wav"
    sf.write(str(path), data, SR, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), data.mean(axis=1), atol=1e-6)


# Quantisation step of each stored format, as a tolerance on the round trip.
FORMATS = {
    "PCM_U8": 2 / 2**8,
    "PCM_16": 2 / 2**16,
    "PCM_24": 2 / 2**24,
    "PCM_32": 2 / 2**31,
    "FLOAT": 1e-7,
    "DOUBLE": 1e-7,
}


@pytest.mark.parametrize("subtype", sorted(FORMATS))
def test_every_sample_format_reads_to_the_same_scale(subtype, tmp_path):
    path = tmp_path / f"{subtype}.wav"
    x = tone(amp=0.7)
    sf.write(str(path), x, SR, subtype=subtype)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - x).max() <= FORMATS[subtype]


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_other_rates_are_resampled_to_16k(rate, tmp_path):
    path = tmp_path / f"{rate}.wav"
    sf.write(str(path), tone(1.0, sr=rate, freq=440.0), rate, subtype="PCM_16")
    y = load_audio(path)
    assert abs(len(y) - SR) <= 1
    assert abs(dominant_frequency(y) - 440.0) <= 2.0


def test_hours_long_file_reads_only_the_head(tmp_path):
    path = tmp_path / "hour.wav"
    block = (tone(60.0, sr=8_000, amp=0.3)).reshape(-1, 1)
    with sf.SoundFile(str(path), "w", samplerate=8_000, channels=1, subtype="PCM_U8") as f:
        for _ in range(60):  # one hour at 8 kHz, 8 bit: 28.8 MB on disk
            f.write(block)
    assert sf.info(str(path)).duration == pytest.approx(3600.0)
    y = load_audio(path, max_seconds=2.0)
    assert len(y) == 2 * SR


def test_clip_shorter_than_the_corpus_length_is_tiled():
    x = np.arange(1, 11, dtype=np.float32)
    y = unify_length(x, 25)
    np.testing.assert_array_equal(y, np.concatenate([x, x, x[:5]]))


@pytest.mark.parametrize("cls", [Emo18, Zhao19])
def test_clip_shorter_than_the_receptive_field_is_refused(cls):
    model = cls(cls.config_class(num_classes=3, hidden=8)).eval()
    assert model(torch.randn(1, cls.min_samples) * 0.1).shape == (1, 3)  # the bound is tight ...
    expect_error(lambda: model(torch.randn(1, cls.min_samples - 1) * 0.1), AudioError, f"at least {cls.min_samples}")


def test_empty_clip_cannot_be_unified():
    expect_error(lambda: unify_length(np.zeros(0, np.float32), 10), AudioError, "empty clip")


# ---- 3. corpora, manifests and labels ------------------------------------------------------------------
@pytest.fixture
def wav_folder(tmp_path) -> Path:
    for i in range(6):
        sf.write(str(tmp_path / f"c{i}.wav"), tone(0.3, freq=200 + 50 * i), SR, subtype="PCM_16")
    return tmp_path


def _manifest(folder: Path, text: str) -> Path:
    path = folder / "m.csv"
    path.write_text(text)
    return path


SPLIT_ROWS = (
    "c0.wav,anger,train\n"
    "c1.wav,sadness,train\n"
    "c2.wav,anger,val\n"
    "c3.wav,sadness,val\n"
    "c4.wav,anger,test\n"
    "c5.wav,sadness,test\n"
)

MANIFESTS = {
    "missing audio file": ("path,label,split\n" + SPLIT_ROWS + "gone.wav,anger,train\n", "audio file not found"),
    "duplicated file": ("path,label,split\n" + SPLIT_ROWS + "c0.wav,sadness,train\n", "duplicate of row 2"),
    "missing label column": ("path,emotion\nc0.wav,anger\n", "missing column(s) label"),
    "header only": ("path,label\n", "header but no rows"),
    "completely empty": ("", "empty manifest"),
    "empty label": ("path,label,split\n" + SPLIT_ROWS + "c0.wav,,train\n", "empty 'label'"),
    "unknown split": ("path,label,split\nc0.wav,anger,training\n", "bad split 'training'"),
}


@pytest.mark.parametrize("case", sorted(MANIFESTS))
def test_bad_manifest_is_refused(case, wav_folder):
    text, fragment = MANIFESTS[case]
    path = _manifest(wav_folder, text)
    expect_error(lambda: build_corpus(str(path)).items(), DataError, fragment, path)


def test_manifest_label_outside_the_declared_classes(wav_folder):
    path = _manifest(wav_folder, "path,label,split\n" + SPLIT_ROWS.replace("c5.wav,sadness", "c5.wav,joy"))
    corpus = build_corpus(str(path), classes=("anger", "sadness"))
    expect_error(corpus.items, DataError, "unknown label 'joy'", path)


def test_missing_manifest(tmp_path):
    path = tmp_path / "none.csv"
    expect_error(lambda: build_corpus(str(path)).items(), DataError, "manifest not found", path)


def test_corrupt_clip_inside_a_corpus_names_the_clip(wav_folder, tmp_path):
    (wav_folder / "c3.wav").write_bytes(b"RIFF0000WAVEjunk")
    path = _manifest(wav_folder, "path,label,split\n" + SPLIT_ROWS)
    expect_error(
        lambda: prepare(build_corpus(str(path)), tmp_path / "cache", show_progress=False),
        AudioError,
        "not a readable audio file",
        wav_folder / "c3.wav",
    )


def test_corpus_with_an_empty_split_is_refused(wav_folder, tmp_path):
    path = _manifest(wav_folder, "path,label,split\n" + SPLIT_ROWS.replace(",val", ",train"))
    corpus = build_corpus(str(path))
    expect_error(lambda: prepare(corpus, tmp_path / "cache", show_progress=False), DataError, "split 'val'")


def test_file_name_that_disagrees_with_the_corpus_code(tmp_path):
    """EmoDB labels come from file names; a name outside its code is refused, not guessed."""
    src = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "emodb-subset"
    wavs = sorted(src.rglob("*.wav"))[:3] if src.exists() else []
    for i, name in enumerate(["03a01Wa.wav", "08a01Fa.wav", "09a01Ta.wav"]):
        if wavs:
            shutil.copy(wavs[i], tmp_path / name)
        else:
            sf.write(str(tmp_path / name), tone(), SR, subtype="PCM_16")
    sf.write(str(tmp_path / "03a01Xa.wav"), tone(), SR, subtype="PCM_16")  # X is no emotion letter
    with pytest.raises(DataError) as info:
        EmoDB(tmp_path).items()
    assert "03a01Xa.wav" in str(info.value) and "\n" not in str(info.value)


def test_unknown_label_and_duplicate_in_a_corpus_listing():
    ok = Item("a.wav", "anger", "s1", "train")
    joy = Item("b.wav", "joy", "s1", "train")
    expect_error(lambda: validate_items([ok, joy], ("anger",), "c"), DataError, "unknown label 'joy'", "b.wav")
    expect_error(lambda: validate_items([ok, ok], ("anger",), "c"), DataError, "listed twice", "a.wav")
    expect_error(lambda: validate_items([], ("anger",), "c"), DataError, "has no items")


def test_too_few_speakers_for_a_speaker_independent_split():
    expect_error(lambda: speaker_split(["a", "b", "a"]), DataError, "at least 3 speakers")


def test_unknown_corpus_and_corpus_without_root():
    expect_error(lambda: build_corpus("timit"), ConfigError, "unknown corpus 'timit'")
    expect_error(lambda: build_corpus("emodb"), ConfigError, "needs --root")


def test_folder_that_is_not_a_prepared_corpus(tmp_path, tiny_corpus):
    expect_error(lambda: PreparedCorpus.load(tmp_path), DataError, "manifest.json missing", tmp_path)
    expect_error(lambda: tiny_corpus.split("dev"), DataError, "unknown split 'dev'")


def test_class_absent_from_a_split_gives_uar_over_present_classes_and_a_warning(tiny_corpus):
    """Decision: evaluation does not fail; it warns, lists the absent classes, and averages the rest."""
    test = tiny_corpus.split("test")
    keep = test.labels != 2
    split = Split(test.waves[keep], test.labels[keep], [it for it, k in zip(test.items, keep) if k])
    model = build_model("zhao19", num_classes=7, hidden=8, class_names=tiny_corpus.classes)
    with pytest.warns(UserWarning, match="absent from this split: fear"):
        result = evaluate_ser(model, split, batch_size=8)
    cm = np.array(result["confusion"])
    assert result["absent_classes"] == [2] and cm[2].sum() == 0
    recalls = [cm[c, c] / cm[c].sum() for c in range(7) if c != 2]
    assert result["uar"] == pytest.approx(np.mean(recalls))


def test_evaluating_an_empty_split():
    split = Split(np.zeros((0, 1000), np.float32), np.zeros(0, np.int64), [])
    expect_error(lambda: evaluate_ser(build_model("zhao19", num_classes=2, hidden=8), split), DataError, "empty split")


def test_corpus_with_more_classes_than_the_model(tiny_corpus, tmp_path):
    model = build_model("zhao19", num_classes=3, hidden=8)
    expect_error(lambda: _train_one_epoch(model, tiny_corpus, tmp_path), DataError, "more classes", tiny_corpus.path)


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"epochs": 0}, "epochs: must be an integer in [1,"),
        ({"batch_size": 0}, "batch_size: must be an integer in [1,"),
        ({"lr": 0.0}, "learning rate"),
        ({"lr": math.nan}, "learning rate"),
    ],
)
def test_invalid_training_options(options, fragment):
    expect_error(lambda: TrainConfig(**options), ConfigError, fragment)


def _train_one_epoch(model, corpus, out: Path) -> dict:
    return train_ser(model, corpus, out, TrainConfig(epochs=1, batch_size=16), show_progress=False)


# ---- 4. checkpoints ----------------------------------------------------------------------------------
@pytest.fixture
def checkpoint(tmp_path) -> Path:
    return build_model("emo18", num_classes=7, hidden=8).save_pretrained(tmp_path / "ckpt")


def test_checkpoint_of_another_model(checkpoint):
    wrong = "is a 'emo18' model, not 'zhao19'"
    expect_error(lambda: Zhao19.from_pretrained(checkpoint), CheckpointError, wrong, checkpoint)
    expect_error(lambda: load_model(checkpoint, expected="zhao19"), CheckpointError, "expected 'zhao19'", checkpoint)


def test_checkpoint_of_another_class_count(checkpoint):
    config = json.loads((checkpoint / "config.json").read_text())
    (checkpoint / "config.json").write_text(json.dumps({**config, "num_classes": 4}))
    expect_error(lambda: load_model(checkpoint), CheckpointError, "another class count", checkpoint)


def test_checkpoint_of_another_architecture_size(checkpoint):
    config = json.loads((checkpoint / "config.json").read_text())
    (checkpoint / "config.json").write_text(json.dumps({**config, "hidden": 16}))
    expect_error(lambda: load_model(checkpoint), CheckpointError, "do not match Emo18", checkpoint)


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda d: (d / "config.json").unlink(), "no config.json"),
        (lambda d: (d / "config.json").write_text("{model_type: emo18"), "not valid JSON"),
        (lambda d: (d / "config.json").write_text('{"model_type": "resnet"}'), "unknown model_type 'resnet'"),
        (lambda d: (d / "model.safetensors").unlink(), "weights file not found"),
        (lambda d: (d / "model.safetensors").write_bytes(b"\x00" * 64), "not a safetensors file"),
    ],
    ids=["no config", "bad json", "unknown type", "no weights", "corrupt weights"],
)
def test_damaged_checkpoint_folder(damage, fragment, checkpoint):
    damage(checkpoint)
    expect_error(lambda: load_model(checkpoint), CheckpointError, fragment, checkpoint)


def _killed_after_one_epoch(corpus, out: Path, arch: str = "zhao19") -> None:
    """A run's folder as a kill after its first epoch leaves it: claimed, ``last.pt``, no ``train.json``."""
    torch.manual_seed(0)
    _train_one_epoch(build_model(arch, num_classes=7, hidden=8), corpus, out)
    (out / "train.json").unlink()


def _resume(corpus, out: Path) -> None:
    torch.manual_seed(0)
    _train_one_epoch(build_model("zhao19", num_classes=7, hidden=8), corpus, out)


def test_resume_with_another_model_is_refused_by_the_claim(tiny_corpus, tmp_path):
    _killed_after_one_epoch(tiny_corpus, tmp_path)
    other = build_model("emo18", num_classes=7, hidden=8)
    expect_error(
        lambda: _train_one_epoch(other, tiny_corpus, tmp_path), ConfigError, 'model.model_type: "zhao19" → "emo18"'
    )


def test_resume_state_of_another_model(tiny_corpus, tmp_path):
    _killed_after_one_epoch(tiny_corpus, tmp_path / "emo18", arch="emo18")
    _killed_after_one_epoch(tiny_corpus, tmp_path / "zhao19")
    (tmp_path / "emo18" / "last.pt").replace(tmp_path / "zhao19" / "last.pt")  # a swapped resume file
    last = tmp_path / "zhao19" / "last.pt"
    expect_error(lambda: _resume(tiny_corpus, tmp_path / "zhao19"), CheckpointError, "does not match this model", last)


@pytest.mark.parametrize(
    "content", [b"", b"not a torch file", b"PK\x03\x04truncated zip"], ids=["empty", "text", "truncated"]
)
def test_corrupt_resume_state(content, tiny_corpus, tmp_path):
    _killed_after_one_epoch(tiny_corpus, tmp_path)
    (tmp_path / "last.pt").write_bytes(content)
    expect_error(lambda: _resume(tiny_corpus, tmp_path), CheckpointError, "resume state", tmp_path / "last.pt")


def test_resume_state_that_is_not_a_dictionary(tiny_corpus, tmp_path):
    _killed_after_one_epoch(tiny_corpus, tmp_path)
    torch.save([1, 2, 3], tmp_path / "last.pt")
    expect_error(lambda: _resume(tiny_corpus, tmp_path), CheckpointError, "not a resume state")


# ---- 5. attacks --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def victim() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("zhao19", num_classes=3, hidden=8).eval()


@pytest.mark.parametrize("eps", [0.0, -0.1, 1.5, math.nan])
def test_eps_outside_zero_one(eps, victim):
    expect_error(lambda: SparsePGD(victim, eps), ConfigError, "eps must be in (0, 1]")


@pytest.mark.parametrize(
    "options, fragment",
    [({"k": 0}, "k must be at least 1"), ({"k_percent": 150}, "k_percent"), ({"k": 5, "k_percent": 5}, "not both")],
)
def test_invalid_sparsity_budget(options, fragment, victim):
    expect_error(lambda: SparsePGD(victim, 0.01, **options), ConfigError, fragment)


def test_k_larger_than_the_clip_means_dense(victim):
    """Documented repair: k is capped at N, so k > N is the dense attack and never fails."""
    attack = SparsePGD(victim, 0.01, k=10_000, steps=2, seed=0)
    assert attack.budget(1_000) == 1_000
    result = attack(torch.from_numpy(tone(0.0625)[None] * 0.5))
    assert result.delta.abs().max() <= 0.01 + 1e-7 and (result.delta != 0).sum() <= 1_000


BAD_BATCHES = {
    "empty batch": (torch.zeros(0, 1000), "empty batch"),
    "zero-length clips": (torch.zeros(2, 0), "empty batch"),
    "NaN sample": (torch.full((1, 1000), float("nan")), "NaN or infinite"),
    "outside [-1, 1]": (torch.full((1, 1000), 1.5), "outside the valid amplitude range"),
    "3-D input": (torch.zeros(1, 1, 1000), "expected a (batch, samples) waveform"),
}


@pytest.mark.parametrize("case", sorted(BAD_BATCHES))
def test_bad_attack_input(case, victim):
    x, fragment = BAD_BATCHES[case]
    expect_error(lambda: SparsePGD(victim, 0.01, steps=1)(x), ConfigError, fragment)


def test_labels_and_targets_are_validated(victim):
    x = torch.from_numpy(tone(0.0625)[None])
    attack = SparsePGD(victim, 0.01, steps=1)
    expect_error(lambda: attack(x, torch.tensor([7])), ConfigError, "outside the model's classes")
    expect_error(lambda: SparsePGD(victim, 0.01, steps=1, targeted=True)(x), ConfigError, "needs target classes")


def test_unknown_attack(victim):
    expect_error(lambda: build_attack("deepfool", victim, eps=0.1), ConfigError, "unknown attack 'deepfool'")


def test_base_attack_refuses_eps_before_anything_runs(victim):
    expect_error(lambda: Attack(victim, 2.0), ConfigError, "eps must be in (0, 1]")


# ---- 6. the command line: one `error:` line, exit status 2 ---------------------------------------------
TRAIN_OPTIONS = ["--corpus", "{manifest}", "--cache", "{tmp}/c", "--out", "{tmp}/o"]


def _run_main(monkeypatch, capsys, *argv: str) -> tuple[int, str]:
    from staa.cli import main

    monkeypatch.setattr("sys.argv", ["staa", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["data", "prepare", "timit"], "unknown corpus 'timit'"),
        (["data", "prepare", "emodb"], "needs --root"),
        (["data", "prepare", "{tmp}/none.csv"], "manifest not found"),
        (["ser", "evaluate", "{tmp}/no-such-checkpoint"], "checkpoint folder not found"),
        (["ser", "train", "resnet", *TRAIN_OPTIONS], "unknown model 'resnet'"),
        (["ser", "train", "emo18", *TRAIN_OPTIONS, "--epochs", "0"], "epochs"),
    ],
    ids=["unknown corpus", "no root", "no manifest", "no checkpoint", "unknown model", "zero epochs"],
)
def test_cli_prints_one_error_line_with_status_2(argv, fragment, wav_manifest, tmp_path, monkeypatch, capsys):
    argv = [a.format(tmp=tmp_path, manifest=wav_manifest) for a in argv]
    code, err = _run_main(monkeypatch, capsys, *argv)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err


@pytest.mark.slow  # a real `staa` process: seconds of interpreter and torch start-up
def test_real_staa_process_reports_a_corrupt_clip_in_one_line(wav_manifest, staa_cli, tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(wav_manifest.parent, folder)
    (folder / "val_003.wav").write_bytes(b"garbage")
    done = staa_cli("data", "prepare", str(folder / "manifest.csv"), "--cache", str(tmp_path / "cache"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and "val_003.wav: not a readable audio file" in done.stderr
    assert not [p for p in (tmp_path / "cache").rglob(".*") if p.is_file()], "half-written split left behind"
