"""Fixtures for the reliability suite: the tiny synthetic corpus as real WAV files plus a CSV manifest, and
for the bad-input suite (``test_bad_*.py``): the CLI run in-process, generated checkpoints, and the checks
every refusal must pass (:func:`assert_refused`, :func:`untouched`)."""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
import soundfile as sf
import torch

from staa.data.cache import PreparedCorpus


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread per test: on a shared 2-core machine, two OpenMP threads that wait on each
    other make the small models here many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def as_wav_files(corpus: PreparedCorpus, root: Path) -> Path:
    """``corpus`` written out as 16-bit WAVs in ``root`` with a manifest that keeps its splits."""
    rows = []
    for split in ("train", "val", "test"):
        s = corpus.split(split)
        for i, (wave, item) in enumerate(zip(s.waves, s.items)):
            name = f"{split}_{i:03d}.wav"
            sf.write(str(root / name), wave, corpus.sample_rate, subtype="PCM_16")
            rows.append({"path": name, "label": item["label"], "speaker": item["speaker"], "split": split})
    return write_manifest(root / "manifest.csv", rows)


@pytest.fixture(scope="session")
def wav_manifest(tiny_corpus: PreparedCorpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny_corpus written out as 16-bit WAVs (70 clips, 0.5 s) with a manifest that keeps its splits."""
    return as_wav_files(tiny_corpus, tmp_path_factory.mktemp("wavs"))


CLI = [sys.executable, "-m", "staa.cli"]
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


class StaaCLI:
    """Runs ``python -m staa.cli ARGS`` with one thread, as a user would run ``staa ARGS``."""

    command = CLI
    env = ONE_THREAD

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=ONE_THREAD)

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([*CLI, *args], env=ONE_THREAD, stderr=subprocess.PIPE)


@pytest.fixture(scope="session")
def staa_cli() -> StaaCLI:
    return StaaCLI()


# ---- the bad-input suite: the CLI in-process, generated data, and the checks every refusal must pass ------
@dataclass
class Ran:
    """What one ``staa`` command did: its exit status and what it printed."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run_staa(*args: object) -> Ran:
    """``staa ARGS`` through the real entry point (:func:`staa.cli.main`), in this process: the same
    parsing, error handling and exit status as the ``staa`` command, without a torch start-up per case."""
    from staa.cli import main

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["staa", *map(str, args)]), redirect_stdout(out), redirect_stderr(err):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return Ran(code, out.getvalue(), err.getvalue())


def assert_refused(ran: Ran, *fragments: str) -> str:
    """Exit status 2 and exactly one ``error: <what>: <problem>`` line holding every fragment; no traceback."""
    assert ran.code == 2, f"exit {ran.code}: {ran.err[-2000:]}"
    assert "Traceback" not in ran.err and len(ran.lines) == 1, ran.err[-2000:]
    line = ran.lines[0]
    assert line.startswith("error: ") and ": " in line[len("error: ") :], line
    for fragment in fragments:
        assert fragment in line, line
    return line


def tree(path: Path) -> dict[str, tuple[bool, int, int]] | None:
    """Every file and folder under ``path`` with its size and modification time (None if it does not exist)."""
    if not path.exists():
        return None
    if path.is_file():
        return {"": (False, path.stat().st_size, path.stat().st_mtime_ns)}
    return {p.relative_to(path).as_posix(): (p.is_dir(), p.stat().st_size if p.is_file() else 0, p.stat().st_mtime_ns)
            for p in sorted(path.rglob("*"))}  # fmt: skip


@contextlib.contextmanager
def untouched(*paths: Path) -> Iterator[None]:
    """Assert that nothing under ``paths`` is created, changed or removed (no partial or mixed output)."""
    before = [tree(p) for p in paths]
    yield
    for path, old in zip(paths, before):
        assert tree(path) == old, f"{path} changed"


SYNTHETIC_CLASSES = ["anger", "disgust", "fear", "guilt", "happiness", "sadness", "surprise"]
EMODB_CLASSES = ["anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness"]


