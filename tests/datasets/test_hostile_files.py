"""Hostile files: FIFOs and devices where files should be, mixed frame sizes, frames cut short.

A FIFO blocks whoever opens it for reading, so every scan that meets one runs under a guard: a
regression fails after a few seconds (the guard then unblocks the reader) instead of hanging.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
from PIL import Image

from box2mask.datasets import open_dataset
from box2mask.datasets.manifest import scan
from box2mask.errors import DatasetError, FrameReadError, TruncatedFrameError
from box2mask.frames import ImageInfo, image_size, inspect_image, read_gray, read_rgb, regular_file_problem
from tests.datasets.test_bad_input import BAD_GOT, GOOD_GOT, H, W, make_got10k
from tests.datasets.test_hostile_entries import make_davis, make_folder

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo (POSIX)")

GUARD_S = 10.0


def guarded(fn: Callable, fifos: list[Path]):
    """``fn()`` in a thread; fails the test (and unblocks the reader) if it is still running after GUARD_S."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(GUARD_S)
    if thread.is_alive():
        for fifo in fifos:   # a writer that opens and closes hands the blocked reader an end of file
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(GUARD_S)
        pytest.fail(f"blocked for over {GUARD_S:.0f} s on a FIFO: {fifos}")
    if "error" in out:
        raise out["error"]
    return out["value"]


def _fifo(path: Path) -> Path:
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    return path


def _scan_got10k(tmp_path: Path, break_it: Callable[[Path], Path]):
    split = make_got10k(tmp_path, sorted(GOOD_GOT + [BAD_GOT]))
    fifo = break_it(split / BAD_GOT)
    results = guarded(lambda: {r.id: r for r in scan(open_dataset("got10k", split))}, [fifo])
    for good in GOOD_GOT:
        assert results[good].sequence is not None and not results[good].problems
    return results[BAD_GOT], fifo


@pytest.mark.parametrize("name", ["00000003.jpg", "groundtruth.txt", "absence.label", "cover.label",
                                  "cut_by_image.label", "meta_info.ini"])
def test_got10k_fifo_in_place_of_a_file_is_refused(tmp_path, name):
    broken, fifo = _scan_got10k(tmp_path, lambda folder: _fifo(folder / name))
    assert broken.sequence is None
    errors = [p for p in broken.problems if p.severity == "error"]
    assert len(errors) == 1 and Path(errors[0].file) == fifo and errors[0].line is None
    expected = ("frame is not a regular file (a FIFO)" if name.endswith(".jpg")
                else "file is not a regular file (a FIFO); replace it with a regular text file")
    assert errors[0].message == expected


def test_fifo_listing_is_a_dataset_error(tmp_path):
    split = make_got10k(tmp_path, GOOD_GOT)
    fifo = _fifo(split / "list.txt")
    with pytest.raises(DatasetError) as exc:
        guarded(lambda: open_dataset("got10k", split).sequence_ids(), [fifo])
    assert str(exc.value) == (f"{fifo}: file is not a regular file (a FIFO); replace it with a regular text file; "
                              "a listing must be a UTF-8 text file with one sequence name per line")


def test_fifo_lasot_split_list_is_a_dataset_error(tmp_path):
    from tests.datasets.test_bad_input import make_lasot

    root = make_lasot(tmp_path, ["cat-1"])
    fifo = _fifo(root / "testing_set.txt")
    with pytest.raises(DatasetError, match=r"testing_set.txt: file is not a regular file \(a FIFO\)"):
        guarded(lambda: open_dataset("lasot", root), [fifo])


def test_davis_fifo_mask_is_refused(tmp_path):
    root = make_davis(tmp_path, ["bear", "surf"])
    fifo = _fifo(root / "Annotations" / "480p" / "bear" / "00001.png")
    results = guarded(lambda: {r.id: r for r in scan(open_dataset("davis", root))}, [fifo])
    assert results["surf"].sequence is not None
    (problem,) = results["bear"].problems
    assert results["bear"].sequence is None and Path(problem.file) == fifo
    assert problem.message == "mask is not a regular file (a FIFO); replace it with a PNG file"


