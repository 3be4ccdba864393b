"""Inference with the trained video network: frames + boxes in, full-resolution masks out.

``Predictor`` wraps the :class:`~box2mask.model.network.VideoBoxToMask` it is given:
it owns the device, the crops, the per-frame feature cache
(:class:`~box2mask.model.features.FeatureCache`) and the batching, and exposes the
verbs the pipeline needs (``prepare_frame`` on CPU, ``run_clips`` on the device,
``finalize_frame`` on CPU) plus ``predict(frames, boxes, visible)``, which chains them.
:class:`box2mask.methods.network.NetworkMethod` puts the same verbs behind the
pipeline's method protocol, so benchmarks, tests and the pipeline run one code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence as SequenceType

import numpy as np
import torch

from box2mask.atomic import file_sha256
from box2mask.crops import CropWindow, box_in_crop, extract, square_window
from box2mask.devices import pick_device
from box2mask.model.boundary import BoundaryConfig, FineCrop, fine_crop, run_boundary
from box2mask.model.clips import plan_clips
from box2mask.model.features import FeatureCache
from box2mask.model.inference import InferenceConfig
from box2mask.model.network import NetworkConfig, VideoBoxToMask
from box2mask.model.postprocess import finalize_probability
from box2mask.model.runtime import resolve_runtime
from box2mask.model.weights import DEFAULT_WEIGHTS, load_weights


@dataclass(frozen=True)
class Prediction:
    mask: np.ndarray          # (H, W) bool
    score: float              # confidence in [0, 1]
    probability: np.ndarray | None = None  # (S, S) float32 crop-space probability, when asked for
    source: str = "network"   # which method made the mask (the fallback's name when it replaced the network's)
    note: str | None = None   # why the box test failed, when it did


@dataclass(frozen=True)
class FrameItem:
    """One frame as the network sees it: its crop window, the crop and the box drawn in it."""

    window: CropWindow
    image: np.ndarray | None   # (S, S, 3) uint8 (None once inferred: only the window is needed after)
    box: np.ndarray | None     # (S, S) float32
    fine: FineCrop | None = None  # the boundary stage's crop (targets only, when the weights have the stage)

    @property
    def output_window(self) -> CropWindow:
        """The window the frame's final probability lies over: the boundary stage's when it ran."""
        return self.fine.window if self.fine is not None else self.window

    def windows_only(self) -> "FrameItem":
        """The same item without its crops (what has to travel back after inference)."""
        fine = replace(self.fine, image=None, box=None) if self.fine is not None else None
        return replace(self, image=None, box=None, fine=fine)


def prepare_frame(image: np.ndarray, box: np.ndarray, config: InferenceConfig,
                  boundary: BoundaryConfig | None = None) -> FrameItem:
    """The square crop around ``box`` (``config.context`` x its size) at ``config.crop_size``, and the box in it;
    with ``boundary`` (a target frame, and weights with a boundary stage) the stage's crop as well."""
    window = square_window(box, context=config.context)
    return FrameItem(window, extract(image, window, config.crop_size), box_in_crop(window, box, config.crop_size),
                     fine_crop(image, box, boundary) if boundary is not None else None)


def boundary_config(network_config: NetworkConfig, config: InferenceConfig) -> BoundaryConfig | None:
    """The boundary stage's crop settings when it is to run: the weights have one and ``config.boundary``."""
    return network_config.boundary if config.boundary else None


