"""Temporal Matching (Eq. 2): keep the backward map only where the forward map agrees.

``|F(t) - A(t-1)|`` lights up the object where it is now *and* where it was
(a ghost).  The forward map ``|F(t) - A(t+1)|`` lights up the object now and
where it will be.  Eq. 2 keeps ``M'(t-1)`` except where it exceeds ``M'(t+1)`` by
``tau2`` or more, which removes the ghost and keeps the object.
"""

from __future__ import annotations

import numpy as np


def temporal_match(prev: np.ndarray | None, prev_valid: np.ndarray | None, nxt: np.ndarray | None,
                   next_valid: np.ndarray | None, *, tau2: float) -> tuple[np.ndarray, np.ndarray]:
    """Combine the backward and forward differences ``(h, w) float32`` into one ``(map, valid)``.

    Where both sides are valid: Eq. 2, ``prev if prev - next < tau2 else 0``.
    Where only one side is valid (image borders after warping, the first and last
    frame, a side whose registration failed) that side is used alone; where
    neither is, the result is 0 and invalid.
    """
    if prev is None and nxt is None:
        raise ValueError("temporal_match needs at least one side")
    if nxt is None:
        return prev, prev_valid
    if prev is None:
        return nxt, next_valid
    both = prev_valid & next_valid
    out = np.where(both & (prev - nxt >= tau2), np.float32(0.0), prev)
    only_next = next_valid & ~prev_valid
    out = np.where(only_next, nxt, out).astype(np.float32, copy=False)
    return out, prev_valid | next_valid
