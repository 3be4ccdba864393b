"""Mask quality and speed of the video network on held-out davis16-dev sequences.

    .venv/bin/python benchmarks/network.py --weights weights/box2mask-video.pt \
        --variants T1,T5,T9,T5-norefine --out benchmarks/results/network.json
    .venv/bin/python benchmarks/network.py --ablation proj=runs/abl-proj/weights.pt,... \
        --out benchmarks/results/ablation.json

Boxes come from the masks; the masks are used only to score (DAVIS J, F, J&F,
every frame counts).  The held-out sequences are those of ``benchmarks/heldout.py``
(never seen in training, boxes included).  Speed is wall time of
``Predictor.predict`` per frame with the given torch thread count, frames
already decoded, excluding the one-off model load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.heldout import split  # noqa: E402
from box2mask.atomic import atomic_write_json  # noqa: E402
from box2mask.datasets import open_dataset  # noqa: E402
from box2mask.eval.metrics import frame_scores  # noqa: E402
from box2mask.model.predictor import Predictor, load_weights  # noqa: E402

VARIANTS = {
    "T1": {"support": 1},
    "T3": {"support": 3},
    "T5": {"support": 5},
    "T9": {"support": 9},
    "T5-norefine": {"support": 5, "refine": False},
    "T1-norefine": {"support": 1, "refine": False},
    "T5-guided": {"support": 5, "edges": "guided"},
    "T5-grabcut": {"support": 5, "edges": "grabcut"},
    "T9-grabcut": {"support": 9, "edges": "grabcut"},
    "T5-crop192": {"support": 5, "crop_size": 192},
    "T5-crop256-context2.6": {"support": 5, "crop_size": 256, "context": 2.6},
    "T5-crop320": {"support": 5, "crop_size": 320},
    "T5-crop288-context2.0": {"support": 5, "crop_size": 288, "context": 2.0},
    "T5-crop320-context2.0": {"support": 5, "crop_size": 320, "context": 2.0},
    "T5-crop384": {"support": 5, "crop_size": 384},
    "T5-context2.2": {"support": 5, "context": 2.2},
    "T5-crop320-context2.2": {"support": 5, "crop_size": 320, "context": 2.2},
    "T5-crop384-context2.2": {"support": 5, "crop_size": 384, "context": 2.2},
    "T5-interval3": {"support": 5, "interval": 3},
    "T5-interval10": {"support": 5, "interval": 10},
}


def evaluate(predictor: Predictor, reader, ids: list[str], every: int = 1) -> dict:
    per_seq = {}
    frames_total, seconds_total = 0, 0.0
    for seq_id in ids:
        seq = reader.load(seq_id)
        gts = reader.masks(seq)
        track = seq.tracks[0]
        images = [seq.read_frame(i) for i in range(len(seq))]
        start = time.perf_counter()
        targets = np.arange(0, len(seq), every)
        preds = predictor.predict(images, track.boxes, track.visible, targets=targets)
        seconds = time.perf_counter() - start
        js, fs = [], []
        for k, pred in zip(targets, preds):
            gt = gts[k] == track.track_id
            mask = pred.mask if pred is not None else np.zeros_like(gt)
            j, f = frame_scores(mask, gt)
            js.append(j)
            fs.append(f)
        j, f = float(np.mean(js)), float(np.mean(fs))
        per_seq[seq_id] = {"J": j, "F": f, "JF": (j + f) / 2, "frames": len(preds), "seconds": seconds}
        frames_total += len(preds)
        seconds_total += seconds
        print(f"  {seq_id:18s} J {j:.3f} F {f:.3f} J&F {(j + f) / 2:.3f}  {1000 * seconds / len(preds):.0f} ms/frame",
              flush=True)
    mean = {k: float(np.mean([s[k] for s in per_seq.values()])) for k in ("J", "F", "JF")}
    return {"mean": mean, "ms_per_frame": 1000 * seconds_total / max(frames_total, 1), "sequences": per_seq}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/davis16-dev"))
    parser.add_argument("--weights", type=Path, default=Path("weights/box2mask-video.pt"))
    parser.add_argument("--variants", default="T5", help=f"comma-separated from {', '.join(VARIANTS)}")
    parser.add_argument("--ablation", default=None, help="NAME=WEIGHTS,... evaluated with the weights' defaults")
    parser.add_argument("--sequences", default=None, help="override the held-out list (comma-separated)")
    parser.add_argument("--split", choices=("heldout", "train"), default="heldout",
                        help="which part of davis16-dev to score (train = the sequences whose boxes trained it)")
    parser.add_argument("--every", type=int, default=1,
                        help="score every k-th frame only (support frames are still used; quicker for choosing settings)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reader = open_dataset("davis", args.data)
    train_ids, held = split(reader.sequence_ids())
    ids = args.sequences.split(",") if args.sequences else (held if args.split == "heldout" else train_ids)
    report = {"sequences": ids, "every": args.every, "threads": args.threads, "device": args.device, "results": {}}
    runs: list[tuple[str, Path, dict]] = []
    if args.ablation:
        for item in args.ablation.split(","):
            name, _, path = item.partition("=")
            runs.append((name, Path(path), {}))
    else:
        runs = [(v, args.weights, VARIANTS[v]) for v in args.variants.split(",")]
    for name, weights, overrides in runs:
        network, config, _ = load_weights(weights)
        predictor = Predictor(network, replace(config, **overrides), device=args.device)
        print(f"{name}: {weights} {overrides}", flush=True)
        result = evaluate(predictor, reader, ids, args.every)
        result["weights"] = str(weights)
        result["config"] = {k: v for k, v in vars(predictor.config).items()}
        report["results"][name] = result
        m = result["mean"]
        print(f"{name}: J {m['J']:.3f} F {m['F']:.3f} J&F {m['JF']:.3f}  {result['ms_per_frame']:.0f} ms/frame",
              flush=True)
        atomic_write_json(args.out, report)
    print(json.dumps({k: v["mean"] for k, v in report["results"].items()}, indent=1))


if __name__ == "__main__":
    main()
