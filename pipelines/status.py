"""What a run folder says about its run: done, pending and failed shards, frames, throughput.

Read-only and Ray-free, so it is safe to call while the run is going (from any
machine that sees the folder).  The shard plan is recomputed from the run's own
manifest and ``run.json`` exactly as the driver computes it.
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from box2mask.datasets.manifest import read_manifest
from box2mask.errors import Box2MaskError
from box2mask.runs import RunInfo, RunPaths
from pipelines.annotate.commit import bad_shards, read_failures, standing_failures, stats_path
from pipelines.annotate.adapt import read_state as read_adapt_state
from pipelines.annotate.lock import LOCK_NAME, describe, pid_alive, read_holder
from pipelines.annotate.plan import plan_shards
from pipelines.annotate.records import Failure


@dataclass
class RunStatus:
    out: Path
    info: RunInfo
    shards_total: int
    shards_done: int
    failed_shards: list[str]
    sequences_total: int
    sequences_done: int
    invalid_sequences: int
    frames_total: int                 # mask rows planned: (track, annotated frame) pairs
    frames_done: int
    failures: list[Failure]           # standing failures (see commit.standing_failures)
    failures_by_stage: dict[str, int]
    busy_seconds: float | None        # wall time during which at least one shard was running
    frames_per_second: float | None   # frames of the shards with stats / busy_seconds
    worker_frames_per_second: float | None  # the same per worker: frames / summed shard seconds
    sequences_failed: int = 0         # planned sequences with a standing failure (prepare, infer, worker)
    damaged_shards: dict[str, str] = field(default_factory=dict)  # shard id -> why it cannot count
    nodes: list[str] = field(default_factory=list)
    lock: str = "not running"
    adapt: dict | None = None         # --adapt runs: OUT/adapt/state.json (phase, step, steps)

    @property
    def shards_pending(self) -> int:
        return self.shards_total - self.shards_done - len(self.failed_shards)

    @property
    def complete(self) -> bool:
        return self.shards_done == self.shards_total


def busy_time(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of ``(start, end)`` intervals: runs and pauses between resumes don't count."""
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def lock_state(out: Path) -> str:
    holder = read_holder(out / LOCK_NAME)
    if not holder:
        return "not running"
    if holder.get("host") != socket.gethostname():
        return f"locked by {describe(holder)} (another host: cannot check it from here)"
    if pid_alive(int(holder.get("pid", -1))):
        return f"running: {describe(holder)}"
    return f"not running (stale lock of {describe(holder)}; the next run takes it over)"


def run_status(out: Path | str) -> RunStatus:
    """Summarise the annotate run in ``out`` (raises :class:`Box2MaskError` if it is not one)."""
    paths = RunPaths(Path(out))
    if not paths.run_json.is_file():
        raise Box2MaskError(f"{paths.root} is not an annotate run folder (no run.json)")
    info = RunInfo.load(paths.run_json)
    if not paths.manifest.is_file():
        raise Box2MaskError(f"{paths.root} has run.json but no manifest.parquet yet (the run is still scanning?)")
    manifest = read_manifest(paths.manifest)
    plan = plan_shards(manifest, int(info.config.get("shard_frames", 1000)))
    present = {s.shard_id for s in plan if paths.shard(s.shard_id).exists()}
    damaged = bad_shards(paths, sorted(present))
    done = present - set(damaged)
    failures = standing_failures([Failure.from_json(e) for e in read_failures(paths.failures)], done)
    failed_seqs = {f.sequence for f in failures}
    failed_shards = sorted({f.shard for f in failures if f.stage == "worker" and f.shard})
    intervals, stat_frames, shard_seconds, nodes = [], 0, 0.0, set()
    for spec in plan:
        if spec.shard_id not in done:
            continue
        try:
            stats = json.loads(stats_path(paths, spec.shard_id).read_text())
        except (OSError, ValueError):
            continue  # committed just before a crash, or by hand: counted as done, not in throughput
        intervals.append((float(stats["started"]), float(stats["finished"])))
        stat_frames += spec.rows
        shard_seconds += float(stats.get("seconds", 0.0))
        nodes.add(stats.get("node_id") or stats.get("host", "?"))
    busy = busy_time(intervals) if intervals else None
    statuses = manifest.column("status").to_pylist()
    return RunStatus(
        adapt=read_adapt_state(paths.root) if info.config.get("adapt") is not None else None,
        out=paths.root, info=info, shards_total=len(plan), shards_done=len(done), failed_shards=failed_shards,
        sequences_total=sum(len(s.sequences) for s in plan),
        sequences_done=sum(1 for s in plan if s.shard_id in done for seq in s.sequence_ids
                           if seq not in failed_seqs),
        sequences_failed=sum(1 for s in plan for seq in s.sequence_ids if seq in failed_seqs),
        damaged_shards=damaged,
        invalid_sequences=sum(1 for s in statuses if s != "ok"),
        frames_total=sum(s.rows for s in plan), frames_done=sum(s.rows for s in plan if s.shard_id in done),
        failures=failures, failures_by_stage=dict(Counter(f.stage for f in failures)),
        busy_seconds=busy, frames_per_second=stat_frames / busy if busy else None,
        worker_frames_per_second=stat_frames / shard_seconds if shard_seconds > 0 else None,
        nodes=sorted(nodes), lock=lock_state(paths.root),
    )


__all__ = ["RunStatus", "busy_time", "lock_state", "run_status"]
