"""The stream's memory is bounded by construction: frames are decoded once, just in time, and dropped."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest

import box2mask.motion.stream as stream
from box2mask.motion.config import PRESETS
from box2mask.structures import Sequence, Track

H, W = 96, 128


def _fake_sequence(n: int) -> Sequence:
    """A sequence whose 'files' are never on disk: decoding is replaced below."""
    boxes = np.tile([40.0, 30.0, 70.0, 60.0], (n, 1))
    paths = tuple(Path(f"/nonexistent/{i:05d}.jpg") for i in range(n))
    return Sequence(id=f"fake{n}", dataset="synthetic", frames=paths,
                    tracks=(Track(1, boxes, np.ones(n, bool)),), image_size=(H, W))


@pytest.fixture
def decode_log(monkeypatch):
    """Replace frame decoding by a textured, panning synthetic frame; record which index is decoded when."""
    log: list[int] = []
    rng = np.random.default_rng(0)
    world = cv2.GaussianBlur(rng.integers(0, 255, (H + 200, W + 400, 3), dtype=np.uint8), (0, 0), 1.0)

    def fake_read_rgb(path, reduce=1):
        i = int(Path(path).stem)
        log.append(i)
        return np.ascontiguousarray(world[50:50 + H, 2 * i:2 * i + W])

    monkeypatch.setattr(stream, "read_rgb", fake_read_rgb)
    return log


def test_each_frame_is_decoded_once_and_never_far_ahead(decode_log):
    n = 12
    for frame in stream.motion_maps(_fake_sequence(n), config=PRESETS["full"]):
        # when the map of frame k is handed out, nothing beyond k + 1 has been decoded
        assert max(decode_log) <= frame.index + 1
    assert decode_log == list(range(n))


def test_a_subset_decodes_only_the_neighbours(decode_log):
    list(stream.motion_maps(_fake_sequence(40), config=PRESETS["full"], indices=[10, 30]))
    assert decode_log == [9, 10, 11, 29, 30, 31]


def test_peak_memory_does_not_grow_with_the_video(decode_log):
    def peak(n: int) -> int:
        seq = _fake_sequence(n)
        tracemalloc.start()
        for _ in stream.motion_maps(seq, config=PRESETS["full"]):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(4)  # warm caches
    short, long = peak(10), peak(60)
    frame_bytes = H * W * 4
    assert long - short < frame_bytes, (short, long)
    assert short < stream.MAX_LIVE_FRAMES * 10 * frame_bytes


def test_each_adjacent_pair_is_registered_once(decode_log, monkeypatch):
    calls = []
    real = stream.register

    def counting(prev, cur, boxes, **kwargs):
        calls.append((prev.ctypes.data, cur.ctypes.data))
        return real(prev, cur, boxes, **kwargs)

    monkeypatch.setattr(stream, "register", counting)
    frames = list(stream.motion_maps(_fake_sequence(9), config=PRESETS["full"]))
    assert len(calls) == 8   # n - 1 pairs for 9 maps that each use two pairs
    assert all(f.diagnostics.sides in ("both", "next", "prev") for f in frames)
    # the pair (t, t+1) behind frame t's forward map is the same object as behind frame t+1's backward map
    for a, b in zip(frames, frames[1:]):
        assert a.diagnostics.next is b.diagnostics.prev
