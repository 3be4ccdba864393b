"""The video network behind the pipeline's method protocol: a thin adapter over the Predictor.

``prepare`` (CPU workers) decodes and crops without building the network,
``infer`` runs :meth:`Predictor.run_clips` (GPU when there is one), ``finalize``
pastes back with the same function as :meth:`Predictor.finalize_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from box2mask.atomic import file_sha256
from box2mask.devices import pick_device
from box2mask.errors import Box2MaskError
from box2mask.frames import read_rgb
from box2mask.methods.base import FrameMask
from box2mask.model.boundary import BoundaryConfig
from box2mask.model.clips import Clip, plan_clips
from box2mask.model.inference import InferenceConfig, check_overrides, needs_image
from box2mask.model.postprocess import finalize_probability
from box2mask.model.predictor import FrameItem, Predictor, boundary_config, prepare_frame
from box2mask.model.network import NetworkConfig
from box2mask.model.weights import DEFAULT_WEIGHTS, read_payload
from box2mask.structures import Sequence, Track


@dataclass(frozen=True)
class NetworkBatch:
    """One window of one track, between the verbs: ``prepare`` fills the crops (``items``),
    ``infer`` adds ``probabilities`` (and drops the crops, which need not travel back)."""

    track_id: int
    targets: np.ndarray                     # the frames that get masks
    items: dict[int, FrameItem]             # every frame the clips use (targets and supports): window, crop
    clips: list[Clip]
    boxes: dict[int, np.ndarray]            # the track's box per frame of ``items``
    images: dict[int, np.ndarray]           # full frames of the targets when edge refinement needs them all
    paths: dict[int, Path]                  # the targets' frame files: the fallback decodes one when it must
    height: int
    width: int
    probabilities: dict[int, np.ndarray] | None = None   # (S, S) float32 per target, after infer

    def image_of(self, frame: int):
        """A function giving ``frame``'s full-resolution image (held, or decoded when called)."""
        if frame in self.images:
            return lambda: self.images[frame]
        return lambda: read_rgb(self.paths[frame])


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
        self._boundary: BoundaryConfig | None = None  # the boundary stage's crop, when it runs (set with _inference)

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

    def prepare(self, sequence: Sequence, track: Track, targets: np.ndarray) -> NetworkBatch:
        config = self._config()
        clips = plan_clips(np.asarray(targets), track.visible, size=config.support, interval=config.interval)
        frames = sorted({int(f) for c in clips for f in c.frames})
        wanted = {int(t) for t in targets}
        boundary = self._boundary
        items, images = {}, {}
        for f in frames:
            image = sequence.read_frame(f)
            items[f] = prepare_frame(image, track.boxes[f], config, boundary if f in wanted else None)
            if needs_image(config) and f in wanted:
                images[f] = image  # edge refinement in finalize needs every target's full-resolution frame
        return NetworkBatch(track_id=track.track_id, targets=np.asarray(targets), items=items, clips=clips,
                            boxes={f: track.boxes[f] for f in frames}, images=images,
                            paths={f: sequence.frames[f] for f in wanted},
                            height=sequence.height, width=sequence.width)

    def check(self) -> None:
        """Fail now, with one plain error, if the weights file is missing or not ours."""
        try:
            self._config()
        except (OSError, ValueError) as exc:
            raise Box2MaskError(str(exc)) from None

    def _config(self) -> InferenceConfig:
        """Inference settings, read without building the network (prepare/finalize run on CPU workers)."""
        if self._inference is None:
            payload = read_payload(self.weights)  # one read gives the defaults and the boundary stage's crop
            self._inference = replace(InferenceConfig(**payload["inference"]), **self.overrides)
            self._boundary = boundary_config(NetworkConfig.from_dict(payload["network"]), self._inference)
        return self._inference

    def infer(self, batch: NetworkBatch) -> NetworkBatch:
        probs = self.predictor.run_clips(batch.items, batch.clips)
        # the crops are not needed after: only the windows travel back
        return replace(batch, items={f: it.windows_only() for f, it in batch.items.items()},
                       probabilities=probs)

    def finalize(self, batch: NetworkBatch) -> list[FrameMask]:
        config = self._config()
        results = []
        for t in (int(t) for t in batch.targets):
            prob = batch.probabilities.get(t)
            if prob is None:
                results.append(FrameMask(batch.track_id, t, None, float("nan")))
                continue
            done = finalize_probability(prob, batch.items[t].output_window, batch.boxes[t], batch.height, batch.width,
                                        config, batch.image_of(t))
            results.append(FrameMask(batch.track_id, t, done.mask, done.score, done.source, done.note))
        return results
