"""The network's cost per frame with each backbone, on the same frames, at the shipped inference settings.

Speed does not depend on trained values, so each variant is the shipped network's sizes
and inference defaults around a seeded, untrained head: EfficientNet-Lite0 (shipped),
Lite2, and Lite0 with tuned copies of its last blocks. Timed: ``Predictor.run_clips`` (the
backbone, aggregation and decoder over the clips of every ``--every``-th frame), frames
already decoded and cropped, with ``--threads`` torch threads; the variants take turns
``--repeat`` times so that drift of a shared machine falls on all of them alike.

    .venv/bin/python benchmarks/backbone_speed.py --threads 2 --out benchmarks/results/backbone_speed.json
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.edges_cv import fold_probabilities  # noqa: E402
from benchmarks.provenance import provenance  # noqa: E402
from box2mask.atomic import atomic_write_json  # noqa: E402
from box2mask.datasets import open_dataset  # noqa: E402
from box2mask.model.predictor import Predictor  # noqa: E402
from box2mask.model.weights import DEFAULT_WEIGHTS, inference_defaults, network_config  # noqa: E402
from box2mask.model.network import VideoBoxToMask  # noqa: E402

VARIANTS = {"lite0": {}, "lite2": {"backbone": "lite2"}, "lite0+tuned3": {"tuned_blocks": 3}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--davis", type=Path, default=Path("../shared/data/davis16-dev"))
    parser.add_argument("--sequences", default="bear,car-turn,soccerball")
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shipped = network_config(DEFAULT_WEIGHTS)
    inference = inference_defaults(DEFAULT_WEIGHTS)
    reader = open_dataset("davis", args.davis)
    sequences = [reader.load(s) for s in args.sequences.split(",")]
    predictors = {}
    for name, change in VARIANTS.items():
        torch.manual_seed(0)
        predictors[name] = Predictor(VideoBoxToMask(replace(shipped, **change)).eval(), inference, device="cpu")
    seconds = {name: [] for name in VARIANTS}
    frames = 0
    for r in range(args.repeat):
        for name, predictor in predictors.items():
            total, count = 0.0, 0
            for seq in sequences:
                _, _, probs, _, spent = fold_probabilities(predictor, seq, args.every)
                total, count = total + spent, count + len(probs)
            seconds[name].append(total)
            frames = count
            print(f"round {r + 1}: {name:14s} {1000 * total / count:6.1f} ms/frame ({count} frames)")
    result = {"benchmark": "backbone_speed", "threads": args.threads, "every": args.every,
              "sequences": args.sequences.split(","), "frames": frames,
              "ms_per_frame": {n: [1000 * s / frames for s in v] for n, v in seconds.items()},
              "best_ms_per_frame": {n: 1000 * min(v) / frames for n, v in seconds.items()},
              "provenance": provenance()}
    atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
