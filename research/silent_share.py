"""Where does an attack's δ lie: on speech, or in the silence around it?

A perturbation of the same size is far more audible over near-silence than under speech, and a model that
reads silence (as RAVDESS's second of silence before each sentence invites) can be fooled there cheaply. For
every attacker of a finished run, this prints the share of δ's changed samples (x_adv ≠ x) that fall in the
clean clip's near-silent frames: 25 ms frames whose RMS is more than ``--floor-db`` under the clip's loudest
frame, the same rule as the learning curve's speech activity. Mean and median over the attacked clips.

    python research/silent_share.py runs/ravdess pgd staa guided
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

FRAME = 400  # 25 ms at 16 kHz


def quiet_frames(clip: np.ndarray, floor_db: float, frame: int = FRAME) -> np.ndarray:
    """Per whole frame of ``clip``: whether its RMS lies more than ``floor_db`` under the loudest frame's."""
    n = len(clip) // frame * frame
    rms = np.sqrt((clip[:n].astype(np.float64).reshape(-1, frame) ** 2).mean(1))
    return rms < rms.max() * 10 ** (-floor_db / 20)


def silent_share(clean: np.ndarray, adversarial: np.ndarray, floor_db: float, frame: int = FRAME) -> float:
    """The share of the changed samples of one clip that lie in its quiet frames (0 when nothing changed)."""
    n = len(clean) // frame * frame
    changed = (adversarial[:n] != clean[:n]).reshape(-1, frame)
    total = int(changed.sum())
    return float(changed[quiet_frames(clean, floor_db, frame)].sum() / total) if total else 0.0


def attacker_shares(run: Path, attacker: str, floor_db: float, threat: str, split: str) -> list[float]:
    """One share per attacked clip of ``attacker``'s adversarial set in the run folder ``run``."""
    folder = run / "adversarial" / threat / attacker / split
    indices = json.loads((folder / "spec.json").read_text())["indices"]
    caches = sorted(run.glob(f"cache/*/{split}.npy"))
    if len(caches) != 1:
        raise SystemExit(f"error: {run}: expected one prepared corpus under cache/, found {len(caches)}")
    clean = np.load(caches[0], mmap_mode="r")
    adversarial = np.load(folder / "x_adv.npy", mmap_mode="r")
    return [silent_share(np.asarray(clean[k]), np.asarray(adversarial[i]), floor_db) for i, k in enumerate(indices)]


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a finished experiment's output folder")
    p.add_argument("attackers", nargs="+", help="attacker ids of the run (folders under adversarial/<threat>/)")
    p.add_argument("--threat", default="emo18")
    p.add_argument("--split", default="test")
    p.add_argument("--floor-db", type=float, default=40.0, help="a frame this far under the loudest is quiet")
    args = p.parse_args(argv)
    print("| attacker | clips | changed samples in quiet frames: mean % | median % |")
    print("|---|---|---|---|")
    for attacker in args.attackers:
        shares = attacker_shares(args.run, attacker, args.floor_db, args.threat, args.split)
        print(f"| {attacker} | {len(shares)} | {100 * np.mean(shares):.1f} | {100 * np.median(shares):.1f} |")


if __name__ == "__main__":
    main()
