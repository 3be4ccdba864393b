"""What every box-to-mask method offers, split along the pipeline's stages.

A method turns (sequence, track, target frames) into masks in three verbs so a
pipeline can put each on the right hardware:

* ``prepare`` (CPU): decode the frames it needs and cut crops; returns a batch,
  a dict of numpy arrays and plain values that pickles cheaply;
* ``infer`` (GPU when there is one): the heavy computation on the batch;
* ``finalize`` (CPU): paste results back to full frames, one :class:`FrameMask`
  per target.

:func:`run_method` chains the three in-process, window by window, so memory
stays bounded however long the video is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np

from box2mask.structures import Sequence, Track


@dataclass(frozen=True)
class FrameMask:
    """The result for one (track, frame): ``mask`` is ``(H, W) bool`` or ``None`` if not visible."""

    track_id: int
    frame: int
    mask: np.ndarray | None
    score: float
    source: str | None = None   # the method that made the mask, when not the one named in run.json (fallback)
    note: str | None = None     # why (e.g. the box test the first mask failed)


DEFAULT_WINDOW = 16
"""Targets per prepare/infer/finalize window unless a method says otherwise: what bounds memory."""


class Method(Protocol):
    """What the pipeline needs of a method, declared (the pipeline never probes for attributes).

    ``window``: targets per window (memory bound; the network asks for more so its clips tile);
    ``needs_motion``: whether ``motion(sequence, track, targets)`` must run before ``infer``;
    ``to(device)``: where ``infer`` runs (``"auto"``: the best device here; methods without a
    model ignore it and never import torch).
    """

    name: str
    window: int
    needs_motion: bool

    def to(self, device: str) -> "Method": ...

    def check(self) -> None:
        """Raise :class:`~box2mask.errors.Box2MaskError` now if the method cannot run as configured
        (bad option value, unreadable weights); cheap, called on the driver before any worker starts."""
        ...

    def prepare(self, sequence: Sequence, track: Track, targets: np.ndarray) -> dict: ...

    def infer(self, batch: dict) -> dict: ...

    def finalize(self, batch: dict) -> list[FrameMask]: ...


def visible_targets(track: Track, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split ``targets`` into (visible, invisible) frame indices for ``track``."""
    targets = np.asarray(targets, dtype=np.int64)
    vis = track.visible[targets]
    return targets[vis], targets[~vis]


def windows(targets: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """Consecutive chunks of at most ``size`` targets."""
    for start in range(0, len(targets), size):
        yield targets[start:start + size]


def run_method(method: Method, sequence: Sequence, track: Track, targets: np.ndarray | None = None,
               *, window: int | None = None) -> Iterator[FrameMask]:
    """Masks for ``targets`` (default: the sequence's sampled frames), in frame order, ``window``
    (default: the method's own) targets at a time.

    Invisible frames yield ``FrameMask(mask=None)`` without any decoding.
    """
    targets = np.asarray(sequence.sampled if targets is None else targets, dtype=np.int64)
    for chunk in windows(targets, window or method.window):
        visible, _ = visible_targets(track, chunk)
        results: dict[int, FrameMask] = {}
        if visible.size:
            batch = method.infer(method.prepare(sequence, track, visible))
            results = {fm.frame: fm for fm in method.finalize(batch)}
        for frame in chunk:
            yield results.get(int(frame), FrameMask(track.track_id, int(frame), None, float("nan")))
