"""The three fixed cross-validation folds over the 18 davis16-dev sequences.

Every setting of the network (architecture, crop, losses, schedule, inference
options, QA weights, thresholds) is chosen on these folds: train on the 12
sequences outside a fold (their boxes only), score the fold's 6, report each
fold and the mean.  No fixed held-out subset is used for choices.

The folds were fixed from the per-frame GrabCut baseline alone
(benchmarks/results/baselines.json), before any network result was looked at:
sequences sorted by GrabCut J&F and dealt out in turn, so that each fold spans
the whole range of difficulty.  ``folds_from_baselines`` re-derives them; the
frozen lists below are what every run uses.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "baselines.json"


def folds_from_baselines(path: Path = RESULTS, k: int = 3) -> dict[str, list[str]]:
    per_seq = json.loads(path.read_text())["grabcut"]["sequences"]
    ranked = sorted(per_seq, key=lambda s: per_seq[s]["JF"])
    return {"ABC"[i]: sorted(ranked[i::k]) for i in range(k)}


FOLDS: dict[str, list[str]] = {
    "A": ["boat", "elephant", "kite-walk", "motocross-bumps", "soccerball", "tennis"],
    "B": ["breakdance-flare", "bus", "car-turn", "dog-agility", "mallard-fly", "paragliding"],
    "C": ["bear", "drift-turn", "flamingo", "hockey", "rollerblade", "surf"],
}


def all_sequences() -> list[str]:
    return sorted(s for ids in FOLDS.values() for s in ids)


def split(fold: str) -> tuple[list[str], list[str]]:
    """``(train, test)`` sequence ids of ``fold``: train on the other folds, score this one."""
    if fold not in FOLDS:
        raise KeyError(f"unknown fold {fold!r}; folds: {', '.join(FOLDS)}")
    test = FOLDS[fold]
    return [s for s in all_sequences() if s not in test], list(test)


if __name__ == "__main__":
    assert folds_from_baselines() == FOLDS, "the frozen folds no longer match baselines.json"
    for name, ids in FOLDS.items():
        print(name, ", ".join(ids))
