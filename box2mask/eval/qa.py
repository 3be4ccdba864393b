"""Ground-truth-free quality signals for a mask, stored with it in the shards.

Without masks to compare against, we can still ask: does the mask fill its box
the way a tight box implies (touching all four sides)?  Is its area plausible
for the box?  Does its shape agree with its neighbours in time once the
object's own motion (from the given boxes) is taken out?  How confident was the
model?  Each signal is in [0, 1]; the combined score is their weighted
geometric mean, so one bad signal pulls it down.

Temporal stability: each consecutive pair of visible masks of a track is
compared after warping the earlier mask so its box lands on the later box
(scale + shift, :func:`box_alignment`); a mask's signal is the mean over its
pairs with the previous and the next mask.  Measured on davis16-dev GrabCut
masks (``benchmarks/qa_ranking.py``), this ranks masks by true J far better
than comparing after *camera*-motion compensation, which keeps the object's
own motion in the difference (Spearman 0.55 vs -0.01; see docs/evaluation.md).
Camera compensation stays available as ``temporal="camera"``.
"""

from __future__ import annotations

import cv2
import numpy as np

from box2mask.boxes import box_area, box_from_mask, box_iou
from box2mask.errors import Box2MaskError

#: Tuned on 6 of the 18 davis16-dev sequences (benchmarks/qa_ranking.py); see docs/evaluation.md.
WEIGHTS = {"box_iou": 0.5, "fill": 0.5, "temporal": 1.0, "confidence": 0.5}
TEMPORAL_MODES = ("box", "camera", "none")


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


