"""How well does the ground-truth-free QA score rank masks by their true J?  (davis16-dev)

Builds a run with a method over every ``--every``-th frame of the davis16-dev
sequences (or reads ``--run``), scores each mask against the ground truth (J),
recomputes the QA signals per mask (temporal stability three ways: raw, after
camera-motion compensation, after aligning the previous mask to the current box)
and reports Spearman's rank correlation of each signal, and of the combined
score, with J across frames.  Combination weights are tuned on every third
sequence (``tune``) and reported on the others (``test``) so the figure is honest.

    .venv/bin/python benchmarks/qa_ranking.py --method grabcut --every 4
    .venv/bin/python benchmarks/qa_ranking.py --run runs/davis-network   # the network's masks
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from box2mask.datasets import open_dataset  # noqa: E402
from box2mask.eval import qa  # noqa: E402
from box2mask.eval.groundtruth import DavisGroundTruth  # noqa: E402
from box2mask.eval.metrics import jaccard  # noqa: E402
from box2mask.eval.ranking import spearman  # noqa: E402
from box2mask.export.source import RunSource, row_mask  # noqa: E402

DAVIS = REPO.parent / "shared" / "data" / "davis16-dev"
GRID = (0.0, 0.5, 1.0, 2.0, 3.0)


def collect(run: Path, davis: Path) -> list[dict]:
    """One record per visible mask: sequence, true J, and every QA signal variant."""
    source = RunSource(run)
    gt = DavisGroundTruth(davis)
    reader = open_dataset("davis", davis)
    records = []
    for seq in source.sequences(["visible", "rle", "source_box", "score", "qa_score", "qa_temporal"]):
        truth = {f.stem: f.masks for f in gt.frames(seq.id)}
        sequence = reader.load(seq.id)
        for track in seq.track_ids():
            camera = qa.CameraMotion(sequence)
            items = [(row, row_mask(row)) for row in seq.track_rows(track)]
            items = [(row, mask, np.array(row["source_box"], dtype=np.float64)) for row, mask in items
                     if mask is not None]
            # the QA exactly as the library stores it now (same code path as shards.track_rows)
            stream = qa.TrackQA()
            library = {}
            for k, (row, mask, box) in enumerate(items):
                library.update(stream.push(k, row["frame_index"], mask, box, row["score"]))
            library.update(stream.finish())
            for k, (row, mask, box) in enumerate(items):
                gt_mask = truth[row["frame_stem"]].get(track, np.zeros_like(mask))
                rec = {"sequence": seq.id, "frame": row["frame_stem"], "J": jaccard(mask, gt_mask),
                       "box_iou": qa.box_consistency(mask, box), "fill": qa.fill_ratio(mask, box),
                       "confidence": row["score"], "stored_qa": row["qa_score"],
                       "library_qa": library[k]["qa_score"], "library_temporal": library[k]["qa_temporal"],
                       "stored_temporal": row["qa_temporal"], "temporal_raw": None, "temporal_camera": None,
                       "temporal_box": None, "temporal_box_next": None}
                if k > 0:
                    p_row, p_mask, p_box = items[k - 1]
                    rec["temporal_raw"] = qa.temporal_iou(p_mask, mask)
                    rec["temporal_camera"] = qa.temporal_iou(
                        p_mask, mask, camera.homography(p_row["frame_index"], row["frame_index"]))
                    rec["temporal_box"] = qa.temporal_iou(p_mask, mask, qa.box_alignment(p_box, box))
                if k + 1 < len(items):
                    _, n_mask, n_box = items[k + 1]
                    rec["temporal_box_next"] = qa.temporal_iou(n_mask, mask, qa.box_alignment(n_box, box))
                two = [v for v in (rec["temporal_box"], rec["temporal_box_next"]) if v is not None]
                rec["temporal_box_mean"] = float(np.mean(two)) if two else None
                rec["temporal_box_max"] = max(two) if two else None
                records.append(rec)
    return records


def arr(records: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if r[key] is None else r[key] for r in records], dtype=np.float64)


def combined(records: list[dict], weights: dict[str, float], temporal_key: str) -> np.ndarray:
    return np.array([qa.combined_score(box_iou=r["box_iou"], fill=r["fill"], temporal=r[temporal_key],
                                       confidence=r["confidence"], weights=weights) for r in records])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="an existing run on davis16-dev (default: build one)")
    parser.add_argument("--keep", type=Path, help="build the run here and keep it (reused when it exists)")
    parser.add_argument("--method", default="grabcut")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--davis", type=Path, default=DAVIS)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "qa_ranking.json")
    args = parser.parse_args()

    start = time.perf_counter()
    tmp = None
    run = args.run
    if run is None and args.keep is not None and (args.keep / "shards").is_dir():
        run = args.keep
    elif run is None:
        from tests.runbuild import build_run

        if args.keep is None:
            tmp = tempfile.TemporaryDirectory()
        target = args.keep if args.keep is not None else Path(tmp.name) / "run"
        run = build_run("davis", args.davis, target, method=args.method, every=args.every, sequences_per_shard=3)
    build_s = time.perf_counter() - start
    records = collect(run, args.davis)
    sequences = sorted({r["sequence"] for r in records})
    tune_ids = set(sequences[::3])
    tune = [r for r in records if r["sequence"] in tune_ids]
    test = [r for r in records if r["sequence"] not in tune_ids]

    def rho(rs, values):
        return spearman(values, arr(rs, "J"))

    signals = {}
    for key in ("box_iou", "fill", "confidence", "temporal_raw", "temporal_camera", "temporal_box",
                "temporal_box_next", "temporal_box_mean", "temporal_box_max", "stored_temporal", "stored_qa",
                "library_temporal", "library_qa"):
        signals[key] = {"all": rho(records, arr(records, key)), "tune": rho(tune, arr(tune, key)),
                        "test": rho(test, arr(test, key))}
    signals["fill_plausibility"] = {name: rho(rs, np.array([qa.fill_plausibility(r["fill"]) for r in rs]))
                                    for name, rs in (("all", records), ("tune", tune), ("test", test))}

    searched = {}
    for temporal_key in ("temporal_raw", "temporal_camera", "temporal_box", "temporal_box_mean", "temporal_box_max"):
        best = None
        for w in itertools.product(GRID, repeat=4):
            weights = dict(zip(("box_iou", "fill", "temporal", "confidence"), w))
            if sum(w) == 0:
                continue
            value = rho(tune, combined(tune, weights, temporal_key))
            if not np.isnan(value) and (best is None or value > best[0] + 1e-12):
                best = (value, weights)
        tuned_w = best[1]
        searched[temporal_key] = {
            "tuned_weights": tuned_w, "tune": best[0],
            "test": rho(test, combined(test, tuned_w, temporal_key)),
            "all": rho(records, combined(records, tuned_w, temporal_key)),
            "library_weights_test": rho(test, combined(test, qa.WEIGHTS, temporal_key)),
            "library_weights_all": rho(records, combined(records, qa.WEIGHTS, temporal_key)),
        }
    result = {
        "benchmark": "qa_ranking", "method": args.method if args.run is None else f"run {args.run}",
        "every": args.every, "masks": len(records), "sequences": len(sequences),
        "tune_sequences": sorted(tune_ids), "test_sequences": sorted(set(sequences) - tune_ids),
        "library_weights": qa.WEIGHTS,
        "note": "stored_* = QA as the run's shards hold it (the library version that built the run); "
                "library_* = recomputed with the current box2mask.eval.qa (TrackQA)", "signals_spearman_vs_J": signals, "combined": searched,
        "mean_J": float(np.mean(arr(records, "J"))), "seconds": round(time.perf_counter() - start, 1),
        "build_seconds": round(build_s, 1), "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