class Predictor:
    """Segments the object of each box, using T frames of the same video at a time."""

    def __init__(self, network: VideoBoxToMask, config: InferenceConfig = InferenceConfig(), *,
                 device: str | torch.device = "auto", weights_sha256: str | None = None):
        self.device = torch.device(pick_device(device)) if isinstance(device, str) else device
        self.network = network.to(self.device).eval()
        self.config = config
        self.runtime = resolve_runtime(self.device, config)
        self.weights_sha256 = weights_sha256

    @classmethod
    def load(cls, weights: Path | str | None = None, *, device: str = "auto", **overrides) -> "Predictor":
        """From a weights file (default: the shipped :data:`DEFAULT_WEIGHTS`)."""
        path = Path(weights) if weights else DEFAULT_WEIGHTS
        network, config, _ = load_weights(path)
        return cls(network, replace(config, **overrides), device=device, weights_sha256=file_sha256(path))

    # ---- per-frame preparation (CPU) -------------------------------------------------------
    def prepare_frame(self, image: np.ndarray, box: np.ndarray, *, target: bool = True) -> FrameItem:
        """``target``: a frame that gets a mask (only those are cut for the boundary stage)."""
        return prepare_frame(image, box, self.config,
                             boundary_config(self.network.config, self.config) if target else None)

    # ---- the network on clips ----------------------------------------------------------------
    def run_clips(self, items: dict[int, FrameItem], clips) -> dict[int, np.ndarray]:
        """Crop-space probabilities ``(S, S) float32`` for every target member of ``clips``, each over its
        item's ``output_window`` (the boundary stage's, for targets cut for it).

        With ``flip`` the clips are also segmented left-right mirrored and the two
        probabilities averaged: the network is not exactly mirror-symmetric, and
        the average of its two views is (a test checks this).
        """
        probs = self._clip_probabilities(items, clips)
        if self.config.flip:
            mirrored = {f: FrameItem(it.window, np.ascontiguousarray(it.image[:, ::-1]),
                                      np.ascontiguousarray(it.box[:, ::-1])) for f, it in items.items()}
            back = self._clip_probabilities(mirrored, clips)
            probs = {f: 0.5 * (p + back[f][:, ::-1]) for f, p in probs.items()}
        return self._boundary(items, probs)

    def _boundary(self, items: dict[int, FrameItem], probs: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """The boundary stage on every target cut for it: its probability then lies over ``output_window``."""
        fine = [f for f in probs if items[f].fine is not None]
        if not fine:
            return probs
        if self.network.boundary is None:
            raise ValueError("frames were cut for a boundary stage, but these weights have none")
        done = run_boundary(self.network.boundary, [items[f].fine for f in fine], [probs[f] for f in fine],
                            [items[f].window for f in fine], batch=max(1, self.runtime.clips_per_batch) * 8)
        return {**probs, **dict(zip(fine, done))}

    @torch.inference_mode()
    def _clip_probabilities(self, items: dict[int, FrameItem], clips) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        features = FeatureCache(self.config.feature_cache)
        step = self.runtime.clips_per_batch

        def compute(needed: list[int]) -> list[dict]:
            images = torch.from_numpy(np.stack([items[f].image for f in needed])).to(self.device)
            with self.runtime.autocast():
                feats = self.network.frame_features(images.permute(0, 3, 1, 2).float() / 255.0)
            return [{"x": feats["x"][k], "image": feats["image"][k],
                     "skips": {s: v[k] for s, v in feats["skips"].items()}} for k in range(len(needed))]

        for start in range(0, len(clips), step):
            group = clips[start:start + step]
            frames = np.stack([c.frames for c in group])                # (B, T)
            features.ensure([int(f) for f in np.unique(frames)], compute)
            flat = frames.reshape(-1)
            batch_feats = {
                "x": torch.stack([features[int(f)]["x"] for f in flat]),
                "image": torch.stack([features[int(f)]["image"] for f in flat]),
                "skips": {s: torch.stack([features[int(f)]["skips"][s] for f in flat]) for s in (2, 4)},
            }
            boxes = torch.from_numpy(np.stack([items[int(f)].box for f in flat])).to(self.device)
            b, t = frames.shape
            images = batch_feats["image"].view(b, t, *batch_feats["image"].shape[1:])
            weights = torch.from_numpy(np.stack([c.weights for c in group])).to(self.device)
            wanted = torch.from_numpy(np.stack([c.is_target for c in group])).to(self.device)
            with self.runtime.autocast():
                result = self.network(images, boxes.view(b, t, 1, *boxes.shape[1:]), frame_weights=weights,
                                      iterations=self.config.iterations, refine=self.config.refine,
                                      features=batch_feats, outputs=wanted)
            logits = result["refined" if self.config.refine else "first"]
            probs = torch.sigmoid(logits.float()).squeeze(2).cpu().numpy()  # (B, T, S, S)
            for ci, clip in enumerate(group):
                for ti, f in enumerate(clip.frames):
                    if clip.is_target[ti]:
                        out[int(f)] = probs[ci, ti]
        return out

    # ---- back to full frames (CPU) --------------------------------------------------------------
    def finalize_frame(self, probability: np.ndarray, window: CropWindow, box: np.ndarray,
                       height: int, width: int, *, image: np.ndarray | Callable[[], np.ndarray] | None = None,
                       keep_probability: bool = False) -> Prediction:
        """Paste back, threshold (refining edges on ``image`` when configured), score, box test and fallback."""
        image_of = image if callable(image) or image is None else (lambda: image)
        done = finalize_probability(probability, window, box, height, width, self.config, image_of)
        return Prediction(done.mask, done.score, probability if keep_probability else None, done.source, done.note)

    def plan(self, visible: np.ndarray, targets: np.ndarray):
        return plan_clips(targets, visible, size=self.config.support, interval=self.config.interval)

    def predict(self, frames: SequenceType[np.ndarray] | Callable[[int], np.ndarray], boxes: np.ndarray,
                visible: np.ndarray, targets: np.ndarray | None = None) -> list[Prediction | None]:
        """Masks for one object through a video.

        ``frames``: RGB ``(H, W, 3) uint8`` images, as a list or a function ``index -> image``
        (decoded lazily); ``boxes (N, 4)`` ``x0, y0, x1, y1``; ``visible (N,) bool``.
        Returns, per frame (or per ``targets`` entry), a :class:`Prediction` or ``None`` where
        the object is not visible.
        """
        get = frames if callable(frames) else frames.__getitem__
        visible = np.asarray(visible, bool)
        n = len(visible)
        targets = np.arange(n) if targets is None else np.asarray(targets, np.int64)
        wanted = targets[visible[targets]]
        clips = self.plan(visible, wanted)
        items: dict[int, FrameItem] = {}
        size: tuple[int, int] | None = None
        wanted_set = {int(f) for f in wanted}
        for f in sorted({int(f) for c in clips for f in c.frames}):
            image = get(f)
            size = image.shape[:2]
            items[f] = self.prepare_frame(image, boxes[f], target=f in wanted_set)
        probs = self.run_clips(items, clips) if clips else {}
        results: list[Prediction | None] = []
        for t in targets:
            if int(t) in probs:
                image = (lambda t=int(t): get(t))  # decoded only if finalize needs it
                results.append(self.finalize_frame(probs[int(t)], items[int(t)].output_window, boxes[t], *size,
                                                   image=image))
            else:
                results.append(None)
        return results


