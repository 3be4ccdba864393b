"""DAVIS region (J) and boundary (F) measures.

* J is the IoU of prediction and truth; an empty prediction against an empty
  truth scores 1 (DAVIS convention).
* F is the F-measure of boundary pixels matched within a tolerance of
  ``ceil(0.008 * image diagonal)`` pixels (disk-shaped), with DAVIS's
  conventions for empty boundaries (both empty: 1; one empty: 0).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

BOUNDARY_TOLERANCE = 0.008


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    """Region similarity J of two ``(H, W) bool`` masks."""
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary: pixels that differ from their right, lower or lower-right neighbour."""
    m = np.asarray(mask, bool)
    right = np.zeros_like(m)
    down = np.zeros_like(m)
    diag = np.zeros_like(m)
    right[:, :-1] = m[:, 1:]
    down[:-1, :] = m[1:, :]
    diag[:-1, :-1] = m[1:, 1:]
    b = (m ^ right) | (m ^ down) | (m ^ diag)
    b[-1, :] = m[-1, :] ^ right[-1, :]
    b[:, -1] = m[:, -1] ^ down[:, -1]
    b[-1, -1] = False
    return b


def disk(radius: int) -> np.ndarray:
    """``uint8`` disk structuring element: offsets with ``dx^2 + dy^2 <= radius^2``."""
    r = np.arange(-radius, radius + 1)
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius).astype(np.uint8)


def tolerance_pixels(shape: tuple[int, int], tolerance: float = BOUNDARY_TOLERANCE) -> int:
    return tolerance if tolerance >= 1 else int(math.ceil(tolerance * math.hypot(*shape)))


def f_measure(pred: np.ndarray, gt: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE) -> float:
    """Boundary accuracy F of two ``(H, W) bool`` masks."""
    pb, gb = boundary_map(pred), boundary_map(gt)
    n_pred, n_gt = int(pb.sum()), int(gb.sum())
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    kernel = disk(tolerance_pixels(pb.shape, tolerance))
    gt_near = cv2.dilate(gb.astype(np.uint8), kernel).astype(bool)
    pred_near = cv2.dilate(pb.astype(np.uint8), kernel).astype(bool)
    precision = np.count_nonzero(pb & gt_near) / n_pred
    recall = np.count_nonzero(gb & pred_near) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def frame_scores(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """``(J, F)`` of one frame."""
    return jaccard(pred, gt), f_measure(pred, gt)
