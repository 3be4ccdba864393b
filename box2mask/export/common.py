"""What every exporter shares: options, the mask filter, category ids, frame names and counts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from box2mask.export.failures import OutputError
from box2mask.export.source import RunSource, SequenceRows
from box2mask.export.validate import ShardTally

SCORE_FIELDS = {"confidence": "score", "qa": "qa_score"}


@dataclass(frozen=True)
class ExportOptions:
    """``min_score`` drops masks whose ``score_by`` score (``"confidence"``: the method's
    confidence; ``"qa"``: the combined QA score) is below it or missing.  Frame names are
    written relative to ``image_root`` (default: the dataset root recorded in run.json)."""

    min_score: float | None = None
    score_by: str = "confidence"
    image_root: Path | None = None

    def __post_init__(self) -> None:
        if self.score_by not in SCORE_FIELDS:
            raise ValueError(f"score_by must be one of {', '.join(SCORE_FIELDS)}, got {self.score_by!r}")


@dataclass
class ExportStats:
    """Counts for the summary line (filled in as the export goes, so not frozen).

    ``duplicates`` names sequences found in two shards (the later copies skipped);
    ``repeated_rows`` maps a sequence to the number of rows that repeated a
    (track, frame) of its shard and were read once; ``skipped`` holds one message per
    sequence left out of the export (its name and why).
    """

    sequences: int = 0
    frames: int = 0
    masks: int = 0
    filtered: int = 0
    empty: int = 0
    invisible: int = 0
    duplicates: list[str] = field(default_factory=list)
    repeated_rows: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def note(self, seq) -> None:
        """Record what reading ``seq`` (a :class:`~box2mask.export.source.SequenceRows`) repaired."""
        if seq.repeated:
            self.repeated_rows[seq.id] = self.repeated_rows.get(seq.id, 0) + seq.repeated


def counted_sequences(source: RunSource, stats: ExportStats, tally: ShardTally) -> Iterator[tuple[int, SequenceRows]]:
    """``(video id, sequence)`` from 1, each recorded in ``stats`` and ``tally`` as it is read."""
    for video_id, seq in enumerate(source.sequences(ROW_COLUMNS, duplicates=stats.duplicates), start=1):
        stats.note(seq)
        tally.add(seq)
        stats.sequences += 1
        yield video_id, seq


def json_destination(dest: Path, fmt: str) -> Path:
    """``dest`` for a one-file export, refused when it is a folder (os.replace would fail at the end)."""
    dest = Path(dest)
    if dest.is_dir():
        raise OutputError(f"--dest {dest} is a folder; the {fmt} export is one JSON file",
                          f"give a file name, e.g. --dest {dest / (fmt + '.json')}")
    return dest


def tally_for(options: ExportOptions) -> ShardTally:
    """A :class:`~box2mask.export.validate.ShardTally` counting what ``options`` keep."""
    return ShardTally(options.min_score, SCORE_FIELDS[options.score_by])


def keep_mask(row: dict, options: ExportOptions, stats: ExportStats) -> bool:
    """Whether a row's mask goes into the export (and count why not)."""
    if not row.get("visible") or row.get("rle") is None:
        stats.invisible += 1
        return False
    if not row.get("area"):
        stats.empty += 1
        return False
    if options.min_score is not None:
        score = row.get(SCORE_FIELDS[options.score_by])
        if score is None or score < options.min_score:
            stats.filtered += 1
            return False
    stats.masks += 1
    return True


def category_ids(source: RunSource) -> dict[str, int]:
    """Category name -> id (1-based, names sorted, so ids are stable across re-exports)."""
    return {name: k for k, name in enumerate(source.categories(), start=1)}


def category_list(ids: dict[str, int], dataset: str | None) -> list[dict]:
    return [{"id": i, "name": name, "supercategory": dataset or "object"} for name, i in ids.items()]


class FrameNamer:
    """Frame file names relative to the image root, as the training code will open them."""

    def __init__(self, source: RunSource, image_root: Path | None):
        self.source = source
        self.image_root = os.path.abspath(image_root) if image_root is not None else None

    def __call__(self, frame_path: str) -> str:
        if self.image_root is None:
            return Path(frame_path).as_posix()
        return relative_to_root(str(self.source.frame_file(frame_path)), self.image_root)


def relative_to_root(path: str, root: str) -> str:
    """``path`` relative to ``root``, seeing through symlinked folders on either side.

    The dataset root in run.json and the ``--image-root`` a user types may reach the same
    folder through different links; the folders are compared resolved when the plain
    paths do not nest. The file itself is never resolved (frames may be links elsewhere).
    """
    rel = os.path.relpath(os.path.abspath(path), root)
    if rel.startswith(".."):
        real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        resolved = os.path.relpath(real, os.path.realpath(root))
        if not resolved.startswith(".."):
            rel = resolved
    return Path(rel).as_posix()


ROW_COLUMNS = ["category", "visible", "source_box", "mask_box", "rle", "area", "score",
               "qa_box_iou", "qa_fill", "qa_temporal", "qa_score"]


def xywh(box: list[float] | None) -> list[float] | None:
    """``x0, y0, x1, y1`` to COCO ``x, y, w, h`` (``None`` stays ``None``)."""
    if box is None:
        return None
    x0, y0, x1, y1 = box
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)
