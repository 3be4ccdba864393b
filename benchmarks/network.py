"""Mask quality and speed of the video network on held-out davis16-dev sequences.

    .venv/bin/python benchmarks/network.py --weights box2mask/weights/box2mask-video.pt \
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
import re
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
from box2mask.model.predictor import Predictor  # noqa: E402
from box2mask.model.weights import load_weights  # noqa: E402

VARIANT_HELP = ("T<frames> followed by any of -norefine, -flip, -noflip, -clip, -noclip, -fallback, -nofallback, "
                "-guided, -grabcut, -crf, "
                "-crop<px>, -context<x>, -interval<frames>, -thr<threshold>, -iter<steps>; "
                "e.g. T5, T1-norefine, T5-crop288-context2.0, T5-thr0.4")
_SETTINGS = {"crop": ("crop_size", int), "context": ("context", float), "interval": ("interval", int),
             "thr": ("threshold", float), "iter": ("iterations", int)}


def parse_variant(name: str) -> dict:
    """Inference overrides from a variant name such as ``T5-crop288-context2.0`` (see VARIANT_HELP)."""
    head, *parts = name.split("-")
    if not re.fullmatch(r"T\d+", head):
        raise ValueError(f"variant {name!r}: {VARIANT_HELP}")
    overrides: dict = {"support": int(head[1:])}
    for part in parts:
        match = re.fullmatch(r"([a-z]+)([\d.]*)", part)
        key, value = match.groups() if match else (part, "")
        if key == "norefine" and not value:
            overrides["refine"] = False
        elif key in ("flip", "noflip") and not value:
            overrides["flip"] = key == "flip"
        elif key in ("clip", "noclip") and not value:
            overrides["clip_to_box"] = key == "clip"
        elif key in ("fallback", "nofallback") and not value:
            overrides["fallback"] = "grabcut" if key == "fallback" else "none"
        elif key in ("guided", "grabcut", "crf") and not value:
            overrides["edges"] = key
        elif key in _SETTINGS and value:
            field, kind = _SETTINGS[key]
            overrides[field] = kind(value)
        else:
            raise ValueError(f"variant {name!r}: unknown part {part!r}; {VARIANT_HELP}")
    return overrides


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
        replaced = sum(1 for p in preds if p is not None and p.source != "network")
        failed_test = sum(1 for p in preds if p is not None and p.note)
        for k, pred in zip(targets, preds):
            gt = gts[k] == track.track_id
            mask = pred.mask if pred is not None else np.zeros_like(gt)
            j, f = frame_scores(mask, gt)
            js.append(j)
            fs.append(f)
        j, f = float(np.mean(js)), float(np.mean(fs))
        per_seq[seq_id] = {"J": j, "F": f, "JF": (j + f) / 2, "frames": len(preds), "seconds": seconds,
                           "failed_box_test": failed_test, "replaced": replaced}
        frames_total += len(preds)
        seconds_total += seconds
        print(f"  {seq_id:18s} J {j:.3f} F {f:.3f} J&F {(j + f) / 2:.3f}  {1000 * seconds / len(preds):.0f} ms/frame",
              flush=True)
    mean = {k: float(np.mean([s[k] for s in per_seq.values()])) for k in ("J", "F", "JF")}
    return {"mean": mean, "ms_per_frame": 1000 * seconds_total / max(frames_total, 1), "sequences": per_seq,
            "frames": frames_total, "failed_box_test": sum(s["failed_box_test"] for s in per_seq.values()),
            "replaced": sum(s["replaced"] for s in per_seq.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/davis16-dev"))
    parser.add_argument("--weights", type=Path, default=Path("box2mask/weights/box2mask-video.pt"))
    parser.add_argument("--variants", default="T5", help=f"comma-separated; {VARIANT_HELP}")
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
        runs = [(v, args.weights, parse_variant(v)) for v in args.variants.split(",")]
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
