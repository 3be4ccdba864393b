"""The commit step: the only code that writes into a run folder while a run is going.

Only the driver commits (workers return rows), so one process writes ``OUT`` and
the lock covers it.  Order per shard:

1. failures of its sequences are appended to ``failures.jsonl`` (flushed, fsync'ed;
   a line already present is not written again);
2. the shard file is written atomically: from this moment the shard is done;
3. its stats go to ``progress/<id>.json`` (atomically), for ``box2mask status``, with the
   shard's row count and SHA-256, against which the next run verifies the file.

A crash between any two steps leaves a folder that the next run completes
without duplicates: the shard is redone (same rows), its failures are already
there and are not repeated.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Iterable

from box2mask.atomic import atomic_write_json, atomic_write_text, file_sha256, temporary_target
from box2mask.runs import RunPaths
from box2mask.shards import shard_problem, write_shard
from pipelines.annotate.records import Failure



def progress_dir(paths: RunPaths) -> Path:
    """``OUT/progress/``: one small JSON of stats per committed shard."""
    return paths.root / "progress"


def stats_path(paths: RunPaths, shard_id: str) -> Path:
    return progress_dir(paths) / f"{shard_id}.json"


def read_failures(path: Path) -> list[dict]:
    """The complete lines of ``failures.jsonl`` (a torn last line from a crash is ignored)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


class FailureLog:
    """``failures.jsonl``: one JSON object per failure, appended, never duplicated.

    A failure is identified by (shard, sequence, stage, error); recording one that
    the file already holds does nothing, which makes re-runs idempotent.  On open,
    a torn last line (a crash mid-append) is cut off.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._repair()
        self.entries: list[Failure] = [Failure.from_json(e) for e in read_failures(self.path)]
        self.keys = {e.key for e in self.entries}

    def _repair(self) -> None:
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data[: data.rfind(b"\n") + 1]
            atomic_write_text(self.path, keep.decode("utf-8"))

    def record(self, failures: Iterable[Failure]) -> int:
        """Append the failures not yet in the file; returns how many were new."""
        new = list({f.key: f for f in failures if f.key not in self.keys}.values())
        if not new:
            return 0
        with open(self.path, "a", encoding="utf-8") as fh:
            for failure in new:
                entry = {"time": round(time.time(), 3), **failure.to_json()}
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
                self.entries.append(failure)
                self.keys.add(failure.key)
            fh.flush()
            os.fsync(fh.fileno())
        return len(new)


def standing_failures(entries: Iterable[Failure], committed: set[str]) -> list[Failure]:
    """Failures that still stand: sequence failures, and worker failures of shards not yet committed.

    A shard that failed on a lost worker and was committed by a later run is no
    longer a failure, though ``failures.jsonl`` keeps the line as history.
    """
    out, seen = [], set()
    for entry in entries:
        if entry.stage == "worker" and entry.shard in committed:
            continue
        key = (entry.sequence, entry.stage)
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return out


def commit_shard(paths: RunPaths, failures: FailureLog, *, shard_id: str, rows: list[dict],
                 sequence_failures: list[Failure], stats: dict) -> None:
    """Make one shard's result durable, in the order the module docstring explains.

    ``stats``: the worker's :meth:`ShardStats.to_json` and the driver's additions."""
    failures.record(sequence_failures)
    path = paths.shard(shard_id)
    count = write_shard(path, rows)
    atomic_write_json(stats_path(paths, shard_id), {**stats, "rows": count, "sha256": file_sha256(path)})


def read_stats(paths: RunPaths, shard_id: str) -> dict | None:
    """The stats a commit recorded for a shard, or ``None`` (crash before step 3, or unreadable)."""
    try:
        stats = json.loads(stats_path(paths, shard_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stats if isinstance(stats, dict) else None


def bad_shards(paths: RunPaths, shard_ids: Iterable[str]) -> dict[str, str]:
    """``shard id -> reason`` for the existing shard files that cannot count as committed.

    Each file is checked against what its commit recorded (rows, SHA-256) when the
    stats exist, and for a readable parquet body with the shard schema always.
    """
    out = {}
    for shard_id in shard_ids:
        path = paths.shard(shard_id)
        if not path.exists() and not path.is_symlink():
            continue
        stats = read_stats(paths, shard_id) or {}
        problem = shard_problem(path, rows=stats.get("rows"), sha256=stats.get("sha256"))
        if problem:
            out[shard_id] = problem
    return out


def quarantine(paths: RunPaths, shard_ids: Iterable[str]) -> Path | None:
    """Move bad shard files (and their stats) to ``OUT/corrupt/<UTC time>/``; nothing is deleted."""
    ids = list(shard_ids)
    if not ids:
        return None
    dest = _fresh_folder(paths.root / "corrupt")
    for shard_id in ids:
        for item in (paths.shard(shard_id), stats_path(paths, shard_id)):
            if item.exists() or item.is_symlink():
                shutil.move(str(item), str(dest / item.name))
    return dest


def _fresh_folder(parent: Path) -> Path:
    dest = parent / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    suffix = 0
    while dest.exists():
        suffix += 1
        dest = dest.with_name(f"{dest.name.split('.')[0]}.{suffix}")
    dest.mkdir(parents=True)
    return dest


RUN_FILES = ("run.json", "manifest.parquet", "failures.jsonl")


def remove_temporaries(paths: RunPaths) -> int:
    """Delete half-written files left by a killed run; returns how many.

    Only what this product provably wrote goes: temporaries of :func:`box2mask.atomic.atomic_path`
    (``.<target>.<8 chars>.tmp``) whose target is one of the run's own files (``run.json``,
    the manifest, ``shards/*.parquet``, ``progress/*.json``), in a folder whose ``run.json``
    this run did not just create.  Call it while holding the run lock, after checking ``run.json``.
    """
    if not paths.run_json.is_file():
        return 0
    removed = 0
    for folder, wanted in ((paths.root, lambda t: t in RUN_FILES),
                           (paths.shards, lambda t: t.endswith(".parquet")),
                           (progress_dir(paths), lambda t: t.endswith(".json"))):
        if not folder.is_dir():
            continue
        for tmp in folder.iterdir():
            target = temporary_target(tmp.name)
            if target is not None and wanted(target) and tmp.is_file() and not tmp.is_symlink():
                tmp.unlink(missing_ok=True)
                removed += 1
    return removed


def supersede(paths: RunPaths) -> Path | None:
    """Move a previous run's results aside into ``OUT/superseded/<UTC time>/`` (``--force``).

    Nothing is deleted: old shards can never mix with the new configuration's,
    and the user removes the folder once sure it is not needed.
    """
    items = [paths.shards, progress_dir(paths), paths.failures, paths.run_json, paths.manifest]
    present = [p for p in items if p.exists()]
    if not present:
        return None
    dest = _fresh_folder(paths.root / "superseded")
    for item in present:
        shutil.move(str(item), str(dest / item.name))
    return dest
