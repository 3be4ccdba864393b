"""The layout of a run folder, shared by the pipeline that writes it and the tools that read it.

::

    OUT/manifest.parquet      the dataset scan (box2mask.datasets.manifest)
    OUT/run.json              configuration, version, weights hash (RunInfo)
    OUT/shards/<id>.parquet   committed masks (box2mask.shards)
    OUT/failures.jsonl        one JSON object per failed sequence: sequence, stage, error
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from box2mask.atomic import atomic_write_json
from box2mask.errors import Box2MaskError


class RunFileError(Box2MaskError):
    """A file of a run folder (``run.json``) is unreadable or not ours."""


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.parquet"

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def shards(self) -> Path:
        return self.root / "shards"

    @property
    def failures(self) -> Path:
        return self.root / "failures.jsonl"

    def shard(self, shard_id: str) -> Path:
        return self.shards / f"{shard_id}.parquet"


@dataclass(frozen=True)
class RunInfo:
    """What ``run.json`` holds.  ``config`` is what must match for a resume to be allowed."""

    dataset: str
    root: str                      # dataset root, absolute; frame paths in shards are relative to it
    version: str
    method: str
    weights_sha256: str | None = None
    split: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    adapted: dict[str, Any] | None = None   # --adapt: the adapted weights (file, SHA-256, steps, seconds)

    def save(self, path: Path) -> None:
        atomic_write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> "RunInfo":
        """Read ``run.json``; a file that is not one gets a :class:`RunFileError` naming it."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise RunFileError(f"{path} is not a box2mask run.json (not UTF-8 text)") from None
        except ValueError as exc:
            raise RunFileError(f"{path} is not valid JSON ({exc}); restore it, or move the folder aside and "
                               "start the run again") from None
        missing = [k for k in ("dataset", "root", "version", "method") if not isinstance(data, dict) or k not in data]
        if missing:
            raise RunFileError(f"{path} is not a box2mask run.json (missing {', '.join(missing)})")
        known = {f for f in cls.__dataclass_fields__}
        info = cls(**{k: v for k, v in data.items() if k in known})
        if not isinstance(info.config, dict):
            raise RunFileError(f"{path} is not a box2mask run.json ('config' is not an object)")
        return info
