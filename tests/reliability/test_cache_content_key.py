"""Caches are keyed by content: a recording replaced in place by another of the same size (even with its
old modification time put back) makes the next command decode the corpus again, instead of answering
from the arrays of the recordings that were there before."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from staa.audio import load_audio, unify_length
from staa.data.cache import prepare
from staa.data.manifest import ManifestCorpus


@pytest.fixture
def corpus_copy(micro_manifest, tmp_path):
    """A private copy of the micro corpus (its WAVs and manifest), free to be edited."""
    folder = tmp_path / "corpus"
    shutil.copytree(micro_manifest.parent, folder)
    return folder / micro_manifest.name


@pytest.mark.parametrize("keep_mtime", [False, True], ids=["copied over", "modification time put back"])
def test_clips_replaced_in_place_are_decoded_again(keep_mtime, corpus_copy, tmp_path):
    """The issue's case: two clips replaced by same-size files; `staa ser evaluate` printed the old UAR."""
    cache = tmp_path / "cache"
    before = prepare(ManifestCorpus(corpus_copy), cache, seconds=0.25, show_progress=False)
    test = before.split("test")
    first, second = (test.items[i]["path"] for i in (0, 1))
    assert os.path.getsize(first) == os.path.getsize(second)
    times = [os.stat(p) for p in (first, second)]
    a, b = open(first, "rb").read(), open(second, "rb").read()
    open(first, "wb").write(b), open(second, "wb").write(a)  # swapped in place: same sizes, other content
    if keep_mtime:
        for p, st in zip((first, second), times):
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = prepare(ManifestCorpus(corpus_copy), cache, seconds=0.25, show_progress=False)
    assert after.path != before.path
    waves = after.split("test").waves
    for row, path in ((0, first), (1, second)):
        expected = unify_length(load_audio(path, max_seconds=0.75), after.length)
        np.testing.assert_array_equal(waves[row], expected)
    assert not np.array_equal(waves[0], test.waves[0])


def test_an_unchanged_corpus_reuses_its_cache(corpus_copy, tmp_path):
    cache = tmp_path / "cache"
    first = prepare(ManifestCorpus(corpus_copy), cache, seconds=0.25, show_progress=False)
    stamp = (first.path / "manifest.json").stat().st_mtime_ns
    again = prepare(ManifestCorpus(corpus_copy), cache, seconds=0.25, show_progress=False)
    assert again.path == first.path and (again.path / "manifest.json").stat().st_mtime_ns == stamp
