"""DAVIS / YouTube-VOS-style label folders.

::

    DEST/Annotations/<sequence>/<source frame stem>.png   8-bit palette PNG, DAVIS palette,
                                                          0 = background, objects 1..N
    DEST/ImageSets/<split>.txt                            the sequences, one per line
    DEST/meta.json                                        per sequence: object id -> track id,
                                                          category and the frames it has a mask in
    DEST/JPEGImages/<sequence>/<stem>.<ext>               optional symbolic links to the frames

Tracks of a sequence get object ids 1..N in track-id order; where two masks
overlap, the higher object id wins.  Every annotated frame gets a PNG (all
zeros where no track has a mask), so a folder never mixes two exports.  Each
file is written atomically and ``ImageSets/<split>.txt`` last, so its presence
says the export finished.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from box2mask.atomic import atomic_path, atomic_write_text
from box2mask.export.common import ROW_COLUMNS, ExportOptions, ExportStats, keep_mask
from box2mask.export.jsonstream import JsonStream
from box2mask.export.source import RunSource, SequenceRows, row_mask
from box2mask.masks.png import VOID_LABEL, write_label_png

MAX_OBJECTS = VOID_LABEL - 1


def export_davis(source: RunSource, dest: Path | str, *, options: ExportOptions = ExportOptions(),
                 split: str = "all", link_images: bool = False,
                 on_sequence: Callable[[SequenceRows], None] | None = None,
                 errors: list[str] | None = None) -> ExportStats:
    """Write the folder ``dest``; a sequence that cannot be written is named in ``errors`` and skipped."""
    dest = Path(dest)
    stats = ExportStats()
    written: list[str] = []
    with atomic_path(dest / "meta.json") as tmp, open(tmp, "w", encoding="utf-8") as fh:
        js = JsonStream(fh)
        js.open_object()
        js.open_object("videos")
        for seq in source.sequences(ROW_COLUMNS, duplicates=stats.duplicates):
            tracks = seq.track_ids()
            if len(tracks) > MAX_OBJECTS:
                message = (f"{seq.id}: {len(tracks)} tracks do not fit one 8-bit label map "
                           f"(at most {MAX_OBJECTS}); sequence skipped")
                if errors is None:
                    raise ValueError(message)
                errors.append(message)
                continue
            objects = _write_sequence(source, seq, dest, tracks, options, stats, link_images)
            js.value({"objects": objects}, seq.id)
            written.append(seq.id)
            stats.sequences += 1
            if on_sequence is not None:
                on_sequence(seq)
        js.close("object")
        js.close("object")
        fh.write("\n")
    atomic_write_text(dest / "ImageSets" / f"{split}.txt", "".join(f"{s}\n" for s in written))
    return stats


def _write_sequence(source: RunSource, seq: SequenceRows, dest: Path, tracks: list[int],
                    options: ExportOptions, stats: ExportStats, link_images: bool) -> dict:
    object_id = {t: k for k, t in enumerate(tracks, start=1)}
    objects: dict[str, dict] = {str(object_id[t]): {"track_id": t, "category": None, "frames": []} for t in tracks}
    folder = dest / "Annotations" / seq.id
    labels = None
    current: dict | None = None

    def flush() -> None:
        if current is not None:
            write_label_png(folder / f"{current['frame_stem']}.png", labels)
            stats.frames += 1
            if link_images:
                _link(source.frame_file(current["frame_path"]), dest / "JPEGImages" / seq.id, current["frame_stem"])

    for row in seq.rows():
        if current is None or row["frame_index"] != current["frame_index"]:
            flush()
            current = row
            labels = np.zeros((seq.height, seq.width), dtype=np.uint8)
        obj = objects[str(object_id[int(row["track_id"])])]
        obj["category"] = obj["category"] or row["category"]
        if keep_mask(row, options, stats):
            labels[row_mask(row)] = object_id[int(row["track_id"])]
            obj["frames"].append(row["frame_stem"])
    flush()
    return objects


def _link(target: Path, folder: Path, stem: str) -> None:
    """Symbolic link ``folder/<stem><suffix>`` -> ``target``, replaced atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / f"{stem}{target.suffix}"
    tmp = folder / f".{link.name}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.abspath(target), tmp)
    os.replace(tmp, link)
