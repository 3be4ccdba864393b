"""Shard files: the masks of a run, one parquet file per shard of sequences.

One row per (sequence, track, annotated frame).  Masks are COCO RLE strings
(see :mod:`box2mask.masks.rle`) of size ``height x width``; a frame where the
track is not visible has ``visible = False`` and null mask fields.  Frame paths
are relative to the dataset root recorded in the run's ``run.json``.

Files are written under a temporary name and renamed into place
(:mod:`box2mask.atomic`), so a shard file that exists is complete: that is
what resume relies on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from box2mask.atomic import atomic_path

BOX = pa.list_(pa.float64(), 4)

SCHEMA = pa.schema([
    ("shard", pa.string()),
    ("sequence", pa.string()),
    ("dataset", pa.string()),
    ("category", pa.string()),
    ("track_id", pa.int32()),
    ("frame_index", pa.int32()),
    ("frame_stem", pa.string()),
    ("frame_path", pa.string()),       # relative to the dataset root in run.json
    ("height", pa.int32()),
    ("width", pa.int32()),
    ("visible", pa.bool_()),
    ("source_box", BOX),               # x0, y0, x1, y1 as given (null when not visible)
    ("mask_box", BOX),                 # tight box of the mask (null when empty / not visible)
    ("rle", pa.string()),              # COCO RLE counts (null when not visible)
    ("area", pa.int64()),
    ("score", pa.float32()),           # the method's confidence in [0, 1]
    ("qa_box_iou", pa.float32()),      # IoU(mask box, source box)
    ("qa_fill", pa.float32()),         # mask area / source box area
    ("qa_temporal", pa.float32()),     # IoU with the neighbouring masks after aligning their boxes (eval.qa)
    ("qa_score", pa.float32()),        # combined ground-truth-free quality score in [0, 1]
    ("mask_source", pa.string()),      # the method that made this mask when it says (network, or its fallback)
    ("mask_note", pa.string()),        # why the fallback was asked for (null: the mask passed the box test)
])


# what every shard file has had since the first version (later columns read as null when absent)
CORE_COLUMNS = ("shard", "sequence", "track_id", "frame_index", "visible", "height", "width", "rle")


def write_shard(path: Path | str, rows: Iterable[dict]) -> int:
    """Write rows (dicts keyed by :data:`SCHEMA` names) atomically; returns the row count."""
    table = pa.Table.from_pylist(list(rows), schema=SCHEMA)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return table.num_rows


def read_shard(path: Path | str) -> pa.Table:
    return pq.read_table(path, schema=SCHEMA)


def shard_problem(path: Path | str, *, rows: int | None = None, sha256: str | None = None) -> str | None:
    """Why the shard file at ``path`` cannot count as committed, or ``None`` when it is sound.

    A file whose SHA-256 equals the one its commit recorded is the committed file:
    sound, without parsing it (a resume or ``status`` over thousands of shards
    hashes them, it does not decode them).  Otherwise it reads the parquet footer
    and every column (so a file overwritten with garbage, truncated to 0 bytes or
    cut short fails), checks the schema, and the recorded row count and SHA-256.
    """
    from box2mask.atomic import file_sha256

    path = Path(path)
    try:
        if not path.is_file():
            return "not a regular file"
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        digest = file_sha256(path) if sha256 is not None else None
        if digest is not None and digest == sha256:
            return None
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        return f"not a readable parquet file ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    missing = [name for name in CORE_COLUMNS if name not in table.column_names]
    if missing:
        return f"not a box2mask shard (missing columns {', '.join(missing[:4])})"
    if rows is not None and table.num_rows != rows:
        return f"holds {table.num_rows} rows, {rows} were committed"
    if digest is not None:  # it differs, or we would have returned above
        return "its content changed after it was committed (SHA-256 differs)"
    return None


def shard_paths(run_dir: Path | str) -> list[Path]:
    """Committed shard files of a run (temporary files are skipped)."""
    folder = Path(run_dir) / "shards"
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(".")) if folder.is_dir() else []


def iter_rows(run_dir: Path | str, columns: list[str] | None = None, batch_size: int = 1024) -> Iterator[dict]:
    """Stream rows of every committed shard, one record batch in memory at a time."""
    for path in shard_paths(run_dir):
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
            yield from batch.to_pylist()


def box_or_none(box: np.ndarray | None) -> list[float] | None:
    if box is None or np.isnan(np.asarray(box, dtype=np.float64)).any():
        return None
    return [float(v) for v in box]


def track_rows(sequence, track, results, *, shard: str, root: Path | str,
               homographies: dict[int, np.ndarray] | None = None, temporal: str = "box") -> list[dict]:
    """Shard rows for one track's :class:`~box2mask.methods.base.FrameMask` results (frame order).

    Encodes each mask as RLE and computes the QA fields (:class:`box2mask.eval.qa.TrackQA`):
    the temporal signal compares each mask with the previous and next visible ones after
    aligning their boxes (``temporal="box"``, the default: it ranks masks by true J best,
    see docs/evaluation.md), after camera-motion compensation (``"camera"``: with
    ``homographies[f]`` mapping the previous visible frame onto frame ``f`` when given,
    else estimated by :class:`box2mask.eval.qa.CameraMotion`) or as they are (``"none"``).
    At most two masks are held at a time.
    """
    from box2mask.boxes import box_from_mask
    from box2mask.eval.qa import CameraMotion, TrackQA
    from box2mask.masks import rle as rle_codec

    root = Path(root)
    rows = []
    camera = CameraMotion(sequence) if temporal == "camera" and homographies is None else None
    qa = TrackQA(temporal=temporal, camera=camera, homographies=homographies)
    for result in results:
        frame = int(result.frame)
        path = sequence.frames[frame]
        try:
            rel = str(path.relative_to(root))
        except ValueError:
            rel = str(path)
        row = {
            "shard": shard, "sequence": sequence.id, "dataset": sequence.dataset, "category": track.category,
            "track_id": int(track.track_id), "frame_index": frame, "frame_stem": path.stem, "frame_path": rel,
            "height": sequence.height, "width": sequence.width, "visible": result.mask is not None,
            "source_box": box_or_none(track.boxes[frame]), "mask_box": None, "rle": None, "area": 0,
            "score": None, "qa_box_iou": None, "qa_fill": None, "qa_temporal": None, "qa_score": None,
            "mask_source": None, "mask_note": None,
        }
        if result.mask is not None:
            encoded = rle_codec.encode(result.mask)
            confidence = None if np.isnan(result.score) else float(result.score)
            row.update(rle=encoded["counts"], area=int(np.count_nonzero(result.mask)),
                       mask_box=box_or_none(box_from_mask(result.mask)), score=confidence,
                       mask_source=result.source, mask_note=result.note)
            for done, fields in qa.push(row, frame, result.mask, track.boxes[frame], confidence):
                done.update(fields)
        rows.append(row)
    for done, fields in qa.finish():
        done.update(fields)
    return rows
