"""The commit step: failures never duplicated, torn writes repaired, --force keeps old results."""

from __future__ import annotations

import json

from box2mask.runs import RunPaths
from box2mask.shards import read_shard
from pipelines.annotate.commit import (
    FailureLog,
    commit_shard,
    read_failures,
    remove_temporaries,
    standing_failures,
    stats_path,
    supersede,
)

FAIL = {"shard": "00001", "sequence": "a", "stage": "prepare", "error": "FrameReadError: frame x: bad"}


def test_failures_are_recorded_once_across_reruns(tmp_path):
    path = tmp_path / "failures.jsonl"
    assert FailureLog(path).record([FAIL, {**FAIL, "sequence": "b"}]) == 2
    again = FailureLog(path)  # a re-run after a crash before the shard was committed
    assert again.record([FAIL]) == 0
    assert again.record([{**FAIL, "stage": "infer"}]) == 1
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(ln)["error"] for ln in lines)


def test_a_torn_last_line_is_cut_off(tmp_path):
    path = tmp_path / "failures.jsonl"
    FailureLog(path).record([FAIL])
    with open(path, "a") as fh:
        fh.write('{"shard": "00002", "seq')  # killed mid-append
    log = FailureLog(path)
    assert len(log.entries) == 1 and path.read_text().endswith("\n")
    log.record([{**FAIL, "shard": "00002"}])
    assert len(read_failures(path)) == 2


def test_worker_failures_stop_standing_once_the_shard_is_committed():
    entries = [{"shard": "00003", "sequence": "x", "stage": "worker", "error": "lost"}, FAIL]
    assert standing_failures(entries, set()) == entries
    assert standing_failures(entries, {"00003"}) == [FAIL]


def test_commit_writes_failures_shard_and_stats(tmp_path):
    paths = RunPaths(tmp_path)
    log = FailureLog(paths.failures)
    commit_shard(paths, log, shard_id="00001", rows=[], sequence_failures=[FAIL], stats={"shard": "00001"})
    assert read_shard(paths.shard("00001")).num_rows == 0  # an all-failed shard is still done
    assert json.loads(stats_path(paths, "00001").read_text()) == {"shard": "00001"}
    assert read_failures(paths.failures)[0]["sequence"] == "a"


def test_half_written_files_are_removed(tmp_path):
    paths = RunPaths(tmp_path)
    paths.shards.mkdir()
    (paths.shards / ".00004.parquet.abc.tmp").write_bytes(b"partial")
    (paths.shards / "00003.parquet").write_bytes(b"kept")
    assert remove_temporaries(paths) == 1
    assert [p.name for p in paths.shards.iterdir()] == ["00003.parquet"]


def test_supersede_moves_everything_aside_and_deletes_nothing(tmp_path):
    paths = RunPaths(tmp_path)
    paths.shards.mkdir()
    (paths.shards / "00000.parquet").write_bytes(b"old")
    paths.run_json.write_text("{}")
    paths.failures.write_text("")
    dest = supersede(paths)
    assert dest.parent == tmp_path / "superseded"
    assert (dest / "shards" / "00000.parquet").read_bytes() == b"old"
    assert (dest / "run.json").exists() and not paths.run_json.exists() and not paths.shards.exists()
    assert supersede(paths) is None  # nothing left to move
