"""Box conventions and conversions (see :mod:`box2mask.structures` for the convention).

Named after the conventions they convert between, so a reader never guesses.
"""

from __future__ import annotations

import numpy as np


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` ``x, y, w, h`` (top-left + size) to ``x0, y0, x1, y1``."""
    b = np.asarray(boxes, dtype=np.float64)
    out = b.copy()
    out[..., 2] = b[..., 0] + b[..., 2]
    out[..., 3] = b[..., 1] + b[..., 3]
    return out


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """``x0, y0, x1, y1`` to COCO-style ``x, y, w, h``."""
    b = np.asarray(boxes, dtype=np.float64)
    out = b.copy()
    out[..., 2] = b[..., 2] - b[..., 0]
    out[..., 3] = b[..., 3] - b[..., 1]
    return out


def clip_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Clip ``x0, y0, x1, y1`` boxes to the image ``[0, width] x [0, height]``."""
    b = np.asarray(boxes, dtype=np.float64).copy()
    b[..., 0::2] = np.clip(b[..., 0::2], 0.0, float(width))
    b[..., 1::2] = np.clip(b[..., 1::2], 0.0, float(height))
    return b


def box_area(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise IoU of two broadcastable ``(..., 4)`` box arrays; NaN boxes give 0."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    x0 = np.maximum(a[..., 0], b[..., 0])
    y0 = np.maximum(a[..., 1], b[..., 1])
    x1 = np.minimum(a[..., 2], b[..., 2])
    y1 = np.minimum(a[..., 3], b[..., 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = box_area(a) + box_area(b) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(iou, nan=0.0)


def box_from_mask(mask: np.ndarray) -> np.ndarray:
    """Tight ``x0, y0, x1, y1`` box of a boolean mask; all-NaN when the mask is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.full(4, np.nan)
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=np.float64)


def box_pixel_bounds(box: np.ndarray, height: int, width: int) -> tuple[int, int, int, int]:
    """Integer ``(r0, r1, c0, c1)`` slice bounds of the pixels whose centres lie in ``box``.

    A box always covers at least one pixel if it has positive size inside the image.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    c0 = int(np.clip(np.floor(x0 + 0.5), 0, width - 1))
    r0 = int(np.clip(np.floor(y0 + 0.5), 0, height - 1))
    c1 = int(np.clip(np.ceil(x1 - 0.5), c0 + 1, width))
    r1 = int(np.clip(np.ceil(y1 - 0.5), r0 + 1, height))
    return r0, r1, c0, c1


def box_to_mask(box: np.ndarray, height: int, width: int) -> np.ndarray:
    """Render a box as a filled ``(H, W) bool`` mask (empty for a NaN box)."""
    mask = np.zeros((height, width), dtype=bool)
    if np.isnan(box).any():
        return mask
    r0, r1, c0, c1 = box_pixel_bounds(box, height, width)
    mask[r0:r1, c0:c1] = True
    return mask
