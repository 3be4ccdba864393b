"""Reading a run folder sequence by sequence: the read side shared by export, eval and reports.

Only the documented layout is used (:mod:`box2mask.runs`, :mod:`box2mask.shards`),
so this reads the pipeline's output as well as runs built any other way.

Memory stays bounded by the largest *shard*, never by the run: shards are read
one at a time as Arrow tables (compact, not Python objects), only the columns
asked for, and each sequence is handed out as a zero-copy slice.  Rows become
Python dicts one record batch at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from box2mask.errors import Box2MaskError
from box2mask.masks import rle as rle_codec
from box2mask.runs import RunInfo, RunPaths
from box2mask.shards import SCHEMA, shard_paths

#: Columns every reader needs to place a row.
KEY_COLUMNS = ["sequence", "dataset", "track_id", "frame_index", "frame_stem", "frame_path", "height", "width"]


class RunError(Box2MaskError):
    """The folder is not a readable run (no shards, unreadable shard, ...)."""


REPAIR = ("run the same `box2mask annotate` command on this folder again: it moves damaged shards to "
          "OUT/corrupt/ and recomputes them (`box2mask status OUT` lists them)")


class DamagedShardError(RunError):
    """A committed shard file cannot be read (garbage, truncated, 0 bytes); ``hint`` says how to repair it."""

    hint = REPAIR


@dataclass(frozen=True)
class Skipped:
    """Something a picture or a summary left out because it could not be read.

    ``kind`` is ``"frame"``, ``"shard"`` or ``"sequence"``; ``name`` says which
    (``bear/00003``, ``shards/00001.parquet``); ``reason`` says why, naming the file.
    """

    kind: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def describe_skipped(items: list[Skipped] | tuple[Skipped, ...], limit: int = 8) -> list[str]:
    """One line per kind: ``skipped 2 frame(s): bear/00003 (frame ...: could not be decoded), ...``."""
    lines = []
    for kind in dict.fromkeys(s.kind for s in items):
        these = [s for s in items if s.kind == kind]
        shown = "; ".join(str(s) for s in these[:limit])
        more = f"; and {len(these) - limit} more" if len(these) > limit else ""
        repair = f"; to repair: {REPAIR}" if kind == "shard" else ""
        lines.append(f"skipped {len(these)} {kind}(s): {shown}{more}{repair}")
    return lines


@dataclass(frozen=True)
class FrameRef:
    """One annotated frame of a sequence: its index, file stem and path relative to the dataset root."""

    index: int
    stem: str
    path: str


@dataclass(frozen=True)
class SequenceRows:
    """All shard rows of one sequence, sorted by (frame_index, track_id).

    ``repeated`` counts rows dropped because an earlier row of the shard had the same
    (sequence, track, frame): such a row is read once (the first copy), so a sequence
    annotated twice into one shard gives one row per track and frame.
    """

    id: str
    dataset: str
    table: pa.Table
    shard: Path
    repeated: int = 0

    @property
    def height(self) -> int:
        return int(self.table["height"][0].as_py())

    @property
    def width(self) -> int:
        return int(self.table["width"][0].as_py())

    def __len__(self) -> int:
        return self.table.num_rows

    def frames(self) -> list[FrameRef]:
        """The sequence's annotated frames (the union over its tracks), in frame order."""
        idx = self.table["frame_index"].to_numpy()
        keep = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]]) if idx.size else idx
        stems = self.table["frame_stem"].take(pa.array(keep)).to_pylist()
        paths = self.table["frame_path"].take(pa.array(keep)).to_pylist()
        return [FrameRef(int(idx[k]), s, p) for k, s, p in zip(keep, stems, paths)]

    def track_ids(self) -> list[int]:
        return sorted(int(v) for v in pc.unique(self.table["track_id"]).to_pylist())

    def rows(self, batch_size: int = 256) -> Iterator[dict]:
        """Row dicts in (frame, track) order, one record batch converted at a time."""
        for batch in self.table.to_batches(max_chunksize=batch_size):
            yield from batch.to_pylist()

    def track_rows(self, track_id: int, batch_size: int = 256) -> Iterator[dict]:
        """Rows of one track in frame order."""
        sub = self.table.filter(pc.equal(self.table["track_id"], track_id))
        for batch in sub.to_batches(max_chunksize=batch_size):
            yield from batch.to_pylist()


def _drop_repeated(part: pa.Table) -> tuple[pa.Table, int]:
    """``part`` (one sequence, sorted by frame then track) without rows repeating a (track, frame)."""
    if part.num_rows < 2:
        return part, 0
    frame = part["frame_index"].to_numpy(zero_copy_only=False)
    track = part["track_id"].to_numpy(zero_copy_only=False)
    again = (frame[1:] == frame[:-1]) & (track[1:] == track[:-1])
    if not again.any():
        return part, 0
    return part.filter(pa.array(np.r_[True, ~again])), int(again.sum())


def row_mask(row: dict) -> np.ndarray | None:
    """The ``(H, W) bool`` mask of a shard row, or ``None`` when the track is not visible there."""
    if not row.get("visible") or row.get("rle") is None:
        return None
    return rle_codec.decode({"size": [row["height"], row["width"]], "counts": row["rle"]})


