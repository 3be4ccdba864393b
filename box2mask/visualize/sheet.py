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
