"""Which shard goes to which worker, and what is in flight: the driver's scheduling state, made explicit.

Shards wait in a queue; :meth:`ShardScheduler.assign` gives the next one to the
least-loaded worker, so every worker holds a shard before any holds two, and at
most ``per_worker`` are in flight per worker (one running, one queued: no idle gap).
A shard whose worker was lost goes back to the front of the queue, up to
``max_attempts`` times.  No Ray here: the driver hands in a ``submit`` function.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Callable, Hashable

from pipelines.annotate.plan import ShardSpec


@dataclass(frozen=True)
class InFlight:
    spec: ShardSpec
    worker: int       # index in the pool
    actor: Any        # the worker it was sent to (the pool slot may hold a replacement since)


class ShardScheduler:
    def __init__(self, todo: list[ShardSpec], workers: int, *, per_worker: int, max_attempts: int):
        self.queue: deque[ShardSpec] = deque(todo)
        self.load = [0] * workers
        self.per_worker = per_worker
        self.max_attempts = max_attempts
        self.in_flight: dict[Hashable, InFlight] = {}
        self.attempts: Counter[str] = Counter()

    @property
    def busy(self) -> bool:
        """Shards still queued or running."""
        return bool(self.queue or self.in_flight)

    def assign(self, pool: list, submit: Callable[[Any, ShardSpec], Hashable]) -> None:
        """Send queued shards to the least-loaded workers until each holds ``per_worker`` (or none is left)."""
        while self.queue and min(self.load) < self.per_worker:
            i = min(range(len(pool)), key=self.load.__getitem__)
            spec = self.queue.popleft()
            self.in_flight[submit(pool[i], spec)] = InFlight(spec, i, pool[i])
            self.load[i] += 1

    def finished(self, ref: Hashable) -> InFlight:
        """A shard's call returned (result or error): its slot frees up."""
        entry = self.in_flight.pop(ref)
        self.load[entry.worker] -= 1
        return entry

    def retry(self, spec: ShardSpec) -> bool:
        """Count a lost attempt; ``True`` (and the shard re-queued first) while attempts remain."""
        self.attempts[spec.shard_id] += 1
        if self.attempts[spec.shard_id] >= self.max_attempts:
            return False
        self.queue.appendleft(spec)
        return True

    def attempt_number(self, spec: ShardSpec) -> int:
        """1 for a shard's first run, 2 after one lost attempt, ..."""
        return self.attempts[spec.shard_id] + 1
