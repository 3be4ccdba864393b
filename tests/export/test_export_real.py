"""Exports of real runs: COCOeval on davis16-dev, LaSOT categories and frame paths."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pycocotools.coco import COCO

from box2mask.eval.cocoeval import groundtruth_from_pngs, segm_ap
from box2mask.masks.png import read_label_png
from tests.runbuild import build_run


@pytest.fixture(scope="module")
def davis_box_run(tmp_path_factory, davis_root):
    return build_run("davis", davis_root, tmp_path_factory.mktemp("cocoap") / "run", ids=["bear", "surf"], every=5)


def test_cocoeval_runs_against_davis_masks(davis_box_run, davis_root, tmp_path):
    from cli.main import main

    dest = tmp_path / "coco.json"
    result = CliRunner().invoke(main, ["export", str(davis_box_run), "--format", "coco", "--dest", str(dest)])
    assert result.exit_code == 0, result.output
    export = json.loads(dest.read_text())
    COCO(str(dest))                                      # pycocotools loads the file as it is
    gt = groundtruth_from_pngs(export["images"], davis_root / "Annotations" / "480p")
    filled = segm_ap(gt, export["annotations"])
    assert 0.0 < filled["AP"] < 0.5 and filled["AP50"] > filled["AP75"]     # boxes are poor masks at high IoU
    # the same evaluator gives 1.0 to detections equal to the truth (a check that it can tell)
    perfect = [dict(a, id=None, score=1.0) for a in gt["annotations"]]
    assert segm_ap(gt, perfect)["AP"] == pytest.approx(1.0)
    # the export's images line up with the DAVIS frames they name
    img = export["images"][0]
    truth = read_label_png(davis_root / "Annotations" / "480p" / img["sequence"] / f"{Path(img['file_name']).stem}.png")
    assert (img["height"], img["width"]) == truth.shape and (davis_root / img["file_name"]).is_file()


def test_lasot_export_categories_and_paths(tmp_path, lasot_root):
    run = build_run("lasot", lasot_root, tmp_path / "run", ids=["airplane-1"], every=50, max_frames=10)
    from cli.main import main

    result = CliRunner().invoke(main, ["export", str(run), "--format", "ytvis", "--dest", str(tmp_path / "y.json"),
                                       "--image-root", str(lasot_root)])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "y.json").read_text())
    assert [c["name"] for c in data["categories"]] == ["airplane"]
    (video,) = data["videos"]
    assert video["file_names"][0] == "airplane/airplane-1/img/00000001.jpg"
    assert all((lasot_root / f).is_file() for f in video["file_names"])
    assert (video["width"], video["height"], video["length"]) == (640, 360, 10)
    (ann,) = data["annotations"]
    assert len(ann["segmentations"]) == 10 and np.all([a is None or a > 0 for a in ann["areas"]])
