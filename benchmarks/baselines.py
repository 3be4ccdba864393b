"""Per-sequence J / F / J&F of the classical baselines (filled box, GrabCut) on a DAVIS folder.

    .venv/bin/python benchmarks/baselines.py --data ../shared/data/davis16-dev \
        --out benchmarks/results/baselines.json

Boxes are the masks' tight boxes; masks are used only to score.  Every frame
counts (DAVIS convention).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from box2mask.atomic import atomic_write_json
from box2mask.datasets import open_dataset
from box2mask.eval.metrics import frame_scores
from box2mask.methods import get_method, run_method


def score_sequence(method, reader, seq_id: str) -> dict:
    seq = reader.load(seq_id)
    gts = reader.masks(seq)
    track = seq.tracks[0]
    start = time.perf_counter()
    results = list(run_method(method, seq, track))
    seconds = time.perf_counter() - start
    js, fs = [], []
    for fm in results:
        gt = gts[fm.frame] == track.track_id
        pred = fm.mask if fm.mask is not None else np.zeros_like(gt)
        j, f = frame_scores(pred, gt)
        js.append(j)
        fs.append(f)
    j, f = float(np.mean(js)), float(np.mean(fs))
    return {"J": j, "F": f, "JF": (j + f) / 2, "frames": len(results), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/davis16-dev"))
    parser.add_argument("--methods", default="filled-box,grabcut")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/baselines.json"))
    args = parser.parse_args()
    reader = open_dataset("davis", args.data)
    report = {}
    for name in args.methods.split(","):
        method = get_method(name)
        per_seq = {}
        for seq_id in reader.sequence_ids():
            per_seq[seq_id] = score_sequence(method, reader, seq_id)
            print(name, seq_id, {k: round(v, 3) for k, v in per_seq[seq_id].items()}, flush=True)
        mean = {k: float(np.mean([s[k] for s in per_seq.values()])) for k in ("J", "F", "JF")}
        frames = sum(s["frames"] for s in per_seq.values())
        fps = frames / sum(s["seconds"] for s in per_seq.values())
        report[name] = {"mean": mean, "frames_per_second": fps, "sequences": per_seq}
        print(name, "mean", {k: round(v, 3) for k, v in mean.items()}, f"{fps:.2f} frames/s", flush=True)
    atomic_write_json(args.out, report)


if __name__ == "__main__":
    main()
