"""Readers on real data (LaSOT, DAVIS) and on layouts built from it (GOT-10k, folder)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from box2mask.boxes import box_from_mask
from box2mask.datasets import READERS, open_dataset
from box2mask.datasets.manifest import build_manifest, read_manifest, write_manifest
from box2mask.datasets.sampling import sample_indices
from box2mask.errors import DatasetError
from box2mask.masks.png import read_label_png
from pipelines.presets import sampling_for
from pipelines.scan import scan_dataset


def test_lasot_real_sequence(lasot_root):
    reader = open_dataset("lasot", lasot_root)
    assert reader.sequence_ids() == ["airplane-1"]
    seq = reader.load("airplane-1")
    assert len(seq) == 2788 and seq.image_size == (360, 640)
    assert seq.frames[0].name == "00000001.jpg" and seq.frames[-1].name == "00002788.jpg"
    assert seq.meta["class"] == "airplane" and seq.meta["sentence"] == "white airplane landing on ground"
    track = seq.tracks[0]
    # groundtruth line 1 is 367,101,41,16 (x, y, w, h)
    np.testing.assert_allclose(track.boxes[0], [367, 101, 408, 117])
    assert track.visible.all()  # this sequence has no occlusion / out-of-view flags set
    image = seq.read_frame(0)
    assert image.shape == (360, 640, 3) and image.dtype == np.uint8


def test_lasot_preset_samples_200_of_2788(lasot_root):
    table = scan_dataset("lasot", lasot_root)
    row = table.to_pylist()[0]
    assert row["status"] == "ok" and row["num_frames"] == 2788 and row["num_sampled"] == 200
    sampled = np.array(row["sampled"])
    assert sampled[0] == 0 and np.all(sampled % 5 == 0) and np.all(np.diff(sampled) > 0)
    assert sampled[-1] >= 2780  # spread over the whole video, not the first 1,000 frames
    overridden = scan_dataset("lasot", lasot_root, every=1, max_frames=0).to_pylist()[0]
    assert overridden["num_sampled"] == 2788


def test_lasot_flags_make_frames_invisible(tmp_path, lasot_root):
    src = lasot_root / "airplane" / "airplane-1"
    dst = tmp_path / "airplane" / "airplane-1"
    (dst / "img").mkdir(parents=True)
    for k in range(1, 11):
        (dst / "img" / f"{k:08d}.jpg").symlink_to(src / "img" / f"{k:08d}.jpg")
    (dst / "groundtruth.txt").write_text("\n".join(src.joinpath("groundtruth.txt").read_text().splitlines()[:10]))
    (dst / "full_occlusion.txt").write_text("0,0,1,0,0,0,0,0,0,0")
    (dst / "out_of_view.txt").write_text("0,0,0,0,0,0,0,1,1,0")
    (dst / "nlp.txt").write_text("x")
    (tmp_path / "training_set.txt").write_text("airplane-1\n")
    seq = open_dataset("lasot", tmp_path, split="train").load("airplane-1")
    assert seq.meta["split"] == "train"
    assert seq.tracks[0].visible.tolist() == [True, True, False, True, True, True, True, False, False, True]
    assert np.isnan(seq.tracks[0].boxes[2]).all()
    with pytest.raises(DatasetError, match="testing_set.txt"):
        open_dataset("lasot", tmp_path, split="test")


def test_got10k_fixture_from_davis(got10k_davis, davis_root):
    reader = open_dataset("got10k", got10k_davis)
    ids = reader.sequence_ids()
    assert ids == ["GOT-10k_Train_000001", "GOT-10k_Train_000002", "GOT-10k_Train_000003"]
    seq = reader.load(ids[0])
    assert len(seq) == 20 and seq.image_size == (480, 854)
    assert seq.meta["class"] == "bear" and seq.meta["split"] == "train" and seq.tracks[0].category == "bear"
    mask = read_label_png(davis_root / "Annotations" / "480p" / "bear" / "00000.png") > 0
    np.testing.assert_allclose(seq.tracks[0].boxes[0], box_from_mask(mask), atol=0.051)
    table = build_manifest(reader)
    assert table.column("status").to_pylist() == ["ok"] * 3
    assert table.column("num_sampled").to_pylist() == [20, 20, 20]  # GOT-10k preset: every frame


def test_got10k_root_with_splits_and_test_split(tmp_path, got10k_davis):
    root = got10k_davis.parent
    test_dir = root / "test" / "GOT-10k_Test_000001"
    test_dir.mkdir(parents=True)
    for f in (got10k_davis / "GOT-10k_Train_000001").glob("*.jpg"):
        (test_dir / f.name).symlink_to(f)
    first = (got10k_davis / "GOT-10k_Train_000001" / "groundtruth.txt").read_text().splitlines()[0]
    (test_dir / "groundtruth.txt").write_text(first + "\n")
    (root / "test" / "list.txt").write_text("GOT-10k_Test_000001\n")
    reader = open_dataset("got10k", root, split="test")
    seq = reader.load("GOT-10k_Test_000001")
    assert seq.meta["first_frame_only"] == "true"
    assert seq.tracks[0].visible.tolist() == [True] + [False] * 19
    assert any("only the first frame's box" in w.message for w in seq.warnings)
    assert open_dataset("got10k", root).root.name == "train"  # default split


def test_davis_reader_boxes_from_masks(davis_root):
    reader = open_dataset("davis", davis_root)
    assert len(reader.sequence_ids()) == 18
    seq = reader.load("surf")
    assert len(seq.tracks) == 1
    # surf/00054.png is empty: the object is out of view there
    assert not seq.tracks[0].visible[54] and seq.tracks[0].visible[:54].all()
    bear = reader.load("bear")  # holds the one grey+alpha PNG
    assert bear.tracks[0].visible.all()


def test_davis_multi_object_palette(tmp_path):
    from PIL import Image

    from box2mask.masks.png import write_label_png

    img_dir = tmp_path / "JPEGImages" / "480p" / "two"
    ann_dir = tmp_path / "Annotations" / "480p" / "two"
    img_dir.mkdir(parents=True)
    ann_dir.mkdir(parents=True)
    for k in range(3):
        Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(img_dir / f"{k:05d}.jpg")
        labels = np.zeros((20, 30), np.uint8)
        labels[2:6, 3:9] = 1
        if k != 1:
            labels[10:15, 20:28] = 2
        write_label_png(ann_dir / f"{k:05d}.png", labels)
    seq = open_dataset("davis", tmp_path).load("two")
    assert [t.track_id for t in seq.tracks] == [1, 2]
    np.testing.assert_allclose(seq.tracks[0].boxes[0], [3, 2, 9, 6])
    assert seq.tracks[1].visible.tolist() == [True, False, True]


def test_folder_format_csv_and_jsonl(tmp_path):
    from PIL import Image

    for fmt in ("csv", "jsonl"):
        seq_dir = tmp_path / fmt / "clip"
        (seq_dir / "frames").mkdir(parents=True)
        for name in ("a.jpg", "b.jpg", "c.jpg"):
            Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(seq_dir / "frames" / name)
        if fmt == "csv":
            (seq_dir / "boxes.csv").write_text(
                "frame,x0,y0,x1,y1,visible,track_id,category\n"
                "a.jpg,1,2,11,12,1,1,dog\nc.jpg,5,5,60,30,1,1,dog\n1,0,0,5,5,0,2,cat\n")
        else:
            rows = [{"frame": "a.jpg", "box": [1, 2, 11, 12], "category": "dog"},
                    {"frame": 2, "box": [5, 5, 60, 30], "category": "dog"},
                    {"frame": "b.jpg", "box": [0, 0, 5, 5], "visible": False, "track_id": 2, "category": "cat"}]
            (seq_dir / "boxes.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        seq = open_dataset("folder", tmp_path / fmt).load("clip")
        dog, cat = seq.tracks
        assert dog.category == "dog" and cat.category == "cat" and seq.meta["class"] == "dog"
        assert dog.visible.tolist() == [True, False, True]
        np.testing.assert_allclose(dog.boxes[2], [5, 5, 50, 30])  # clipped to the 50 px width
        assert not cat.visible.any()
        assert any("clipped" in w.message for w in seq.warnings)


def test_folder_format_errors_are_located(tmp_path):
    from PIL import Image

    seq_dir = tmp_path / "clip"
    seq_dir.mkdir()
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(seq_dir / "f.jpg")
    (seq_dir / "boxes.csv").write_text("frame,x0,y0,x1,y1\nf.jpg,1,1,5,5\nnope.jpg,1,1,5,5\n")
    results = list(__import__("box2mask.datasets.manifest", fromlist=["scan"]).scan(open_dataset("folder", tmp_path)))
    problem = results[0].problems[0]
    assert results[0].sequence is None and problem.line == 3 and "nope.jpg" in problem.message


def test_sampling_presets():
    assert sampling_for("got10k").every == 1 and sampling_for("got10k").max_frames is None
    lasot = sampling_for("lasot")
    assert (lasot.every, lasot.max_frames) == (5, 200)
    assert sampling_for("lasot", every=2, max_frames=0).max_frames is None
    np.testing.assert_array_equal(sample_indices(12, every=5), [0, 5, 10])
    picks = sample_indices(1000, every=1, max_frames=10)
    assert len(picks) == 10 and picks[0] == 0 and picks[-1] == 999
    with pytest.raises(ValueError):
        sample_indices(10, every=0)


def test_unknown_dataset_lists_known_names(tmp_path):
    with pytest.raises(DatasetError) as exc:
        open_dataset("youtube", tmp_path)
    for name in READERS:
        assert name in str(exc.value)


def test_manifest_parquet_round_trip(tmp_path, got10k_davis):
    table = build_manifest(open_dataset("got10k", got10k_davis))
    write_manifest(table, tmp_path / "manifest.parquet")
    assert read_manifest(tmp_path / "manifest.parquet").equals(table)
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def test_library_imports_no_ray_click_rich():
    code = ("import sys, box2mask, box2mask.datasets, box2mask.methods, box2mask.shards, box2mask.runs, "
            "box2mask.eval.metrics, box2mask.synthetic.video; "
            "print(sorted(m for m in ('ray', 'click', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"


def test_scan_cli(tmp_path, got10k_davis):
    out = subprocess.run([sys.executable, "-m", "cli.main", "scan", "--dataset", "got10k", "--root", str(got10k_davis),
                          "--out", str(tmp_path)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "manifest.parquet").is_file()
    assert "manifest:" in out.stderr
    bad = subprocess.run([sys.executable, "-m", "cli.main", "scan", "--dataset", "lasot", "--root", str(tmp_path),
                          "--out", str(tmp_path / "x")], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert bad.returncode == 2 and "holds no LaSOT sequences" in bad.stderr


def test_scan_exits_3_when_some_sequences_are_invalid(tmp_path):
    from box2mask.synthetic.video import SyntheticSpec, write_got10k

    root = write_got10k(tmp_path / "data", SyntheticSpec(num_sequences=2, num_frames=3, height=48, width=64))
    victim = (root / "list.txt").read_text().split()[1]
    (root / victim / "groundtruth.txt").write_text("1,2,3\n" * 3)
    out = subprocess.run([sys.executable, "-m", "cli.main", "scan", "--dataset", "got10k", "--root", str(root),
                          "--out", str(tmp_path / "scan")], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 3, out.stderr
    assert f"invalid {victim}" in out.stderr and (tmp_path / "scan" / "manifest.parquet").is_file()
