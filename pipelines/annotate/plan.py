"""Cut a manifest into shards: the unit of work, of commit and of resume.

A shard is a run of consecutive valid sequences (manifest order) holding about
``shard_frames`` mask rows, a row being one (track, annotated frame).  A
sequence is never split, so a video longer than the budget sits alone in its
shard.  The plan is a pure function of the manifest and ``shard_frames``: the
same run folder always gives the same shard ids, which is what lets a re-run
skip the shards whose file exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class SequenceWork:
    """One sequence of a shard as the manifest planned it (``sampled``: frame indices, ascending)."""

    id: str
    num_frames: int
    sampled: tuple[int, ...]
    num_tracks: int

    @property
    def rows(self) -> int:
        return len(self.sampled) * max(self.num_tracks, 1)


@dataclass(frozen=True)
class ShardSpec:
    """What a shard task gets: its id and its sequences, in manifest order."""

    shard_id: str
    sequences: tuple[SequenceWork, ...]

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.sequences)

    @property
    def sequence_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.sequences)


def shard_id(index: int) -> str:
    """``00000``, ``00001``, ...: sortable names (six digits from 100,000 shards on)."""
    return f"{index:05d}"


def plan_shards(manifest: pa.Table, shard_frames: int) -> list[ShardSpec]:
    """Shards of the manifest's valid sequences (``status == "ok"``), in manifest order.

    A shard holds at most ``shard_frames`` rows, except a sequence bigger than
    that on its own, which gets a shard to itself.
    """
    if shard_frames < 1:
        raise ValueError(f"shard_frames must be >= 1, got {shard_frames}")
    shards: list[ShardSpec] = []
    current: list[SequenceWork] = []
    rows = 0
    columns = manifest.select(["id", "status", "num_frames", "sampled", "num_tracks"]).to_pylist()
    for record in columns:
        if record["status"] != "ok":
            continue
        work = SequenceWork(record["id"], int(record["num_frames"]), tuple(int(i) for i in record["sampled"]),
                            int(record["num_tracks"]))
        if current and rows + work.rows > shard_frames:
            shards.append(ShardSpec(shard_id(len(shards)), tuple(current)))
            current, rows = [], 0
        current.append(work)
        rows += work.rows
        if rows >= shard_frames:
            shards.append(ShardSpec(shard_id(len(shards)), tuple(current)))
            current, rows = [], 0
    if current:
        shards.append(ShardSpec(shard_id(len(shards)), tuple(current)))
    return shards
