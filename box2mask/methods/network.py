"""The video network behind the pipeline's method protocol: a thin adapter over the Predictor.

``prepare`` (CPU workers) decodes and crops without building the network,
``infer`` runs :meth:`Predictor.run_clips` (GPU when there is one), ``finalize``
pastes back with the same function as :meth:`Predictor.finalize_frame`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from box2mask.atomic import file_sha256
from box2mask.crops import CropWindow, box_in_crop, extract, square_window
from box2mask.devices import pick_device
from box2mask.errors import Box2MaskError
from box2mask.methods.base import FrameMask
from box2mask.model.clips import Clip, plan_clips
from box2mask.model.inference import InferenceConfig, check_overrides, needs_image
from box2mask.model.postprocess import finalize_probability
from box2mask.model.predictor import FrameItem, Predictor
from box2mask.model.weights import DEFAULT_WEIGHTS, inference_defaults
from box2mask.structures import Sequence, Track


class NetworkMethod:
    """The network behind the pipeline's method protocol (see :mod:`box2mask.methods.base`)."""

    name = "network"
    needs_motion = False

    def __init__(self, weights: Path | str | None = None, *, device: str = "auto", **overrides):
        self.weights = Path(weights) if weights else DEFAULT_WEIGHTS
        self.overrides = check_overrides(overrides)
        self.device = device
        self._predictor: Predictor | None = None
        self._inference: InferenceConfig | None = None

    @property
    def predictor(self) -> Predictor:
        if self._predictor is None:
            self._predictor = Predictor.load(self.weights, device=self.device, **self.overrides)
        return self._predictor

    @property
    def weights_sha256(self) -> str:
        return file_sha256(self.weights)

    @property
    def window(self) -> int:
        """Targets per pipeline window: 2 T Delta lets dense targets tile into full clips with no filler frames."""
        config = self._config()
        return max(16, 2 * config.support * config.interval)

    def to(self, device: str) -> "NetworkMethod":
        """Run inference on ``device`` (``"auto"``: a GPU if torch sees one here; the pipeline places each
        worker's model explicitly)."""
        self.device = pick_device(device)
        if self._predictor is not None:
            self._predictor = Predictor(self._predictor.network, self._predictor.config,
                                        device=torch.device(pick_device(device)), weights_sha256=self._predictor.weights_sha256)
        return self

    def prepare(self, sequence: Sequence, track: Track, targets: np.ndarray) -> dict:
        config = self._config()
        clips = plan_clips(np.asarray(targets), track.visible, size=config.support, interval=config.interval)
        frames = sorted({int(f) for c in clips for f in c.frames})
        size = config.crop_size
        windows, crops, boxes, images = [], [], [], {}
        wanted = {int(t) for t in targets}
        for f in frames:
            window = square_window(track.boxes[f], context=config.context)
            image = sequence.read_frame(f)
            windows.append(window.as_array())
            crops.append(extract(image, window, size))
            boxes.append(box_in_crop(window, track.boxes[f], size))
            if needs_image(config) and f in wanted:
                images[f] = image  # edge refinement and the fallback in finalize need the full-resolution frame
        return {"track_id": track.track_id, "targets": np.asarray(targets), "frames": np.asarray(frames),
                "windows": np.asarray(windows), "crops": np.asarray(crops), "boxes": np.asarray(boxes),
                "images": images, "track_boxes": track.boxes[np.asarray(frames)],
                "clips": [(c.frames, c.weights, c.is_target) for c in clips],
                "height": sequence.height, "width": sequence.width}

    def check(self) -> None:
        """Fail now, with one plain error, if the weights file is missing or not ours."""
        try:
            self._config()
        except (OSError, ValueError) as exc:
            raise Box2MaskError(str(exc)) from None

    def _config(self) -> InferenceConfig:
        """Inference settings, read without building the network (prepare/finalize run on CPU workers)."""
        if self._inference is None:
            self._inference = replace(inference_defaults(self.weights), **self.overrides)
        return self._inference

    def infer(self, batch: dict) -> dict:
        items = {int(f): FrameItem(CropWindow(*w), c, b)
                 for f, w, c, b in zip(batch["frames"], batch["windows"], batch["crops"], batch["boxes"])}
        clips = [Clip(*c) for c in batch["clips"]]
        probs = self.predictor.run_clips(items, clips)
        out = {k: v for k, v in batch.items() if k not in ("crops", "boxes")}  # crops are not needed after
        out["probabilities"] = probs
        return out

    def finalize(self, batch: dict) -> list[FrameMask]:
        config = self._config()
        windows = {int(f): CropWindow(*w) for f, w in zip(batch["frames"], batch["windows"])}
        track_boxes = {int(f): b for f, b in zip(batch["frames"], batch["track_boxes"])}
        results = []
        for t in batch["targets"]:
            prob = batch["probabilities"].get(int(t))
            if prob is None:
                results.append(FrameMask(batch["track_id"], int(t), None, float("nan")))
                continue
            done = finalize_probability(prob, windows[int(t)], track_boxes[int(t)], batch["height"], batch["width"],
                                        config, batch["images"].get(int(t)))
            results.append(FrameMask(batch["track_id"], int(t), done.mask, done.score, done.source, done.note))
        return results
