"""The manifest: one row per sequence of a dataset scan, the unit the pipeline shards.

Built as a pyarrow table and saved as parquet (atomically).  Invalid sequences
are rows too (``status = "invalid"`` with their problems), so a run reports
them and goes on with the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from box2mask.atomic import atomic_path
from box2mask.datasets.sampling import sample_indices
from box2mask.errors import Box2MaskError, SequenceError
from box2mask.structures import Problem, Sequence

SCHEMA = pa.schema([
    ("id", pa.string()),
    ("dataset", pa.string()),
    ("split", pa.string()),
    ("category", pa.string()),
    ("status", pa.string()),            # "ok" | "invalid"
    ("num_frames", pa.int32()),
    ("num_sampled", pa.int32()),
    ("sampled", pa.list_(pa.int32())),  # frame indices to annotate
    ("num_tracks", pa.int32()),
    ("num_visible", pa.int32()),        # visible (track, sampled frame) pairs
    ("height", pa.int32()),
    ("width", pa.int32()),
    ("errors", pa.list_(pa.string())),
    ("warnings", pa.list_(pa.string())),
])


class Reader(Protocol):
    name: str

    def sequence_ids(self) -> list[str]: ...

    def load(self, seq_id: str) -> Sequence: ...


@dataclass
class ScanResult:
    """What scanning one sequence gave: the sequence, or the problems that stopped it."""

    id: str
    sequence: Sequence | None
    problems: list[Problem] = field(default_factory=list)


def scan(reader: Reader, ids: list[str] | None = None, *, every: int = 1,
         max_frames: int | None = None) -> Iterator[ScanResult]:
    """Load each sequence in turn; a broken one yields its problems and the scan goes on."""
    for seq_id in reader.sequence_ids() if ids is None else ids:
        try:
            seq = reader.load(seq_id)
        except SequenceError as exc:
            yield ScanResult(seq_id, None, exc.problems)
            continue
        except Box2MaskError as exc:  # e.g. a frame header that PIL cannot parse
            yield ScanResult(seq_id, None, [Problem(seq_id, str(exc))])
            continue
        seq = seq.with_sampling(sample_indices(len(seq), every=every, max_frames=max_frames))
        yield ScanResult(seq_id, seq, list(seq.warnings))


def manifest_row(result: ScanResult, dataset: str) -> dict:
    seq = result.sequence
    errors = [str(p) for p in result.problems if p.severity == "error"]
    warnings = [str(p) for p in result.problems if p.severity == "warning"]
    if seq is None:
        return {"id": result.id, "dataset": dataset, "split": None, "category": None, "status": "invalid",
                "num_frames": 0, "num_sampled": 0, "sampled": [], "num_tracks": 0, "num_visible": 0,
                "height": 0, "width": 0, "errors": errors, "warnings": warnings}
    sampled = np.asarray(seq.sampled)
    return {
        "id": seq.id, "dataset": dataset, "split": seq.meta.get("split"), "category": seq.meta.get("class"),
        "status": "ok", "num_frames": len(seq), "num_sampled": int(sampled.size),
        "sampled": sampled.astype(np.int32).tolist(), "num_tracks": len(seq.tracks),
        "num_visible": int(sum(t.visible[sampled].sum() for t in seq.tracks)),
        "height": seq.height, "width": seq.width, "errors": errors, "warnings": warnings,
    }


def build_manifest(reader: Reader, *, every: int = 1, max_frames: int | None = None,
                   ids: list[str] | None = None,
                   on_sequence: Callable[[ScanResult], None] | None = None) -> pa.Table:
    """Scan ``reader`` into a manifest table; ``on_sequence`` reports progress per sequence."""
    rows = []
    for result in scan(reader, ids, every=every, max_frames=max_frames):
        rows.append(manifest_row(result, reader.name))
        if on_sequence is not None:
            on_sequence(result)
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def write_manifest(table: pa.Table, path: Path | str) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_manifest(path: Path | str) -> pa.Table:
    return pq.read_table(path, schema=SCHEMA)


def timed_manifest(reader: Reader, **kwargs) -> tuple[pa.Table, float]:
    """:func:`build_manifest` and the seconds it took (for the scan-time figure)."""
    start = time.perf_counter()
    table = build_manifest(reader, **kwargs)
    return table, time.perf_counter() - start
