"""COCO instance segmentation JSON, streamed from the shards.

``images`` (one per annotated frame: ``file_name`` holds the sequence's folder,
plus ``sequence``, ``sequence_id``/``video_id`` and ``frame_index``/``frame_id``),
``annotations`` (RLE ``segmentation`` with ``counts`` as a string, ``area``,
``bbox`` of the mask, the given box as ``source_bbox``, ``iscrowd`` 0,
``score``, ``qa_score``, ``track_id`` and a run-wide ``instance_id``),
``videos`` and ``categories``.  The extra keys are the ones video-aware COCO
readers (mmtracking's CocoVID) look for; plain ``pycocotools.COCO`` ignores them.

Images and annotations are produced in the same pass, so annotations are
spooled to a temporary file beside the output and copied in after the images.
The file is read back and its counts checked against the shards
(:mod:`box2mask.export.validate`) before it is renamed into place, so the
output file appears only when complete and valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TextIO

from box2mask.atomic import atomic_path
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
from box2mask.export.jsonstream import JsonStream, Spool
from box2mask.export.source import RunSource, SequenceRows
from box2mask.export.validate import ShardTally, check_coco


def run_info_block(source: RunSource, fmt: str) -> dict:
    info = source.info
    return {"description": f"box2mask pseudo-labels ({fmt})",
            "version": info.version if info else None,
            "method": info.method if info else None,
            "dataset": info.dataset if info else None,
            "weights_sha256": info.weights_sha256 if info else None}


def open_document(fh: TextIO, source: RunSource, fmt: str) -> JsonStream:
    """Start a COCO-style JSON document on ``fh``: the object, its ``info`` block and empty ``licenses``."""
    js = JsonStream(fh)
    js.open_object()
    js.value(run_info_block(source, fmt), "info")
    js.value([], "licenses")
    return js


def export_coco(source: RunSource, dest: Path | str, *, options: ExportOptions = ExportOptions(),
                on_sequence: Callable[[SequenceRows], None] | None = None) -> ExportStats:
    """Write ``dest`` (a ``.json`` file); returns the counts."""
    dest = json_destination(dest, "coco")
    stats = ExportStats()
    tally = tally_for(options)
    with atomic_path(dest) as tmp:
        with Spool(dest.parent) as annotations, Spool(dest.parent) as videos, \
                open(tmp, "w", encoding="utf-8") as fh:
            _write(fh, annotations, videos, source, stats, tally, options, on_sequence)
        check_coco(tmp, dest, tally)
    return stats


def _write(fh: TextIO, annotations: Spool, videos: Spool, source: RunSource, stats: ExportStats,
           tally: ShardTally, options: ExportOptions, on_sequence: Callable[[SequenceRows], None] | None) -> None:
    """The document: images as the rows come, then the spooled annotations and videos."""
    cats = category_ids(source)
    name_of = FrameNamer(source, options.image_root)
    image_id = annotation_id = instance_id = 0
    dataset = source.info.dataset if source.info else None
    js = open_document(fh, source, "coco")
    js.open_array("images")
    for video_id, seq in counted_sequences(source, stats, tally):
        videos.add({"id": video_id, "name": seq.id, "width": seq.width, "height": seq.height})
        frame_ids: dict[int, int] = {}
        instances: dict[int, int] = {}
        for row in seq.rows():
            frame = int(row["frame_index"])
            if frame not in frame_ids:
                image_id += 1
                frame_ids[frame] = image_id
                stats.frames += 1
                js.value({"id": image_id, "file_name": name_of(row["frame_path"]),
                          "width": int(row["width"]), "height": int(row["height"]),
                          "sequence": seq.id, "sequence_id": video_id, "video_id": video_id,
                          "frame_index": frame, "frame_id": frame})
            if not keep_mask(row, options, stats):
                continue
            track = int(row["track_id"])
            if track not in instances:
                instance_id += 1
                instances[track] = instance_id
            annotation_id += 1
            annotations.add({
                "id": annotation_id, "image_id": frame_ids[frame],
                "category_id": cats[row["category"] or "object"],
                "segmentation": {"size": [int(row["height"]), int(row["width"])], "counts": row["rle"]},
                "area": int(row["area"]), "bbox": xywh(row["mask_box"]),
                "source_bbox": xywh(row["source_box"]), "iscrowd": 0,
                "score": rounded(row["score"]), "qa_score": rounded(row["qa_score"]),
                "track_id": track, "instance_id": instances[track],
            })
        if on_sequence is not None:
            on_sequence(seq)
    js.close("array")
    js.array_from("annotations", annotations)
    js.array_from("videos", videos)
    js.value(category_list(cats, dataset), "categories")
    js.close("object")
    fh.write("\n")
