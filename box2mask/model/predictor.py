"""Inference with the trained video network: frames + boxes in, full-resolution masks out.

``Predictor`` wraps :class:`~box2mask.model.network.VideoBoxToMask`: it owns the
device, the crops, the per-frame feature cache and the batching, and exposes
``predict(frames, boxes, visible)``.  :class:`NetworkMethod` puts the same work
behind the pipeline's ``prepare`` (CPU: decode, crop) / ``infer`` (the network,
GPU when there is one) / ``finalize`` (CPU: paste back) protocol.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence as SequenceType

import cv2
import numpy as np
import torch

from box2mask.boxes import box_to_mask
from box2mask.crops import CropWindow, box_in_crop, extract, paste, square_window
from box2mask.methods.base import FrameMask
from box2mask.model.clips import plan_clips
from box2mask.model.edges import refine_edges
from box2mask.model.network import NetworkConfig, VideoBoxToMask
from box2mask.structures import Sequence, Track

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "box2mask-video.pt"
WEIGHTS_FORMAT = "box2mask-weights/1"


@dataclass(frozen=True)
class InferenceConfig:
    crop_size: int = 256
    context: float = 2.6      # crop side / sqrt(box area)
    support: int = 5          # T: frames segmented together
    interval: int = 5         # Delta: their spacing in frames (seed 001: 5 on DAVIS)
    iterations: int = 15      # steepest-descent steps (seed 001: 15 at inference)
    refine: bool = True
    threshold: float = 0.5
    edges: str = "none"       # full-resolution edge refinement: none | guided | grabcut (box2mask.model.edges)
    flip: bool = True         # also segment the mirrored crops and average (2x the network work)
    clip_to_box: bool = True  # drop mask pixels outside the (tight) box
    clips_per_batch: int = 4
    feature_cache: int = 48   # frames whose crops/features stay cached


@dataclass(frozen=True)
class Prediction:
    mask: np.ndarray          # (H, W) bool
    score: float              # confidence in [0, 1]
    probability: np.ndarray | None = None  # (S, S) float32 crop-space probability, when asked for


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_weights(path: Path | str, network: VideoBoxToMask, inference: InferenceConfig, metadata: dict) -> None:
    """Write shippable weights: the trained part only (the backbone comes from its package)."""
    from box2mask.atomic import atomic_path

    state = {k: v.detach().cpu().clone() for k, v in network.trainable_state_dict().items()}
    payload = {"format": WEIGHTS_FORMAT, "network": network.config.to_dict(), "inference": asdict(inference),
               "metadata": metadata, "state_dict": state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _read_payload(path: Path | str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights at {path}; train some with `box2mask train` or use the shipped "
                                f"{DEFAULT_WEIGHTS}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and key errors alike for a file that is not its own
        raise ValueError(f"{path} is not a box2mask weights file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != WEIGHTS_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path} is not a box2mask weights file (format {found!r})")
    return payload


def network_config(path: Path | str) -> NetworkConfig:
    """The architecture a weights file was trained with, without building the network."""
    return NetworkConfig(**_read_payload(path)["network"])


def load_weights(path: Path | str) -> tuple[VideoBoxToMask, InferenceConfig, dict]:
    """Network (strictly loaded), its inference defaults and metadata from a weights file."""
    payload = _read_payload(path)
    network = VideoBoxToMask(NetworkConfig(**payload["network"]))
    network.load_trainable_state_dict(payload["state_dict"])
    return network.eval(), InferenceConfig(**payload["inference"]), payload.get("metadata", {})


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class _FrameItem:
    window: CropWindow
    image: np.ndarray      # (S, S, 3) uint8
    box: np.ndarray        # (S, S) float32


class Predictor:
    """Segments the object of each box, using T frames of the same video at a time."""

    def __init__(self, network: VideoBoxToMask, config: InferenceConfig = InferenceConfig(), *,
                 device: str | torch.device = "auto", weights_sha256: str | None = None):
        self.device = pick_device(device) if isinstance(device, str) else device
        self.network = network.to(self.device).eval()
        self.config = config
        self.weights_sha256 = weights_sha256

    @classmethod
    def load(cls, weights: Path | str | None = None, *, device: str = "auto", **overrides) -> "Predictor":
        """From a weights file (default: the shipped ``weights/box2mask-video.pt``)."""
        path = Path(weights) if weights else DEFAULT_WEIGHTS
        network, config, _ = load_weights(path)
        return cls(network, replace(config, **overrides), device=device, weights_sha256=file_sha256(path))

    # ---- per-frame preparation (CPU) -------------------------------------------------------
    def prepare_frame(self, image: np.ndarray, box: np.ndarray) -> _FrameItem:
        size = self.config.crop_size
        window = square_window(box, context=self.config.context)
        return _FrameItem(window, extract(image, window, size), box_in_crop(window, box, size))

    # ---- the network on clips ----------------------------------------------------------------
    def run_clips(self, items: dict[int, _FrameItem], clips) -> dict[int, np.ndarray]:
        """Crop-space probabilities ``(S, S) float32`` for every target member of ``clips``.

        With ``flip`` the clips are also segmented left-right mirrored and the two
        probabilities averaged: the network is not exactly mirror-symmetric, and
        the average of its two views is (a test checks this).
        """
        probs = self._clip_probabilities(items, clips)
        if not self.config.flip:
            return probs
        mirrored = {f: _FrameItem(it.window, np.ascontiguousarray(it.image[:, ::-1]),
                                  np.ascontiguousarray(it.box[:, ::-1])) for f, it in items.items()}
        back = self._clip_probabilities(mirrored, clips)
        return {f: 0.5 * (p + back[f][:, ::-1]) for f, p in probs.items()}

    @torch.inference_mode()
    def _clip_probabilities(self, items: dict[int, _FrameItem], clips) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        features: OrderedDict[int, dict] = OrderedDict()
        step = self.config.clips_per_batch
        for start in range(0, len(clips), step):
            group = clips[start:start + step]
            frames = np.stack([c.frames for c in group])                # (B, T)
            current = [int(f) for f in np.unique(frames)]
            for f in current:  # least recently *used* goes first, never a frame this group needs
                if f in features:
                    features.move_to_end(f)
            needed = [f for f in current if f not in features]
            if needed:
                images = torch.from_numpy(np.stack([items[f].image for f in needed])).to(self.device)
                feats = self.network.frame_features(images.permute(0, 3, 1, 2).float() / 255.0)
                for k, f in enumerate(needed):
                    features[f] = {"x": feats["x"][k], "image": feats["image"][k],
                                   "skips": {s: v[k] for s, v in feats["skips"].items()}}
                while len(features) > max(self.config.feature_cache, len(current)):
                    features.popitem(last=False)
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
            result = self.network(images, boxes.view(b, t, 1, *boxes.shape[1:]), frame_weights=weights,
                                  iterations=self.config.iterations, refine=self.config.refine,
                                  features=batch_feats)
            logits = result["refined" if self.config.refine else "first"]
            probs = torch.sigmoid(logits.float()).squeeze(2).cpu().numpy()  # (B, T, S, S)
            for ci, clip in enumerate(group):
                for ti, f in enumerate(clip.frames):
                    if clip.is_target[ti]:
                        out[int(f)] = probs[ci, ti]
        return out

    # ---- back to full frames (CPU) --------------------------------------------------------------
    def finalize_frame(self, probability: np.ndarray, window: CropWindow, box: np.ndarray,
                       height: int, width: int, *, image: np.ndarray | None = None,
                       keep_probability: bool = False) -> Prediction:
        """Paste back, threshold (refining edges on ``image`` when configured) and score."""
        mask = to_mask(probability, window, box, height, width, self.config, image)
        return Prediction(mask, confidence(probability, self.config.threshold),
                          probability if keep_probability else None)

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
        items: dict[int, _FrameItem] = {}
        size: tuple[int, int] | None = None
        for f in sorted({int(f) for c in clips for f in c.frames}):
            image = get(f)
            size = image.shape[:2]
            items[f] = self.prepare_frame(image, boxes[f])
        probs = self.run_clips(items, clips) if clips else {}
        results: list[Prediction | None] = []
        for t in targets:
            if int(t) in probs:
                image = get(int(t)) if self.config.edges != "none" else None
                results.append(self.finalize_frame(probs[int(t)], items[int(t)].window, boxes[t], *size,
                                                   image=image))
            else:
                results.append(None)
        return results


def to_mask(probability: np.ndarray, window: CropWindow, box: np.ndarray, height: int, width: int,
            config: InferenceConfig, image: np.ndarray | None = None) -> np.ndarray:
    """Crop-space probability -> full-frame ``(H, W) bool`` mask, edges refined on ``image`` if asked."""
    full = paste(probability, window, height, width)
    if config.edges == "none" or image is None:
        mask = full >= config.threshold
    else:
        mask = refine_edges(image, full, box, mode=config.edges, threshold=config.threshold)
    if config.clip_to_box:  # a tight box bounds the object, so nothing outside it can be object
        mask &= box_to_mask(box, height, width)
    return mask


def confidence(probability: np.ndarray, threshold: float = 0.5) -> float:
    """How sure the network is: mean distance of its probabilities from the threshold, in [0, 1].

    Measured over the pixels where it hesitates most (the band around its own
    mask boundary), since the easy interior and far background say little.
    """
    p = probability.astype(np.float32)
    mask = (p >= threshold).astype(np.uint8)
    band = cv2.dilate(mask, np.ones((7, 7), np.uint8)) != cv2.erode(mask, np.ones((7, 7), np.uint8))
    region = p[band] if band.any() else p.reshape(-1)
    return float(np.clip(np.mean(np.abs(region - threshold)) / max(threshold, 1 - threshold), 0.0, 1.0))


class NetworkMethod:
    """The network behind the pipeline's method protocol (see :mod:`box2mask.methods.base`)."""

    name = "network"
    needs_motion = False

    def __init__(self, weights: Path | str | None = None, *, device: str = "auto", **overrides):
        self.weights = Path(weights) if weights else DEFAULT_WEIGHTS
        self.overrides = overrides
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
        """Run inference on ``device`` (the pipeline places each worker's model explicitly)."""
        self.device = device
        if self._predictor is not None:
            self._predictor = Predictor(self._predictor.network, self._predictor.config,
                                        device=pick_device(device), weights_sha256=self._predictor.weights_sha256)
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
            if config.edges != "none" and f in wanted:
                images[f] = image  # the edge refinement in finalize needs the full-resolution frame
        return {"track_id": track.track_id, "targets": np.asarray(targets), "frames": np.asarray(frames),
                "windows": np.asarray(windows), "crops": np.asarray(crops), "boxes": np.asarray(boxes),
                "images": images, "track_boxes": track.boxes[np.asarray(frames)],
                "clips": [(c.frames, c.weights, c.is_target) for c in clips],
                "height": sequence.height, "width": sequence.width}

    def _config(self) -> InferenceConfig:
        """Inference settings, read without building the network (prepare/finalize run on CPU workers)."""
        if self._inference is None:
            self._inference = replace(InferenceConfig(**_read_payload(self.weights)["inference"]), **self.overrides)
        return self._inference

    def infer(self, batch: dict) -> dict:
        from box2mask.model.clips import Clip

        items = {int(f): _FrameItem(CropWindow(*w), c, b)
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
            mask = to_mask(prob, windows[int(t)], track_boxes[int(t)], batch["height"], batch["width"], config,
                           batch["images"].get(int(t)))
            results.append(FrameMask(batch["track_id"], int(t), mask, confidence(prob, config.threshold)))
        return results
