"""What the command groups share: option help, output and cache checks, corpora prepared for a model.

Like every CLI module it imports the library inside functions, so that ``staa --help`` loads no torch.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from typer._click.exceptions import BadParameter

from staa.defaults import DEFAULT_THREADS, MAX_CLIP_SECONDS

DEFAULT_CACHE = Path("runs/cache")

CACHE_HELP = "folder of prepared corpora (decoded once, memory-mapped, reused by every command)"
ROOT_HELP = "the corpus's folder (not needed for synthetic or a CSV manifest)"
SECONDS_HELP = f"unified clip length in seconds, at most {MAX_CLIP_SECONDS:g} (default: the corpus's)"
OVERWRITE_HELP = (
    "start over: delete this command's earlier outputs in --out (otherwise a rerun resumes, and refuses other settings)"
)
TARGET_HELP = "target class of a targeted attack, by name or index"
DEVICE_HELP = "cpu, cuda or cuda:N (checked against the devices this machine has)"
THREADS_HELP = (f"CPU threads of this process (default: OMP_NUM_THREADS when set, else {DEFAULT_THREADS}; "
                "for `staa run` it replaces the experiment's threads: key)")  # fmt: skip

asked_threads: int | None = None  # what --threads said (None: not given), for `staa run`
current_out: Path | None = None  # the command's output folder, once checked: inputs are kept apart from it


def use_threads(threads: int | None) -> None:
    """Apply ``staa --threads`` (else ``OMP_NUM_THREADS``, else the default) before the command loads torch.

    Setting ``OMP_NUM_THREADS`` is enough while torch is not imported yet (the CLI imports it inside each
    command); an already imported torch is told directly.
    """
    from staa.validation import environment_int

    global asked_threads
    asked_threads = threads
    count = threads if threads is not None else environment_int("OMP_NUM_THREADS", DEFAULT_THREADS, low=1, high=1024)
    os.environ["OMP_NUM_THREADS"] = str(count)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)


def checked_places(out: Path | None, cache: Path | None = None) -> None:
    """Refuse, before any work, an output folder or cache that cannot be written (one line each).

    The output folder is remembered: the corpus prepared later must lie apart from it (:func:`prepared_corpus`).
    """
    from staa.io.outputs import writable_folder

    global current_out
    for path in (out, cache):
        if path is not None:
            writable_folder(path)
    current_out = out if out is not None else current_out


def finite_numbers(command: Any) -> Any:
    """``command`` (a click command tree) with every float option refusing NaN and infinities.

    Typer parses ``--budget-snr nan`` as a float; no range check catches NaN (every comparison with it is
    false), so it would pass through and never act. Every number that enters through an option is finite.
    """
    for sub in getattr(command, "commands", {}).values():
        finite_numbers(sub)
    for param in command.params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None and "float" in str(descriptor.annotation):
            param.callback = _finite(param.callback)
    return command


def _finite(inner: Any) -> Any:
    def check(ctx: Any, param: Any, value: Any) -> Any:
        values = value if isinstance(value, (list, tuple)) else [value]
        bad = next((v for v in values if isinstance(v, float) and not math.isfinite(v)), None)
        if bad is not None:
            raise BadParameter(f"must be a finite number, got {bad}", ctx=ctx, param=param)
        return inner(ctx, param, value) if inner is not None else value

    return check


def checked_device(device: str | None) -> str | None:
    """A ``--device`` option's callback: the device must exist here (:func:`staa.runtime.device.check_device`)."""
    from staa.runtime.device import check_device

    return None if device is None else check_device(device, "--device")


def prepared_corpus(
    corpus: str, root: Path | None, cache: Path, seconds: float | None, quiet: bool = False,
    classes: Sequence[str] | None = None,
) -> Any:  # fmt: skip
    """Build the named corpus and return its prepared (cached) arrays, preparing them if needed.

    ``classes`` fixes the class names and their order of a CSV manifest (a model's; see :func:`corpus_for_models`).
    """
    from staa.data.cache import prepare
    from staa.data.registry import build_corpus
    from staa.io.outputs import inputs_apart

    checked_places(None, cache)
    options = {"classes": list(classes)} if classes and corpus.endswith(".csv") else {}
    data = build_corpus(corpus, root, **options)
    if current_out is not None:  # outputs written among the recordings could replace them
        files = [it.path for it in data.items()] if current_out.exists() else []  # a new folder holds none
        inputs_apart(current_out, [root, corpus if corpus.endswith(".csv") else None, *files])
    return prepare(data, cache, seconds=seconds, show_progress=not quiet)