@pytest.fixture(scope="session")
def micro_manifest(micro_corpus: PreparedCorpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The micro synthetic corpus (3 speakers × 7 emotions, 0.25 s) as 16-bit WAVs with a manifest."""
    return as_wav_files(micro_corpus, tmp_path_factory.mktemp("micro-wavs"))


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny untrained checkpoints: ``emo18`` and ``zhao19`` for the synthetic classes, ``emodb`` (EmoDB's
    classes), ``reordered`` (the synthetic classes in another order), ``rate48k`` (a 48 kHz model), and an
    untrained ``fast`` generator ``gen``. Tests that change one copy it first."""
    from staa.attacks.staa import Generator, GeneratorConfig
    from staa.models import build_model

    root = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    variants = {"emo18": ("emo18", SYNTHETIC_CLASSES, 16_000), "zhao19": ("zhao19", SYNTHETIC_CLASSES, 16_000),
                "emodb": ("emo18", EMODB_CLASSES, 16_000), "reordered": ("emo18", SYNTHETIC_CLASSES[::-1], 16_000),
                "rate48k": ("emo18", SYNTHETIC_CLASSES, 48_000)}  # fmt: skip
    for name, (arch, classes, rate) in variants.items():
        model = build_model(arch, num_classes=7, hidden=8, class_names=list(classes), sample_rate=rate)
        model.save_pretrained(root / name)
    Generator(GeneratorConfig.preset("fast")).save_pretrained(root / "gen")
    return root


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One corpus cache for the suite: each manifest is decoded once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def micro(micro_manifest: Path, shared_cache: Path) -> list[str]:
    """The corpus options of a command on the micro corpus (manifest, cache, 0.25 s clips)."""
    return ["--corpus", str(micro_manifest), "--cache", str(shared_cache), "--seconds", "0.25", "--quiet"]


class InProcessStaa:
    """The ``staa`` fixture: ``staa(*args)`` runs a command (:func:`run_staa`); ``staa.refuses(args, *fragments,
    keep=paths)`` asserts a one-line refusal that left ``keep`` untouched; ``staa.succeeds(*args)`` exit 0."""

    Ran = Ran

    def __call__(self, *args: object) -> Ran:
        return run_staa(*args)

    def refuses(self, args: list[object], *fragments: str, keep: tuple[Path, ...] = ()) -> str:
        with untouched(*keep):
            ran = run_staa(*args)
        return assert_refused(ran, *fragments)

    def unprivileged(self, *args: object) -> Ran:
        """:func:`run_staa` as a user without root's rights (see :func:`_as_unprivileged`)."""
        return _as_unprivileged(list(args))

    def succeeds(self, *args: object) -> Ran:
        ran = run_staa(*args)
        assert ran.code == 0, ran.err[-3000:]
        return ran


@pytest.fixture
def staa() -> InProcessStaa:
    return InProcessStaa()


NOBODY = 65534


@pytest.fixture
def read_only() -> Iterator[Path]:
    """A read-only folder in a place the unprivileged user can reach (pytest's own tmp is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="staa-ro-"))
    base.chmod(0o755)
    folder = base / "shared"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(base)


def _as_unprivileged(args: list[object]) -> Ran:
    """``staa ARGS`` as a user who cannot write the read-only folder: this process, or as root a forked
    child that has become ``nobody`` (every module the command needs is imported before the fork)."""
    if os.geteuid() != 0:
        return run_staa(*args)
    _import_every_command()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            ran = run_staa(*args)
            os.write(write, json.dumps([ran.code, ran.out, ran.err]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        code, out, err = json.loads(f.read() or '[1, "", "the child died"]')
    os.waitpid(pid, 0)
    return Ran(code, out, err)


def _import_every_command() -> None:
    """Import now what the commands import inside their bodies: the child cannot read root's site-packages."""
    for module in ("staa.attacks.registry", "staa.attacks.staa.export", "staa.defenses", "staa.evaluation.robustness",
                   "staa.evaluation.runs", "staa.experiment", "staa.models", "staa.training.adversarial",
                   "staa.training.generator"):  # fmt: skip
        importlib.import_module(module)


TINY_EXPERIMENT = """
name: tiny
seed: 0
corpus: {name: synthetic, options: {n_speakers: 3, per_emotion: 1, seconds: 0.25}}
models: {emo18: {arch: emo18, epochs: 1, options: {hidden: 8}}}
threat_models: [emo18]
victims: [emo18]
attackers: {pgd: {attack: pgd, settings: {k_percent: 10, steps: 1}}}
controls: {authors_shift: false}
report: {examples: 0, perceptual: false, chunk_size: 8}
"""


@pytest.fixture
def tiny_experiment(tmp_path: Path) -> Path:
    """An experiment file that runs in seconds: 21 clips of 0.25 s, a 1-epoch Emo18, one PGD step."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_EXPERIMENT)
    return path
