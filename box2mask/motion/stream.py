"""Motion maps over a whole sequence, streamed with a constant number of frames in memory.

For frame ``t`` the map needs frames ``t-1``, ``t`` and ``t+1`` and the two
registrations between them.  Each frame is decoded once and each adjacent pair
registered once: the registration ``t -> t+1`` warps ``t`` forward for the
backward map of ``t+1`` and its inverse warps ``t+1`` back for the forward map
of ``t``.  At most three decoded frames and two registrations are held at any
time, whatever the length of the video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from box2mask.errors import FrameReadError
from box2mask.frames import read_gray, read_rgb
from box2mask.motion.config import MotionConfig
from box2mask.motion.maps import difference, normalise, prepare, warp
from box2mask.motion.registration import Registration, downscale, register, rescale_homography
from box2mask.motion.temporal import temporal_match
from box2mask.structures import Sequence

MAX_LIVE_FRAMES = 3
"""Decoded frames the stream holds at once (t-1, t, t+1)."""


@dataclass(frozen=True)
class MotionDiagnostics:
    """Why a map looks the way it does.

    ``prev`` is the registration ``t-1 -> t`` behind the backward map, ``next``
    the registration ``t -> t+1`` behind the forward map (None when that side was
    not used).  ``sides`` is ``"both"``, ``"prev"`` or ``"next"`` (one-sided maps:
    first/last frame, no temporal matching, or the other side's registration
    failed).  ``peak`` is the normalisation divisor in difference units.
    """

    prev: Registration | None
    next: Registration | None
    sides: str
    peak: float

    @property
    def fallback(self) -> str | None:
        """The worst fallback among the registrations used (identity > similarity > None)."""
        used = [r.fallback for r in (self.prev, self.next) if r is not None and r.fallback]
        return "identity" if "identity" in used else (used[0] if used else None)

    @property
    def inliers(self) -> int:
        used = [r.inliers for r in (self.prev, self.next) if r is not None]
        return min(used) if used else 0

    @property
    def reprojection_error(self) -> float:
        used = [r.reprojection_error for r in (self.prev, self.next) if r is not None]
        used = [e for e in used if not math.isnan(e)]
        return max(used) if used else float("nan")

    def as_dict(self) -> dict:
        return {
            "sides": self.sides, "peak": float(self.peak), "fallback": self.fallback,
            "inliers": self.inliers,
            "reprojection_error": None if math.isnan(self.reprojection_error) else self.reprojection_error,
            "prev": None if self.prev is None else self.prev.as_dict(),
            "next": None if self.next is None else self.next.as_dict(),
        }


@dataclass(frozen=True)
class MotionFrame:
    """The motion of frame ``index``.

    ``map`` is ``(h', w') float32`` in [0, 1] at the processing resolution
    (see :func:`processing_reduce`); ``valid`` ``(h', w') bool`` is False where no
    neighbour covered the pixel after warping (the map holds 0 there).
    """

    index: int
    map: np.ndarray
    valid: np.ndarray
    diagnostics: MotionDiagnostics


def processing_reduce(image_size: tuple[int, int], max_side: int) -> int:
    """The libjpeg reduction (1, 2, 4 or 8) giving the largest long side <= ``max_side``."""
    for r in (1, 2, 4, 8):
        if math.ceil(max(image_size) / r) <= max_side:
            return r
    return 8


def frame_boxes(sequence: Sequence, index: int) -> np.ndarray:
    """``(N, 4)`` boxes of every track present in frame ``index`` (no NaN rows)."""
    boxes = [t.boxes[index] for t in sequence.tracks if np.isfinite(t.boxes[index]).all()]
    return np.array(boxes, np.float64).reshape(-1, 4)


@dataclass
class _Frame:
    prepared: np.ndarray   # (h', w', C+1) uint8, colour space + alpha
    gray: np.ndarray       # (h'', w'') uint8, shrunk once for registration
    size: tuple[int, int]  # (h', w') processing size
    boxes: np.ndarray      # (N, 4) full-resolution boxes


def _needed(t: int, n: int, temporal: bool) -> list[int]:
    """Frames the map of ``t`` uses: t-1 and t+1 with temporal matching, else t-1 (t+1 for the first)."""
    if n == 1:
        return [t]
    if temporal:
        return [i for i in (t - 1, t, t + 1) if 0 <= i < n]
    return [t - 1, t] if t > 0 else [t, t + 1]


def motion_maps(sequence: Sequence, *, config: MotionConfig = MotionConfig(),
                indices: Iterable[int] | None = None) -> Iterator[MotionFrame]:
    """Yield a :class:`MotionFrame` for each frame of ``indices`` (default all), in increasing order.

    Streaming: frames are decoded as they are needed and dropped as soon as no
    later map needs them, so memory does not grow with the video.  A frame that
    cannot be decoded raises :class:`~box2mask.errors.FrameReadError` naming it.
    A one-frame sequence gets an all-zero map.
    """
    n = len(sequence)
    wanted = sorted({int(i) for i in (range(n) if indices is None else indices)})
    if wanted and (wanted[0] < 0 or wanted[-1] >= n):
        raise IndexError(f"{sequence.id}: frame index out of range 0..{n - 1}")
    full = sequence.image_size
    reduce = processing_reduce(full, config.max_side)
    frames: dict[int, _Frame] = {}
    pairs: dict[int, Registration] = {}   # key t: registration t -> t+1
    proc_size: list[tuple[int, int]] = []

    def load(i: int) -> _Frame:
        path = sequence.frames[i]
        if config.colour_space == "lab":
            image = read_rgb(path, reduce=reduce)
            gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        else:
            image = gray = read_gray(path, reduce=reduce)
        if not proc_size:
            proc_size.append(gray.shape[:2])
        elif gray.shape[:2] != proc_size[0]:
            raise FrameReadError(f"frame {path}: size {gray.shape[1] * reduce}x{gray.shape[0] * reduce} (decoded "
                                 f"at 1/{reduce}) differs from the sequence's first frame")
        return _Frame(prepare(image, config=config), downscale(gray, config.register_side), gray.shape[:2],
                      frame_boxes(sequence, i))

    def pair(t: int) -> Registration:
        if t not in pairs:
            a, b = frames[t], frames[t + 1]
            boxes = np.concatenate([a.boxes, b.boxes])
            pairs[t] = register(a.gray, b.gray, boxes, config=config, full_size=full)
        return pairs[t]

    for t in wanted:
        need = _needed(t, n, config.temporal)
        for i in list(frames):
            if i not in need:
                del frames[i]
        for k in list(pairs):
            if k not in need or k + 1 not in need:
                del pairs[k]
        for i in need:
            if i not in frames:
                frames[i] = load(i)
        assert len(frames) <= MAX_LIVE_FRAMES
        yield _frame_map(t, need, frames, pair, full, config)


def _frame_map(t: int, need: list[int], frames: dict[int, _Frame], pair, full: tuple[int, int],
               config: MotionConfig) -> MotionFrame:
    cur = frames[t]
    size = cur.size
    prev_reg = next_reg = None
    d_prev = v_prev = d_next = v_next = None
    if t - 1 in need:
        prev_reg = pair(t - 1)
        h = rescale_homography(prev_reg.homography, full, size)
        d_prev, v_prev = difference(cur.prepared, warp(frames[t - 1].prepared, h), config=config)
    if t + 1 in need:
        next_reg = pair(t)
        h = rescale_homography(next_reg.inverse(), full, size)
        d_next, v_next = difference(cur.prepared, warp(frames[t + 1].prepared, h), config=config)
    # a side whose registration failed is dropped when the other side is sound
    if prev_reg is not None and next_reg is not None and prev_reg.trusted != next_reg.trusted:
        if prev_reg.trusted:
            next_reg, d_next, v_next = None, None, None
        else:
            prev_reg, d_prev, v_prev = None, None, None
    if d_prev is None and d_next is None:   # a one-frame sequence
        zero = np.zeros(size, np.float32)
        return MotionFrame(t, zero, np.zeros(size, bool), MotionDiagnostics(None, None, "none", 0.0))
    d, valid = temporal_match(d_prev, v_prev, d_next, v_next, tau2=config.tau2)
    sides = "both" if d_prev is not None and d_next is not None else ("prev" if d_prev is not None else "next")
    motion, peak = normalise(d, valid, config=config)
    return MotionFrame(t, motion, valid, MotionDiagnostics(prev_reg, next_reg, sides, peak))
