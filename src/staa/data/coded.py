"""Corpora whose file names code the emotion and the speaker (DEMoS, EmoDB, RAVDESS).

Such a corpus only has to say how to read one file name (:meth:`CodedCorpus.parse`); scanning, the
exclusions, the gender-stratified speaker split and the items are shared here.
A ``.wav`` whose name does not follow the corpus's scheme is an error, not silently skipped: a stray
file usually means a wrong root folder, and dropping it would change the corpus without telling anyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from staa import validation
from staa.data.base import Item, speaker_split
from staa.data.files import AudioFileCorpus
from staa.errors import DataError


@dataclass(frozen=True)
class Code:
    """What a file name says: the class (``None`` when the corpus excludes the file), speaker, gender."""

    label: str | None
    speaker: str
    gender: str


def wav_files(folder: Path, *, recursive: bool = True) -> list[Path]:
    """All ``.wav`` files (any case) under ``folder``, sorted, skipping hidden ones such as macOS ``._x.wav``."""
    pattern = "**/*" if recursive else "*"
    return sorted(
        p for p in folder.glob(pattern) if p.suffix.lower() == ".wav" and not p.name.startswith(".") and p.is_file()
    )


def gender_stratified_split(
    genders: Mapping[str, str], proportions: tuple[float, float, float], seed: int
) -> dict[str, str]:
    """Speaker-independent split drawn separately per gender, so every split keeps the gender balance."""
    out: dict[str, str] = {}
    for gender in sorted(set(genders.values())):
        group = [spk for spk, g in genders.items() if g == gender]
        if len(group) < 3:
            raise DataError(
                f"a gender-stratified split needs at least 3 speakers per gender; gender '{gender}' has {len(group)}"
            )
        out.update(speaker_split(group, proportions, seed))
    return out


class CodedCorpus(AudioFileCorpus):
    """Base of the file-name-coded corpora: subclasses implement :meth:`parse`.

    By default speakers are split by :func:`gender_stratified_split` in the corpus's ``proportions``
    with ``seed``; a corpus with a fixed published split overrides :meth:`assign_splits`.
    """

    scheme: str = ""  # an example file name, quoted in errors
    proportions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    recursive: bool = True  # look for wavs in sub-folders of the audio folder too

    def __init__(self, root: str | Path, *, seed: int = 0, seconds: float | None = None) -> None:
        super().__init__(root, seconds=seconds)
        self.seed = validation.seed("seed", seed)

    def audio_folder(self) -> Path:
        """Where the wavs are (the root unless a corpus keeps them in a sub-folder)."""
        assert self.root is not None
        return self.root

    def parse(self, path: Path) -> Code:
        """Read label, speaker and gender from one file name; raise :class:`DataError` if it is not coded."""
        raise NotImplementedError

    def assign_splits(self, genders: Mapping[str, str]) -> dict[str, str]:
        """Map every speaker (with its gender) to train, val or test."""
        return gender_stratified_split(genders, self.proportions, self.seed)

    def files(self) -> list[Path]:
        return wav_files(self.audio_folder(), recursive=self.recursive)

    def _collect(self) -> list[Item]:
        folder = self.audio_folder()
        if not folder.is_dir():
            raise DataError(f"{self.name} root folder not found", folder)
        kept: list[tuple[Path, str, str]] = []
        genders: dict[str, str] = {}
        for path in self.files():
            code = self.parse(path)
            if code.label is not None:
                kept.append((path, code.label, code.speaker))
                genders[code.speaker] = code.gender
        if not kept:
            raise DataError(f"no {self.name} files (named like {self.scheme}) found", folder)
        try:
            split_of = self.assign_splits(genders)
        except DataError as exc:
            raise DataError(str(exc), folder) from None
        return [Item(str(path.resolve()), label, spk, split_of[spk]) for path, label, spk in kept]

    def not_coded(self, path: Path) -> DataError:
        """The one-line error for a file that does not follow the naming scheme."""
        return DataError(f"file name does not follow the {self.name} scheme (expected e.g. {self.scheme})", path)
