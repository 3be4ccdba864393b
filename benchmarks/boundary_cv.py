"""The boundary stage (issue 12, item 3) on the cross-validation folds: first-stage maps, then training.

For a fold, the fold's own first-stage weights (trained on the other 12 sequences'
boxes) segment those 12 training sequences, and their probabilities are written as
full-frame maps; the boundary stage then trains on the same boxes with those maps
as its input (box, colour and anchor losses, GrabCut teacher; no mask is read).
Scoring is ``benchmarks/edges_cv.py --boundary FOLD=STAGE``.

    .venv/bin/python benchmarks/boundary_cv.py coarse --fold A --weights /work/cv/runs/r1-A/weights.pt \\
        --out /work/cv/coarse/r1-A
    .venv/bin/python benchmarks/boundary_cv.py train --fold A --coarse /work/cv/coarse/r1-A \\
        --out /work/cv/runs/b1-A --iterations 600

``--fold all`` does the same on all 18 sequences (a stage to ship, from the shipped first
stage's maps; none is shipped today: docs/benchmarks.md, "The boundary stage"), and
``attach`` writes a weights file holding both stages, with the stage's record in its metadata:

    .venv/bin/python benchmarks/boundary_cv.py attach --fold all --weights box2mask/weights/box2mask-video.pt \\
        --stage /work/cv/runs/b1-all/stage.pt --out box2mask/weights/box2mask-video.pt
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.folds import FOLDS, all_sequences, split  # noqa: E402
from benchmarks.provenance import provenance  # noqa: E402
from box2mask.crops import paste  # noqa: E402
from box2mask.datasets import open_dataset  # noqa: E402
from box2mask.model.backbone import is_backbone_key  # noqa: E402
from box2mask.model.boundary import BoundaryConfig, BoundaryStage  # noqa: E402
from box2mask.model.predictor import Predictor  # noqa: E402
from box2mask.model.weights import load_weights  # noqa: E402
from box2mask.motion.output import write_map_png  # noqa: E402
from box2mask.training.boundary import BoundaryTrainConfig, BoundaryTrainer  # noqa: E402
from box2mask.training.clips import ClipSampler  # noqa: E402
from box2mask.training.teacher import TeacherMasks  # noqa: E402
from pipelines.train import cached_motion  # noqa: E402

STAGE_FORMAT = "box2mask-boundary/1"


def coarse_maps(weights: Path, root: Path, sequences: list[str], out: Path) -> int:
    """The first stage's full-frame probabilities for every visible frame of ``sequences``, as PNG maps."""
    network, config, _ = load_weights(weights)
    predictor = Predictor(network, config, device="cpu")
    reader = open_dataset("got10k", root)
    written = 0
    for seq_id in sequences:
        seq = reader.load(seq_id)
        track = seq.tracks[0]
        targets = np.flatnonzero(track.visible)
        done = [t for t in targets if (out / seq_id / f"{seq.frame_stem(int(t))}.png").is_file()]
        if len(done) == len(targets):
            continue
        clips = predictor.plan(track.visible, targets)
        items = {f: predictor.prepare_frame(seq.read_frame(f), track.boxes[f])
                 for f in sorted({int(f) for c in clips for f in c.frames})}
        start = time.perf_counter()
        probs = predictor.run_clips(items, clips)
        for f, p in probs.items():
            write_map_png(out / seq_id / f"{seq.frame_stem(f)}.png",
                          paste(p, items[f].window, seq.height, seq.width))
            written += 1
        print(f"{seq_id}: {len(probs)} maps in {time.perf_counter() - start:.0f} s", flush=True)
    return written


def save_stage(path: Path, stage: BoundaryStage, metadata: dict) -> None:
    from box2mask.atomic import atomic_path

    state = {k: v.detach().cpu().clone() for k, v in stage.state_dict().items() if not is_backbone_key(k)}
    with atomic_path(path) as tmp:
        torch.save({"format": STAGE_FORMAT, "config": stage.config.to_dict(), "state_dict": state,
                    "metadata": metadata}, tmp)


def load_stage(path: Path) -> BoundaryStage:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != STAGE_FORMAT:
        raise SystemExit(f"{path} is not a boundary stage file")
    stage = BoundaryStage(BoundaryConfig(**payload["config"]))
    missing, unexpected = stage.load_state_dict(payload["state_dict"], strict=False)
    if unexpected or any(not is_backbone_key(k) for k in missing):
        raise SystemExit(f"{path}: keys do not match the boundary stage")
    return stage.eval()


