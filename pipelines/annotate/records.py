"""The typed records that cross between the stages, the driver and the commit step.

A :class:`Failure` is one sequence (or one shard's sequences) that did not get its
masks, where and why; ``failures.jsonl`` holds one per line.  :class:`ShardStats`
is what a worker measured while running a shard, written to ``progress/<id>.json``
at commit with the shard's row count and SHA-256.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Failure:
    """``stage``: scan, load, prepare, motion, infer, finalize, encode (the sequence's fault) or worker (the
    infrastructure's: the shard is retried by the next run)."""

    shard: str | None
    sequence: str
    stage: str
    error: str
    trace: str | None = None

    @property
    def key(self) -> tuple:
        """What identifies a failure in ``failures.jsonl``: recording it again changes nothing."""
        return (self.shard, self.sequence, self.stage, self.error)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None or k == "shard"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Failure":
        known = {f.name for f in fields(cls)}
        return cls(**{k: data.get(k) for k in known if k in data or k in ("shard", "trace")})


@dataclass(frozen=True)
class ShardStats:
    """A worker's measurements of one shard (``progress/<id>.json``, for ``box2mask status``)."""

    shard: str
    sequences: int
    rows: int
    planned_rows: int
    failed_sequences: int
    started: float
    finished: float
    seconds: float
    cpu_seconds: float          # all threads of the worker process: contention shows here
    stage_seconds: dict[str, float]
    host: str
    pid: int
    node_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data
