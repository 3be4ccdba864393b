"""The commit step: the only code that writes into a run folder while a run is going.

Only the driver commits (workers return rows), so one process writes ``OUT`` and
the lock covers it.  Order per shard:

1. failures of its sequences are appended to ``failures.jsonl`` (flushed, fsync'ed;
   a line already present is not written again);
2. the shard file is written atomically: from this moment the shard is done;
3. its stats go to ``progress/<id>.json`` (atomically), for ``box2mask status``.

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

from box2mask.atomic import atomic_write_json, atomic_write_text
from box2mask.runs import RunPaths
from box2mask.shards import write_shard

FAILURE_KEYS = ("shard", "sequence", "stage", "error")


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
        self.entries = read_failures(self.path)
        self.keys = {self._key(e) for e in self.entries}

    @staticmethod
    def _key(entry: dict) -> tuple:
        return tuple(entry.get(k) for k in FAILURE_KEYS)

    def _repair(self) -> None:
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data[: data.rfind(b"\n") + 1]
            atomic_write_text(self.path, keep.decode("utf-8"))

    def record(self, failures: Iterable[dict]) -> int:
        """Append the failures not yet in the file; returns how many were new."""
        new = [f for f in failures if self._key(f) not in self.keys]
        if not new:
            return 0
        with open(self.path, "a", encoding="utf-8") as fh:
            for failure in new:
                entry = {"time": round(time.time(), 3), **failure}
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
                self.entries.append(entry)
                self.keys.add(self._key(failure))
            fh.flush()
            os.fsync(fh.fileno())
        return len(new)


def standing_failures(entries: Iterable[dict], committed: set[str]) -> list[dict]:
    """Failures that still stand: sequence failures, and worker failures of shards not yet committed.

    A shard that failed on a lost worker and was committed by a later run is no
    longer a failure, though ``failures.jsonl`` keeps the line as history.
    """
    out, seen = [], set()
    for entry in entries:
        if entry.get("stage") == "worker" and entry.get("shard") in committed:
            continue
        key = (entry.get("sequence"), entry.get("stage"))
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return out


def commit_shard(paths: RunPaths, failures: FailureLog, *, shard_id: str, rows: list[dict],
                 sequence_failures: list[dict], stats: dict) -> None:
    """Make one shard's result durable, in the order the module docstring explains."""
    failures.record(sequence_failures)
    write_shard(paths.shard(shard_id), rows)
    atomic_write_json(stats_path(paths, shard_id), stats)


def remove_temporaries(paths: RunPaths) -> int:
    """Delete half-written files left by a killed run (only safe while holding the lock)."""
    removed = 0
    for folder in (paths.shards, progress_dir(paths), paths.root):
        if not folder.is_dir():
            continue
        for tmp in folder.glob(".*.tmp"):
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
    dest = paths.root / "superseded" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    suffix = 0
    while dest.exists():
        suffix += 1
        dest = dest.with_name(f"{dest.name.split('.')[0]}.{suffix}")
    dest.mkdir(parents=True)
    for item in present:
        shutil.move(str(item), str(dest / item.name))
    return dest
