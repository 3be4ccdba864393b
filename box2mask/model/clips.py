"""Which frames are segmented together at inference.

Seed 001 segments each frame with T - 1 support frames taken Delta frames
apart, sliding the clip one frame at a time, which decodes every frame T + 1
times.  We tile instead: the clips are built greedily over the frames to
annotate so that every target sits in exactly one clip whose members are about
Delta apart, and all members of a clip are outputs.  Each frame then sees T - 1
others at the same spacing, at a cost of two decodes (first pass and
refinement) per frame.  Where too few targets remain (sparse sampling, the end
of a video), the clip is filled with visible non-target frames at multiples of
Delta, and failing those, padded with zero-weight copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray      # (T,) frame indices (padding repeats a member)
    weights: np.ndarray     # (T,) 1.0 for real members, 0.0 for padding
    is_target: np.ndarray   # (T,) bool: output wanted for this member


def plan_clips(targets: np.ndarray, visible: np.ndarray, *, size: int, interval: int) -> list[Clip]:
    """Tile ``targets`` (visible frame indices) into clips of ``size`` frames about ``interval`` apart."""
    remaining = sorted(int(t) for t in targets)
    pending = set(remaining)
    vis = np.flatnonzero(visible)
    clips = []
    for first in remaining:
        if first not in pending:
            continue
        members = [first]
        pending.discard(first)
        cursor = first
        # further targets, each at least `interval` after the previous member
        for t in remaining:
            if len(members) == size:
                break
            if t in pending and t >= cursor + interval:
                members.append(t)
                pending.discard(t)
                cursor = t
        targets_in = set(members)
        # fill with visible frames at multiples of interval around the clip
        k = 1
        while len(members) < size and k <= 4 * size:
            for cand in (members[-1] + k * interval, members[0] - k * interval):
                if len(members) < size and 0 <= cand and _is_visible(cand, vis) and cand not in members:
                    members.append(cand)
            k += 1
        weights = [1.0] * len(members)
        while len(members) < size:  # too few visible frames: pad without weight
            members.append(members[len(members) % len(weights)])
            weights.append(0.0)
        order = np.argsort(members, kind="stable")
        frames = np.asarray(members, dtype=np.int64)[order]
        clips.append(Clip(frames, np.asarray(weights, np.float32)[order],
                          np.array([m in targets_in and w > 0 for m, w in zip(np.asarray(members)[order],
                                                                             np.asarray(weights)[order])])))
    return clips


def _is_visible(frame: int, visible_indices: np.ndarray) -> bool:
    i = np.searchsorted(visible_indices, frame)
    return i < visible_indices.size and visible_indices[i] == frame