def test_davis_cut_short_mask_is_an_error_not_a_crash(tmp_path):
    root = make_davis(tmp_path, ["bear", "surf"])
    mask = root / "Annotations" / "480p" / "bear" / "00001.png"
    mask.write_bytes(mask.read_bytes()[:40])
    results = {r.id: r for r in scan(open_dataset("davis", root))}
    assert results["surf"].sequence is not None
    (problem,) = results["bear"].problems
    assert Path(problem.file) == mask and problem.message.startswith("mask cannot be read (")


@pytest.mark.parametrize("name", ["boxes.csv", "meta.json", "frames/1.jpg"])
def test_folder_fifos_are_refused(tmp_path, name):
    root = make_folder(tmp_path, ["clip", "good"])
    fifo = _fifo(root / "clip" / name)
    results = guarded(lambda: {r.id: r for r in scan(open_dataset("folder", root))}, [fifo])
    assert results["good"].sequence is not None and not results["good"].problems
    (problem,) = results["clip"].problems
    assert Path(problem.file) == fifo
    if name == "meta.json":   # optional: a warning, the sequence is kept
        assert results["clip"].sequence is not None and problem.severity == "warning"
        assert problem.message == "is not a regular file (a FIFO); ignored"
    else:
        assert results["clip"].sequence is None and problem.severity == "error"
        assert problem.message == ("frame is not a regular file (a FIFO)" if name.endswith(".jpg") else
                                   "file is not a regular file (a FIFO); replace it with a regular text file")


def test_decoders_refuse_fifos_and_devices_without_opening(tmp_path):
    fifo = _fifo(tmp_path / "frame.jpg")
    assert regular_file_problem(fifo) == "not a regular file (a FIFO)"
    assert guarded(lambda: inspect_image(fifo), [fifo]) == ImageInfo(problem="not a regular file (a FIFO)")
    for read in (read_rgb, read_gray, image_size):
        with pytest.raises(FrameReadError, match=rf"^frame {fifo}: not a regular file \(a FIFO\)$"):
            guarded(lambda: read(fifo), [fifo])
    if os.path.exists("/dev/zero"):
        assert regular_file_problem("/dev/zero") == "not a regular file (a character device)"
    assert regular_file_problem(tmp_path) == "not a regular file (a folder)"
    assert regular_file_problem(tmp_path / "nothing.jpg") == "missing"


# --- mixed frame sizes ---------------------------------------------------------------------


