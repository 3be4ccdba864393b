"""Box Filter: where background points may be sampled, and well-spread corners there.

Points on the annotated object move with the object, not the camera; fitting the
camera motion to them would cancel the very motion we want to see.  So points are
taken only outside every box (grown by a margin, because boxes are loose and
objects have shadows), and one per grid cell so that a textured corner of the
image cannot supply all of them and leave the homography poorly conditioned.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def allowed_region(shape: tuple[int, int], boxes: np.ndarray | None, *, scale: tuple[float, float] = (1.0, 1.0),
                   margin: float = 0.1, margin_px: float = 8.0, border: int = 0) -> np.ndarray:
    """``(h, w) bool``: True where background points may be sampled.

    ``boxes`` is ``(N, 4) float64`` ``x0, y0, x1, y1`` in *full-resolution* continuous
    pixels (rows with NaN are ignored, ``None`` or empty = no box); ``scale`` is
    ``(sx, sy)``, full-resolution pixels per pixel of ``shape``.  Each box grows by
    ``margin`` of its size plus ``margin_px`` full-resolution pixels on every side.
    ``border`` pixels along the image edge are excluded too (LK is unreliable there).
    """
    h, w = shape
    allowed = np.ones((h, w), bool)
    if border > 0:
        allowed[:border] = allowed[-border:] = False
        allowed[:, :border] = allowed[:, -border:] = False
    if boxes is None:
        return allowed
    sx, sy = scale
    for x0, y0, x1, y1 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        if not np.isfinite([x0, y0, x1, y1]).all():
            continue
        mx = margin * (x1 - x0) + margin_px
        my = margin * (y1 - y0) + margin_px
        c0 = max(0, math.floor((x0 - mx) / sx))
        c1 = min(w, math.ceil((x1 + mx) / sx))
        r0 = max(0, math.floor((y0 - my) / sy))
        r1 = min(h, math.ceil((y1 + my) / sy))
        if c1 > c0 and r1 > r0:
            allowed[r0:r1, c0:c1] = False
    return allowed


def sample_points(gray: np.ndarray, allowed: np.ndarray | None = None, *, rows: int = 12, cols: int = 16,
                  quality: float = 0.02, min_strength: float = 1e-4) -> np.ndarray:
    """``(N, 2) float32`` ``x, y`` corners, at most one per cell of a ``rows x cols`` grid.

    ``gray`` is ``(h, w) uint8``.  A cell contributes its strongest corner (minimum
    eigenvalue of the structure tensor) inside ``allowed`` when that corner reaches
    ``quality`` times the frame's strongest one and ``min_strength`` in absolute
    terms; a textureless frame therefore gives no points, rather than noise.
    """
    h, w = gray.shape
    rows = max(1, min(rows, h // 4))
    cols = max(1, min(cols, w // 4))
    strength = cv2.cornerMinEigenVal(gray, 3)
    if allowed is not None:
        strength[~allowed] = 0.0
    ch, cw = h // rows, w // cols
    cells = strength[: rows * ch, : cols * cw].reshape(rows, ch, cols, cw).transpose(0, 2, 1, 3)
    cells = cells.reshape(rows * cols, ch * cw)
    best = cells.argmax(axis=1)
    value = cells[np.arange(rows * cols), best]
    peak = float(value.max()) if value.size else 0.0
    keep = value >= max(quality * peak, min_strength)
    cell = np.flatnonzero(keep)
    y = (cell // cols) * ch + best[keep] // cw
    x = (cell % cols) * cw + best[keep] % cw
    return np.stack([x, y], axis=1).astype(np.float32)
