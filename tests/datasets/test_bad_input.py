"""The bad-input corpus: each fault is detected with a located message, and the
valid sequences of the same dataset are still ingested.

Every case builds a small dataset (one broken sequence among good ones), scans
it and asserts (1) the exact problem text, file and line, (2) whether the
sequence was rejected or repaired, (3) that the good sequences come through.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest

from box2mask.datasets import open_dataset
from box2mask.datasets.manifest import build_manifest, scan

H, W, N = 48, 64, 6


def _frame(k: int) -> np.ndarray:
    rng = np.random.default_rng(k)
    return rng.integers(0, 255, (H, W, 3), dtype=np.uint8)


def _write_frames(folder: Path, n: int = N) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        cv2.imwrite(str(folder / f"{i:08d}.jpg"), _frame(i))


def _good_boxes(n: int = N) -> list[str]:
    return [f"{10 + i},{8 + i},20,16" for i in range(n)]


def make_got10k(root: Path, names: list[str]) -> Path:
    split = root / "train"
    for name in names:
        folder = split / name
        _write_frames(folder)
        (folder / "groundtruth.txt").write_text("\n".join(_good_boxes()) + "\n")
        (folder / "absence.label").write_text("0\n" * N)
        (folder / "cover.label").write_text("8\n" * N)
        (folder / "cut_by_image.label").write_text("0\n" * N)
        (folder / "meta_info.ini").write_text("[METAINFO]\nurl: x\nbegin_s: 0\nend_s: 0\nresolution: (64, 48)\n"
                                              "object_class: zebra\nmotion_class: walking\nmajor_class: animal\n"
                                              "root_class: animal\nmotion_adverb: slowly\n")
    (split / "list.txt").write_text("\n".join(names) + "\n")
    return split


def make_lasot(root: Path, names: list[str]) -> Path:
    for name in names:
        folder = root / name.rsplit("-", 1)[0] / name
        _write_frames(folder / "img")
        (folder / "groundtruth.txt").write_text("\n".join(_good_boxes()) + "\n")
        (folder / "full_occlusion.txt").write_text(",".join("0" * N) + "\n")
        (folder / "out_of_view.txt").write_text(",".join("0" * N) + "\n")
        (folder / "nlp.txt").write_text("a small test object\n")
    return root


GOOD_GOT = ["GOT-10k_Train_000001", "GOT-10k_Train_000003"]
BAD_GOT = "GOT-10k_Train_000002"
GOOD_LASOT = ["cat-1", "cat-3"]
BAD_LASOT = "cat-2"


def _set_line(path: Path, line: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


@dataclass
class Fault:
    name: str
    dataset: str
    break_it: Callable[[Path], None]   # receives the broken sequence's folder
    message: str                       # substring of the problem text
    file: str | None                   # file (name) the problem points at
    line: int | None
    rejected: bool                     # True: sequence invalid; False: repaired with a warning


FAULTS = [
    # --- GOT-10k ---
    Fault("got_line_count", "got10k", lambda f: (f / "groundtruth.txt").write_text("\n".join(_good_boxes(N - 2)) + "\n"),
          f"has {N - 2} box lines for {N} frames", "groundtruth.txt", None, True),
    Fault("got_non_numeric", "got10k", lambda f: _set_line(f / "groundtruth.txt", 3, "12,abc,20,16"),
          "value 'abc' is not a number", "groundtruth.txt", 3, True),
    Fault("got_nan", "got10k", lambda f: _set_line(f / "groundtruth.txt", 2, "12,nan,20,16"),
          "value is NaN or infinite", "groundtruth.txt", 2, True),
    Fault("got_negative_size", "got10k", lambda f: _set_line(f / "groundtruth.txt", 4, "12,10,-5,16"),
          "negative box size w=-5 h=16", "groundtruth.txt", 4, True),
    Fault("got_wrong_field_count", "got10k", lambda f: _set_line(f / "groundtruth.txt", 5, "12,10,20"),
          "expected 4 values x,y,w,h, found 3", "groundtruth.txt", 5, True),
    Fault("got_zero_size_visible", "got10k", lambda f: _set_line(f / "groundtruth.txt", 2, "12,10,0,16"),
          "zero-size box on a frame flagged visible; treated as invisible", "groundtruth.txt", 2, False),
    Fault("got_partly_outside", "got10k", lambda f: _set_line(f / "groundtruth.txt", 1, "50,40,30,20"),
          "box extends outside the 64x48 image; clipped", "groundtruth.txt", 1, False),
    Fault("got_fully_outside", "got10k", lambda f: _set_line(f / "groundtruth.txt", 6, "100,80,10,10"),
          "box lies wholly outside the 64x48 image; treated as invisible", "groundtruth.txt", 6, False),
    Fault("got_missing_frame", "got10k", lambda f: (f / "00000003.jpg").unlink(),
          "missing frame(s) 00000003.jpg (frames run 1..6)", BAD_GOT, None, True),
    Fault("got_unreadable_frame", "got10k", lambda f: (f / "00000004.jpg").write_bytes(b"this is not a jpeg"),
          "frame is not an image (unknown file header)", "00000004.jpg", None, True),
    Fault("got_empty_frame", "got10k", lambda f: (f / "00000002.jpg").write_bytes(b""),
          "frame is empty file", "00000002.jpg", None, True),
    Fault("got_missing_absence", "got10k", lambda f: (f / "absence.label").unlink(),
          f"file is missing; assuming 0 for all {N} frames", "absence.label", None, False),
    Fault("got_missing_cover", "got10k", lambda f: (f / "cover.label").unlink(),
          f"file is missing; assuming 8 for all {N} frames", "cover.label", None, False),
    Fault("got_bad_cover_value", "got10k", lambda f: _set_line(f / "cover.label", 3, "9"),
          "flag 9 (frame 3) is outside 0..8", "cover.label", 3, True),
    Fault("got_label_length", "got10k", lambda f: (f / "absence.label").write_text("0\n" * (N + 1)),
          f"has {N + 1} values for {N} frames", "absence.label", None, True),
    Fault("got_missing_meta", "got10k", lambda f: (f / "meta_info.ini").unlink(),
          "file is missing; object class set to 'unknown'", "meta_info.ini", None, False),
    Fault("got_missing_groundtruth", "got10k", lambda f: (f / "groundtruth.txt").unlink(),
          "file is missing", "groundtruth.txt", None, True),
    Fault("got_listed_but_absent", "got10k", lambda f: shutil.rmtree(f),
          "sequence folder listed in list.txt does not exist", BAD_GOT, None, True),
    Fault("got_empty_groundtruth", "got10k", lambda f: (f / "groundtruth.txt").write_text(""),
          "file is empty (expected one x,y,w,h line per frame)", "groundtruth.txt", None, True),
    # --- LaSOT ---
    Fault("lasot_line_count", "lasot", lambda f: (f / "groundtruth.txt").write_text("\n".join(_good_boxes(N + 3)) + "\n"),
          f"has {N + 3} box lines for {N} frames", "groundtruth.txt", None, True),
    Fault("lasot_inf", "lasot", lambda f: _set_line(f / "groundtruth.txt", 6, "inf,10,20,16"),
          "value is NaN or infinite", "groundtruth.txt", 6, True),
    Fault("lasot_occlusion_length", "lasot", lambda f: (f / "full_occlusion.txt").write_text(",".join("0" * (N - 1))),
          f"has {N - 1} values for {N} frames", "full_occlusion.txt", None, True),
    Fault("lasot_bad_flag", "lasot", lambda f: (f / "out_of_view.txt").write_text("0,0,2,0,0,0\n"),
          "flag 2 (frame 3) is outside 0..1", "out_of_view.txt", 1, True),
    Fault("lasot_non_integer_flag", "lasot", lambda f: (f / "out_of_view.txt").write_text("0,0,0,x,0,0\n"),
          "flag 'x' (frame 4) is not an integer", "out_of_view.txt", 1, True),
    Fault("lasot_missing_img", "lasot", lambda f: shutil.rmtree(f / "img"),
          "frame folder is missing", "img", None, True),
    Fault("lasot_missing_occlusion", "lasot", lambda f: (f / "full_occlusion.txt").unlink(),
          f"file is missing; assuming 0 for all {N} frames", "full_occlusion.txt", None, False),
    Fault("lasot_missing_nlp", "lasot", lambda f: (f / "nlp.txt").unlink(),
          "file is missing; no sentence recorded", "nlp.txt", None, False),
    Fault("lasot_zero_size_occluded_ok", "lasot",
          lambda f: (_set_line(f / "groundtruth.txt", 2, "0,0,0,0"),
                     (f / "full_occlusion.txt").write_text("0,1,0,0,0,0\n")),
          None, None, None, False),
]


def _build(fault: Fault, tmp_path: Path):
    if fault.dataset == "got10k":
        root = make_got10k(tmp_path, sorted(GOOD_GOT + [BAD_GOT]))
        return open_dataset("got10k", root), root / BAD_GOT, GOOD_GOT, BAD_GOT
    root = make_lasot(tmp_path, sorted(GOOD_LASOT + [BAD_LASOT]))
    return open_dataset("lasot", root), root / "cat" / BAD_LASOT, GOOD_LASOT, BAD_LASOT


def test_corpus_has_at_least_12_distinct_faults():
    assert len({f.name for f in FAULTS}) >= 12
    assert {f.dataset for f in FAULTS} == {"got10k", "lasot"}


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_fault_is_reported_and_valid_sequences_survive(fault: Fault, tmp_path: Path):
    reader, bad_folder, good, bad = _build(fault, tmp_path)
    fault.break_it(bad_folder)
    results = {r.id: r for r in scan(reader)}

    for seq_id in good:
        assert results[seq_id].sequence is not None, f"valid sequence {seq_id} was lost"
        assert not results[seq_id].problems, results[seq_id].problems

    broken = results[bad]
    if fault.rejected:
        assert broken.sequence is None, "a broken sequence must be rejected"
    else:
        assert broken.sequence is not None, f"repairable fault rejected: {broken.problems}"
    if fault.message is None:
        assert not broken.problems
        return
    matches = [p for p in broken.problems if fault.message in p.message]
    assert matches, f"expected {fault.message!r} in {[str(p) for p in broken.problems]}"
    problem = matches[0]
    assert problem.sequence == bad
    assert problem.severity == ("error" if fault.rejected else "warning")
    if fault.file is not None:
        assert problem.file is not None and Path(problem.file).name == fault.file
    assert problem.line == fault.line
    # The text a user sees names sequence, file and (where known) line.
    text = str(problem)
    assert text.startswith(f"{bad}: ") and fault.message in text
    if fault.line is not None:
        assert f":{fault.line}:" in text


def test_manifest_marks_invalid_rows_and_keeps_valid(tmp_path: Path):
    root = make_got10k(tmp_path, sorted(GOOD_GOT + [BAD_GOT]))
    _set_line(root / BAD_GOT / "groundtruth.txt", 3, "12,abc,20,16")
    table = build_manifest(open_dataset("got10k", root))
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows[BAD_GOT]["status"] == "invalid"
    assert "groundtruth.txt:3: value 'abc' is not a number" in rows[BAD_GOT]["errors"][0]
    assert all(rows[g]["status"] == "ok" and rows[g]["num_frames"] == N for g in GOOD_GOT)


def test_repairs_are_applied(tmp_path: Path):
    root = make_got10k(tmp_path, [BAD_GOT])
    _set_line(root / BAD_GOT / "groundtruth.txt", 1, "50,40,30,20")   # clipped to the image
    _set_line(root / BAD_GOT / "groundtruth.txt", 6, "100,80,10,10")  # wholly outside -> invisible
    seq = open_dataset("got10k", root).load(BAD_GOT)
    track = seq.tracks[0]
    np.testing.assert_allclose(track.boxes[0], [50, 40, 64, 48])
    assert not track.visible[5] and np.isnan(track.boxes[5]).all()
    assert track.visible[:5].all()


def test_repeated_warnings_are_folded(tmp_path: Path):
    root = make_got10k(tmp_path, [BAD_GOT])
    (root / BAD_GOT / "groundtruth.txt").write_text("\n".join(["50,40,30,20"] * N) + "\n")
    seq = open_dataset("got10k", root).load(BAD_GOT)
    clipped = [w for w in seq.warnings if "clipped" in w.message]
    assert len(clipped) == 1
    assert clipped[0].line == 1 and f"(and {N - 1} more lines)" in clipped[0].message
