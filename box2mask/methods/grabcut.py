"""Box-guided GrabCut on a crop around the box, per frame: the classical baseline.

Settings follow the reference measured on davis16-dev (J&F 0.672): 50 % context
on each side of the box, the crop's long side at most 400 px, 5 iterations,
initialised from the box rectangle.  GrabCut has no confidence of its own; the
score is how well the mask's tight box fills the given box (IoU), which is what
a human checking the result would look at first.
"""

from __future__ import annotations

import numpy as np

from box2mask.boxes import box_from_mask, box_iou
from box2mask.masks.grabcut import CONTEXT, ITERATIONS, MAX_SIDE, crop_around, paste_back, segment_crop
from box2mask.methods.base import DEFAULT_WINDOW, FrameMask
from box2mask.structures import Sequence, Track


class GrabCut:
    name = "grabcut"
    window = DEFAULT_WINDOW
    needs_motion = False

    def __init__(self, *, context: float = CONTEXT, max_side: int = MAX_SIDE, iterations: int = ITERATIONS):
        self.context = context
        self.max_side = max_side
        self.iterations = iterations

    def to(self, device: str) -> "GrabCut":
        """OpenCV on the CPU whatever the device: nothing to move (and torch is never imported)."""
        return self

    def check(self) -> None:
        from box2mask.errors import Box2MaskError

        for key, value, kind in (("context", self.context, (int, float)), ("max_side", self.max_side, int),
                                 ("iterations", self.iterations, int)):
            if isinstance(value, bool) or not isinstance(value, kind) or value < (0 if key == "context" else 1):
                raise Box2MaskError(f"grabcut option {key}={value!r}: expected a "
                                    f"{'number >= 0' if key == 'context' else 'whole number >= 1'}")

    def prepare(self, sequence: Sequence, track: Track, targets: np.ndarray) -> dict:
        crops, windows, rects = [], [], []
        for frame in targets:
            image = sequence.read_frame(int(frame))
            crop, window, rect = crop_around(image, track.boxes[frame], context=self.context,
                                             max_side=self.max_side)
            crops.append(crop)
            windows.append(window)
            rects.append(rect)
        return {"track_id": track.track_id, "frames": np.asarray(targets), "crops": crops,
                "windows": np.array(windows), "rects": np.array(rects), "boxes": track.boxes[targets],
                "height": sequence.height, "width": sequence.width}

    def infer(self, batch: dict) -> dict:
        batch["crop_masks"] = [segment_crop(c, tuple(int(v) for v in r), iterations=self.iterations)
                               for c, r in zip(batch["crops"], batch["rects"])]
        return batch

    def finalize(self, batch: dict) -> list[FrameMask]:
        out = []
        for frame, crop_mask, window, box in zip(batch["frames"], batch["crop_masks"], batch["windows"],
                                                 batch["boxes"]):
            full = paste_back(crop_mask, window, batch["height"], batch["width"])
            score = float(box_iou(box_from_mask(full), box))
            out.append(FrameMask(batch["track_id"], int(frame), full, score))
        return out
