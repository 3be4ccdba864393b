"""Checking an export after it is written and before it is renamed into place.

A JSON export is read back in full, streamed (a COCO file for a big run is
tens of GB, so each top-level array is parsed item by item and only one item
is held at a time), and its counts are compared with what the shards held:
the number of videos, images and annotations is tallied from the shard tables
themselves (:class:`ShardTally`), not from what the writer reports.  Any
mismatch raises :class:`ExportCheckError` naming the file; the caller is
inside :func:`box2mask.atomic.atomic_path`, so nothing is renamed into place.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from box2mask.export.failures import OutputError
from box2mask.export.source import SequenceRows

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
MAX_ITEM_CHARS = 1 << 30


class ExportCheckError(OutputError):
    """A written export does not parse or does not hold what the shards hold."""

    def __init__(self, dest: Path | str, problem: str):
        super().__init__(f"{dest}: the written export failed its check ({problem}); nothing was written "
                         "to that path", "this is a bug in box2mask: please report it with this message; "
                         "the run folder is unchanged")
        self.dest = Path(dest)
        self.problem = problem


class _Reader:
    """Characters of a text file with a sliding buffer; values are decoded with ``raw_decode``."""

    def __init__(self, fh: TextIO, chunk: int = 1 << 20):
        self.fh, self.chunk = fh, chunk
        self.buf, self.pos, self.offset, self.eof = "", 0, 0, False

    def _fill(self, size: int) -> None:
        if self.pos:
            self.offset += self.pos
            self.buf, self.pos = self.buf[self.pos:], 0
        data = self.fh.read(size)
        if not data:
            self.eof = True
        self.buf += data

    def peek(self) -> str:
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos] if self.pos < len(self.buf) else ""
            self._fill(self.chunk)

    def take(self, expected: str) -> str:
        c = self.peek()
        if c not in expected:
            got = repr(c) if c else "the end of the file"
            raise ValueError(f"expected {' or '.join(repr(e) for e in expected)} at character "
                             f"{self.offset + self.pos}, found {got}")
        self.pos += 1
        return c

    def value(self) -> Any:
        self.peek()
        size = self.chunk
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise ValueError(f"invalid JSON at character {self.offset + exc.pos}: {exc.msg}") from None
            else:
                if end < len(self.buf) or self.eof:    # a number at the buffer's end may go on
                    self.pos = end
                    return value
            if len(self.buf) - self.pos > MAX_ITEM_CHARS:
                raise ValueError(f"an item at character {self.offset + self.pos} is longer than "
                                 f"{MAX_ITEM_CHARS} characters or never ends")
            self._fill(size)
            size *= 2


def scan_json(path: Path | str, on_item: Callable[[str, Any], None] | None = None) -> dict[str, int]:
    """Parse the JSON document at ``path`` (a top-level object), streaming its arrays and objects.

    Returns the number of items of every top-level array or object member; calls
    ``on_item(key, item)`` for each (an object's item is ``(name, value)``).  Raises
    ``ValueError`` saying where the text stops being valid JSON.
    """
    counts: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        r = _Reader(fh)
        r.take("{")
        if r.peek() == "}":
            r.take("}")
        else:
            while True:
                key = r.value()
                if not isinstance(key, str):
                    raise ValueError(f"a top-level key is not a string: {key!r}")
                r.take(":")
                opening = r.peek()
                if opening in "[{":
                    closing = "]" if opening == "[" else "}"
                    r.take(opening)
                    n = 0
                    if r.peek() == closing:
                        r.take(closing)
                    else:
                        while True:
                            if opening == "{":
                                name = r.value()
                                if not isinstance(name, str):
                                    raise ValueError(f"a key inside {key!r} is not a string: {name!r}")
                                r.take(":")
                                item = (name, r.value())
                            else:
                                item = r.value()
                            n += 1
                            if on_item is not None:
                                on_item(key, item)
                            if r.take("," + closing) == closing:
                                break
                    counts[key] = n
                else:
                    r.value()
                if r.take(",}") == "}":
                    break
        if r.peek() != "":
            raise ValueError(f"extra data after the document at character {r.offset + r.pos}")
    return counts


class ShardTally:
    """What the shards hold, counted from the shard tables the export read (not from its output)."""

    def __init__(self, min_score: float | None = None, score_column: str = "score"):
        self.min_score, self.score_column = min_score, score_column
        self.videos = self.images = self.tracks = self.masks = 0
        self.tracks_of: dict[str, int] = {}

    def add(self, seq: SequenceRows) -> None:
        t = seq.table
        self.videos += 1
        frames = t["frame_index"].to_numpy(zero_copy_only=False)
        self.images += int(np.unique(frames).size)
        tracks = int(len(pc.unique(t["track_id"])))
        self.tracks += tracks
        self.tracks_of[seq.id] = tracks
        keep = pc.and_(pc.fill_null(t["visible"], False), pc.is_valid(t["rle"]))
        keep = pc.and_(keep, pc.fill_null(pc.greater(t["area"], 0), False))
        if self.min_score is not None:
            keep = pc.and_(keep, pc.fill_null(pc.greater_equal(t[self.score_column], pa.scalar(self.min_score)),
                                              False))
        self.masks += int(pc.sum(pc.cast(keep, pa.int64())).as_py() or 0)


def _expect(dest: Path, counts: dict[str, int], expected: dict[str, int]) -> None:
    for key, want in expected.items():
        got = counts.get(key)
        if got is None:
            raise ExportCheckError(dest, f"no {key!r} section")
        if got != want:
            raise ExportCheckError(dest, f"{got} {key} written, but the shards hold {want}")


def check_coco(tmp: Path, dest: Path, tally: ShardTally) -> None:
    """``tmp`` (the COCO file about to become ``dest``) parses and matches ``tally``."""
    state = {"images": 0}

    def item(key: str, value: Any) -> None:
        if key == "images":
            state["images"] += 1
            if value.get("id") != state["images"]:
                raise ValueError(f"image {state['images']} has id {value.get('id')!r}")
        elif key == "annotations" and not 1 <= int(value.get("image_id", 0)) <= state["images"]:
            raise ValueError(f"annotation {value.get('id')!r} names image {value.get('image_id')!r}, "
                             "which is not in the file")

    try:
        counts = scan_json(tmp, item)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ExportCheckError(dest, str(exc)) from None
    _expect(dest, counts, {"images": tally.images, "annotations": tally.masks, "videos": tally.videos})


def check_ytvis(tmp: Path, dest: Path, tally: ShardTally) -> None:
    """``tmp`` (the YouTube-VIS file about to become ``dest``) parses, has one slot per frame in every
    annotation, and matches ``tally``."""
    lengths: dict[int, int] = {}

    def item(key: str, value: Any) -> None:
        if key == "videos":
            if len(value["file_names"]) != value["length"]:
                raise ValueError(f"video {value['name']!r} has {len(value['file_names'])} file names "
                                 f"for length {value['length']}")
            lengths[int(value["id"])] = int(value["length"])
        elif key == "annotations":
            length = lengths.get(int(value["video_id"]))
            if length is None:
                raise ValueError(f"annotation {value.get('id')!r} names video {value['video_id']!r}, "
                                 "which is not in the file")
            for field in ("segmentations", "bboxes", "areas", "scores"):
                if len(value[field]) != length:
                    raise ValueError(f"annotation {value.get('id')!r} has {len(value[field])} {field} "
                                     f"for a video of {length} frames")

    try:
        counts = scan_json(tmp, item)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ExportCheckError(dest, str(exc)) from None
    _expect(dest, counts, {"videos": tally.videos, "annotations": tally.tracks})


def check_davis_meta(tmp: Path, dest: Path, tally: ShardTally) -> None:
    """``meta.json`` of a DAVIS export parses and lists every exported sequence with all its tracks."""
    objects: dict[str, int] = {}

    def item(key: str, value: Any) -> None:
        if key == "videos":
            name, video = value
            objects[name] = len(video["objects"])

    try:
        counts = scan_json(tmp, item)
    except (ValueError, TypeError, KeyError) as exc:
        raise ExportCheckError(dest, str(exc)) from None
    _expect(dest, counts, {"videos": tally.videos})
    for name, n in objects.items():
        if tally.tracks_of.get(name) != n:
            raise ExportCheckError(dest, f"sequence {name!r} lists {n} objects, but the shards hold "
                                         f"{tally.tracks_of.get(name)} tracks")
