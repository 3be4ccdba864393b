"""Full-resolution clean-up settings on the cross-validation folds, from one network pass per fold.

Each fold's own weights (trained on the other 12 sequences' boxes) segment the fold's 6
sequences once; the crop-space probabilities are then turned into masks with every setting
given (``none``: threshold only; ``crf:w<weight>:s<colour sigma>:i<iterations>:k<kernel>:d<dilation>``,
any part left out keeps :class:`box2mask.model.crf.CRFConfig`'s default), box test and fallback
as in the weights' defaults. With ``--boundary FOLD=STAGE`` the fold's boundary stage
(benchmarks/boundary_cv.py) also re-reads every probability, and ``boundary+none``,
``boundary+crf...`` score its output. Masks are read only to score.

    .venv/bin/python benchmarks/edges_cv.py --weights A=/work/cv/runs/r1-A/weights.pt \\
        --weights B=/work/cv/runs/r1-B/weights.pt --weights C=/work/cv/runs/r1-C/weights.pt \\
        --every 2 --settings none,crf,crf:w5 --out benchmarks/results/cv/edges-r1.json
    # the fold table (J&F per fold; mean J, F, J&F; clean-up ms/frame) from one or more results files
    .venv/bin/python benchmarks/edges_cv.py --table benchmarks/results/cv/edges-r1-*.json
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.folds import FOLDS  # noqa: E402
from benchmarks.provenance import provenance  # noqa: E402
from box2mask.atomic import atomic_write_json  # noqa: E402
from box2mask.datasets import open_dataset  # noqa: E402
from box2mask.eval.metrics import frame_scores  # noqa: E402
from box2mask.model.crf import CRFConfig  # noqa: E402
from box2mask.model.postprocess import confidence, settle, to_mask  # noqa: E402
from box2mask.model.predictor import Predictor  # noqa: E402
from box2mask.model.weights import load_weights  # noqa: E402

_KEYS = {"w": ("weight", float), "s": ("colour_sigma", float), "i": ("iterations", int), "k": ("kernel", int),
         "d": ("dilation", int)}


BOUNDARY = "boundary+"


def parse_setting(name: str) -> CRFConfig | None:
    """``none`` -> None; ``crf[:w3:s8...]`` -> its :class:`CRFConfig` (a ``boundary+`` prefix: the same
    clean-up of the boundary stage's probabilities)."""
    name = name.removeprefix(BOUNDARY)
    if name == "none":
        return None
    head, *parts = name.split(":")
    if head != "crf":
        raise ValueError(f"setting {name!r}: expected none or crf[:w<x>:s<x>:i<n>:k<n>:d<n>]")
    values = {}
    for part in parts:
        if not part or part[0] not in _KEYS:
            raise ValueError(f"setting {name!r}: unknown part {part!r}")
        field, kind = _KEYS[part[0]]
        values[field] = kind(part[1:])
    return CRFConfig(**values)


def fold_probabilities(predictor: Predictor, seq, every: int):
    track = seq.tracks[0]
    images = [seq.read_frame(i) for i in range(len(seq))]
    targets = np.arange(0, len(seq), every)
    wanted = targets[track.visible[targets]]
    clips = predictor.plan(track.visible, wanted)
    items = {f: predictor.prepare_frame(images[f], track.boxes[f]) for f in sorted({int(f) for c in clips
                                                                                   for f in c.frames})}
    start = time.perf_counter()
    probs = predictor.run_clips(items, clips) if clips else {}
    return images, targets, probs, items, time.perf_counter() - start


def boundary_probabilities(stage, images, targets, probs, items, boxes) -> tuple[dict, dict, float]:
    """The boundary stage on every target: its probabilities and windows, and the seconds it took
    (cutting its crops included)."""
    from box2mask.model.boundary import fine_crop, run_boundary

    start = time.perf_counter()
    done = [int(k) for k in targets if int(k) in probs]
    crops = [fine_crop(images[k], boxes[k], stage.config) for k in done]
    fine = run_boundary(stage, crops, [probs[k] for k in done], [items[k].window for k in done])
    return dict(zip(done, fine)), {k: c.window for k, c in zip(done, crops)}, time.perf_counter() - start


def score_fold(weights: Path, fold: str, settings: list[str], reader, every: int, stage=None) -> dict:
    network, config, _ = load_weights(weights)
    predictor = Predictor(network, config, device="cpu")
    crfs = {name: parse_setting(name) for name in settings}
    if stage is None and any(n.startswith(BOUNDARY) for n in settings):
        raise ValueError(f"fold {fold}: {BOUNDARY}... settings need --boundary {fold}=STAGE")
    rows = {name: {"sequences": {}, "post_seconds": 0.0} for name in settings}
    frames = 0
    network_seconds = boundary_seconds = 0.0
    for seq_id in FOLDS[fold]:
        seq = reader.load(seq_id)
        gts = reader.masks(seq)
        track = seq.tracks[0]
        images, targets, probs, items, seconds = fold_probabilities(predictor, seq, every)
        network_seconds += seconds
        frames += len(targets)
        windows = {int(k): it.window for k, it in items.items()}
        if stage is not None:
            fine, fine_windows, seconds = boundary_probabilities(stage, images, targets, probs, items, track.boxes)
            boundary_seconds += seconds
        for name, crf in crfs.items():
            source, where = (fine, fine_windows) if name.startswith(BOUNDARY) else (probs, windows)
            cleanup = replace(config, edges="none" if crf is None else "crf")
            js, fs, replaced = [], [], 0
            start = time.perf_counter()
            for k in targets:
                gt = gts[k] == track.track_id
                if int(k) not in source:
                    mask = np.zeros_like(gt)
                else:
                    box = track.boxes[k]
                    mask = to_mask(source[int(k)], where[int(k)], box, *images[k].shape[:2], cleanup,
                                   images[k], crf=crf)
                    done = settle(mask, confidence(source[int(k)], config.threshold), box, config,
                                  lambda k=k: images[k])
                    mask = done.mask
                    replaced += done.source != "network"
                j, f = frame_scores(mask, gt)
                js.append(j)
                fs.append(f)
            rows[name]["post_seconds"] += time.perf_counter() - start
            j, f = float(np.mean(js)), float(np.mean(fs))
            rows[name]["sequences"][seq_id] = {"J": j, "F": f, "JF": (j + f) / 2, "replaced": replaced}
            print(f"fold {fold} {seq_id:18s} {name:24s} J {j:.3f} F {f:.3f} J&F {(j + f) / 2:.3f}", flush=True)
    for name, row in rows.items():
        row["mean"] = {key: float(np.mean([s[key] for s in row["sequences"].values()])) for key in ("J", "F", "JF")}
        row["post_ms_per_frame"] = 1000 * row.pop("post_seconds") / max(frames, 1)
        row["network_ms_per_frame"] = 1000 * network_seconds / max(frames, 1)
        if name.startswith(BOUNDARY):
            row["boundary_ms_per_frame"] = 1000 * boundary_seconds / max(frames, 1)
        row["crf"] = None if crfs[name] is None else vars(crfs[name])
    return rows


def table(paths: list[Path]) -> str:
    import json

    folds: dict[str, dict] = {}
    settings: list[str] = []
    for path in paths:
        report = json.loads(path.read_text())
        folds.update(report["folds"])
        settings += [n for n in report["settings"] if n not in settings]
    names = [n for n in settings if all(n in rows for rows in folds.values())]
    order = sorted(folds)
    lines = ["| clean-up | " + " | ".join(f"fold {f}" for f in order) + " | mean J | mean F | mean J&F | ms/frame |",
             "|---|" + "---:|" * (len(order) + 4)]
    for name in names:
        means = {k: np.mean([folds[f][name]["mean"][k] for f in order]) for k in ("J", "F", "JF")}
        ms = np.mean([folds[f][name]["post_ms_per_frame"] + folds[f][name].get("boundary_ms_per_frame", 0.0)
                      for f in order])
        lines.append(f"| `{name}` | " + " | ".join(f"{folds[f][name]['mean']['JF']:.3f}" for f in order)
                     + f" | {means['J']:.3f} | {means['F']:.3f} | **{means['JF']:.3f}** | {ms:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", type=Path, nargs="+", default=None, help="print the fold table of these results")
    parser.add_argument("--weights", action="append", help="FOLD=PATH, one per fold")
    parser.add_argument("--davis", type=Path, default=Path("../shared/data/davis16-dev"))
    parser.add_argument("--boundary", action="append", default=[],
                        help="FOLD=STAGE: that fold's boundary stage (benchmarks/boundary_cv.py), for the "
                             f"{BOUNDARY}... settings")
    parser.add_argument("--settings", default="none,crf")
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.table:
        print(table(args.table))
        return
    if not args.weights or not args.out:
        parser.error("give --weights FOLD=PATH (one or more) and --out, or --table FILES")
    torch.set_num_threads(args.threads)
    weights = dict(item.split("=", 1) for item in args.weights)
    unknown = set(weights) - set(FOLDS)
    if unknown:
        parser.error(f"unknown folds {sorted(unknown)}")
    settings = args.settings.split(",")
    for name in settings:
        parse_setting(name)
    stages = dict(item.split("=", 1) for item in args.boundary)
    reader = open_dataset("davis", args.davis)
    report = {"every": args.every, "threads": args.threads, "settings": settings,
              "provenance": provenance([Path(p) for p in [*weights.values(), *stages.values()]]), "folds": {}}
    for fold, path in sorted(weights.items()):
        stage = None
        if fold in stages:
            from benchmarks.boundary_cv import load_stage
            stage = load_stage(Path(stages[fold]))
        report["folds"][fold] = score_fold(Path(path), fold, settings, reader, args.every, stage)
        atomic_write_json(args.out, report)
    for name in settings:
        done = [report["folds"][f][name]["mean"]["JF"] for f in sorted(report["folds"])]
        print(f"{name:24s} " + " ".join(f"{v:.3f}" for v in done) + f"  mean {np.mean(done):.3f}")


if __name__ == "__main__":
    main()
