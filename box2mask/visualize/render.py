"""Rendering a run's sequence: frames from the dataset, masks and boxes from the shards.

Frames are found through the dataset root in ``run.json`` and each row's
``frame_path``.  The motion map needs the whole sequence (neighbouring frames
and every track's boxes), so with ``motion=True`` the sequence is re-opened
with its dataset reader; when that or the motion module is unavailable the
pictures are drawn without it and ``on_warning`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from box2mask.errors import Box2MaskError
from box2mask.export.source import FrameRef, RunSource, SequenceRows, row_mask
from box2mask.frames import read_rgb
from box2mask.visualize.overlay import overlay

RENDER_COLUMNS = ["visible", "rle", "source_box", "score", "qa_score"]


@dataclass
class RenderedFrame:
    """One drawn frame; ``qa`` is the lowest QA score among its tracks (``None`` if none visible)."""

    frame: FrameRef
    image: np.ndarray
    qa: float | None


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
                    on_warning: Callable[[str], None] | None = None) -> Iterator[RenderedFrame]:
    """Draw the annotated frames of ``seq`` (or those at ``positions`` in its frame list), in order."""
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
        image = read_rgb(source.frame_file(ref.path))
        per_track = rows.get(ref.index, {})
        drawn, scores = [], []
        for t in tracks:
            row = per_track.get(t)
            if row is None:
                drawn.append((None, None))
                continue
            drawn.append((row_mask(row), row["source_box"]))
            if row.get("qa_score") is not None:
                scores.append(float(row["qa_score"]))
        qa = min(scores) if scores else None
        text = f"{seq.id} {ref.stem}" + (f"  QA {qa:.2f}" if qa is not None else "") if captions else None
        yield RenderedFrame(ref, overlay(image, drawn, motion=maps.get(ref.index), text=text), qa)