def training_sequences(fold: str) -> list[str]:
    """A fold's 12 training sequences, or all 18 for ``all``."""
    return all_sequences() if fold == "all" else split(fold)[0]


def train(fold: str, root: Path, coarse: Path, teacher: Path, out: Path, config: BoundaryTrainConfig) -> Path:
    reader = open_dataset("got10k", root)
    seqs = [reader.load(s) for s in training_sequences(fold)]
    sampler = ClipSampler([(seqs, 1.0)], config.clip, teacher=TeacherMasks([teacher]) if config.teacher else None,
                          maps={"coarse": cached_motion(coarse)}, seed=config.seed)
    trainer = BoundaryTrainer(config, sampler, out)
    trainer.resume()
    start = time.perf_counter()

    def report(log: dict) -> None:
        if log["iteration"] % 50 == 0:
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in log.items()}), flush=True)

    trainer.run(on_log=report)
    path = out / "stage.pt"
    save_stage(path, trainer.stage, {"fold": fold, "trained_on": training_sequences(fold), "coarse": str(coarse),
                                     "teacher": str(teacher), "iterations": trainer.iteration,
                                     "train_config": config.to_dict(), "seconds": time.perf_counter() - start,
                                     "supervision": "boxes only (projection, colour pairwise, anchor to the "
                                                    "first stage's mask, GrabCut teacher)",
                                     "provenance": provenance()})
    return path


def attach(weights: Path, stage_path: Path, out: Path, fold: str) -> Path:
    """``weights`` with the boundary stage of ``stage_path`` attached (its record goes into the metadata)."""
    from dataclasses import replace

    from box2mask.atomic import file_sha256
    from box2mask.model.network import VideoBoxToMask
    from box2mask.model.weights import read_payload, save_weights

    network, inference, meta = load_weights(weights)
    stage_payload = torch.load(stage_path, map_location="cpu", weights_only=True)
    stage_meta = stage_payload["metadata"]
    if stage_meta.get("fold") != fold:
        raise SystemExit(f"{stage_path} was trained for fold {stage_meta.get('fold')!r}, not {fold!r}")
    config = replace(network.config, boundary=BoundaryConfig(**stage_payload["config"]))
    both = VideoBoxToMask(config, backbone=network.backbone)
    both.load_trainable_state_dict({**network.trainable_state_dict(),
                                    **{f"boundary.{k}": v for k, v in stage_payload["state_dict"].items()}})
    record = {k: stage_meta[k] for k in ("trained_on", "iterations", "seconds", "train_config", "supervision")}
    record.update(first_stage_sha256=file_sha256(weights), commit=stage_meta["provenance"]["commit"])
    save_weights(out, both, inference, {**meta, "boundary_stage": record})
    read_payload(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--work", type=Path, default=Path("/work/cv"))
    common.add_argument("--fold", choices=[*sorted(FOLDS), "all"], required=True)
    common.add_argument("--threads", type=int, default=2)
    common.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("coarse", parents=[common])
    p.add_argument("--weights", type=Path, required=True)
    p = sub.add_parser("train", parents=[common])
    p.add_argument("--coarse", type=Path, required=True)
    p.add_argument("--iterations", type=int, default=600)
    p.add_argument("--anchor", type=float, default=1.0)
    p.add_argument("--teacher", type=float, default=0.5)
    p.add_argument("--pairwise", type=float, default=1.0)
    p = sub.add_parser("attach", parents=[common])
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--stage", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = args.work / "data" / ("davis-all" if args.fold == "all" else f"fold-{args.fold}") / "train"
    if args.cmd == "coarse":
        print(coarse_maps(args.weights, root, training_sequences(args.fold), args.out), "maps written")
    elif args.cmd == "attach":
        print(attach(args.weights, args.stage, args.out, args.fold))
    else:
        config = BoundaryTrainConfig(iterations=args.iterations, anchor=args.anchor, teacher=args.teacher,
                                     pairwise=args.pairwise)
        print(train(args.fold, root, args.coarse, args.work / "teacher" / "davis", args.out, config))


if __name__ == "__main__":
    main()
