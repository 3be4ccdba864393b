"""Masks -> export -> read back gives identical pixels, in all three formats."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from box2mask.export import ExportOptions, RunError, RunSource, export_run
from box2mask.export.source import row_mask
from box2mask.masks.png import davis_palette
from box2mask.shards import iter_rows
from tests.runfixtures import HIDDEN


def shard_masks(run) -> dict[tuple[str, str, int], np.ndarray | None]:
    """(sequence, frame stem, track) -> mask straight from the shards."""
    return {(r["sequence"], r["frame_stem"], r["track_id"]): row_mask(r) for r in iter_rows(run)}


def test_coco_roundtrip_and_fields(synthetic_run, tmp_path):
    dest = tmp_path / "coco.json"
    stats = export_run(synthetic_run, "coco", dest)
    truth = shard_masks(synthetic_run)
    visible = {k: m for k, m in truth.items() if m is not None}
    assert stats.masks == len(visible) and stats.invisible == len(truth) - len(visible)
    coco = COCO(str(dest))
    assert len(coco.getImgIds()) == len(truth)           # one image per annotated frame (single track)
    assert len(coco.getAnnIds()) == len(visible)
    root = Path(RunSource(synthetic_run).info.root)
    for ann in coco.loadAnns(coco.getAnnIds()):
        image = coco.loadImgs(ann["image_id"])[0]
        key = (image["sequence"], Path(image["file_name"]).stem, ann["track_id"])
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), visible[key])
        assert isinstance(ann["segmentation"]["counts"], str)
        assert ann["iscrowd"] == 0 and ann["area"] == int(visible[key].sum())
        assert ann["bbox"] == pytest.approx(list(mask_utils.toBbox(coco.annToRLE(ann))))
        assert len(ann["source_bbox"]) == 4 and ann["score"] is not None
        assert image["sequence"] in image["file_name"] and (root / image["file_name"]).is_file()
        assert {"width", "height", "sequence_id", "frame_index"} <= image.keys()
    # categories are the GOT-10k object classes of meta_info.ini
    names = {c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert names and names <= {"blob", "star", "capsule"}


def test_coco_min_score_and_image_root(synthetic_run, tmp_path):
    source = RunSource(synthetic_run)
    dest = tmp_path / "coco.json"
    stats = export_run(synthetic_run, "coco", dest,
                       options=ExportOptions(min_score=0.5, image_root=source.dataset_root.parent))
    data = json.loads(dest.read_text())
    assert stats.filtered > 0 and all(a["score"] >= 0.5 for a in data["annotations"])
    assert len(data["annotations"]) == stats.masks
    assert all(im["file_name"].startswith(source.dataset_root.name + "/") for im in data["images"])
    qa = export_run(synthetic_run, "coco", tmp_path / "qa.json", options=ExportOptions(min_score=0.9, score_by="qa"))
    kept = json.loads((tmp_path / "qa.json").read_text())["annotations"]
    assert all(a["qa_score"] >= 0.9 for a in kept) and len(kept) == qa.masks


def test_ytvis_roundtrip_one_slot_per_frame(synthetic_run, tmp_path):
    dest = tmp_path / "ytvis.json"
    export_run(synthetic_run, "ytvis", dest)
    data = json.loads(dest.read_text())
    truth = shard_masks(synthetic_run)
    videos = {v["id"]: v for v in data["videos"]}
    assert len(data["annotations"]) == len(videos) == 2
    for ann in data["annotations"]:
        video = videos[ann["video_id"]]
        assert video["length"] == len(video["file_names"]) == 8
        assert len(ann["segmentations"]) == len(ann["bboxes"]) == len(ann["areas"]) == video["length"]
        for k, (name, seg) in enumerate(zip(video["file_names"], ann["segmentations"])):
            expected = truth[(video["name"], Path(name).stem, ann["track_id"])]
            if k in HIDDEN:
                assert seg is None and ann["areas"][k] is None and expected is None
                continue
            decoded = mask_utils.decode({"size": seg["size"], "counts": seg["counts"].encode()}).astype(bool)
            np.testing.assert_array_equal(decoded, expected)
            assert ann["areas"][k] == int(expected.sum())
        assert ann["category_id"] in {c["id"] for c in data["categories"]}


def test_davis_roundtrip_palette_and_imagesets(synthetic_run, tmp_path):
    dest = tmp_path / "davis"
    export_run(synthetic_run, "davis", dest, link_images=True)
    truth = shard_masks(synthetic_run)
    listed = (dest / "ImageSets" / "all.txt").read_text().split()
    assert listed == sorted({s for s, _, _ in truth})
    for (seq, stem, track), mask in truth.items():
        png = dest / "Annotations" / seq / f"{stem}.png"
        with Image.open(png) as im:
            assert im.mode == "P"
            palette = np.array(im.getpalette()[:768], np.uint8).reshape(-1, 3)
            labels = np.array(im)
        np.testing.assert_array_equal(palette, davis_palette())
        np.testing.assert_array_equal(labels == track, mask if mask is not None else np.zeros_like(labels, bool))
        assert set(np.unique(labels)) <= {0, track}
        link = dest / "JPEGImages" / seq / f"{stem}.jpg"
        assert link.is_symlink() and link.resolve().is_file()
    meta = json.loads((dest / "meta.json").read_text())
    assert set(meta["videos"]) == set(listed)


def test_two_tracks_get_ids_1_and_2(folder_run, tmp_path):
    export_run(folder_run, "davis", tmp_path / "davis")
    truth = shard_masks(folder_run)
    for stem in ("00000", "00003"):
        labels = np.array(Image.open(tmp_path / "davis" / "Annotations" / "street" / f"{stem}.png"))
        for track in (1, 2):
            mask = truth[("street", stem, track)]
            np.testing.assert_array_equal(labels == track, mask if mask is not None else np.zeros_like(labels, bool))
    assert truth[("street", "00003", 2)] is None        # hidden in frame 3: no pixel with id 2 there
    export_run(folder_run, "ytvis", tmp_path / "y.json")
    data = json.loads((tmp_path / "y.json").read_text())
    cats = {c["id"]: c["name"] for c in data["categories"]}
    assert sorted(cats[a["category_id"]] for a in data["annotations"]) == ["car", "person"]
    assert [a["segmentations"][3] is None for a in sorted(data["annotations"], key=lambda a: a["track_id"])] == [False, True]
    export_run(folder_run, "coco", tmp_path / "c.json")
    coco = COCO(str(tmp_path / "c.json"))
    assert len(coco.getImgIds()) == 6 and len(coco.getAnnIds()) == 11


def test_failed_export_leaves_no_file(synthetic_run, tmp_path):
    dest = tmp_path / "coco.json"

    def boom(seq):
        raise RuntimeError("disk full")

    from box2mask.export import coco

    with pytest.raises(RuntimeError):
        coco.export_coco(RunSource(synthetic_run), dest, on_sequence=boom)
    assert not dest.exists() and not list(tmp_path.glob(".*"))


def test_bad_run_folders_give_clear_errors(tmp_path, synthetic_run):
    with pytest.raises(RunError, match="no committed shards"):
        RunSource(tmp_path)
    bad = tmp_path / "bad"
    (bad / "shards").mkdir(parents=True)
    (bad / "shards" / "00000.parquet").write_bytes(b"not parquet")
    with pytest.raises(RunError, match="00000.parquet"):
        export_run(bad, "coco", tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_duplicate_sequence_is_exported_once(synthetic_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(synthetic_run, copy)
    first = sorted((copy / "shards").glob("*.parquet"))[0]
    shutil.copy(first, copy / "shards" / "99999.parquet")
    stats = export_run(copy, "coco", tmp_path / "c.json")
    assert len(stats.duplicates) == 1 and stats.sequences == 2
