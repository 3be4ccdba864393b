"""Ground-truth-free QA: the signals on hand-made masks, on the real LaSOT sequence, and `box2mask qa`."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from box2mask.boxes import box_to_mask
from box2mask.eval import qa
from box2mask.eval.qa_summary import summarise_run
from box2mask.eval.ranking import rankdata, spearman
from box2mask.shards import iter_rows
from tests.runbuild import build_run


def test_box_signals():
    box = np.array([10.0, 10.0, 30.0, 50.0])
    full = box_to_mask(box, 64, 64)
    assert qa.box_consistency(full, box) == 1.0 and qa.fill_ratio(full, box) == 1.0
    half = full.copy()
    half[30:, :] = False                                 # mask covers the top half of the box only
    assert qa.box_consistency(half, box) == pytest.approx(0.5)
    assert qa.fill_ratio(half, box) == pytest.approx(0.5)
    assert qa.fill_plausibility(0.5) == 1.0 and qa.fill_plausibility(0.05) == pytest.approx(0.2)


def test_temporal_iou_with_compensation():
    prev = box_to_mask(np.array([10.0, 10.0, 30.0, 30.0]), 64, 64)
    cur = box_to_mask(np.array([15.0, 12.0, 35.0, 32.0]), 64, 64)   # moved by (5, 2)
    assert qa.temporal_iou(prev, cur) < 0.7
    shift = np.array([[1, 0, 5], [0, 1, 2], [0, 0, 1.0]])
    assert qa.temporal_iou(prev, cur, shift) == 1.0
    # aligning the boxes removes motion and scale change alike
    grown = box_to_mask(np.array([20.0, 20.0, 60.0, 60.0]), 64, 64)
    h = qa.box_alignment(np.array([10.0, 10.0, 30.0, 30.0]), np.array([20.0, 20.0, 60.0, 60.0]))
    assert qa.temporal_iou(prev, grown, h) == 1.0
    assert qa.box_alignment(np.array([0.0, 0, 0, 5]), np.array([0.0, 0, 5, 5])) is None


def test_track_qa_averages_both_neighbours_and_flags_the_odd_mask():
    box = np.array([10.0, 10.0, 30.0, 30.0])
    good = box_to_mask(box, 64, 64)
    bad = good.copy()
    bad[10:20, :] = False                                 # half the object missing in the middle frame
    stream = qa.TrackQA()
    out = {}
    for frame, mask in enumerate([good, good, bad, good, good]):
        out.update(stream.push(frame, frame, mask, box, None))
    out.update(stream.finish())
    t = {k: v["qa_temporal"] for k, v in out.items()}
    assert t[0] == 1.0 and t[1] == pytest.approx((1.0 + 0.5) / 2) and t[2] == pytest.approx(0.5)
    assert out[2]["qa_score"] < min(out[k]["qa_score"] for k in (0, 1, 3, 4))
    with pytest.raises(ValueError):
        qa.TrackQA(temporal="optical-flow")
    # camera mode uses the given homographies (previous visible frame -> frame)
    moved = np.roll(good, 5, axis=1)
    cam = qa.TrackQA(temporal="camera", homographies={1: np.array([[1, 0, 5], [0, 1, 0], [0, 0, 1.0]])})
    pairs = cam.push("a", 0, good, box, None) + cam.push("b", 1, moved, box + [5, 0, 5, 0], None) + cam.finish()
    assert [f["qa_temporal"] for _, f in pairs] == [1.0, 1.0]
    raw = qa.TrackQA(temporal="none")
    pairs = raw.push("a", 0, good, box, None) + raw.push("b", 1, moved, box, None) + raw.finish()
    assert pairs[0][1]["qa_temporal"] == pytest.approx(15 / 25)


def test_combined_score_orders_good_above_bad():
    good = qa.combined_score(box_iou=0.95, fill=0.7, temporal=0.9, confidence=0.9)
    leaky = qa.combined_score(box_iou=0.95, fill=1.6, temporal=0.9, confidence=0.9)
    shrunk = qa.combined_score(box_iou=0.4, fill=0.2, temporal=0.9, confidence=0.9)
    assert 0 <= shrunk < good <= 1 and leaky < good
    assert qa.combined_score(box_iou=0.9, fill=0.5, temporal=None, confidence=None) == pytest.approx(
        0.9 ** (qa.WEIGHTS["box_iou"] / (qa.WEIGHTS["box_iou"] + qa.WEIGHTS["fill"])))


def test_spearman_matches_definition_and_scipy():
    a = np.array([1.0, 2.0, 2.0, 5.0, 3.0])
    np.testing.assert_array_equal(rankdata(a), [1, 2.5, 2.5, 5, 4])
    assert spearman(a, a) == pytest.approx(1.0) and spearman(a, -a) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    x, y = rng.random(200), rng.random(200)
    y[::7] = x[::7]
    scipy_stats = pytest.importorskip("scipy.stats")
    assert spearman(x, y) == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
    assert np.isnan(spearman(np.ones(5), a))


def test_camera_motion_on_real_lasot_frames(lasot_root):
    from box2mask.datasets import open_dataset

    seq = open_dataset("lasot", lasot_root).load("airplane-1")
    motion = qa.CameraMotion(seq)
    assert motion.available, "box2mask.motion is in the tree, so compensation must be on"
    h = motion.homography(0, 5)
    assert h is None or (h.shape == (3, 3) and np.isfinite(h).all())


def test_qa_on_real_lasot_sequence(tmp_path, lasot_root):
    run = build_run("lasot", lasot_root, tmp_path / "run", method="grabcut", ids=["airplane-1"], every=100,
                    max_frames=12)
    rows = [r for r in iter_rows(run) if r["visible"]]
    assert len(rows) >= 10
    for r in rows:
        for key in ("qa_box_iou", "qa_fill", "qa_score"):
            assert 0.0 <= r[key] <= (3.0 if key == "qa_fill" else 1.0)
    assert all(r["qa_temporal"] is not None for r in rows)
    summary = summarise_run(run, worst=3)
    (seq,) = summary.sequences
    assert seq.sequence == "airplane-1" and seq.masks == len(rows)
    assert seq.min <= seq.p10 <= seq.mean <= 1.0
    assert [w["qa_score"] for w in summary.worst_frames] == sorted(r["qa_score"] for r in rows)[:3]
    assert sum(summary.histogram) == len(rows)


def test_qa_command_lists_worst(synthetic_run, tmp_path):
    from cli.main import main

    result = CliRunner().invoke(main, ["qa", str(synthetic_run), "--worst", "1", "--frames", "2",
                                       "--json", str(tmp_path / "qa.json")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "qa.json").read_text())
    worst = min(data["sequences"], key=lambda s: s["mean"])["sequence"]
    assert worst in result.output and len(data["worst_frames"]) == 2
    assert data["worst_frames"][0]["qa_score"] <= data["worst_frames"][1]["qa_score"]