def test_mixed_frame_sizes_are_an_error_naming_the_first_odd_frame(tmp_path):
    def break_it(folder: Path) -> Path:
        for k in (4, 6):
            cv2.imwrite(str(folder / f"{k:08d}.jpg"), np.zeros((H // 2, W // 2, 3), np.uint8))
        return folder / "00000004.jpg"

    broken, odd = _scan_got10k(tmp_path, break_it)
    (problem,) = broken.problems
    assert broken.sequence is None and Path(problem.file) == odd
    assert problem.message == (f"frame is {W // 2}x{H // 2} but the first frame 00000001.jpg is {W}x{H} "
                               "(1 more frames differ); all frames of a sequence must have one size "
                               "(resize the frames or split the sequence)")


def test_mixed_sizes_in_the_folder_format(tmp_path):
    root = make_folder(tmp_path, ["clip"])
    Image.fromarray(np.zeros((41, 50, 3), np.uint8)).save(root / "clip" / "frames" / "2.jpg")
    (result,) = scan(open_dataset("folder", root))
    (problem,) = result.problems
    assert result.sequence is None and Path(problem.file).name == "2.jpg"
    assert problem.message.startswith("frame is 50x41 but the first frame 0.jpg is 50x40; ")


def _image_bytes(fmt: str, size=(37, 53), **params) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(buf, format=fmt, **params)
    return buf.getvalue()


@pytest.mark.parametrize("fmt, params", [
    ("JPEG", {}), ("JPEG", {"progressive": True}), ("JPEG", {"exif": b"Exif\x00\x00" + b"\x00" * 20000}),
    ("PNG", {}), ("BMP", {}), ("WEBP", {}),
], ids=["jpeg", "progressive", "big-exif", "png", "bmp", "webp"])
def test_header_sizes_match_the_decoder(tmp_path, fmt, params):
    path = tmp_path / f"frame.{fmt.lower()}"
    path.write_bytes(_image_bytes(fmt, **params))
    info = inspect_image(path)
    assert info.problem is None and info.size == (37, 53) == read_rgb(path).shape[:2]
    assert image_size(path) == (37, 53)


# --- frames cut short ----------------------------------------------------------------------

JPEG_CUT = "cut short (the JPEG ends without its end-of-image marker FF D9); copy the file again from its source"


@pytest.mark.parametrize("keep", [0.5, -2, 300], ids=["half", "no-eoi", "inside-header"])
def test_cut_short_jpeg_is_detected_by_inspection_and_decoding(tmp_path, keep):
    data = _image_bytes("JPEG", size=(64, 80))
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "frame.jpg"
    path.write_bytes(data[:cut])
    info = inspect_image(path)
    assert info.problem == JPEG_CUT and info.truncated
    for read in (read_rgb, read_gray):
        with pytest.raises(TruncatedFrameError) as exc:
            read(path)
        assert exc.value.path == path and str(exc.value) == f"frame {path}: {JPEG_CUT}"
        assert isinstance(exc.value, FrameReadError)


def test_cut_short_frame_fails_the_scan_of_its_sequence(tmp_path):
    def break_it(folder: Path) -> Path:
        frame = folder / "00000005.jpg"
        frame.write_bytes(frame.read_bytes()[:-200])
        return frame

    broken, frame = _scan_got10k(tmp_path, break_it)
    (problem,) = broken.problems
    assert broken.sequence is None and Path(problem.file) == frame
    assert problem.message == f"frame is {JPEG_CUT}"


def test_cut_short_png_bmp_webp(tmp_path):
    for fmt, end in (("PNG", "the PNG ends without its IEND chunk"), ("BMP", "of the"), ("WEBP", "of the")):
        data = _image_bytes(fmt)
        path = tmp_path / f"frame.{fmt.lower()}"
        path.write_bytes(data[:len(data) - 100])
        info = inspect_image(path)
        assert info.truncated and info.problem.startswith("cut short (") and end in info.problem, info
        with pytest.raises(TruncatedFrameError):
            read_rgb(path)


@pytest.mark.parametrize("extra", [b"\x00" * 16, b"\xff\xff\r\n", b"\x00" * 5000, b"MP4DATA!" * 2000],
                         ids=["zeros", "fill-crlf", "long-padding", "appended-video"])
def test_whole_jpeg_with_trailing_bytes_is_fine(tmp_path, extra):
    data = _image_bytes("JPEG", size=(64, 80))
    path = tmp_path / "frame.jpg"
    path.write_bytes(data + extra)
    assert inspect_image(path) == ImageInfo("jpeg", (64, 80))
    np.testing.assert_array_equal(read_rgb(path), cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8),
                                                                            cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))


def test_sequence_read_frame_raises_truncated(tmp_path):
    split = make_got10k(tmp_path, [BAD_GOT])
    seq = open_dataset("got10k", split).load(BAD_GOT)
    frame = seq.frames[2]
    frame.write_bytes(frame.read_bytes()[:-50])   # cut after the scan, before decoding
    assert seq.read_frame(1).shape == (H, W, 3)
    with pytest.raises(TruncatedFrameError, match="00000003.jpg: cut short"):
        seq.read_frame(2)


def test_unreadable_frame_messages_are_unchanged(tmp_path):
    path = tmp_path / "frame.jpg"
    path.write_bytes(b"this is not a jpeg")
    with pytest.raises(FrameReadError, match=r"not an image \(unknown file header\)$"):
        read_rgb(path)
    path.write_bytes(b"")
    with pytest.raises(FrameReadError, match=r"empty file$"):
        read_rgb(path)
    with pytest.raises(FrameReadError, match=r"missing$"):
        read_rgb(tmp_path / "gone.jpg")
