"""The scheduler's state, without Ray: least-loaded first, at most per_worker in flight, bounded retries."""

from __future__ import annotations

from itertools import count

from pipelines.annotate.plan import SequenceWork, ShardSpec
from pipelines.annotate.scheduler import ShardScheduler


def spec(k: int) -> ShardSpec:
    return ShardSpec(f"{k:05d}", (SequenceWork(f"seq{k}", 4, (0, 1, 2, 3), 1),))


def test_shards_spread_over_workers_before_any_takes_a_second():
    refs = count()
    sent = []
    scheduler = ShardScheduler([spec(k) for k in range(5)], 2, per_worker=2, max_attempts=3)
    scheduler.assign(["w0", "w1"], lambda worker, s: (sent.append((worker, s.shard_id)), next(refs))[1])
    assert sent == [("w0", "00000"), ("w1", "00001"), ("w0", "00002"), ("w1", "00003")]
    assert scheduler.load == [2, 2] and [s.shard_id for s in scheduler.queue] == ["00004"]
    entry = scheduler.finished(1)                       # w1's first shard came back
    assert entry.worker == 1 and entry.spec.shard_id == "00001" and scheduler.load == [2, 1]
    scheduler.assign(["w0", "w1"], lambda worker, s: (sent.append((worker, s.shard_id)), next(refs))[1])
    assert sent[-1] == ("w1", "00004") and not scheduler.queue and scheduler.busy


def test_a_lost_shard_is_requeued_first_until_its_attempts_run_out():
    refs = count()
    scheduler = ShardScheduler([spec(0), spec(1)], 1, per_worker=1, max_attempts=3)

    def lose_next() -> bool:
        scheduler.assign(["w0"], lambda worker, s: next(refs))
        (ref,) = scheduler.in_flight
        return scheduler.retry(scheduler.finished(ref).spec)

    assert scheduler.attempt_number(spec(0)) == 1
    assert lose_next() and [s.shard_id for s in scheduler.queue] == ["00000", "00001"]  # first in line again
    assert lose_next() and scheduler.attempt_number(spec(0)) == 3
    assert not lose_next()                     # the third loss: recorded as failed, not re-queued
    assert [s.shard_id for s in scheduler.queue] == ["00001"] and scheduler.load == [0]
