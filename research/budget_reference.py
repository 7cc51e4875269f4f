"""Which per-clip level should a relative budget (``eps_db``) hang from: the clip's peak or its active-speech RMS?

A relative budget sets ε = reference · 10^(−eps_db/20) per clip. Two references are candidates:

* **peak**: max |x|, what the reported SNR (:func:`staa.metrics.snr_db`, a peak SNR) divides by;
* **active RMS**: the RMS of the clip's active frames (25 ms frames within 40 dB of the loudest one), a
  proxy of the speech level a listener hears (the idea of ITU-T P.56's active speech level).

Whichever is the reference, the other differs from it by the clip's crest factor, peak / active RMS. So
the crest factor decides: per corpus this prints the clip peaks (median, 10th and 90th percentile, what a
relative budget at eps_db gives as ε), the active RMS and the crest factor in dB. If the crest factor's
median differs little between corpora, a peak reference also keeps δ at the same level under the heard
speech on every corpus, and it makes the peak SNR of an attack that uses its whole budget equal to
eps_db exactly; an active-RMS reference would move every corpus's peak SNR by its crest factor.

Reproduce::

    python research/budget_reference.py --emodb /work/shared/data/emodb-subset \\
        --ravdess /work/shared/data/ravdess-subset
"""

from __future__ import annotations

import argparse

import numpy as np

from staa.audio import SAMPLE_RATE, unify_length
from staa.data.registry import build_corpus

FRAME = int(0.025 * SAMPLE_RATE)
ACTIVE_RANGE_DB = 40.0


def active_rms(x: np.ndarray) -> float:
    """RMS over the 25 ms frames whose RMS is within 40 dB of the clip's loudest frame."""
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    power = (frames.astype(np.float64) ** 2).mean(axis=1)
    active = power >= power.max() * 10 ** (-ACTIVE_RANGE_DB / 10)
    return float(np.sqrt(power[active].mean()))


def levels(name: str, root: str | None) -> dict[str, np.ndarray]:
    """Peak, active RMS and crest factor (dB) of every clip of a corpus, unified to its own length."""
    corpus = build_corpus(name, root) if root else build_corpus(name)
    length = int(round(corpus.seconds * SAMPLE_RATE))
    peaks, rms = [], []
    for item in corpus.items():
        x = unify_length(corpus.read(item, max_seconds=corpus.seconds), length)
        peaks.append(float(np.abs(x).max()))
        rms.append(active_rms(x))
    p, r = np.array(peaks), np.array(rms)
    return {"peak": p, "active_rms": r, "crest_db": 20 * np.log10(p / r)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emodb", help="EmoDB folder of WAVs")
    parser.add_argument("--ravdess", help="RAVDESS folder holding Actor_XX folders")
    args = parser.parse_args()
    corpora = {"synthetic": None, "emodb": args.emodb, "ravdess": args.ravdess}
    print(
        "| corpus | clips | peak median (p10–p90) | active RMS median | crest dB median (p10–p90) | 20·log10(median peak / 0.05) |"
    )
    print("|---|---|---|---|---|---|")
    for name, root in corpora.items():
        if name != "synthetic" and root is None:
            continue
        m = levels(name, root)
        q = {k: np.percentile(v, [10, 50, 90]) for k, v in m.items()}
        print(
            f"| {name} | {len(m['peak'])} | {q['peak'][1]:.3f} ({q['peak'][0]:.3f}–{q['peak'][2]:.3f}) "
            f"| {q['active_rms'][1]:.4f} | {q['crest_db'][1]:.1f} ({q['crest_db'][0]:.1f}–{q['crest_db'][2]:.1f}) "
            f"| {20 * np.log10(q['peak'][1] / 0.05):.1f} |"
        )


if __name__ == "__main__":
    main()
