"""The plain folder format, for users' own box-annotated videos.

::

    <root>/<sequence>/frames/<any name>.jpg ...   frames, in file-name order
                                                   (or the images directly in <sequence>/)
    <root>/<sequence>/boxes.csv                    or boxes.jsonl

``boxes.csv`` has a header line and one row per (frame, track)::

    frame,x0,y0,x1,y1[,visible][,track_id][,category]
    00000001.jpg,10.5,20,110,220,1,1,dog

``boxes.jsonl`` holds one JSON object per line with the same keys, ``box`` as a
list ``[x0, y0, x1, y1]``::

    {"frame": "00000001.jpg", "box": [10.5, 20, 110, 220], "track_id": 1, "category": "dog"}

``frame`` is a file name in the frame folder or a 0-based index.  Coordinates are
pixels in the ``x0, y0, x1, y1`` convention of :mod:`box2mask.structures`.
``visible`` defaults to 1, ``track_id`` to 1, ``category`` to ``object``.  Frames
with no row have no box for that track.  An optional ``<sequence>/meta.json``
object is copied into the sequence metadata.  A sequence folder must lie inside the
root (a symbolic link leading out is an error; see :mod:`box2mask.datasets.entries`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from box2mask.datasets.entries import Listing, listing_from_folders, sequence_folder
from box2mask.datasets.validation import ProblemLog, finalize_boxes, present, read_lines, read_text, scan_frames
from box2mask.errors import DatasetError
from box2mask.frames import regular_file_problem
from box2mask.structures import Sequence, Track

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


class FolderReader:
    """Reads the plain folder format (see the module docstring)."""

    name = "folder"

    def __init__(self, root: Path | str, *, split: str | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"folder dataset root {self.root} does not exist or is not a folder")
        self.split = split
        self._listing: Listing | None = None

    def listing(self) -> Listing:
        """The sequence folders (those holding a box file) under the root, found once."""
        if self._listing is None:
            names = sorted(p.name for p in self.root.iterdir()
                           if p.is_dir() and any(present(p / f) for f in ("boxes.csv", "boxes.jsonl")))
            if not names:
                raise DatasetError(f"{self.root} holds no <sequence>/boxes.csv or <sequence>/boxes.jsonl")
            self._listing = listing_from_folders(names)
        return self._listing

    def sequence_ids(self) -> list[str]:
        return self.listing().ids()

    def load(self, seq_id: str) -> Sequence:
        log = ProblemLog(seq_id)
        folder = sequence_folder(self.listing(), seq_id, self.root, log)
        frame_dir = folder / "frames" if (folder / "frames").is_dir() else folder
        frames, size = scan_frames(frame_dir, log, numbered=False)
        log.raise_if_errors()
        assert size is not None
        height, width = size
        index_of = {p.name: i for i, p in enumerate(frames)}
        csv_path, jsonl_path = folder / "boxes.csv", folder / "boxes.jsonl"
        box_file = csv_path if present(csv_path) else jsonl_path
        rows = _read_csv(csv_path, log) if box_file == csv_path else _read_jsonl(jsonl_path, log)
        log.raise_if_errors()

        n = len(frames)
        per_track: dict[int, dict] = {}
        for line, row in rows:
            frame = _frame_index(row.get("frame"), index_of, n)
            if frame is None:
                log.error(f"frame {row.get('frame')!r} is neither a frame file nor an index 0..{n - 1}",
                          box_file, line)
                continue
            try:
                box = [float(v) for v in row["box"]]
                track_id = int(row.get("track_id", 1) or 1)
                visible = _as_bool(row.get("visible", True))
            except (TypeError, ValueError, KeyError) as exc:
                log.error(f"bad value ({exc})", box_file, line)
                continue
            if len(box) != 4 or any(math.isnan(v) or math.isinf(v) for v in box):
                log.error(f"box must be 4 finite numbers x0,y0,x1,y1, got {row['box']}", box_file, line)
                continue
            if box[2] < box[0] or box[3] < box[1]:
                log.error(f"box has x1 < x0 or y1 < y0: {box}", box_file, line)
                continue
            track = per_track.setdefault(track_id, {
                "xywh": np.full((n, 4), np.nan), "present": np.zeros(n, bool), "lines": np.zeros(n, int),
                "category": str(row.get("category") or "object"),
            })
            if track["lines"][frame]:
                log.error(f"frame {frame} of track {track_id} already has a box (line {track['lines'][frame]})",
                          box_file, line)
                continue
            track["xywh"][frame] = [box[0], box[1], box[2] - box[0], box[3] - box[1]]
            track["present"][frame] = visible
            track["lines"][frame] = line
        if not rows:
            log.error("holds no boxes", box_file)
        log.raise_if_errors()

        tracks = []
        for track_id in sorted(per_track):
            t = per_track[track_id]
            boxes, visible = finalize_boxes(t["xywh"], t["present"], height=height, width=width,
                                            log=log, file=box_file)
            tracks.append(Track(track_id, boxes, visible, category=t["category"]))
        meta = {"class": tracks[0].category, "split": self.split or "unknown"}
        meta.update(_read_meta(folder / "meta.json", log))
        return Sequence(id=seq_id, dataset=self.name, frames=tuple(frames), tracks=tuple(tracks),
                        image_size=(height, width), meta=meta, warnings=log.warnings())


def _read_meta(path: Path, log: ProblemLog) -> dict[str, str]:
    """The optional ``meta.json`` object as strings; anything unusable is a warning and ignored."""
    if not present(path):
        return {}
    reason = regular_file_problem(path)
    if reason is not None:
        log.warn(f"is {reason}; ignored", path)
        return {}
    side = ProblemLog(log.sequence)
    text = read_text(path, side, required=True)
    if text is None:
        log.warn(f"{side.errors[0].message}; ignored", path)
        return {}
    try:
        return {str(k): str(v) for k, v in json.loads(text).items()}
    except (json.JSONDecodeError, AttributeError) as exc:
        log.warn(f"is not a JSON object ({exc}); ignored", path)
        return {}


def _read_csv(path: Path, log: ProblemLog) -> list[tuple[int, dict]]:
    text = read_text(path, log, required=True)
    if text is None:
        return []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = {"frame", "x0", "y0", "x1", "y1"} - set(reader.fieldnames or [])
    if missing:
        log.error(f"header lacks column(s) {', '.join(sorted(missing))}", path, 1)
        return []
    rows = []
    try:
        for row in reader:
            row["box"] = [row.pop(k) for k in ("x0", "y0", "x1", "y1")]
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        log.error(f"is not valid CSV ({exc})", path, reader.line_num)
    return rows


def _read_jsonl(path: Path, log: ProblemLog) -> list[tuple[int, dict]]:
    rows = []
    for i, line in enumerate(read_lines(path, log, required=True) or [], start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            log.error(f"not valid JSON ({exc.msg})", path, i)
            continue
        if not isinstance(row, dict) or "frame" not in row or "box" not in row:
            log.error("each line must be an object with 'frame' and 'box'", path, i)
            continue
        rows.append((i, row))
    return rows


def _frame_index(value: object, index_of: dict[str, int], n: int) -> int | None:
    if isinstance(value, str) and value in index_of:
        return index_of[value]
    try:
        k = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return k if 0 <= k < n else None


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"visible must be 0/1 or true/false, got {value!r}")
