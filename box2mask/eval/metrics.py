"""DAVIS region (J) and boundary (F) measures, and their per-sequence statistics.

* J is the IoU of prediction and truth; an empty prediction against an empty
  truth scores 1 (DAVIS convention).
* F is the F-measure of boundary pixels matched within a tolerance of
  ``ceil(0.008 * image diagonal)`` pixels (disk-shaped), with DAVIS's
  conventions for empty boundaries (both empty: 1; one empty: 0).
* Void pixels (label 255 in DAVIS files), when given, count for neither.
* Per object: the mean over *all* its frames, the recall (share of frames
  scoring at least 0.5, and 0.7) and the decay (mean of the first quarter of
  the frames minus the mean of the last quarter).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

BOUNDARY_TOLERANCE = 0.008
RECALL_THRESHOLDS = (0.5, 0.7)


def jaccard(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> float:
    """Region similarity J of two ``(H, W) bool`` masks."""
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    if void is not None:
        keep = ~np.asarray(void, bool)
        pred, gt = pred & keep, gt & keep
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
    radius = int(radius)
    r = np.arange(-radius, radius + 1)
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius).astype(np.uint8)


def tolerance_pixels(shape: tuple[int, int], tolerance: float = BOUNDARY_TOLERANCE) -> int:
    """Tolerance in pixels: ``tolerance`` itself when >= 1, else that fraction of the image diagonal, rounded up."""
    return int(tolerance) if tolerance >= 1 else int(math.ceil(tolerance * math.hypot(*shape)))


def f_measure(pred: np.ndarray, gt: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE,
              void: np.ndarray | None = None) -> float:
    """Boundary accuracy F of two ``(H, W) bool`` masks."""
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    if void is not None:
        keep = ~np.asarray(void, bool)
        pred, gt = pred & keep, gt & keep
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


def frame_scores(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> tuple[float, float]:
    """``(J, F)`` of one frame."""
    return jaccard(pred, gt, void), f_measure(pred, gt, void=void)


def recall(values: np.ndarray, threshold: float) -> float:
    """Share of frames scoring at least ``threshold``."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.mean(values >= threshold)) if values.size else float("nan")


def decay(values: np.ndarray) -> float:
    """Mean of the first quarter of the frames minus the mean of the last quarter (>0: it got worse)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan")
    quarter = max(1, math.ceil(values.size / 4))
    return float(values[:quarter].mean() - values[-quarter:].mean())


def statistics(values: np.ndarray) -> dict[str, float]:
    """``mean``, ``recall`` (>= 0.5), ``recall_0.7`` and ``decay`` of one object's per-frame scores."""
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()) if values.size else float("nan"),
            "recall": recall(values, RECALL_THRESHOLDS[0]),
            "recall_0.7": recall(values, RECALL_THRESHOLDS[1]),
            "decay": decay(values)}
