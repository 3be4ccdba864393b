"""The QA combination chosen by cross-validation on the folds (issue 12, item 1).

``qa_score`` is a weighted geometric mean of box consistency, fill, temporal
stability and the method's confidence (:data:`box2mask.eval.qa.WEIGHTS`). Its
weights were once tuned on GrabCut masks of sequences later used as a test. Here
each fold's own network weights (trained on the other 12 sequences' boxes)
annotate the fold's 6 sequences at the shipped inference defaults; masks are
read only to score how well a combination ranks them by their true J
(Spearman, within each fold). Nested choice: for each fold, the grid point with
the best mean over the *other two* folds is scored on that fold, so every
reported figure comes from a fold that did not take part in the choice. The
point best on all three folds is what would ship; its own figure is a training
figure and is labelled so.

    .venv/bin/python benchmarks/qa_cv.py --weights A=/work/cv/runs/r1-A/weights.pt \\
        --weights B=/work/cv/runs/r1-B/weights.pt --weights C=/work/cv/runs/r1-C/weights.pt \\
        --runs /work/cv/qa-runs --every 4 --out benchmarks/results/cv/qa-r1.json
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.folds import FOLDS  # noqa: E402
from benchmarks.provenance import provenance  # noqa: E402
from benchmarks.qa_ranking import DAVIS, GRID, arr, collect, combined  # noqa: E402
from box2mask.atomic import atomic_write_json  # noqa: E402
from box2mask.eval import qa  # noqa: E402
from box2mask.eval.ranking import spearman  # noqa: E402

SIGNALS = ("box_iou", "fill", "temporal", "confidence")
TEMPORAL = "library_temporal"   # the temporal signal exactly as the library stores it


def fold_records(fold: str, weights: Path, runs: Path, davis: Path, every: int) -> list[dict]:
    """Per-mask J and QA signals of the fold's 6 sequences, annotated by the fold's own weights."""
    from tests.runbuild import build_run

    run = runs / fold
    if not (run / "shards").is_dir():
        build_run("davis", davis, run, method="network", ids=FOLDS[fold], every=every, sequences_per_shard=3,
                  options={"weights": weights, "device": "cpu"})
    return collect(run, davis)


def ranking(records: list[dict], weights: dict[str, float]) -> float:
    return spearman(combined(records, weights, TEMPORAL), arr(records, "J"))


def choose(per_fold: dict[str, list[dict]], folds: list[str]) -> tuple[dict[str, float], float]:
    """The grid point with the best mean within-fold Spearman over ``folds`` (ties: the first found)."""
    best = None
    for point in itertools.product(GRID, repeat=len(SIGNALS)):
        if sum(point) == 0:
            continue
        weights = dict(zip(SIGNALS, point))
        value = float(np.mean([ranking(per_fold[f], weights) for f in folds]))
        if not np.isnan(value) and (best is None or value > best[1] + 1e-12):
            best = (weights, value)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", action="append", required=True, help="FOLD=PATH, one per fold")
    parser.add_argument("--runs", type=Path, required=True, help="where the fold runs are built (reused)")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--davis", type=Path, default=DAVIS)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    weights = dict(item.split("=", 1) for item in args.weights)
    if sorted(weights) != sorted(FOLDS):
        parser.error(f"give --weights for every fold ({', '.join(FOLDS)})")
    per_fold = {f: fold_records(f, Path(w), args.runs, args.davis, args.every) for f, w in sorted(weights.items())}
    folds = sorted(per_fold)
    rows = {}
    for f in folds:
        others = [g for g in folds if g != f]
        chosen, inner = choose(per_fold, others)
        rows[f] = {"masks": len(per_fold[f]), "chosen_on_others": chosen, "others_mean": inner,
                   "nested": ranking(per_fold[f], chosen),
                   "current_weights": ranking(per_fold[f], qa.WEIGHTS),
                   "confidence_alone": ranking(per_fold[f], {"confidence": 1.0}),
                   "mean_J": float(np.mean(arr(per_fold[f], "J")))}
    final, final_mean = choose(per_fold, folds)
    result = {
        "benchmark": "qa_cv", "every": args.every, "grid": list(GRID), "signals": list(SIGNALS),
        "current_weights": qa.WEIGHTS, "folds": rows,
        "mean": {k: float(np.mean([rows[f][k] for f in folds]))
                 for k in ("nested", "current_weights", "confidence_alone")},
        "chosen_on_all_folds": final,
        "chosen_on_all_folds_training_figure": final_mean,
        "provenance": provenance(list(weights.values())),
    }
    atomic_write_json(args.out, result)
    for f in folds:
        r = rows[f]
        print(f"{f}: nested {r['nested']:.3f} (weights {r['chosen_on_others']})  current {r['current_weights']:.3f}"
              f"  confidence {r['confidence_alone']:.3f}  ({r['masks']} masks)")
    print(f"mean: " + "  ".join(f"{k} {v:.3f}" for k, v in result["mean"].items()))
    print(f"chosen on all three folds: {final} (training figure {final_mean:.3f})")


if __name__ == "__main__":
    main()
