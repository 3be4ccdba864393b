"""Box-guided GrabCut on a crop around the box, per frame: the classical baseline.

Settings follow the reference measured on davis16-dev (J&F 0.672): 50 % context
on each side of the box, the crop's long side at most 400 px, 5 iterations,
initialised from the box rectangle.  GrabCut has no confidence of its own; the
score is how well the mask's tight box fills the given box (IoU), which is what
a human checking the result would look at first.
"""

from __future__ import annotations

import cv2
import numpy as np

from box2mask.boxes import box_from_mask, box_iou
from box2mask.methods.base import FrameMask
from box2mask.structures import Sequence, Track


class GrabCut:
    name = "grabcut"

    def __init__(self, *, context: float = 0.5, max_side: int = 400, iterations: int = 5):
        self.context = context
        self.max_side = max_side
        self.iterations = iterations

    def prepare(self, sequence: Sequence, track: Track, targets: np.ndarray) -> dict:
        crops, windows, rects = [], [], []
        for frame in targets:
            image = sequence.read_frame(int(frame))
            crop, window, rect = self._crop(image, track.boxes[frame])
            crops.append(crop)
            windows.append(window)
            rects.append(rect)
        return {"track_id": track.track_id, "frames": np.asarray(targets), "crops": crops,
                "windows": np.array(windows), "rects": np.array(rects), "boxes": track.boxes[targets],
                "height": sequence.height, "width": sequence.width}

    def _crop(self, image: np.ndarray, box: np.ndarray):
        h, w = image.shape[:2]
        x0, y0, x1, y1 = box
        bw, bh = x1 - x0, y1 - y0
        cx0 = int(max(0, np.floor(x0 - self.context * bw)))
        cy0 = int(max(0, np.floor(y0 - self.context * bh)))
        cx1 = int(min(w, np.ceil(x1 + self.context * bw)))
        cy1 = int(min(h, np.ceil(y1 + self.context * bh)))
        crop = image[cy0:cy1, cx0:cx1]
        scale = min(1.0, self.max_side / max(crop.shape[:2]))
        if scale < 1.0:
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA)
        ch, cw = crop.shape[:2]
        rx0 = int(np.clip(np.floor((x0 - cx0) * scale), 0, cw - 1))
        ry0 = int(np.clip(np.floor((y0 - cy0) * scale), 0, ch - 1))
        rx1 = int(np.clip(np.ceil((x1 - cx0) * scale), rx0 + 1, cw))
        ry1 = int(np.clip(np.ceil((y1 - cy0) * scale), ry0 + 1, ch))
        return crop, (cx0, cy0, cx1, cy1), (rx0, ry0, rx1 - rx0, ry1 - ry0)

    def infer(self, batch: dict) -> dict:
        batch["crop_masks"] = [self._segment(c, tuple(int(v) for v in r))
                               for c, r in zip(batch["crops"], batch["rects"])]
        return batch

    def _segment(self, crop: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
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
            cv2.grabCut(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), mask, rect, bgd, fgd, self.iterations,
                        cv2.GC_INIT_WITH_RECT)
        except cv2.error:
            return box_only
        out = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
        return out if out.any() else box_only

    def finalize(self, batch: dict) -> list[FrameMask]:
        out = []
        for frame, crop_mask, (cx0, cy0, cx1, cy1), box in zip(batch["frames"], batch["crop_masks"],
                                                               batch["windows"], batch["boxes"]):
            full = np.zeros((batch["height"], batch["width"]), dtype=bool)
            region = cv2.resize(crop_mask.astype(np.uint8), (int(cx1 - cx0), int(cy1 - cy0)),
                                interpolation=cv2.INTER_NEAREST)
            full[cy0:cy1, cx0:cx1] = region.astype(bool)
            score = float(box_iou(box_from_mask(full), box))
            out.append(FrameMask(batch["track_id"], int(frame), full, score))
        return out