def box_alignment(prev_box: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """``(3, 3)`` homography (pixel-index coordinates) taking ``prev_box`` onto ``box``: scale + shift.

    Warping the previous mask with it removes the object's own motion and size
    change as the boxes report them, so what is left is change of *shape*.
    ``None`` when either box is missing or degenerate.
    """
    a, b = np.asarray(prev_box, np.float64), np.asarray(box, np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None
    w0, h0, w1, h1 = a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]
    if min(w0, h0, w1, h1) <= 0:
        return None
    sx, sy = w1 / w0, h1 / h0
    # continuous u' = b0 + s (u - a0) with u = index + 0.5, rewritten for pixel indices
    tx = b[0] + sx * (0.5 - a[0]) - 0.5
    ty = b[1] + sy * (0.5 - a[1]) - 0.5
    return np.array([[sx, 0.0, tx], [0.0, sy, ty], [0.0, 0.0, 1.0]])


def temporal_iou(prev_mask: np.ndarray, mask: np.ndarray, homography: np.ndarray | None = None) -> float:
    """IoU of ``mask`` with ``prev_mask`` warped by ``homography`` (prev -> current frame)."""
    if homography is not None:
        h, w = mask.shape
        prev_mask = cv2.warpPerspective(prev_mask.astype(np.uint8), homography, (w, h),
                                        flags=cv2.INTER_NEAREST).astype(bool)
    union = np.count_nonzero(prev_mask | mask)
    return float(np.count_nonzero(prev_mask & mask) / union) if union else 1.0


def combined_score(*, box_iou: float, fill: float, temporal: float | None, confidence: float | None,
                   weights: dict[str, float] | None = None) -> float:
    """Weighted geometric mean of the available signals, in [0, 1] (``weights`` default :data:`WEIGHTS`)."""
    weights = WEIGHTS if weights is None else weights
    parts = {"box_iou": box_iou, "fill": fill_plausibility(fill)}
    if temporal is not None and not np.isnan(temporal):
        parts["temporal"] = temporal
    if confidence is not None and not np.isnan(confidence):
        parts["confidence"] = confidence
    total = sum(weights.get(k, 0.0) for k in parts)
    if total <= 0:
        return float("nan")
    log_sum = sum(weights.get(k, 0.0) * np.log(max(v, 1e-6)) for k, v in parts.items())
    return float(np.exp(log_sum / total))


def mask_qa(mask: np.ndarray, box: np.ndarray, confidence: float | None,
            prev_mask: np.ndarray | None = None, homography: np.ndarray | None = None, *,
            prev_box: np.ndarray | None = None, temporal: float | None = None) -> dict[str, float | None]:
    """All QA fields for one mask, keyed as the shard columns (``qa_*``).

    The temporal signal is ``temporal`` when given (e.g. from :class:`TrackQA`), else the
    IoU with ``prev_mask`` warped by ``homography`` or, without one, aligned from ``prev_box``.
    """
    iou = box_consistency(mask, box)
    fill = fill_ratio(mask, box)
    if temporal is None and prev_mask is not None:
        if homography is None and prev_box is not None:
            homography = box_alignment(prev_box, box)
        temporal = temporal_iou(prev_mask, mask, homography)
    return {"qa_box_iou": iou, "qa_fill": fill, "qa_temporal": temporal,
            "qa_score": combined_score(box_iou=iou, fill=fill, temporal=temporal, confidence=confidence)}


class CameraMotion:
    """Homographies between annotated frames of one sequence, for motion-compensated temporal QA.

    Uses :func:`box2mask.motion.registration.register` (boxes excluded, as the
    motion stage does) on grey frames decoded at reduced size; the last decoded
    frame is kept so a pass over consecutive annotated frames decodes each once.
    ``homography(prev, cur)`` is ``None`` (compare uncompensated) when the motion
    module is absent, a frame cannot be read, or registration fell back to identity.
    """

    def __init__(self, sequence, *, config=None):
        self.sequence = sequence
        try:
            from box2mask.motion.config import MotionConfig
            from box2mask.motion.registration import register
            from box2mask.motion.stream import frame_boxes, processing_reduce
        except ImportError:
            self.available = False
            return
        self.available = True
        self._register, self._frame_boxes = register, frame_boxes
        self.config = config or MotionConfig()
        self.reduce = processing_reduce(sequence.image_size, self.config.max_side)
        self._gray: dict[int, np.ndarray] = {}

    def _read(self, index: int) -> np.ndarray:
        from box2mask.frames import read_gray

        if index not in self._gray:
            image = read_gray(self.sequence.frames[index], reduce=self.reduce)
            latest = max(self._gray) if self._gray else None
            self._gray = {} if latest is None else {latest: self._gray[latest]}
            self._gray[index] = image
        return self._gray[index]

    def homography(self, prev: int, cur: int) -> np.ndarray | None:
        """``(3, 3) float64`` mapping frame ``prev`` onto frame ``cur`` (full resolution), or ``None``."""
        if not self.available:
            return None
        try:
            a, b = self._read(prev), self._read(cur)
        except Box2MaskError:
            return None
        boxes = np.concatenate([self._frame_boxes(self.sequence, prev), self._frame_boxes(self.sequence, cur)])
        reg = self._register(a, b, boxes, config=self.config, full_size=self.sequence.image_size)
        return reg.homography if reg.trusted else None


class TrackQA:
    """QA of one track's masks, streamed in frame order with one mask held back.

    ``push`` a visible mask and get back the masks whose QA is now final (the
    previous one, once its next neighbour is known); ``finish`` flushes the
    last.  Each result is ``(key, fields)`` with ``fields`` keyed as the shard
    columns.  ``temporal`` picks the compensation (:data:`TEMPORAL_MODES`); with
    ``"camera"``, ``homographies[frame]`` (previous visible frame -> ``frame``) is
    used when given, else ``camera`` estimates it.
    """

    def __init__(self, *, temporal: str = "box", camera: "CameraMotion | None" = None,
                 homographies: dict[int, np.ndarray] | None = None):
        if temporal not in TEMPORAL_MODES:
            raise ValueError(f"temporal must be one of {', '.join(TEMPORAL_MODES)}, got {temporal!r}")
        self.temporal, self.camera, self.homographies = temporal, camera, homographies
        self._pending = None    # (key, frame, mask, box, confidence, [pair IoUs])

    def _pair(self, frame0: int, mask0: np.ndarray, box0, frame1: int, mask1: np.ndarray, box1) -> float:
        h = None
        if self.temporal == "box":
            h = box_alignment(box0, box1)
        elif self.temporal == "camera":
            if self.homographies is not None and frame1 in self.homographies:
                h = self.homographies[frame1]
            elif self.camera is not None:
                h = self.camera.homography(frame0, frame1)
        return temporal_iou(mask0, mask1, h)

    def _fields(self, item) -> tuple[object, dict[str, float | None]]:
        key, _, mask, box, confidence, pairs = item
        temporal = float(np.mean(pairs)) if pairs else None
        return key, mask_qa(mask, box, confidence, temporal=temporal)

    def push(self, key, frame: int, mask: np.ndarray, box: np.ndarray,
             confidence: float | None) -> list[tuple[object, dict[str, float | None]]]:
        item = (key, int(frame), mask, np.asarray(box, np.float64), confidence, [])
        done = []
        if self._pending is not None:
            _, f0, m0, b0, _, pairs0 = self._pending
            value = self._pair(f0, m0, b0, item[1], mask, item[3])
            pairs0.append(value)
            item[5].append(value)
            done.append(self._fields(self._pending))
        self._pending = item
        return done

    def finish(self) -> list[tuple[object, dict[str, float | None]]]:
        if self._pending is None:
            return []
        out = [self._fields(self._pending)]
        self._pending = None
        return out
