"""The box test on the cross-validation folds: which masks fail it, and would GrabCut do better there?

    .venv/bin/python benchmarks/fallback_probe.py --fold A=/work/cv/runs/r1-A/weights.pt \
        --fold B=/work/cv/runs/r1-B/weights.pt --fold C=/work/cv/runs/r1-C/weights.pt \
        --rule strict --out benchmarks/results/cv/fallback_probe.json

Each fold's weights segment that fold's own sequences (every 2nd frame, T = 5,
without the fallback).  For every mask failing the rule (``strict``: missing
sides fail too, ``FitRule(min_sides=3)``; ``default``: the shipped rule), it
records the box-fit measures and the J&F of the network's mask and of GrabCut's
on the same box (masks read here only, to score).  This is how the shipped rule
was chosen (box2mask/masks/boxfit.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.folds import split  # noqa: E402
from benchmarks.provenance import provenance  # noqa: E402
from box2mask.atomic import atomic_write_json  # noqa: E402
from box2mask.boxes import box_to_mask  # noqa: E402
from box2mask.datasets import open_dataset  # noqa: E402
from box2mask.eval.metrics import frame_scores  # noqa: E402
from box2mask.masks.boxfit import FitRule, box_fit  # noqa: E402
from box2mask.masks.grabcut import grabcut_in_box  # noqa: E402
from box2mask.model.predictor import Predictor  # noqa: E402
from box2mask.model.weights import load_weights  # noqa: E402

RULES = {"strict": FitRule(min_sides=3), "default": FitRule()}


def probe(fold: str, weights: Path, reader, rule: FitRule, every: int) -> list[dict]:
    network, config, _ = load_weights(weights)
    predictor = Predictor(network, replace(config, fallback="none"), device="cpu")
    rows = []
    for seq_id in split(fold)[1]:
        seq = reader.load(seq_id)
        gts = reader.masks(seq)
        track = seq.tracks[0]
        targets = np.arange(0, len(seq), every)
        for k, pred in zip(targets, predictor.predict(seq.read_frame, track.boxes, track.visible, targets=targets)):
            if pred is None:
                continue
            fit = box_fit(pred.mask, track.boxes[k])
            reason = rule.failure(fit)
            if reason is None:
                continue
            gt = gts[k] == track.track_id
            other = grabcut_in_box(seq.read_frame(int(k)), track.boxes[k]) & box_to_mask(track.boxes[k], *gt.shape)
            rows.append({"fold": fold, "sequence": seq_id, "frame": int(k), "reason": reason, "fill": fit.fill,
                         "rows": fit.rows, "cols": fit.cols, "sides": fit.sides, "fit": fit.score(),
                         "grabcut_fit": box_fit(other, track.boxes[k]).score(),
                         "JF_network": float(np.mean(frame_scores(pred.mask, gt))),
                         "JF_grabcut": float(np.mean(frame_scores(other, gt)))})
        print(f"fold {fold} {seq_id}: {sum(r['sequence'] == seq_id for r in rows)} failing", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fold", action="append", required=True, metavar="FOLD=WEIGHTS")
    parser.add_argument("--rule", choices=sorted(RULES), default="strict")
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--davis", type=Path, default=Path("../shared/data/davis16-dev"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reader = open_dataset("davis", args.davis)
    folds = dict(item.split("=", 1) for item in args.fold)
    rows = [r for fold, w in folds.items() for r in probe(fold, Path(w), reader, RULES[args.rule], args.every)]
    replaced = [r for r in rows if r["grabcut_fit"] > r["fit"]]
    summary = {
        "failing": len(rows), "JF_network": float(np.mean([r["JF_network"] for r in rows])) if rows else None,
        "JF_grabcut": float(np.mean([r["JF_grabcut"] for r in rows])) if rows else None,
        "would_replace": len(replaced),
        "JF_network_replaced": float(np.mean([r["JF_network"] for r in replaced])) if replaced else None,
        "JF_grabcut_replaced": float(np.mean([r["JF_grabcut"] for r in replaced])) if replaced else None,
        "min_fill": min((r["fill"] for r in rows), default=None),
    }
    atomic_write_json(args.out, {"rule": args.rule, "every": args.every, "summary": summary, "masks": rows,
                                 "provenance": provenance([Path(w) for w in folds.values()])})
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
