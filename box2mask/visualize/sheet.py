"""Contact sheets: many frames as one picture, to judge a sequence at a glance."""

from __future__ import annotations

import math

import cv2
import numpy as np


def fit_width(image: np.ndarray, width: int) -> np.ndarray:
    """``image`` resized to ``width`` pixels wide, aspect kept."""
    h, w = image.shape[:2]
    if w == width:
        return image
    height = max(1, round(h * width / w))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if width < w else cv2.INTER_LINEAR)


def contact_sheet(tiles: list[np.ndarray], *, columns: int = 6, tile_width: int = 240, gap: int = 4,
                  background: tuple[int, int, int] = (24, 24, 24)) -> np.ndarray:
    """``(H, W, 3) uint8`` grid of ``tiles`` (RGB, any sizes), each scaled to ``tile_width``."""
    if not tiles:
        raise ValueError("a contact sheet needs at least one tile")
    scaled = [fit_width(t, tile_width) for t in tiles]
    columns = max(1, min(columns, len(scaled)))
    rows = math.ceil(len(scaled) / columns)
    cell_h = max(t.shape[0] for t in scaled)
    sheet = np.empty((rows * cell_h + (rows + 1) * gap, columns * tile_width + (columns + 1) * gap, 3), np.uint8)
    sheet[:] = background
    for k, tile in enumerate(scaled):
        r, c = divmod(k, columns)
        y, x = gap + r * (cell_h + gap), gap + c * (tile_width + gap)
        sheet[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    return sheet


def evenly(count: int, k: int) -> list[int]:
    """``min(k, count)`` positions spread evenly over ``range(count)``, first and last included."""
    if count <= 0 or k <= 0:
        return []
    if k >= count:
        return list(range(count))
    return sorted({int(round(v)) for v in np.linspace(0, count - 1, k)})


def crop_around(image: np.ndarray, boxes, *, context: float = 0.75, min_side: int = 64) -> np.ndarray:
    """The part of ``image`` around ``boxes`` (continuous ``x0, y0, x1, y1``; ``None`` or NaN ones are
    ignored), with ``context`` times the larger box side added on every side and at least
    ``min_side`` pixels each way, clipped to the image.  The whole image when no box is usable.

    A thumbnail of a whole frame shrinks a small object to a few pixels; cropped first, the
    mask's outline against the box can still be judged.
    """
    usable = [np.asarray(b, np.float64) for b in boxes
              if b is not None and np.all(np.isfinite(np.asarray(b, np.float64)))]
    h, w = image.shape[:2]
    if not usable:
        return image
    x0 = min(b[0] for b in usable)
    y0 = min(b[1] for b in usable)
    x1 = max(b[2] for b in usable)
    y1 = max(b[3] for b in usable)
    pad = context * max(x1 - x0, y1 - y0, 1.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w = max((x1 - x0) / 2 + pad, min_side / 2)
    half_h = max((y1 - y0) / 2 + pad, min_side / 2)
    c0, c1 = int(max(0, np.floor(cx - half_w))), int(min(w, np.ceil(cx + half_w)))
    r0, r1 = int(max(0, np.floor(cy - half_h))), int(min(h, np.ceil(cy + half_h)))
    if c1 - c0 < 1 or r1 - r0 < 1:
        return image
    return image[r0:r1, c0:c1]
