"""COCO mask AP of an export with pycocotools' own COCOeval, against ground truth from label PNGs.

The ground-truth document reuses the export's ``images`` (same ids, same
``file_name``), so the export's annotations are the detections as they are.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np

from box2mask.masks import rle as rle_codec
from box2mask.masks.png import VOID_LABEL, read_label_png


def groundtruth_from_pngs(images: list[dict], annotations_dir: Path | str) -> dict:
    """A COCO ground truth for ``images`` (from an export) whose masks are
    ``<annotations_dir>/<sequence>/<file stem>.png``; each object id is one instance, category 1."""
    annotations, next_id = [], 1
    for image in images:
        path = Path(annotations_dir) / image["sequence"] / f"{Path(image['file_name']).stem}.png"
        labels = read_label_png(path)
        for obj in sorted(set(np.unique(labels).tolist()) - {0, VOID_LABEL}):
            rle = rle_codec.encode(labels == obj)
            annotations.append({"id": next_id, "image_id": image["id"], "category_id": 1, "segmentation": rle,
                                "area": rle_codec.area(rle), "bbox": rle_codec.bbox_xywh(rle), "iscrowd": 0,
                                "track_id": int(obj)})
            next_id += 1
    return {"images": [{k: image[k] for k in ("id", "file_name", "width", "height", "sequence", "frame_index")}
                       for image in images],
            "annotations": annotations, "categories": [{"id": 1, "name": "object"}]}


def segm_ap(groundtruth: dict, detections: list[dict]) -> dict[str, float]:
    """``AP``, ``AP50``, ``AP75`` (and the printed summary) of mask detections, all categories as one."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        gt = COCO()
        gt.dataset = json.loads(json.dumps(groundtruth))
        gt.createIndex()
        dets = [dict(d, category_id=1) for d in detections]
        dt = gt.loadRes(dets) if dets else COCO()
        evaluator = COCOeval(gt, dt, "segm")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = evaluator.stats
    summary = "\n".join(line for line in quiet.getvalue().splitlines() if "Average" in line)
    return {"AP": float(stats[0]), "AP50": float(stats[1]), "AP75": float(stats[2]), "summary": summary}
