"""Hostile listings: entries that escape the root, odd names, repeats, lists in unusual places.

Each case scans a small dataset holding good sequences beside the hostile entry and asserts the
located problem (file, line, text) and that the good sequences still come through.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from box2mask.datasets import open_dataset
from box2mask.datasets.entries import check_entry_name, shown_id
from box2mask.datasets.manifest import build_manifest, scan
from box2mask.errors import DatasetError, SequenceError
from tests.datasets.test_bad_input import GOOD_GOT, GOOD_LASOT, N, make_got10k, make_lasot

GOOD_NAMES = ["GOT-10k_Train_000001", "cat-1", "bear", "a..b", "name with spaces", "ünïcødé", ".hidden"]
BAD_NAMES = [
    ("", "is empty"),
    ("../outside", "contains a path separator"),
    ("a/b", "contains a path separator"),
    ("a\\b", "contains a path separator"),
    ("..", "is '..', which names a folder, not a sequence"),
    (".", "is '.', which names a folder, not a sequence"),
    ("/etc", "is an absolute path"),
    ("C:\\data", "is an absolute path"),
    ("nul\x00byte", "contains a control character"),
    ("new\nline", "contains a control character"),
    ("\x1b[31mred", "contains a control character"),
    ("bad\udcffbyte", "is not valid UTF-8 (the folder name holds undecodable bytes)"),
]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_plain_names_are_accepted(name):
    assert check_entry_name(name) is None


@pytest.mark.parametrize("name, reason", BAD_NAMES, ids=[repr(n) for n, _ in BAD_NAMES])
def test_unsafe_names_are_refused_with_the_reason(name, reason):
    assert check_entry_name(name) == reason


def test_shown_ids_print_on_one_line():
    assert shown_id("a\x00b\nc\x1b") == "a\\x00b\\x0ac\\x1b"
    assert shown_id("bad\udcffbyte") == "bad\\xffbyte"
    assert shown_id("GOT-10k_Train_000001") == "GOT-10k_Train_000001"


def _results(reader) -> dict:
    return {r.id: r for r in scan(reader)}


def _only_error(result):
    assert result.sequence is None, "a hostile entry must not be read"
    errors = [p for p in result.problems if p.severity == "error"]
    assert len(errors) == 1, [str(p) for p in result.problems]
    return errors[0]


def _assert_good(results, ids):
    for seq_id in ids:
        assert results[seq_id].sequence is not None, results[seq_id].problems
        assert not results[seq_id].problems, [str(p) for p in results[seq_id].problems]


def _outside_got10k(tmp_path: Path) -> Path:
    """A complete GOT-10k sequence folder that sits outside the dataset root."""
    make_got10k(tmp_path / "elsewhere", ["GOT-10k_Train_000009"])
    return tmp_path / "elsewhere" / "train" / "GOT-10k_Train_000009"


@pytest.mark.parametrize("line_for", [
    lambda outside, split: os.path.relpath(outside, split),   # ../../elsewhere/train/...
    lambda outside, split: str(outside),                        # absolute
], ids=["dotdot", "absolute"])
def test_got10k_entry_leaving_the_root_is_an_error_at_its_line(tmp_path, line_for):
    split = make_got10k(tmp_path / "data", GOOD_GOT)
    outside = _outside_got10k(tmp_path)
    entry = line_for(outside, split)
    (split / "list.txt").write_text(f"{GOOD_GOT[0]}\n{entry}\n{GOOD_GOT[1]}\n")
    reader = open_dataset("got10k", split)
    assert reader.sequence_ids() == [GOOD_GOT[0], entry, GOOD_GOT[1]]
    results = _results(reader)
    _assert_good(results, GOOD_GOT)
    problem = _only_error(results[entry])
    assert Path(problem.file) == split / "list.txt" and problem.line == 2
    reason = "is an absolute path" if os.path.isabs(entry) else "contains a path separator"
    assert problem.message == (f"sequence name {entry!r} {reason}; a sequence must be a folder name directly "
                               "inside the dataset root (fix or remove the entry)")
    assert str(problem).startswith(f"{entry}: {split / 'list.txt'}:2: ")
    # an id asked for directly (not in the listing) is refused all the same, located at the root
    with pytest.raises(SequenceError) as exc:
        reader.load(f"../train/{GOOD_GOT[0]}")
    (problem,) = exc.value.problems
    assert (Path(problem.file), problem.line) == (split, None) and "contains a path separator" in problem.message


def test_got10k_symlinked_sequence_folder_leading_out_is_an_error(tmp_path):
    split = make_got10k(tmp_path / "data", GOOD_GOT)
    outside = _outside_got10k(tmp_path)
    (split / "GOT-10k_Train_000009").symlink_to(outside, target_is_directory=True)
    (split / "list.txt").write_text("\n".join(GOOD_GOT + ["GOT-10k_Train_000009"]) + "\n")
    results = _results(open_dataset("got10k", split))
    _assert_good(results, GOOD_GOT)
    problem = _only_error(results["GOT-10k_Train_000009"])
    assert Path(problem.file) == split / "list.txt" and problem.line == 3
    assert problem.message == (f"sequence folder {split / 'GOT-10k_Train_000009'} resolves to {outside.resolve()}, "
                               f"outside the dataset root {split.resolve()}; move or copy the sequence into the "
                               "root instead of linking it")


def test_got10k_without_list_locates_a_linked_folder_at_the_folder(tmp_path):
    split = make_got10k(tmp_path / "data", GOOD_GOT)
    (split / "list.txt").unlink()
    (split / "GOT-10k_Train_000009").symlink_to(_outside_got10k(tmp_path), target_is_directory=True)
    results = _results(open_dataset("got10k", split))
    _assert_good(results, GOOD_GOT)
    problem = _only_error(results["GOT-10k_Train_000009"])
    assert Path(problem.file) == split / "GOT-10k_Train_000009" and problem.line is None
    assert "outside the dataset root" in problem.message


def test_frames_linking_outside_the_root_are_still_fine(tmp_path):
    """Training folders link their JPEGs to a shared store: only the *entry* must stay inside."""
    split = make_got10k(tmp_path / "data", GOOD_GOT)
    store = tmp_path / "store"
    store.mkdir()
    folder = split / GOOD_GOT[0]
    for frame in sorted(folder.glob("*.jpg")):
        target = store / frame.name
        frame.rename(target)
        frame.symlink_to(target)
    (split / "linked_root").symlink_to(split, target_is_directory=True)
    for root in (split, split / "linked_root"):   # a linked --root is fine too
        results = _results(open_dataset("got10k", root))
        _assert_good(results, GOOD_GOT)


def test_control_characters_in_a_listed_name_are_escaped_and_refused(tmp_path):
    split = make_got10k(tmp_path, GOOD_GOT)
    (split / "list.txt").write_text(f"{GOOD_GOT[0]}\n\x1b[2Jevil\n{GOOD_GOT[1]}\n")
    reader = open_dataset("got10k", split)
    assert reader.sequence_ids() == [GOOD_GOT[0], "\\x1b[2Jevil", GOOD_GOT[1]]
    results = _results(reader)
    _assert_good(results, GOOD_GOT)
    problem = _only_error(results["\\x1b[2Jevil"])
    assert problem.line == 2 and "\x1b" not in str(problem)
    assert problem.message.startswith("sequence name '\\\\x1b[2Jevil' contains a control character;")


def test_duplicate_list_lines_are_read_once_with_a_warning(tmp_path):
    split = make_got10k(tmp_path, GOOD_GOT)
    a, b = GOOD_GOT
    (split / "list.txt").write_text(f"{a}\n{b}\n{a}\n\n{a}\n")
    reader = open_dataset("got10k", split)
    assert reader.sequence_ids() == [a, b]
    table = build_manifest(reader)
    assert table.column("id").to_pylist() == [a, b]
    results = _results(reader)
    assert results[a].sequence is not None and not results[b].problems
    (warning,) = results[a].problems
    assert warning.severity == "warning" and Path(warning.file) == split / "list.txt" and warning.line == 3
    assert warning.message == "is listed again (first at line 1, and again on 1 more line(s)); read once"


def test_list_that_is_not_utf8_text_names_the_file(tmp_path):
    split = make_got10k(tmp_path, GOOD_GOT)
    (split / "list.txt").write_bytes(b"GOT-10k_Train_000001\n\xff\xfe\n")
    with pytest.raises(DatasetError) as exc:
        open_dataset("got10k", split).sequence_ids()
    assert str(exc.value) == (f"{split / 'list.txt'}: file is not UTF-8 text; save it as UTF-8; a listing must be "
                              "a UTF-8 text file with one sequence name per line")


def test_bom_and_crlf_listings_still_work(tmp_path):
    split = make_got10k(tmp_path / "got", GOOD_GOT)
    (split / "list.txt").write_bytes(("\ufeff" + "\r\n".join(GOOD_GOT) + "\r\n").encode("utf-8"))
    reader = open_dataset("got10k", split)
    assert reader.sequence_ids() == GOOD_GOT
    _assert_good(_results(reader), GOOD_GOT)

    root = make_lasot(tmp_path / "lasot", GOOD_LASOT)
    (root / "training_set.txt").write_bytes(("\ufeff" + "\r\n".join(GOOD_LASOT) + "\r\n").encode("utf-8"))
    reader = open_dataset("lasot", root, split="train")
    assert reader.sequence_ids() == GOOD_LASOT
    _assert_good(_results(reader), GOOD_LASOT)


# --- LaSOT ---------------------------------------------------------------------------------


def test_lasot_split_list_entries_must_stay_inside(tmp_path):
    root = make_lasot(tmp_path / "data", GOOD_LASOT)
    make_lasot(tmp_path, ["x-1"])    # tmp_path/x/x-1, outside the root
    make_lasot(root, ["..-1"])        # category '..': <root>/../..-1, a whole sequence outside the root
    assert (tmp_path / "..-1" / "groundtruth.txt").is_file()
    (root / "training_set.txt").write_text("cat-1\n../x/x-1\n..-1\ncat-3\ncat-1\n")
    reader = open_dataset("lasot", root, split="train")
    assert reader.sequence_ids() == ["..-1", "../x/x-1", "cat-1", "cat-3"]
    results = _results(reader)
    assert results["cat-3"].sequence is not None and not results["cat-3"].problems
    (dup,) = results["cat-1"].problems
    assert (dup.line, dup.severity, dup.message) == (5, "warning", "is listed again (first at line 1); read once")
    slash = _only_error(results["../x/x-1"])
    assert (Path(slash.file).name, slash.line) == ("training_set.txt", 2)
    assert "contains a path separator" in slash.message
    dots = _only_error(results["..-1"])
    assert (Path(dots.file).name, dots.line) == ("training_set.txt", 3)
    assert f"resolves to {(tmp_path / '..-1').resolve()}, outside the dataset root {root.resolve()}" in dots.message


def test_lasot_category_folder_linked_from_outside_is_an_error(tmp_path):
    root = make_lasot(tmp_path / "data", GOOD_LASOT)
    make_lasot(tmp_path / "store", ["dog-1"])
    (root / "dog").symlink_to(tmp_path / "store" / "dog", target_is_directory=True)
    results = _results(open_dataset("lasot", root))
    _assert_good(results, GOOD_LASOT)
    problem = _only_error(results["dog-1"])
    assert Path(problem.file) == root / "dog" / "dog-1" and problem.line is None
    assert "outside the dataset root" in problem.message


def test_lasot_sequence_in_both_split_lists_is_reported(tmp_path):
    root = make_lasot(tmp_path, GOOD_LASOT)
    (root / "training_set.txt").write_text("cat-1\ncat-3\n")
    (root / "testing_set.txt").write_text("cat-3\n")
    results = _results(open_dataset("lasot", root))
    assert not results["cat-1"].problems
    (warning,) = results["cat-3"].problems
    assert (Path(warning.file).name, warning.line, warning.severity) == ("testing_set.txt", 1, "warning")
    assert warning.message == "is also listed in training_set.txt (line 2); its split is recorded as 'train'"
    assert results["cat-3"].sequence.meta["split"] == "train"


# --- DAVIS ---------------------------------------------------------------------------------


def make_davis(root: Path, names: list[str]) -> Path:
    from PIL import Image

    from box2mask.masks.png import write_label_png

    for name in names:
        img_dir, ann_dir = root / "JPEGImages" / "480p" / name, root / "Annotations" / "480p" / name
        img_dir.mkdir(parents=True)
        ann_dir.mkdir(parents=True)
        for k in range(3):
            Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(img_dir / f"{k:05d}.jpg")
            labels = np.zeros((20, 30), np.uint8)
            labels[2:6, 3 + k:9 + k] = 1
            write_label_png(ann_dir / f"{k:05d}.png", labels)
    return root


def test_davis_list_at_the_root_is_found(tmp_path):
    root = make_davis(tmp_path, ["bear", "surf", "dog"])
    (root / "val.txt").write_bytes("\ufeffsurf\r\nbear\r\n".encode("utf-8"))
    reader = open_dataset("davis", root, split="val")
    assert reader.sequence_ids() == ["surf", "bear"]
    _assert_good(_results(reader), ["surf", "bear"])
    # ImageSets/ keeps precedence when both exist
    (root / "ImageSets" / "2016").mkdir(parents=True)
    (root / "ImageSets" / "2016" / "val.txt").write_text("dog\n")
    assert open_dataset("davis", root, split="val").sequence_ids() == ["dog"]
    with pytest.raises(DatasetError, match=r"no ImageSets/\*\*/train.txt or train.txt under "):
        open_dataset("davis", root, split="train").sequence_ids()


@pytest.mark.parametrize("where", ["ImageSets/2017/val.txt", "val.txt"])
def test_davis_list_entries_are_checked(tmp_path, where):
    root = make_davis(tmp_path / "data", ["bear", "surf"])
    make_davis(tmp_path / "other", ["cow"])
    listing = root / where
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text("bear\n../../../other/JPEGImages/480p/cow\nsurf\nbear\n")
    results = _results(open_dataset("davis", root, split="val"))
    assert results["surf"].sequence is not None and not results["surf"].problems
    (dup,) = results["bear"].problems
    assert (Path(dup.file), dup.line, dup.severity) == (listing, 4, "warning")
    problem = _only_error(results["../../../other/JPEGImages/480p/cow"])
    assert (Path(problem.file), problem.line) == (listing, 2)
    assert "contains a path separator" in problem.message


def test_davis_linked_sequence_folder_leading_out_is_an_error(tmp_path):
    root = make_davis(tmp_path / "data", ["bear"])
    make_davis(tmp_path / "other", ["cow"])
    for kind in ("JPEGImages", "Annotations"):
        (root / kind / "480p" / "cow").symlink_to(tmp_path / "other" / kind / "480p" / "cow")
    results = _results(open_dataset("davis", root))
    _assert_good(results, ["bear"])
    errors = [p for p in results["cow"].problems if p.severity == "error"]
    assert results["cow"].sequence is None and len(errors) == 1   # the first escape stops the sequence
    assert Path(errors[0].file) == root / "JPEGImages" / "480p" / "cow"
    assert "outside the dataset root" in errors[0].message


def test_davis_linked_annotation_root_is_still_fine(tmp_path):
    """Evaluation links a whole Annotations/ folder in: the entries stay inside it."""
    root = make_davis(tmp_path / "data", ["bear"])
    ann = root / "Annotations"
    ann.rename(tmp_path / "truth")
    ann.symlink_to(tmp_path / "truth", target_is_directory=True)
    _assert_good(_results(open_dataset("davis", root)), ["bear"])


@pytest.mark.parametrize("split", ["../val", "/etc/passwd", "a\\b"])
def test_davis_split_name_must_be_plain(tmp_path, split):
    root = make_davis(tmp_path, ["bear"])
    with pytest.raises(DatasetError) as exc:
        open_dataset("davis", root, split=split)
    assert str(exc.value).startswith(f"--split {split!r} ")
    assert str(exc.value).endswith("; give the name of a list, e.g. val for ImageSets/**/val.txt or val.txt")


# --- folder format -------------------------------------------------------------------------


def make_folder(root: Path, names: list[str]) -> Path:
    from PIL import Image

    for name in names:
        seq = root / name / "frames"
        seq.mkdir(parents=True)
        for k in range(3):
            Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(seq / f"{k}.jpg")
        (root / name / "boxes.csv").write_text("frame,x0,y0,x1,y1\n0.jpg,1,2,11,12\n2.jpg,5,5,20,30\n")
    return root


def test_folder_sequence_linked_from_outside_is_an_error(tmp_path):
    root = make_folder(tmp_path / "data", ["clip"])
    make_folder(tmp_path / "store", ["other"])
    (root / "other").symlink_to(tmp_path / "store" / "other", target_is_directory=True)
    results = _results(open_dataset("folder", root))
    _assert_good(results, ["clip"])
    problem = _only_error(results["other"])
    assert Path(problem.file) == root / "other" and "outside the dataset root" in problem.message


def test_folder_names_with_control_characters_are_refused(tmp_path):
    root = make_folder(tmp_path, ["clip", "bad\tname"])
    reader = open_dataset("folder", root)
    assert reader.sequence_ids() == ["bad\\x09name", "clip"]
    results = _results(reader)
    _assert_good(results, ["clip"])
    problem = _only_error(results["bad\\x09name"])
    assert Path(problem.file) == root and "contains a control character" in problem.message


def test_a_bad_entry_never_stops_the_manifest(tmp_path):
    split = make_got10k(tmp_path, GOOD_GOT)
    (split / "list.txt").write_text(f"/etc\n{GOOD_GOT[0]}\n..\n{GOOD_GOT[1]}\n")
    rows = {r["id"]: r for r in build_manifest(open_dataset("got10k", split)).to_pylist()}
    assert [rows[g]["status"] for g in GOOD_GOT] == ["ok", "ok"]
    assert rows[GOOD_GOT[0]]["num_frames"] == N
    assert rows["/etc"]["status"] == rows[".."]["status"] == "invalid"
    assert rows[".."]["errors"] == [f"..: {split / 'list.txt'}:3: sequence name '..' is '..', which names a folder, "
                                    "not a sequence; a sequence must be a folder name directly inside the dataset "
                                    "root (fix or remove the entry)"]
