"""The commit step: failures never duplicated, torn writes repaired, --force keeps old results."""

from __future__ import annotations

import json

from dataclasses import replace

from box2mask.atomic import file_sha256
from box2mask.runs import RunPaths
from box2mask.shards import read_shard, write_shard
from pipelines.annotate.commit import (
    FailureLog,
    bad_shards,
    commit_shard,
    quarantine,
    read_failures,
    remove_temporaries,
    standing_failures,
    stats_path,
    supersede,
)
from pipelines.annotate.records import Failure

FAIL = Failure("00001", "a", "prepare", "FrameReadError: frame x: bad")


def test_failures_are_recorded_once_across_reruns(tmp_path):
    path = tmp_path / "failures.jsonl"
    assert FailureLog(path).record([FAIL, replace(FAIL, sequence="b")]) == 2
    again = FailureLog(path)  # a re-run after a crash before the shard was committed
    assert again.record([FAIL]) == 0
    assert again.record([replace(FAIL, stage="infer")]) == 1
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(ln)["error"] for ln in lines)


def test_a_torn_last_line_is_cut_off(tmp_path):
    path = tmp_path / "failures.jsonl"
    FailureLog(path).record([FAIL])
    with open(path, "a") as fh:
        fh.write('{"shard": "00002", "seq')  # killed mid-append
    log = FailureLog(path)
    assert len(log.entries) == 1 and path.read_text().endswith("\n")
    log.record([replace(FAIL, shard="00002")])
    assert len(read_failures(path)) == 2


def test_worker_failures_stop_standing_once_the_shard_is_committed():
    entries = [Failure("00003", "x", "worker", "lost"), FAIL]
    assert standing_failures(entries, set()) == entries
    assert standing_failures(entries, {"00003"}) == [FAIL]


def test_commit_writes_failures_shard_and_stats(tmp_path):
    paths = RunPaths(tmp_path)
    log = FailureLog(paths.failures)
    commit_shard(paths, log, shard_id="00001", rows=[], sequence_failures=[FAIL], stats={"shard": "00001"})
    assert read_shard(paths.shard("00001")).num_rows == 0  # an all-failed shard is still done
    stats = json.loads(stats_path(paths, "00001").read_text())
    assert stats == {"shard": "00001", "rows": 0, "sha256": file_sha256(paths.shard("00001"))}
    assert read_failures(paths.failures)[0]["sequence"] == "a"


def test_half_written_files_are_removed(tmp_path):
    paths = RunPaths(tmp_path)
    paths.shards.mkdir()
    paths.run_json.write_text("{}")
    (paths.shards / ".00004.parquet.ab3_x9zq.tmp").write_bytes(b"partial")
    (paths.shards / "00003.parquet").write_bytes(b"kept")
    (tmp_path / ".run.json.k2j4h5g6.tmp").write_bytes(b"partial")
    assert remove_temporaries(paths) == 2
    assert [p.name for p in paths.shards.iterdir()] == ["00003.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json", "shards"]


def test_only_our_own_temporaries_are_removed(tmp_path):
    """A user's *.tmp files, or temporaries in a folder without run.json, are never touched."""
    paths = RunPaths(tmp_path)
    paths.shards.mkdir()
    mine = [tmp_path / "notes.tmp", tmp_path / ".draft.tmp", tmp_path / ".report.pdf.ab3_x9zq.tmp",
            paths.shards / ".00001.parquet.abc.tmp", paths.shards / ".notes.txt.ab3_x9zq.tmp"]
    for path in mine:
        path.write_bytes(b"user data")
    ours = paths.shards / ".00004.parquet.ab3_x9zq.tmp"
    ours.write_bytes(b"partial")
    assert remove_temporaries(paths) == 0  # no run.json: nothing here is provably ours
    assert ours.exists()
    paths.run_json.write_text("{}")
    assert remove_temporaries(paths) == 1 and not ours.exists()
    assert all(p.read_bytes() == b"user data" for p in mine)


def test_damaged_shards_are_found_and_moved_aside(tmp_path):
    paths = RunPaths(tmp_path)
    log = FailureLog(paths.failures)
    rows = [{"shard": s, "sequence": "a", "frame_index": 0, "track_id": 1} for s in ("x",)]
    for shard_id in ("00000", "00001", "00002", "00003", "00004"):
        commit_shard(paths, log, shard_id=shard_id, rows=rows, sequence_failures=[], stats={})
    paths.shard("00001").write_bytes(b"garbage" * 50)
    paths.shard("00002").write_bytes(b"")
    good = paths.shard("00000").read_bytes()
    paths.shard("00003").write_bytes(good[: len(good) // 2])
    stats_path(paths, "00004").unlink()  # committed just before a crash: no stats, still a sound file
    bad = bad_shards(paths, ["00000", "00001", "00002", "00003", "00004", "00005"])
    assert sorted(bad) == ["00001", "00002", "00003"]
    assert "not a readable parquet file" in bad["00001"] and bad["00002"] == "empty file (0 bytes)"
    moved = quarantine(paths, bad)
    assert moved.parent == tmp_path / "corrupt"
    assert sorted(p.name for p in moved.iterdir()) == ["00001.json", "00001.parquet", "00002.json",
                                                       "00002.parquet", "00003.json", "00003.parquet"]
    assert sorted(p.name for p in paths.shards.iterdir()) == ["00000.parquet", "00004.parquet"]


def test_a_sound_shard_whose_bytes_changed_is_damaged(tmp_path):
    paths = RunPaths(tmp_path)
    log = FailureLog(paths.failures)
    commit_shard(paths, log, shard_id="00000", rows=[{"sequence": "a"}], sequence_failures=[], stats={})
    write_shard(paths.shard("00000"), [{"sequence": "b"}])  # another valid shard in its place
    assert bad_shards(paths, ["00000"]) == {"00000": "its content changed after it was committed (SHA-256 differs)"}


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
