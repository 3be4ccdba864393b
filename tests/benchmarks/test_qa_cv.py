"""benchmarks/qa_cv.py: the QA weights are chosen on the other folds, and the choice follows the data."""

from __future__ import annotations

import numpy as np

from benchmarks.qa_cv import choose, ranking


def _records(rng: np.random.Generator, n: int, *, informative: str) -> list[dict]:
    """Masks whose true J is told by one signal (the others are noise)."""
    records = []
    for j in rng.uniform(0.1, 0.95, n):
        rec = {"J": float(j), "box_iou": float(rng.uniform(0.2, 1.0)), "fill": float(rng.uniform(0.3, 0.9)),
               "confidence": float(rng.uniform(0.2, 1.0)), "library_temporal": float(rng.uniform(0.2, 1.0))}
        rec[informative] = float(np.clip(j + rng.normal(0, 0.02), 0.01, 1.0))
        records.append(rec)
    return records


def test_the_choice_follows_the_folds_it_is_made_on():
    rng = np.random.default_rng(0)
    per_fold = {"A": _records(rng, 60, informative="confidence"), "B": _records(rng, 60, informative="confidence"),
                "C": _records(rng, 60, informative="box_iou")}
    on_ab, inner = choose(per_fold, ["A", "B"])
    # made on A and B, where confidence alone tells J: it dominates the combination ...
    assert on_ab["confidence"] > 0 and on_ab["confidence"] >= 2 * max(on_ab["box_iou"], on_ab["temporal"])
    assert inner > 0.9
    # ... and fold C, where another signal does, is not ranked well by it (the nested figure is honest)
    assert ranking(per_fold["C"], on_ab) < inner - 0.3
    on_c, _ = choose(per_fold, ["C"])
    assert on_c["box_iou"] > 0 and on_c["box_iou"] >= 2 * on_c["confidence"]