class RunSource:
    """A run folder opened for reading (see the module docstring)."""

    def __init__(self, run_dir: Path | str):
        self.paths = RunPaths(Path(run_dir))
        if not self.paths.root.is_dir():
            raise RunError(f"run folder {self.paths.root} does not exist")
        self.shards = shard_paths(self.paths.root)
        if not self.shards:
            raise RunError(f"{self.paths.root} has no committed shards under {self.paths.shards}; "
                           "run `box2mask annotate` first (or check the path)")
        self.info = RunInfo.load(self.paths.run_json) if self.paths.run_json.is_file() else None

    @property
    def dataset_root(self) -> Path | None:
        return Path(self.info.root) if self.info is not None else None

    def _read(self, path: Path, columns: list[str] | None, filters=None) -> pa.Table:
        names = SCHEMA.names if columns is None else list(dict.fromkeys(KEY_COLUMNS + list(columns)))
        try:
            return pq.read_table(path, columns=names, schema=SCHEMA, filters=filters)
        except (OSError, pa.ArrowException) as exc:
            raise DamagedShardError(f"shard {path} cannot be read ({' '.join(str(exc).split())})") from exc

    def categories(self) -> list[str]:
        """Every category name in the run, sorted (reads only the ``category`` column)."""
        names: set[str] = set()
        for path in self.shards:
            table = self._read_column(path, "category")
            names.update("object" if v is None else str(v) for v in pc.unique(table).to_pylist())
        return sorted(names)

    def _read_column(self, path: Path, name: str) -> pa.ChunkedArray:
        try:
            return pq.read_table(path, columns=[name], schema=SCHEMA)[name]
        except (OSError, pa.ArrowException) as exc:
            raise DamagedShardError(f"shard {path} cannot be read ({' '.join(str(exc).split())})") from exc

    def sequence_ids(self) -> list[str]:
        """Sequence ids in the order :meth:`sequences` yields them."""
        out: list[str] = []
        seen: set[str] = set()
        for path in self.shards:
            for seq in sorted(str(v) for v in pc.unique(self._read_column(path, "sequence")).to_pylist()):
                if seq not in seen:
                    seen.add(seq)
                    out.append(seq)
        return out

    def sequences(self, columns: list[str] | None = None, *, only: set[str] | None = None,
                  duplicates: list[str] | None = None,
                  on_unreadable: Callable[[Path, str], None] | None = None) -> Iterator[SequenceRows]:
        """Each sequence's rows, shard by shard (sorted by id within a shard).

        ``columns`` limits what is read (the :data:`KEY_COLUMNS` always are).  A
        sequence found again in a later shard (a run that was not resumed
        cleanly) is skipped and its id appended to ``duplicates``; rows repeating a
        (track, frame) within a shard are read once (``SequenceRows.repeated``).
        A shard that cannot be read raises :class:`RunError`, or, with
        ``on_unreadable``, is reported as ``on_unreadable(path, reason)`` and skipped
        (for pictures and QA, which show what they can; exports must be complete).
        """
        seen: set[str] = set()
        for path in self.shards:
            try:
                table = self._read(path, columns)
            except RunError as exc:
                if on_unreadable is None:
                    raise
                on_unreadable(path, str(exc))
                continue
            if table.num_rows == 0:
                continue
            table = table.sort_by([("sequence", "ascending"), ("frame_index", "ascending"),
                                   ("track_id", "ascending")])
            seqs = table["sequence"].to_pylist()
            start = 0
            for end in range(1, len(seqs) + 1):
                if end < len(seqs) and seqs[end] == seqs[start]:
                    continue
                seq_id = seqs[start]
                if seq_id in seen:
                    if duplicates is not None:
                        duplicates.append(seq_id)
                elif only is None or seq_id in only:
                    seen.add(seq_id)
                    part, repeated = _drop_repeated(table.slice(start, end - start))
                    yield SequenceRows(seq_id, str(part["dataset"][0].as_py()), part, path, repeated)
                else:
                    seen.add(seq_id)
                start = end
            del table, seqs

    def sequence(self, seq_id: str, columns: list[str] | None = None, *,
                 on_unreadable: Callable[[Path, str], None] | None = None) -> SequenceRows | None:
        """One sequence's rows (the first shard that holds it), or ``None``.

        Repeated (track, frame) rows are read once; ``on_unreadable`` as in :meth:`sequences`.
        """
        for path in self.shards:
            try:
                table = self._read(path, columns, filters=[("sequence", "=", seq_id)])
            except RunError as exc:
                if on_unreadable is None:
                    raise
                on_unreadable(path, str(exc))
                continue
            if table.num_rows:
                table, repeated = _drop_repeated(
                    table.sort_by([("frame_index", "ascending"), ("track_id", "ascending")]))
                return SequenceRows(seq_id, str(table["dataset"][0].as_py()), table, path, repeated)
        return None

    def frame_file(self, frame_path: str) -> Path:
        """Absolute path of a frame given its shard ``frame_path``."""
        p = Path(frame_path)
        if p.is_absolute() or self.dataset_root is None:
            return p
        return self.dataset_root / p
