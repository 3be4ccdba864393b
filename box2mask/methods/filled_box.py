"""The floor: the box itself, filled, as the mask (J&F 0.341 on davis16-dev)."""

from __future__ import annotations

import numpy as np

from box2mask.boxes import box_to_mask
from box2mask.methods.base import DEFAULT_WINDOW, FrameMask
from box2mask.structures import Sequence, Track


class FilledBox:
    name = "filled-box"
    window = DEFAULT_WINDOW
    needs_motion = False

    def to(self, device: str) -> "FilledBox":
        """No model: nothing to move."""
        return self

    def check(self) -> None:
        """Nothing to check: the filled box takes no options."""

    def prepare(self, sequence: Sequence, track: Track, targets: np.ndarray) -> dict:
        return {"track_id": track.track_id, "frames": np.asarray(targets), "boxes": track.boxes[targets],
                "height": sequence.height, "width": sequence.width}

    def infer(self, batch: dict) -> dict:
        return batch

    def finalize(self, batch: dict) -> list[FrameMask]:
        return [FrameMask(batch["track_id"], int(f), box_to_mask(b, batch["height"], batch["width"]), 1.0)
                for f, b in zip(batch["frames"], batch["boxes"])]
