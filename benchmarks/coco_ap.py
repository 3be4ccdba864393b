"""COCO mask AP (pycocotools COCOeval, 'segm') of exported runs on davis16-dev.

Builds (or reuses) runs over every ``--every``-th frame of the 18 davis16-dev
sequences, exports each with ``box2mask export --format coco``, builds a COCO
ground truth for the same images from the DAVIS masks, and runs COCOeval.
Also scores the same runs with ``box2mask eval`` (J&F) so the two views sit side by side.

    .venv/bin/python benchmarks/coco_ap.py --every 4 --keep /tmp/bench   # runs kept as /tmp/bench/<method>
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from box2mask.eval.cocoeval import groundtruth_from_pngs, segm_ap  # noqa: E402
from box2mask.eval.evaluate import evaluate_run  # noqa: E402
from box2mask.export import export_run  # noqa: E402

DAVIS = REPO.parent / "shared" / "data" / "davis16-dev"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--methods", default="filled-box,grabcut")
    parser.add_argument("--keep", type=Path, default=None,
                        help="build each method's run in KEEP/<method> and reuse it when it exists")
    parser.add_argument("--davis", type=Path, default=DAVIS)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "coco_ap.json")
    args = parser.parse_args()

    from tests.runbuild import build_run

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            run = (args.keep or Path(tmp)) / method
            start = time.perf_counter()
            if not (run / "shards").is_dir():
                build_run("davis", args.davis, run, method=method, every=args.every, sequences_per_shard=3)
            built = time.perf_counter() - start
            dest = Path(tmp) / f"{method}.json"
            stats = export_run(run, "coco", dest)
            export = json.loads(dest.read_text())
            gt = groundtruth_from_pngs(export["images"], args.davis / "Annotations" / "480p")
            ap = segm_ap(gt, export["annotations"])
            jf = evaluate_run(run, args.davis, sampled_only=True).summary()
            results[method] = {"AP": round(ap["AP"], 4), "AP50": round(ap["AP50"], 4), "AP75": round(ap["AP75"], 4),
                               "J": round(jf["J"], 4), "F": round(jf["F"], 4), "JF": round(jf["JF"], 4),
                               "images": len(export["images"]), "detections": stats.masks,
                               "gt_instances": len(gt["annotations"]), "build_seconds": round(built, 1),
                               "cocoeval_summary": ap["summary"].splitlines()}
            print(method, {k: v for k, v in results[method].items() if k != "cocoeval_summary"}, flush=True)
    out = {"benchmark": "coco_ap", "data": "davis16-dev, 18 sequences", "every": args.every,
           "note": "category-agnostic (DAVIS has one class); GT built from the DAVIS masks for the exported images",
           "results": results, "machine": f"{platform.machine()}, Python {platform.python_version()}"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
