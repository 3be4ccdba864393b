"""The davis16-dev split used to train and to measure the network.

Held-out sequences never reach training, not even their boxes.  They were
chosen before any network existed, from the per-frame GrabCut baseline
(benchmarks/results/baselines.json): sequences sorted by GrabCut J&F, every
third one (positions 1, 4, 7, 10, 13, 16), so the held-out part spans the whole
range of difficulty instead of being the easiest or hardest videos.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "baselines.json"


def heldout_from_baselines(path: Path = RESULTS) -> list[str]:
    per_seq = json.loads(path.read_text())["grabcut"]["sequences"]
    ranked = sorted(per_seq, key=lambda s: per_seq[s]["JF"])
    return sorted(ranked[1::3])


# Frozen from the GrabCut run of 2026-11-21 (benchmarks/results/baselines.json), before any training.
HELDOUT: list[str] = ["breakdance-flare", "bus", "car-turn", "dog-agility", "mallard-fly", "paragliding"]


def split(all_ids: list[str]) -> tuple[list[str], list[str]]:
    """``(train, heldout)`` sequence ids."""
    held = HELDOUT or heldout_from_baselines()
    return [s for s in all_ids if s not in held], [s for s in all_ids if s in held]


if __name__ == "__main__":
    print(heldout_from_baselines())
