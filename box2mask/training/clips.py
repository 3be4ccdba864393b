"""Training clips from box-annotated sequences: T frames, cropped around their boxes.

Only :class:`~box2mask.structures.Sequence` objects come in (frames and boxes);
nothing here can see a mask.  For each clip we pick T visible frames within a
temporal window, cut a square crop around each frame's box with random shift
and scale (so the object is not always dead centre: the probe on davis16-dev
found that deep features learn "centre = object" otherwise), flip the whole
clip at random and jitter colours a little.

A clip is a dict of numpy arrays (``images (T, S, S, 3) uint8``, ``boxes
(T, S, S) float32`` the box drawn in crop coordinates, ``valid (T, S, S)`` pixels
that come from inside the image, ``motion (T, S, S) float32`` (zeros without a
motion source; ``has_motion`` says which), ``teacher (T, S, S) float32`` the
pseudo-mask, ``teacher_trusted (T, S, S)`` 0 in the band around its boundary
that ``teacher_band`` leaves out, ``taught (T,)`` each frame's teacher weight) so
it can be built in a worker process and pickled cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from box2mask.crops import box_in_crop, extract, square_window
from box2mask.structures import Sequence

MotionSource = Callable[[Sequence, int], np.ndarray | None]  # (sequence, frame) -> (H', W') float32 or None
# a teacher: (sequence, frame) -> ((H, W) float32 pseudo-mask, weight) or None
MaskSource = Callable[[Sequence, int], tuple[np.ndarray, float] | None]


@dataclass(frozen=True)
class ClipConfig:
    frames: int = 3            # T (seed 001 trains with 3)
    window: int = 60           # frames are drawn within this many consecutive frames (seed 001: 100)
    min_gap: int = 2           # ... at least this far apart, when the window allows
    crop_size: int = 192
    context: tuple[float, float] = (2.0, 3.2)   # crop side / sqrt(box area), drawn uniformly
    shift: float = 0.12        # max centre shift, as a fraction of the crop side
    scale_jitter: float = 0.15  # log-scale jitter of the side
    flip: bool = True
    colour_jitter: float = 0.1
    teacher_band: int = 0      # crop pixels each side of the teacher's boundary left out of its loss (0: none)
    min_cover: float = 1.25    # the crop side is at least this times the box's longer side


def pick_frames(visible: np.ndarray, rng: np.random.Generator, config: ClipConfig) -> np.ndarray | None:
    """T visible frame indices within a window (sorted), or ``None`` if the track has too few."""
    idx = np.flatnonzero(visible)
    if idx.size == 0:
        return None
    if idx.size < config.frames:
        return np.sort(rng.choice(idx, config.frames, replace=True))
    anchor = int(rng.choice(idx))
    lo, hi = anchor - config.window // 2, anchor + config.window // 2
    pool = idx[(idx >= lo) & (idx <= hi)]
    if pool.size < config.frames:
        pool = idx
    for _ in range(8):
        pick = np.sort(rng.choice(pool, config.frames, replace=False))
        if config.frames == 1 or np.diff(pick).min() >= config.min_gap:
            return pick
    return pick


def _crop_map(full: np.ndarray | None, sequence: Sequence, window, size: int) -> np.ndarray | None:
    """A full-frame map (any resolution) resampled into the crop; ``None`` stays ``None``."""
    if full is None:
        return None
    if full.shape != (sequence.height, sequence.width):
        full = cv2.resize(full, (sequence.width, sequence.height), interpolation=cv2.INTER_LINEAR)
    return extract(full.astype(np.float32), window, size)


def away_from_boundary(teacher: np.ndarray, band: int) -> np.ndarray:
    """1 where the pseudo-mask is trusted, 0 within ``band`` pixels of its boundary (where GrabCut errs most)."""
    if band <= 0:
        return np.ones(teacher.shape, np.float32)
    mask = (teacher >= 0.5).astype(np.uint8)
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    return (cv2.dilate(mask, kernel) == cv2.erode(mask, kernel)).astype(np.float32)


def make_clip(sequence: Sequence, track_index: int, frames: np.ndarray, rng: np.random.Generator,
              config: ClipConfig, motion: MotionSource | None = None, teacher: MaskSource | None = None,
              maps: dict[str, MotionSource] | None = None) -> dict:
    """One clip (see the module docstring); ``maps`` adds further full-frame maps, each cropped like
    the frames under its own key (``(T, S, S) float32``, zeros where a map is missing)."""
    track = sequence.tracks[track_index]
    size = config.crop_size
    context = rng.uniform(*config.context)
    flip = config.flip and rng.random() < 0.5
    images, boxes, valid, motions, teachers, trusted, taught = [], [], [], [], [], [], []
    extra: dict[str, list[np.ndarray]] = {}
    ones = np.ones((sequence.height, sequence.width), np.uint8)
    for f in frames:
        jitter = np.array([rng.uniform(-config.shift, config.shift), rng.uniform(-config.shift, config.shift),
                           rng.normal(0, config.scale_jitter)])
        window = square_window(track.boxes[f], context=context, min_cover=config.min_cover, jitter=jitter)
        image = extract(sequence.read_frame(int(f)), window, size)
        box = box_in_crop(window, track.boxes[f], size)
        inside = extract(ones, window, size, interpolation=cv2.INTER_NEAREST).astype(np.float32)
        m = _crop_map(motion(sequence, int(f)) if motion else None, sequence, window, size)
        taught_by = teacher(sequence, int(f)) if teacher else None
        t = _crop_map(taught_by[0], sequence, window, size) if taught_by else None
        images.append(image)
        boxes.append(box)
        valid.append(inside)
        motions.append(m if m is not None else np.zeros((size, size), np.float32))
        teachers.append(t if t is not None else np.zeros((size, size), np.float32))
        trusted.append(away_from_boundary(t, config.teacher_band) if t is not None else np.ones((size, size), np.float32))
        taught.append(np.float32(taught_by[1] if taught_by else 0.0))
        for key, source in (maps or {}).items():
            cropped = _crop_map(source(sequence, int(f)), sequence, window, size)
            extra.setdefault(key, []).append(cropped if cropped is not None else np.zeros((size, size), np.float32))
    clip = {"images": np.stack(images), "boxes": np.stack(boxes), "valid": np.stack(valid),
            "motion": np.stack(motions), "has_motion": np.float32(motion is not None),
            "teacher": np.stack(teachers), "teacher_trusted": np.stack(trusted),
            "taught": np.asarray(taught, np.float32),  # taught: teacher weight
            **{key: np.stack(v) for key, v in extra.items()}}
    if flip:
        for key in ("images", "boxes", "valid", "motion", "teacher", "teacher_trusted", *extra):
            clip[key] = np.ascontiguousarray(clip[key][:, :, ::-1])
    if config.colour_jitter:
        gain = 1 + rng.uniform(-config.colour_jitter, config.colour_jitter, 3)
        bias = rng.uniform(-config.colour_jitter, config.colour_jitter) * 255
        clip["images"] = np.clip(clip["images"].astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
    return clip


class ClipSampler:
    """Draws clips from a pool of sequences (weighted by source), reproducibly from a seed."""

    def __init__(self, sources: list[tuple[list[Sequence], float]], config: ClipConfig, *,
                 motion: MotionSource | None = None, teacher: MaskSource | None = None, seed: int = 0,
                 maps: dict[str, MotionSource] | None = None):
        self.pools = [(seqs, w) for seqs, w in sources if seqs]
        if not self.pools:
            raise ValueError("no training sequences with a visible box")
        weights = np.array([w for _, w in self.pools], dtype=np.float64)
        self.weights = weights / weights.sum()
        self.config, self.motion, self.teacher, self.maps = config, motion, teacher, maps
        self.rng = np.random.default_rng(seed)

    def sample(self) -> dict:
        while True:
            seqs, _ = self.pools[self.rng.choice(len(self.pools), p=self.weights)]
            seq = seqs[self.rng.integers(len(seqs))]
            k = int(self.rng.integers(len(seq.tracks)))
            frames = pick_frames(seq.tracks[k].visible, self.rng, self.config)
            if frames is not None:
                return make_clip(seq, k, frames, self.rng, self.config, self.motion, self.teacher, self.maps)

    def batch(self, size: int) -> dict:
        clips = [self.sample() for _ in range(size)]
        return {k: np.stack([c[k] for c in clips]) for k in clips[0]}

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def restore(self, state: dict) -> None:
        self.rng.bit_generator.state = state
