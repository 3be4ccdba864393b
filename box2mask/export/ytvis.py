"""YouTube-VIS (2019/2021 layout) JSON, streamed from the shards.

``videos``: ``id``, ``name``, ``file_names`` (the annotated frames, relative to
the image root), ``width``, ``height``, ``length``.  ``annotations``: one per
track with ``video_id``, ``category_id`` and, per video frame, one slot in
``segmentations`` (RLE with string ``counts``, or ``null`` where the track has
no mask), ``bboxes`` and ``areas``; ``iscrowd`` 0, plus ``track_id`` and per-frame
``scores``.  ``categories`` as in COCO.

A track's segmentations are written slot by slot into a spool, so even a
video of thousands of frames never sits in memory as one Python object.  Each
slot is written exactly once, in order: a row repeating a (track, frame) is read
once (:class:`~box2mask.export.source.RunSource` drops the copy and the export
warns).  The file is read back and checked against the shards' counts
(:mod:`box2mask.export.validate`) before it is renamed into place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TextIO

from box2mask.atomic import atomic_path
from box2mask.export.coco import open_document
from box2mask.export.common import (
    counted_sequences,
    ExportOptions,
    ExportStats,
    FrameNamer,
    category_ids,
    category_list,
    json_destination,
    keep_mask,
    rounded,
    tally_for,
    xywh,
)
from box2mask.export.jsonstream import Spool, dumps
from box2mask.export.source import RunSource, SequenceRows
from box2mask.export.validate import ShardTally, check_ytvis


def export_ytvis(source: RunSource, dest: Path | str, *, options: ExportOptions = ExportOptions(),
                 on_sequence: Callable[[SequenceRows], None] | None = None) -> ExportStats:
    """Write ``dest`` (a ``.json`` file); returns the counts."""
    dest = json_destination(dest, "ytvis")
    stats = ExportStats()
    tally = tally_for(options)
    cats = category_ids(source)
    name_of = FrameNamer(source, options.image_root)
    dataset = source.info.dataset if source.info else None
    with atomic_path(dest) as tmp:
        with Spool(dest.parent) as annotations, open(tmp, "w", encoding="utf-8") as fh:
            _write(fh, annotations, source, stats, tally, cats, name_of, dataset, options, on_sequence)
        check_ytvis(tmp, dest, tally)
    return stats


def _write(fh: TextIO, annotations: Spool, source: RunSource, stats: ExportStats, tally: ShardTally,
           cats: dict[str, int], name_of: FrameNamer, dataset: str | None, options: ExportOptions,
           on_sequence: Callable[[SequenceRows], None] | None) -> None:
    """The document, videos first; each track's annotation is spooled and copied in after them."""
    annotation_id = 0
    js = open_document(fh, source, "youtube-vis")
    js.open_array("videos")
    for video_id, seq in counted_sequences(source, stats, tally):
        frames = seq.frames()
        stats.frames += len(frames)
        js.value({"id": video_id, "name": seq.id, "width": seq.width, "height": seq.height,
                  "length": len(frames), "file_names": [name_of(f.path) for f in frames],
                  "frame_indices": [f.index for f in frames]})
        slot_of = {f.index: k for k, f in enumerate(frames)}
        for track in seq.track_ids():
            annotation_id += 1
            _write_track(annotations, seq, track, len(frames), slot_of, annotation_id, video_id,
                         cats, options, stats)
        if on_sequence is not None:
            on_sequence(seq)
    js.close("array")
    js.array_from("annotations", annotations)
    js.value(category_list(cats, dataset), "categories")
    js.close("object")
    fh.write("\n")


def _write_track(spool: Spool, seq: SequenceRows, track: int, length: int, slot_of: dict[int, int],
                 annotation_id: int, video_id: int, cats: dict[str, int], options: ExportOptions,
                 stats: ExportStats) -> None:
    """One annotation: segmentations streamed slot by slot, the small per-frame lists kept."""
    bboxes: list = [None] * length
    areas: list = [None] * length
    scores: list = [None] * length
    category = None
    spool.start_item()
    spool.raw(f'{{"id":{annotation_id},"video_id":{video_id},"track_id":{track},"iscrowd":0,"segmentations":[')
    next_slot = 0
    for row in seq.track_rows(track):
        category = category or row["category"]
        slot = slot_of[int(row["frame_index"])]
        if slot < next_slot:       # a second row for a slot already written: one value per slot
            continue
        spool.raw("null," * (slot - next_slot))
        if keep_mask(row, options, stats):
            spool.raw(dumps({"size": [int(row["height"]), int(row["width"])], "counts": row["rle"]}))
            bboxes[slot] = xywh(row["mask_box"])
            areas[slot] = int(row["area"])
            scores[slot] = rounded(row["score"])
        else:
            spool.raw("null")
        spool.raw("," if slot + 1 < length else "")
        next_slot = slot + 1
    spool.raw(",".join(["null"] * (length - next_slot)))
    spool.raw(f'],"category_id":{cats[category or "object"]},"bboxes":{dumps(bboxes)},'
              f'"areas":{dumps(areas)},"scores":{dumps(scores)}}}')
