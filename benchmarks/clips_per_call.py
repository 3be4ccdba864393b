"""Network time per frame on one CPU thread at 1 and 4 clips per network call, and whether the masks differ.

    .venv/bin/python benchmarks/clips_per_call.py --sequence bus --out benchmarks/results/clips_per_call.json

The shipped weights at their defaults but for ``clips_per_batch``, on one davis16-dev
sequence's boxes (every frame), frames decoded once beforehand so only the network is
timed. Each setting runs ``--repeat`` times after one warm-up; the JSON holds every
time, the pixels where the two settings' masks differ, and the provenance.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.provenance import provenance  # noqa: E402
from box2mask.atomic import atomic_write_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--davis", type=Path, default=Path("../shared/data/davis16-dev"))
    parser.add_argument("--sequence", default="bus")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/clips_per_call.json"))
    args = parser.parse_args()

    import torch

    from box2mask.datasets import open_dataset
    from box2mask.model.predictor import Predictor
    from box2mask.model.weights import DEFAULT_WEIGHTS

    torch.set_num_threads(1)
    seq = open_dataset("davis", args.davis).load(args.sequence)
    track = seq.tracks[0]
    frames = [seq.read_frame(i) for i in range(len(seq))]
    base = Predictor.load(device="cpu")

    def run(clips: int):
        predictor = Predictor(base.network, replace(base.config, clips_per_batch=clips), device="cpu")
        start = time.perf_counter()
        out = predictor.predict(frames, track.boxes, track.visible)
        return 1000 * (time.perf_counter() - start) / len(frames), out

    run(1)  # warm-up: first calls pay for allocation and kernel selection
    times: dict[int, list[float]] = {1: [], 4: []}
    masks = {}
    for _ in range(args.repeat):
        for clips in (4, 1):
            ms, masks[clips] = run(clips)
            times[clips].append(round(ms, 1))
    differ = sum(int((a.mask != b.mask).sum()) for a, b in zip(masks[1], masks[4]) if a is not None)
    result = {"sequence": args.sequence, "frames": len(frames), "threads": 1,
              "ms_per_frame": {f"clips_per_batch={k}": v for k, v in times.items()},
              "pixels_differ": differ, "pixels": sum(a.mask.size for a in masks[1] if a is not None),
              "provenance": provenance([DEFAULT_WEIGHTS])}
    print(result)
    atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
