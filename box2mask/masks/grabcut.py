"""Box-initialised GrabCut on a crop around the box: the classical segmentation, as plain functions.

Used by the ``grabcut`` method (:mod:`box2mask.methods.grabcut`) and by the network's
fallback (:mod:`box2mask.model.postprocess`).  GrabCut's k-means start is seeded, so
the same frame gives the same mask in any process.
"""

from __future__ import annotations

import cv2
import numpy as np

CONTEXT, MAX_SIDE, ITERATIONS = 0.5, 400, 5   # the reference settings (J&F 0.672 on davis16-dev)


def crop_around(image: np.ndarray, box: np.ndarray, *, context: float, max_side: int):
    """``(crop, window (x0, y0, x1, y1) in the frame, box rectangle (x, y, w, h) in the crop)``.

    ``context`` x the box's size on each side, the crop's long side at most ``max_side``.
    """
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    cx0 = int(max(0, np.floor(x0 - context * bw)))
    cy0 = int(max(0, np.floor(y0 - context * bh)))
    cx1 = int(min(w, np.ceil(x1 + context * bw)))
    cy1 = int(min(h, np.ceil(y1 + context * bh)))
    crop = image[cy0:cy1, cx0:cx1]
    scale = min(1.0, max_side / max(crop.shape[:2]))
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    ch, cw = crop.shape[:2]
    rx0 = int(np.clip(np.floor((x0 - cx0) * scale), 0, cw - 1))
    ry0 = int(np.clip(np.floor((y0 - cy0) * scale), 0, ch - 1))
    rx1 = int(np.clip(np.ceil((x1 - cx0) * scale), rx0 + 1, cw))
    ry1 = int(np.clip(np.ceil((y1 - cy0) * scale), ry0 + 1, ch))
    return crop, (cx0, cy0, cx1, cy1), (rx0, ry0, rx1 - rx0, ry1 - ry0)


def segment_crop(crop: np.ndarray, rect: tuple[int, int, int, int], *, iterations: int) -> np.ndarray:
    """GrabCut initialised from ``rect``: the crop's ``bool`` mask (the rectangle itself if GrabCut cannot run)."""
    rx, ry, rw, rh = rect
    box_only = np.zeros(crop.shape[:2], dtype=bool)
    box_only[ry:ry + rh, rx:rx + rw] = True
    # GrabCut needs some background and a rectangle of at least 2x2 pixels.
    if rw < 2 or rh < 2 or box_only.all():
        return box_only
    mask = np.zeros(crop.shape[:2], dtype=np.uint8)
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)  # GrabCut's k-means start is random: same frame, same mask, in any process
    try:
        cv2.grabCut(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), mask, rect, bgd, fgd, iterations,
                    cv2.GC_INIT_WITH_RECT)
    except cv2.error:
        return box_only
    out = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return out if out.any() else box_only


def paste_back(crop_mask: np.ndarray, window, height: int, width: int) -> np.ndarray:
    """A crop's mask resized back into its window of an ``(height, width)`` frame."""
    cx0, cy0, cx1, cy1 = (int(v) for v in window)
    full = np.zeros((height, width), dtype=bool)
    region = cv2.resize(crop_mask.astype(np.uint8), (cx1 - cx0, cy1 - cy0), interpolation=cv2.INTER_NEAREST)
    full[cy0:cy1, cx0:cx1] = region.astype(bool)
    return full


def grabcut_in_box(image: np.ndarray, box: np.ndarray, *, context: float = CONTEXT, max_side: int = MAX_SIDE,
                   iterations: int = ITERATIONS) -> np.ndarray:
    """The ``(H, W) bool`` GrabCut mask of one box in one frame."""
    crop, window, rect = crop_around(image, box, context=context, max_side=max_side)
    return paste_back(segment_crop(crop, rect, iterations=iterations), window, *image.shape[:2])
