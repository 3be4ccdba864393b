"""The driver's retry and failure bookkeeping, with fake actors (no Ray): what a lost worker costs."""

from __future__ import annotations

from pathlib import Path

import pytest

from box2mask.runs import RunPaths
from pipelines.annotate import driver
from pipelines.annotate import ray_runtime as rt
from pipelines.annotate.commit import FailureLog, read_failures
from pipelines.annotate.plan import SequenceWork, ShardSpec
from pipelines.annotate.records import ShardStats
from pipelines.annotate.stages import InfrastructureError, ShardResult


class Lost(Exception):
    """Stands for Ray's ActorDiedError: the worker process is gone for good."""


class Ref:
    """Evaluated when fetched, like a real call that runs (or finds its actor dead) later."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args
        self.done = False

    @property
    def outcome(self):
        if not self.done:
            self.value, self.done = self.fn(*self.args), True
        return self.value


class Method:
    def __init__(self, fn):
        self.fn = fn

    def remote(self, *args):
        return Ref(self.fn, args)


class FakeWorker:
    """Runs shards by script; once it has died, every call on it fails (as on a dead actor)."""

    def __init__(self, script: dict[str, list]):
        self.script = script
        self.dead = False
        self.run = Method(self._run)

    def _run(self, spec: ShardSpec):
        if self.dead:
            return Lost("actor is dead")
        outcomes = self.script.get(spec.shard_id, [])
        outcome = outcomes.pop(0) if outcomes else "ok"
        if outcome == "ok":
            return ShardResult(spec.shard_id, [], [], ShardStats(spec.shard_id, 1, 0, 4, 0, 0.0, 0.0, 0.0, 0.0, {},
                                                                 "host", 1, node_id="n"))
        self.dead = isinstance(outcome, Lost)
        return outcome


class FakeBoard:
    report = forget = Method(lambda *a: None)
    snapshot = Method(lambda: {})


def fetch(ref, timeout=None):
    if isinstance(ref.outcome, BaseException):
        raise ref.outcome
    return ref.outcome


@pytest.fixture
def fake_ray(monkeypatch):
    monkeypatch.setattr(rt, "wait_any", lambda refs, timeout: (refs[:1], refs[1:]))
    monkeypatch.setattr(rt, "fetch", fetch)
    monkeypatch.setattr(rt, "is_lost_actor", lambda exc: isinstance(exc, Lost))


def spec(k: int) -> ShardSpec:
    return ShardSpec(f"{k:05d}", (SequenceWork(f"seq{k}", 4, (0, 1, 2, 3), 1),))


def test_lost_workers_are_replaced_and_shards_retried_then_recorded(fake_ray, tmp_path: Path):
    plan = [spec(k) for k in range(4)]
    script = {
        "00001": [Lost("worker died"), Lost("worker died")],          # third attempt succeeds
        "00002": [Lost("node gone")] * driver.MAX_SHARD_ATTEMPTS,     # never succeeds
        "00003": [ValueError("a bug in the worker")],                  # not retried
    }
    started: list[FakeWorker] = []

    def new_worker(i):
        started.append(FakeWorker(script))
        return started[-1]

    paths = RunPaths(tmp_path)
    failures = FailureLog(paths.failures)
    summary = driver.AnnotateSummary(out=tmp_path, shards_total=4, shards_skipped=0, shards_committed=0,
                                     failed_shards=[], failed_sequences=0, frames_total=16, rows_written=0,
                                     seconds=0.0)
    messages, snaps = [], []
    pool = [new_worker(0)]
    driver._loop(plan, plan, paths, failures, summary, driver.Cluster(pool, new_worker, FakeBoard(), []),
                 say=messages.append, on_progress=snaps.append, progress_every=0.0)
    assert summary.shards_committed == 2 and sorted(summary.failed_shards) == ["00002", "00003"]
    assert paths.shard("00000").exists() and paths.shard("00001").exists()
    assert not paths.shard("00002").exists() and not paths.shard("00003").exists()
    deaths = sum(w.dead for w in started)
    assert deaths >= 2 and len(started) - 1 == deaths  # each dead worker replaced exactly once
    recorded = {(f["shard"], f["sequence"], f["stage"]) for f in read_failures(paths.failures)}
    assert recorded == {("00002", "seq2", "worker"), ("00003", "seq3", "worker")}
    assert any("a bug in the worker" in f["error"] for f in read_failures(paths.failures))
    assert snaps[-1].shards_done == 2 and snaps[-1].failures == 2
    assert any(m.startswith("shard 00001: worker lost") for m in messages)


def test_infrastructure_errors_raised_inside_a_worker_are_retried(fake_ray, tmp_path: Path):
    plan = [spec(0)]
    script = {"00000": [InfrastructureError("inference actor lost")]}
    paths = RunPaths(tmp_path)
    summary = driver.AnnotateSummary(out=tmp_path, shards_total=1, shards_skipped=0, shards_committed=0,
                                     failed_shards=[], failed_sequences=0, frames_total=4, rows_written=0,
                                     seconds=0.0)
    driver._loop(plan, plan, paths, FailureLog(paths.failures), summary,
                 driver.Cluster([FakeWorker(script)], lambda i: FakeWorker(script), FakeBoard(), []),
                 say=lambda m: None, on_progress=lambda s: None, progress_every=0.0)
    assert summary.shards_committed == 1 and not summary.failed_shards


def test_every_worker_gets_a_shard_before_any_holds_two(fake_ray, tmp_path: Path):
    """2 workers, 2 shards: one each (the old fill() gave worker 0 both while worker 1 idled)."""

    class Recording(FakeWorker):
        def __init__(self):
            super().__init__({})
            self.got: list[str] = []

        def _run(self, spec):
            self.got.append(spec.shard_id)
            return super()._run(spec)

    pool = [Recording(), Recording()]
    plan = [spec(0), spec(1)]
    paths = RunPaths(tmp_path)
    summary = driver.AnnotateSummary(out=tmp_path, shards_total=2, shards_skipped=0, shards_committed=0,
                                     failed_shards=[], failed_sequences=0, frames_total=8, rows_written=0,
                                     seconds=0.0)
    driver._loop(plan, plan, paths, FailureLog(paths.failures), summary,
                 driver.Cluster(pool, lambda i: pool[i], FakeBoard(), []), say=lambda m: None,
                 on_progress=lambda s: None, progress_every=0.0)
    assert summary.shards_committed == 2
    assert [w.got for w in pool] == [["00000"], ["00001"]]
