"""Crash safety, end to end: SIGKILL the whole driver, or one worker, and compare with an uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import uuid

import pytest

from tests.pipelines.conftest import KILL_ARGS
from tests.pipelines.procs import (
    annotate_args,
    cmdline,
    coco_export,
    committed,
    finish,
    keys_of,
    marked_env,
    marked_pids,
    rows_of,
    run,
    short_tmp,
    start,
    stop_marked,
    wait_for,
    wait_gone,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def marked(tmp_path):
    """A token for this test's processes and a private Ray temp dir; both cleaned up after."""
    token, ray_tmp = uuid.uuid4().hex, short_tmp()
    yield token, marked_env(token, ray_tmp)
    stop_marked(token)
    shutil.rmtree(ray_tmp, ignore_errors=True)


def test_driver_killed_at_three_moments_then_resumed_equals_uninterrupted(kill_got10k, reference_run, marked,
                                                                        tmp_path):
    token, env = marked
    out, log = tmp_path / "out", tmp_path / "log.txt"
    args = annotate_args(kill_got10k, out, *KILL_ARGS, "--workers", "1")
    total = reference_run["shards"]
    moments = [("after the first shard", 1), ("midway", total // 2), ("near the end", total - 2)]
    killed_at = []
    for name, threshold in moments:
        before = committed(out)
        proc = start(args, env, log)
        reached = wait_for(lambda: committed(out) >= threshold, proc, timeout=150)
        assert reached and proc.poll() is None, f"run ended before the kill {name}:\n{log.read_text()[-2000:]}"
        os.killpg(proc.pid, signal.SIGKILL)  # the driver's whole process group: driver, GCS, raylet
        proc.wait()
        now = committed(out)
        assert before < now < total, (name, before, now)
        killed_at.append(now)
        assert (out / "run.lock").exists()  # left behind, to be taken over
        assert not wait_gone(token, timeout=30), "Ray workers outlived their killed driver"
    assert run(args, env, log, watch=out) == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert text.count("taking over a stale lock") == 3
    assert f"resuming: {killed_at[-1]} of {total} shards already committed" in text
    keys = keys_of(out)
    assert len(keys) == len(set(keys)), "duplicated rows"
    assert rows_of(out) == reference_run["rows"]
    assert coco_export(out, tmp_path / "coco.json") == reference_run["coco"]
    assert not (out / "failures.jsonl").exists() or not (out / "failures.jsonl").read_text().strip()


def test_a_worker_killed_mid_shard_is_retried_and_output_is_unchanged(kill_got10k, reference_run, marked,
                                                                     tmp_path):
    token, env = marked
    out, log = tmp_path / "out", tmp_path / "log.txt"
    proc = start(annotate_args(kill_got10k, out, *KILL_ARGS, "--workers", "2"), env, log)

    def workers(state: str = "") -> list[int]:
        return [p for p in marked_pids(token) if cmdline(p).startswith(f"ray::ShardWorker{state}")]

    busy = wait_for(lambda: committed(out) >= 1 and workers(".run"), proc, timeout=150)
    assert busy and proc.poll() is None, log.read_text()[-2000:]
    before = set(workers())
    victim = workers(".run")[0]
    os.kill(victim, signal.SIGKILL)
    assert finish(proc, log, watch=out) == 0, log.read_text()[-3000:]
    assert committed(out) == reference_run["shards"]
    assert rows_of(out) == reference_run["rows"]
    assert coco_export(out, tmp_path / "coco.json") == reference_run["coco"]
    pids = {json.loads(p.read_text())["pid"] for p in (out / "progress").glob("*.json")}
    assert pids - before, "no shard was finished by the restarted worker"
