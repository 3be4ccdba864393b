"""The run folder's layout and lifecycle, in one place: what a run finds in ``OUT`` and leaves there.

::

    open (check run.json: resume, refuse, or --force: supersede) -> manifest (scanned once)
      -> repair (own temporaries, foreign shards refused, damaged shards moved aside)
      -> todo (planned shards without a sound file) ... commits (commit.py) ... -> committed

The driver holds the lock while it uses a :class:`RunFolder`; the commit step
(:mod:`pipelines.annotate.commit`) is the only code that writes shards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pyarrow as pa

from box2mask import __version__
from box2mask.datasets.manifest import read_manifest
from box2mask.runs import RunInfo, RunPaths
from box2mask.shards import shard_paths
from pipelines.annotate.commit import FailureLog, bad_shards, progress_dir, quarantine, remove_temporaries, supersede
from pipelines.annotate.config import AnnotateConfig, ConfigError, config_differences
from pipelines.annotate.plan import ShardSpec
from pipelines.annotate.records import Failure
from pipelines.scan import save_manifest, scan_dataset


class RunFolder:
    """``OUT`` of one annotate run (see the module docstring)."""

    def __init__(self, config: AnnotateConfig, say: Callable[[str], None]):
        self.config = config
        self.paths = RunPaths(config.out)
        self.say = say
        self.resumed = False
        self.superseded: Path | None = None

    def open(self, wanted: dict, weights_sha: str | None, *, force: bool) -> None:
        """Check ``run.json`` against ``wanted`` (the fingerprint): resume, refuse, or start over."""
        paths = self.paths
        if paths.run_json.is_file():
            stored = RunInfo.load(paths.run_json)
            diffs = config_differences(stored.config, wanted)
            if not diffs:
                self.resumed = True
                return
            if not force:
                raise ConfigError(
                    f"{paths.root} holds a run with a different configuration:\n  " + "\n  ".join(diffs) +
                    "\nRe-run with the same options to resume it, choose another --out, or add --force to start "
                    f"over here (the old results are moved to {paths.root / 'superseded'}/<time>/, not deleted).")
            self.superseded = supersede(paths)
            self.say(f"--force: configuration changed; previous results moved to {self.superseded}")
        elif shard_paths(paths.root) or progress_dir(paths).is_dir():
            if not force:
                raise ConfigError(f"{paths.root} holds shards but no run.json, so its configuration is unknown; "
                                  "choose another --out, or add --force to move them aside and start over")
            self.superseded = supersede(paths)
            self.say(f"--force: previous results moved to {self.superseded}")
        config = self.config
        RunInfo(dataset=config.dataset, root=str(config.root), version=__version__, method=config.method,
                weights_sha256=weights_sha, split=config.split, config=wanted).save(paths.run_json)

    def manifest(self, *, on_scan_total=None, on_scan=None) -> pa.Table:
        """The run's manifest: scanned once, then reused, so the shard plan never moves under a resume.

        A manifest from ``box2mask scan`` or an older run may use other sampling: a new run scans again.
        """
        if self.resumed and self.paths.manifest.is_file():
            return read_manifest(self.paths.manifest)
        config = self.config
        table = scan_dataset(config.dataset, config.root, split=config.split, every=config.every,
                             max_frames=config.max_frames, ids=list(config.sequences) if config.sequences else None,
                             on_total=on_scan_total, on_sequence=on_scan)
        save_manifest(table, self.paths.root)
        return table

    def failures(self, manifest: pa.Table) -> FailureLog:
        """``failures.jsonl``, holding (once) the sequences the scan found invalid."""
        log = FailureLog(self.paths.failures)
        log.record(Failure(None, r["id"], "scan", "; ".join(r["errors"]) or "invalid")
                   for r in manifest.select(["id", "status", "errors"]).to_pylist() if r["status"] != "ok")
        return log

    def repair(self, plan: list[ShardSpec]) -> None:
        """Leave only sound, known shards: our own temporaries removed (on a resume), a shard the plan
        does not know refused, a damaged one moved to ``OUT/corrupt/<time>/`` so that it is recomputed."""
        removed = remove_temporaries(self.paths) if self.resumed else 0
        if removed:
            self.say(f"removed {removed} half-written file(s) left by an interrupted run")
        known = {s.shard_id for s in plan}
        foreign = [p.name for p in shard_paths(self.paths.root) if p.stem not in known]
        if foreign:
            raise ConfigError(f"{self.paths.shards} holds shard files this run's plan does not know "
                              f"({', '.join(foreign[:5])}...); the folder was changed by hand or by another tool")
        bad = bad_shards(self.paths, [s.shard_id for s in plan])
        if bad:
            moved = quarantine(self.paths, bad)
            for shard_id, reason in bad.items():
                self.say(f"shard {shard_id} is damaged ({reason}): moved to {moved}, recomputing it")

    def committed(self, plan: list[ShardSpec]) -> set[str]:
        return {s.shard_id for s in plan if self.paths.shard(s.shard_id).exists()}

    def todo(self, plan: list[ShardSpec]) -> list[ShardSpec]:
        done = self.committed(plan)
        return [s for s in plan if s.shard_id not in done]
