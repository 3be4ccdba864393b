"""Which frames of a video get a mask.

Seed 001 (appendix D) annotates every GOT-10k frame, and every 5th LaSOT frame
up to 200 per video (LaSOT videos are long and slow).  When the stride leaves
more than ``max_frames`` candidates we keep ``max_frames`` of them spread evenly
over the whole video rather than the first ones, so the masks cover all of it.
"""

from __future__ import annotations

import numpy as np


def sample_indices(num_frames: int, *, every: int = 1, max_frames: int | None = None) -> np.ndarray:
    """Sorted ``int64`` frame indices: every ``every``-th frame, at most ``max_frames``."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    candidates = np.arange(0, num_frames, every, dtype=np.int64)
    if max_frames is None or candidates.size <= max_frames:
        return candidates
    picks = np.round(np.linspace(0, candidates.size - 1, max_frames)).astype(np.int64)
    return candidates[np.unique(picks)]
