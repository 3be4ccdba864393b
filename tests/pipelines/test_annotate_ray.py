"""The driver on a local in-process Ray: completeness, resume, config guard, failures, status."""

from __future__ import annotations

import shutil

import pytest

from box2mask.datasets.manifest import read_manifest
from box2mask.runs import RunInfo, RunPaths
from box2mask.shards import shard_paths
from pipelines.annotate import DEFAULT_METHOD, AnnotateConfig, ConfigError, annotate
from pipelines.annotate.commit import read_failures
from pipelines.status import run_status
from tests.pipelines.procs import keys_of, rows_of


def expected_keys(out):
    table = read_manifest(RunPaths(out).manifest)
    return sorted((r["id"], t + 1, f) for r in table.to_pylist() if r["status"] == "ok"
                  for t in range(r["num_tracks"]) for f in r["sampled"])


@pytest.fixture(scope="module")
def first_run(ray_local, tiny_got10k, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    snaps, messages = [], []
    summary = annotate(AnnotateConfig(dataset="got10k", root=tiny_got10k, out=out, shard_frames=12), workers=2,
                       on_progress=snaps.append, on_message=messages.append, progress_every=0.05)
    return out, summary, snaps, messages


def test_every_planned_row_is_written_exactly_once(first_run):
    out, summary, snaps, _ = first_run
    assert summary.complete and summary.shards_total == 3 and summary.shards_committed == 3
    keys = keys_of(out)
    assert len(keys) == len(set(keys)) and sorted(keys) == expected_keys(out)
    info = RunInfo.load(RunPaths(out).run_json)
    assert info.method == DEFAULT_METHOD and info.config["shard_frames"] == 12 and info.version
    assert snaps[-1].frames_done == snaps[-1].frames_total == summary.frames_total == len(keys)
    assert snaps[-1].shards_done == 3 and snaps[-1].failures == 0


def test_rerun_skips_committed_shards(first_run, tiny_got10k):
    out, *_ = first_run
    before = {p.name: p.stat().st_mtime_ns for p in shard_paths(out)}
    messages = []
    again = annotate(AnnotateConfig(dataset="got10k", root=tiny_got10k, out=out, shard_frames=12),
                     on_message=messages.append)
    assert again.shards_skipped == 3 and again.shards_committed == 0 and again.complete
    assert {p.name: p.stat().st_mtime_ns for p in shard_paths(out)} == before
    assert "nothing to do: every shard is committed" in messages


def test_missing_shard_is_redone_identically_on_any_layout(first_run, tiny_got10k, tmp_path):
    """One worker + a separate inference actor, asked for a GPU the cluster lacks: same rows."""
    out, *_ = first_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    (copy / "shards" / "00001.parquet").unlink()
    messages = []
    summary = annotate(AnnotateConfig(dataset="got10k", root=tiny_got10k, out=copy, shard_frames=12),
                       gpus=1, workers=1, infer_actors=1, on_message=messages.append)
    assert summary.shards_committed == 1 and summary.infer_actors == 1 and summary.complete
    assert any("has no free GPU: running inference on CPU" in m for m in messages)
    assert rows_of(copy) == rows_of(out)
    st = run_status(copy)
    assert st.complete and st.shards_pending == 0 and st.frames_done == st.frames_total
    assert st.frames_per_second and st.frames_per_second > 0 and st.lock == "not running"


def copy_with_other_config(out, root, tmp_path):
    """A copy of the first run, and a configuration that differs from its run.json (sampling, method)."""
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    return copy, AnnotateConfig(dataset="got10k", root=root, out=copy, shard_frames=12, every=2, method="filled-box")


def test_a_different_configuration_is_refused_unless_forced(first_run, tiny_got10k, tmp_path):
    out, *_ = first_run
    copy, changed = copy_with_other_config(out, tiny_got10k, tmp_path)
    with pytest.raises(ConfigError, match=r"(?s)every: 1 \(in run.json\) -> 2 \(now\).*method"):
        annotate(changed)
    assert rows_of(copy) == rows_of(out)  # refused before touching anything
    assert RunInfo.load(RunPaths(copy).run_json).method == DEFAULT_METHOD


def test_force_moves_the_old_run_aside(first_run, tiny_got10k, tmp_path):
    out, *_ = first_run
    copy, changed = copy_with_other_config(out, tiny_got10k, tmp_path)
    summary = annotate(changed, force=True)
    assert summary.complete and summary.superseded is not None
    assert sorted(p.name for p in (summary.superseded / "shards").iterdir()) == [p.name for p in shard_paths(out)]
    keys = keys_of(copy)
    assert keys and all(f % 2 == 0 for _, _, f in keys) and sorted(keys) == expected_keys(copy)
    assert RunInfo.load(RunPaths(copy).run_json).method == "filled-box"


def test_bad_input_is_recorded_and_never_stops_the_run(ray_local, tiny_got10k, tmp_path):
    root = tmp_path / "train"
    shutil.copytree(tiny_got10k, root)
    ids = (root / "list.txt").read_text().split()
    (root / ids[2] / "00000004.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 64)  # cut short: no end marker
    (root / ids[4] / "groundtruth.txt").write_text("1,2,3\n")                   # invalid at scan
    out = tmp_path / "out"
    config = AnnotateConfig(dataset="got10k", root=root, out=out, shard_frames=12, method="filled-box")
    summary = annotate(config)
    # the scan finds both, whatever the method (filled-box never decodes a frame)
    assert summary.complete and summary.failed_sequences == 2
    failures = read_failures(out / "failures.jsonl")
    assert sorted((f["sequence"], f["stage"]) for f in failures) == [(ids[2], "scan"), (ids[4], "scan")]
    errors = {f["sequence"]: f["error"] for f in failures}
    assert "groundtruth.txt" in errors[ids[4]] and "00000004.jpg" in errors[ids[2]] and "cut short" in errors[ids[2]]
    assert {k[0] for k in keys_of(out)} == set(ids) - {ids[2], ids[4]}

    grab = tmp_path / "grab"
    summary = annotate(AnnotateConfig(dataset="got10k", root=root, out=grab, shard_frames=12))
    failures = read_failures(grab / "failures.jsonl")
    assert sorted((f["sequence"], f["stage"]) for f in failures) == [(ids[2], "scan"), (ids[4], "scan")]
    assert summary.complete and {k[0] for k in keys_of(grab)} == set(ids) - {ids[2], ids[4]}
    st = run_status(grab)
    assert st.failures_by_stage == {"scan": 2} and st.invalid_sequences == 2
    (grab / "shards" / "00000.parquet").unlink()
    st = run_status(grab)
    assert st.shards_pending == 1 and not st.complete
    annotate(AnnotateConfig(dataset="got10k", root=root, out=grab, shard_frames=12))
    assert len(read_failures(grab / "failures.jsonl")) == 2  # the re-run records nothing twice


def test_cli_status_and_refusal_read_plainly(first_run, tiny_got10k, tmp_path):
    """The two commands as users run them (not a terminal): plain text, exit codes, escaped errors."""
    import json

    from click.testing import CliRunner

    from cli.main import main

    out, *_ = first_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    with open(copy / "failures.jsonl", "a") as fh:  # an error text that looks like rich markup
        fh.write(json.dumps({"shard": "00000", "sequence": "GOT-10k_Train_000001", "stage": "prepare",
                             "error": "OSError: [Errno 5] Input/output error [/x]"}) + "\n")
    runner = CliRunner()
    result = runner.invoke(main, ["status", str(copy)])
    text = result.output + (result.stderr if hasattr(result, "stderr") else "")
    assert result.exit_code == 0, text
    assert "shards" in text and "3" in text and "not running" in text
    assert "[Errno 5] Input/output error [/x]" in text and "prepare 1" in text
    result = runner.invoke(main, ["annotate", "--dataset", "got10k", "--root", str(tiny_got10k), "--out", str(copy),
                                  "--shard-frames", "12", "--every", "3"])
    text = result.output + (result.stderr if hasattr(result, "stderr") else "")
    assert result.exit_code == 2 and "different configuration" in text and "every: 1" in text