def corpus_for_models(models: Sequence[tuple[Path, Any]], corpus: str, root: Path | None, cache: Path,
                      seconds: float | None, quiet: bool = False, device: str | None = None) -> Any:  # fmt: skip
    """The corpus prepared for these (checkpoint path, model) pairs, which must know its data.

    A CSV manifest takes the first model's class names in their order (documented repair: its labels
    may be any subset of the model's classes; a label outside them is refused by row). Then every model
    must fit the prepared corpus: same class names in the same order and the same sample rate, or one
    line names the checkpoint and what differs. With ``device`` the corpus is prepared for torchrun ranks.
    """
    classes = next((m.config.class_names for _, m in models if m.config.class_names), None)
    if device is not None:
        pc = prepared_corpus_for_ranks(device, corpus, root, cache, seconds, quiet, classes)
    else:
        pc = prepared_corpus(corpus, root, cache, seconds, quiet, classes)
    for path, model in models:
        model.check_fits(pc.classes, pc.sample_rate, path, length=pc.length)
    return pc


def prepared_corpus_for_ranks(
    device: str, corpus: str, root: Path | None, cache: Path, seconds: float | None, quiet: bool = False,
    classes: Sequence[str] | None = None,
) -> Any:  # fmt: skip
    """:func:`prepared_corpus` under torchrun: join the process group, rank 0 prepares, the others reuse."""
    from staa.runtime import distributed as ddp

    ddp.setup(device)
    with ddp.main_first():
        return prepared_corpus(corpus, root, cache, seconds, quiet or not ddp.is_main(), classes)


def choice(option: str, value: str, choices: Sequence[str]) -> None:
    """Refuse a value that is not one of ``choices`` in one line naming the option."""
    from staa.errors import ConfigError

    if value not in choices:
        raise ConfigError(f"{option}: unknown choice '{value}' (expected {', '.join(choices)})")


def targeted_pair(targeted: bool, target_class: str | None) -> None:
    """--targeted and --target-class come both or neither (checked before any work)."""
    from staa.errors import ConfigError

    if targeted != (target_class is not None):
        raise ConfigError("--target-class: goes together with --targeted (a targeted attack needs its class)")


def checked_target(targeted: bool, target_class: str | None, classes: Sequence[str]) -> int | None:
    """The target of a command with --targeted and --target-class: both or neither, the class by name or index."""
    targeted_pair(targeted, target_class)
    return target_index(target_class, classes)


def target_index(target_class: str | None, classes: Sequence[str]) -> int | None:
    """The index of a target class given by name or index (checked against ``classes``), or None."""
    from staa.errors import ConfigError

    if target_class is None:
        return None
    if target_class in classes:
        return list(classes).index(target_class)
    if target_class.isdigit() and int(target_class) < len(classes):
        return int(target_class)
    raise ConfigError(
        f"--target-class: unknown class '{target_class}' (classes: {', '.join(classes) or 'none recorded'})"
    )


def is_main_rank() -> bool:
    """Whether this process prints (rank 0 under torchrun, always otherwise)."""
    from staa.runtime import distributed as ddp

    return ddp.is_main()


def fmt(value: float | None, spec: str = ".2f") -> str:
    """A number for a one-line report, ``n/a`` when there is none."""
    return "n/a" if value is None else format(value, spec)


def audible_warning(what: str, median_snr_db: float | None) -> None:
    """A warning line on stderr when ``what``'s median SNR is under the audibility limit (:mod:`staa.experiment.readings`)."""
    from staa.experiment.readings import AUDIBLE_SNR_DB

    if median_snr_db is not None and median_snr_db < AUDIBLE_SNR_DB:
        print(
            f"warning: {what}: median SNR {median_snr_db:.1f} dB is under {AUDIBLE_SNR_DB:g} dB, the perturbation "
            "is audible (a relative budget, --eps-db, keeps it under the speech on any corpus)",
            file=sys.stderr,
        )
