"""Ground-truth-free quality signals for a mask, stored with it in the shards.

Without masks to compare against, we can still ask: does the mask fill its box
the way a tight box implies (touching all four sides)?  Is its area plausible
for the box?  Does it agree with the previous mask once camera motion is
removed?  How confident was the model?  Each signal is in [0, 1]; the combined
score is their weighted geometric mean, so one bad signal pulls it down.
"""

from __future__ import annotations

import cv2
import numpy as np

from box2mask.boxes import box_area, box_from_mask, box_iou

WEIGHTS = {"box_iou": 2.0, "fill": 1.0, "temporal": 1.0, "confidence": 1.0}


def box_consistency(mask: np.ndarray, box: np.ndarray) -> float:
    """IoU between the mask's tight box and the given box (1 = the mask touches all four sides)."""
    return float(box_iou(box_from_mask(mask), box))


def fill_ratio(mask: np.ndarray, box: np.ndarray) -> float:
    """Mask area over box area (can exceed 1 if the mask leaks out of the box)."""
    area = float(box_area(np.asarray(box)))
    return float(np.count_nonzero(mask)) / area if area > 0 else 0.0


def fill_plausibility(fill: float) -> float:
    """How ordinary a fill ratio is: 1 between 0.25 and 0.95, falling off outside."""
    if fill < 0.25:
        return max(fill / 0.25, 0.0)
    if fill > 0.95:
        return max(1.0 - (fill - 0.95) / 0.3, 0.0)
    return 1.0


def temporal_iou(prev_mask: np.ndarray, mask: np.ndarray, homography: np.ndarray | None = None) -> float:
    """IoU of ``mask`` with ``prev_mask`` warped by ``homography`` (prev -> current frame)."""
    if homography is not None:
        h, w = mask.shape
        prev_mask = cv2.warpPerspective(prev_mask.astype(np.uint8), homography, (w, h),
                                        flags=cv2.INTER_NEAREST).astype(bool)
    union = np.count_nonzero(prev_mask | mask)
    return float(np.count_nonzero(prev_mask & mask) / union) if union else 1.0


def combined_score(*, box_iou: float, fill: float, temporal: float | None, confidence: float | None) -> float:
    """Weighted geometric mean of the available signals, in [0, 1]."""
    parts = {"box_iou": box_iou, "fill": fill_plausibility(fill)}
    if temporal is not None and not np.isnan(temporal):
        parts["temporal"] = temporal
    if confidence is not None and not np.isnan(confidence):
        parts["confidence"] = confidence
    total = sum(WEIGHTS[k] for k in parts)
    log_sum = sum(WEIGHTS[k] * np.log(max(v, 1e-6)) for k, v in parts.items())
    return float(np.exp(log_sum / total))


def mask_qa(mask: np.ndarray, box: np.ndarray, confidence: float | None,
            prev_mask: np.ndarray | None = None, homography: np.ndarray | None = None) -> dict[str, float | None]:
    """All QA fields for one mask, keyed as the shard columns (``qa_*``)."""
    iou = box_consistency(mask, box)
    fill = fill_ratio(mask, box)
    temporal = temporal_iou(prev_mask, mask, homography) if prev_mask is not None else None
    return {"qa_box_iou": iou, "qa_fill": fill, "qa_temporal": temporal,
            "qa_score": combined_score(box_iou=iou, fill=fill, temporal=temporal, confidence=confidence)}
