"""box2mask eval end to end on synthetic runs: matching, conventions, the three ground-truth kinds."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from box2mask.eval.evaluate import evaluate_run
from box2mask.eval.groundtruth import GroundTruthError, open_groundtruth
from box2mask.eval.metrics import frame_scores
from box2mask.export import export_run
from box2mask.export.source import row_mask
from box2mask.masks.png import read_label_png
from box2mask.shards import iter_rows
from tests.runbuild import build_run, truth_masks


@pytest.fixture(scope="module")
def truth_dir(synthetic_got10k):
    return synthetic_got10k.parent / "truth" / "Annotations"


@pytest.fixture(scope="module")
def davis_gt(tmp_path_factory, truth_dir):
    gt = tmp_path_factory.mktemp("gt")
    os.symlink(truth_dir, gt / "Annotations")
    return gt


@pytest.fixture(scope="module")
def perfect_run(tmp_path_factory, synthetic_got10k, truth_dir):
    return build_run("got10k", synthetic_got10k, tmp_path_factory.mktemp("perfect") / "run",
                     transform=truth_masks(truth_dir))


def test_perfect_predictions_score_one(perfect_run, davis_gt):
    summary = evaluate_run(perfect_run, davis_gt).summary()
    assert summary["J"] == summary["F"] == summary["JF"] == 1.0
    assert summary["frames"] == 16 and summary["missing_frames"] == 0 and summary["J_decay"] == 0.0


def test_scores_match_frame_by_frame_computation(synthetic_run, davis_gt, truth_dir):
    result = evaluate_run(synthetic_run, davis_gt)
    rows = {(r["sequence"], r["frame_stem"]): r for r in iter_rows(synthetic_run)}
    for obj in result.objects:
        for stem, j, f in zip(obj.stems, obj.J, obj.F):
            truth = read_label_png(truth_dir / obj.sequence / f"{stem}.png") == 1
            pred = row_mask(rows[(obj.sequence, stem)])
            expected = frame_scores(pred if pred is not None else np.zeros_like(truth), truth)
            assert (j, f) == pytest.approx(expected)
    summary = result.summary()
    assert summary["J"] == pytest.approx(np.mean([np.mean(o.J) for o in result.objects]))
    assert 0.3 < summary["J"] < 0.95                   # ellipses in boxes, two hidden frames


def test_missing_frames_and_sequences(tmp_path, synthetic_got10k, davis_gt, truth_dir):
    run = build_run("got10k", synthetic_got10k, tmp_path / "run", every=2, transform=truth_masks(truth_dir),
                    sequences_per_shard=1)
    every = evaluate_run(run, davis_gt).summary()
    assert every["missing_frames"] == 8 and every["frames"] == 16 and every["J"] < 1.0
    sampled = evaluate_run(run, davis_gt, sampled_only=True).summary()
    assert sampled["missing_frames"] == 0 and sampled["frames"] == 8 and sampled["J"] == 1.0
    os.remove(sorted((run / "shards").glob("*.parquet"))[1])     # a failed sequence still counts
    failed = evaluate_run(run, davis_gt, sampled_only=True).summary()
    assert len(failed["missing_sequences"]) == 1 and failed["J"] < 0.6


def test_coco_and_ytvis_ground_truth_agree_with_davis_folder(tmp_path, perfect_run, synthetic_run, davis_gt):
    export_run(perfect_run, "coco", tmp_path / "gt_coco.json")
    export_run(perfect_run, "ytvis", tmp_path / "gt_ytvis.json")
    assert open_groundtruth(tmp_path / "gt_coco.json").kind == "coco"
    assert open_groundtruth(tmp_path / "gt_ytvis.json").kind == "ytvis"
    assert open_groundtruth(davis_gt).kind == "davis"
    reference = evaluate_run(synthetic_run, davis_gt).summary()
    for gt in ("gt_coco.json", "gt_ytvis.json"):
        other = evaluate_run(synthetic_run, tmp_path / gt).summary()
        assert other["frames"] == reference["frames"]
        for key in ("J", "F", "JF", "J_recall", "J_decay"):
            assert other[key] == pytest.approx(reference[key])


def test_unreadable_ground_truth(tmp_path):
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(GroundTruthError, match="expected a JSON object"):
        open_groundtruth(tmp_path / "x.json")
    with pytest.raises(GroundTruthError, match="no Annotations"):
        open_groundtruth(tmp_path)


def test_eval_command_writes_json_and_markdown(synthetic_run, davis_gt, tmp_path):
    from cli.main import main

    out = tmp_path / "e"
    result = CliRunner().invoke(main, ["eval", str(synthetic_run), "--gt", str(davis_gt),
                                       "--json", str(out / "eval.json"), "--markdown", str(out / "eval.md")])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "eval.json").read_text())
    assert {"J", "F", "JF"} <= data.keys() and len(data["sequences"]) == 2
    assert data["JF"] == pytest.approx((data["J"] + data["F"]) / 2)
    md = (out / "eval.md").read_text()
    assert "| **mean** |" in md and f"{data['J']:.3f}" in md
    bad = CliRunner().invoke(main, ["eval", str(synthetic_run), "--gt", str(tmp_path)])
    assert bad.exit_code == 2 and "Annotations" in bad.output


def test_ground_truth_without_run_sequences(tmp_path, synthetic_run):
    gt = tmp_path / "gt"
    from box2mask.masks.png import write_label_png

    write_label_png(gt / "Annotations" / "other" / "00000.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="no sequence of the run"):
        evaluate_run(synthetic_run, gt)


def test_multi_object_ground_truth_matches_track_ids(folder_run, tmp_path):
    export_run(folder_run, "davis", tmp_path / "gt")           # two objects, ids 1 and 2
    summary = evaluate_run(folder_run, tmp_path / "gt").summary()
    assert [(r["sequence"], r["object"]) for r in summary["sequences"]] == [("street", 1), ("street", 2)]
    assert summary["J"] == summary["F"] == 1.0               # the hidden frame: empty on empty scores 1


def test_a_mismatched_sequence_is_reported_and_the_rest_scored(synthetic_run, tmp_path, truth_dir):
    import shutil

    gt = tmp_path / "gt"
    shutil.copytree(truth_dir, gt / "Annotations")
    first = sorted((gt / "Annotations").iterdir())[0]
    from box2mask.masks.png import write_label_png

    for png in first.glob("*.png"):
        write_label_png(png, np.ones((10, 10), np.uint8))           # wrong size for this sequence
    summary = evaluate_run(synthetic_run, gt).summary()
    assert len(summary["errors"]) == 1 and first.name in summary["errors"][0]
    assert len(summary["sequences"]) == 1 and summary["frames"] == 8


def test_markdown_says_what_was_scored():
    from box2mask.eval.evaluate import to_markdown

    summary = {"run": "r", "gt": "g", "entries": 1, "frames": 3, "missing_frames": 0, "missing_sequences": [],
               "sequences": [], **{k: 0.5 for k in ("J", "F", "JF", "J_recall", "J_recall_0.7", "J_decay",
                                                     "F_recall", "F_decay")}}
    assert "(only the frames the run annotated were scored;" in to_markdown(summary, sampled_only=True)
    assert "(every frame counts;" in to_markdown(summary)
