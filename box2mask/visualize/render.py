"""Rendering a run's sequence: frames from the dataset, masks and boxes from the shards.

Frames are found through the dataset root in ``run.json`` and each row's
``frame_path``.  The motion map needs the whole sequence (neighbouring frames
and every track's boxes), so with ``motion=True`` the sequence is re-opened
with its dataset reader; when that or the motion module is unavailable the
pictures are drawn without it and ``on_warning`` says why.

A frame that cannot be drawn (its file is missing, truncated or not an image;
a shard row's mask cannot be decoded or does not fit the frame) is left out and
reported through ``on_skip`` as a :class:`~box2mask.export.source.Skipped`, so
one bad frame never costs the rest of the pictures.  Without ``on_skip`` it raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import cv2
import numpy as np

from box2mask.errors import Box2MaskError
from box2mask.export.failures import one_line
from box2mask.export.source import FrameRef, RunSource, SequenceRows, Skipped, row_mask
from box2mask.frames import read_rgb
from box2mask.visualize.overlay import overlay

RENDER_COLUMNS = ["visible", "rle", "source_box", "mask_box", "score", "qa_score"]

#: What reading a frame or decoding a row can raise when the file or the row is bad.
UNREADABLE = (Box2MaskError, OSError, ValueError, IndexError, TypeError, cv2.error)


@dataclass(frozen=True)
class RenderedFrame:
    """One drawn frame; ``qa`` is the lowest QA score among its tracks (``None`` if none visible).

    ``boxes`` maps each track drawn to the given box and the mask's tight box (either ``None``),
    for cropping a thumbnail around one object."""

    frame: FrameRef
    image: np.ndarray
    qa: float | None
    boxes: dict[int, tuple[list | None, list | None]] = field(default_factory=dict)


def _draw(source: RunSource, seq: SequenceRows, ref: FrameRef, tracks: list[int], per_track: dict[int, dict],
          motion: np.ndarray | None, captions: bool) -> RenderedFrame:
    image = read_rgb(source.frame_file(ref.path))
    drawn, scores, boxes = [], [], {}
    for t in tracks:
        row = per_track.get(t)
        if row is None:
            drawn.append((None, None))
            continue
        try:
            mask = row_mask(row)
        except UNREADABLE as exc:
            raise ValueError(f"the shard row of track {t} has a mask that cannot be decoded ({exc})") from None
        if mask is not None and mask.shape != image.shape[:2]:
            raise ValueError(f"the mask of track {t} is {mask.shape[1]}x{mask.shape[0]} but the frame "
                             f"{source.frame_file(ref.path)} is {image.shape[1]}x{image.shape[0]}")
        drawn.append((mask, row["source_box"]))
        boxes[t] = (row.get("source_box"), row.get("mask_box"))
        if row.get("qa_score") is not None:
            scores.append(float(row["qa_score"]))
    qa = min(scores) if scores else None
    text = f"{seq.id} {ref.stem}" + (f"  QA {qa:.2f}" if qa is not None else "") if captions else None
    return RenderedFrame(ref, overlay(image, drawn, motion=motion, text=text), qa, boxes)


def _motion_frames(source: RunSource, seq_id: str, indices: list[int],
                   warn: Callable[[str], None]) -> dict[int, np.ndarray]:
    try:
        from box2mask.motion.stream import motion_maps
    except ImportError:
        warn("motion maps unavailable (box2mask.motion is not installed); drawing without them")
        return {}
    info = source.info
    if info is None:
        warn("run.json is missing, so the dataset cannot be re-opened for motion maps")
        return {}
    try:
        from box2mask.datasets import open_dataset

        sequence = open_dataset(info.dataset, info.root, split=info.split).load(seq_id)
        return {m.index: m.map for m in motion_maps(sequence, indices=indices)}
    except (Box2MaskError, OSError, ValueError) as exc:
        warn(f"{seq_id}: motion maps failed ({exc}); drawing without them")
        return {}


def render_sequence(source: RunSource, seq: SequenceRows | str, *, positions: list[int] | None = None,
                    motion: bool = False, captions: bool = True,
                    on_warning: Callable[[str], None] | None = None,
                    on_skip: Callable[[Skipped], None] | None = None) -> Iterator[RenderedFrame]:
    """Draw the annotated frames of ``seq`` (or those at ``positions`` in its frame list), in order.

    A frame that cannot be drawn is left out and passed to ``on_skip`` (raises without it)."""
    warn = on_warning or (lambda message: None)
    if isinstance(seq, str):
        found = source.sequence(seq, RENDER_COLUMNS)
        if found is None:
            raise Box2MaskError(f"sequence {seq!r} is not in the run at {source.paths.root}")
        seq = found
    frames = seq.frames()
    chosen = [frames[p] for p in positions] if positions is not None else frames
    wanted = {f.index for f in chosen}
    tracks = seq.track_ids()
    rows: dict[int, dict[int, dict]] = {}
    for row in seq.rows():
        if row["frame_index"] in wanted:
            rows.setdefault(row["frame_index"], {})[row["track_id"]] = row
    maps = _motion_frames(source, seq.id, sorted(wanted), warn) if motion else {}
    for ref in chosen:
        try:
            rendered = _draw(source, seq, ref, tracks, rows.get(ref.index, {}), maps.get(ref.index), captions)
        except UNREADABLE as exc:
            if on_skip is None:
                raise
            on_skip(Skipped("frame", f"{seq.id}/{ref.stem}", one_line(exc)))
            continue
        yield rendered
