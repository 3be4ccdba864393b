"""Hostile input and broken run folders: one clear line, the right exit status, nothing lost."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from click.testing import CliRunner

from box2mask.runs import RunPaths
from box2mask.shards import read_shard, shard_paths
from cli.main import main
from pipelines.annotate import AnnotateConfig, annotate
from tests.pipelines.procs import keys_of


def run_cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result, result.output + (result.stderr if hasattr(result, "stderr") else "")


def annotate_args(root, out, *extra):
    return ("annotate", "--dataset", "got10k", "--root", root, "--out", out, *extra)


def test_an_unknown_network_option_fails_at_once_with_the_valid_keys(tiny_got10k, tmp_path):
    out = tmp_path / "out"
    result, text = run_cli(*annotate_args(tiny_got10k, out, "-O", "no_such_key=1"))
    assert result.exit_code == 2, text
    assert "unknown network option 'no_such_key'; valid options: crop_size, context, support" in text
    assert "Traceback" not in text and not (out / "run.json").exists()
    result, text = run_cli(*annotate_args(tiny_got10k, out, "-O", "flip=maybe"))
    assert result.exit_code == 2 and "network option flip='maybe': expected true or false" in text
    result, text = run_cli(*annotate_args(tiny_got10k, out, "-O", "support=five"))
    assert result.exit_code == 2 and "network option support='five': expected int (e.g. support=5)" in text
    result, text = run_cli(*annotate_args(tiny_got10k, out, "--method", "grabcut", "-O", "iterations=0"))
    assert result.exit_code == 2 and "grabcut option iterations=0: expected a whole number >= 1" in text


def test_weights_that_are_not_ours_get_one_plain_error_before_any_worker(tiny_got10k, tmp_path):
    import torch

    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"this is not a weights file")
    result, text = run_cli(*annotate_args(tiny_got10k, tmp_path / "out", "--weights", bad))
    assert result.exit_code == 2 and f"{bad} is not a box2mask weights file" in text
    assert "Traceback" not in text and "Ray" not in text
    torch.save({"state_dict": {}}, bad)
    result, text = run_cli(*annotate_args(tiny_got10k, tmp_path / "out", "--weights", bad))
    assert result.exit_code == 2 and "is not a box2mask weights file (format None)" in text


def test_an_unknown_sequence_name_is_an_error(tiny_got10k, tmp_path):
    result, text = run_cli(*annotate_args(tiny_got10k, tmp_path / "out", "--method", "filled-box",
                                          "--sequences", "nope"))
    assert result.exit_code == 2 and "--sequences: 'nope' not in the got10k dataset" in text
    assert not (tmp_path / "out" / "run.json").exists()


def test_a_malformed_run_json_is_one_line_for_status_and_annotate(tiny_got10k, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text('{"dataset": "got10k", ')
    for args in (("status", out), annotate_args(tiny_got10k, out, "--method", "filled-box")):
        result, text = run_cli(*args)
        assert result.exit_code == 2, text
        assert f"{out / 'run.json'} is not valid JSON" in text and "Traceback" not in text
    (out / "run.json").write_text("[1, 2]")
    result, text = run_cli("status", out)
    assert result.exit_code == 2 and "is not a box2mask run.json (missing dataset, root, version, method)" in text


def test_a_users_own_tmp_files_survive_annotate_into_their_folder(ray_local, tiny_got10k, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    keep = [out / "draft.tmp", out / ".notes.txt.ab3_x9zq.tmp", out / ".run.json.k2j4h5g6.tmp"]
    for path in keep:
        path.write_text("user data")
    messages = []
    annotate(AnnotateConfig(dataset="got10k", root=tiny_got10k, out=out, method="filled-box"),
             on_message=messages.append)
    assert all(p.read_text() == "user data" for p in keep)
    assert not any("half-written" in m for m in messages)


@pytest.fixture(scope="module")
def filled_run(ray_local, tiny_got10k, tmp_path_factory):
    out = tmp_path_factory.mktemp("filled") / "out"
    annotate(AnnotateConfig(dataset="got10k", root=tiny_got10k, out=out, shard_frames=12, method="filled-box"))
    return out


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "other-shard"])
def test_a_damaged_shard_is_reported_moved_aside_and_recomputed(filled_run, tiny_got10k, tmp_path, damage):
    from pipelines.status import run_status

    out = tmp_path / "out"
    shutil.copytree(filled_run, out)
    target = RunPaths(out).shard("00001")
    original = read_shard(target).to_pylist()
    data = target.read_bytes()
    replacement = {"garbage": b"\x00garbage" * 100, "empty": b"", "truncated": data[: len(data) // 2],
                   "other-shard": RunPaths(out).shard("00000").read_bytes()}[damage]
    target.write_bytes(replacement)
    st = run_status(out)
    assert "00001" in st.damaged_shards and st.shards_done == 2 and not st.complete
    result, text = run_cli("status", out)
    assert "damaged shard 00001" in text
    if damage != "other-shard":  # a sound parquet file of another shard still reads: only the recorded checksum knows
        result, text = run_cli("export", out, "--format", "coco", "--dest", tmp_path / "coco.json")
        assert result.exit_code == 2 and "shards/00001.parquet" in text
        assert "run the same `box2mask annotate` command on this folder again" in text
    messages = []
    summary = annotate(AnnotateConfig(dataset="got10k", root=tiny_got10k, out=out, shard_frames=12,
                                      method="filled-box"), on_message=messages.append)
    assert summary.complete and summary.shards_committed == 1
    assert any(m.startswith("shard 00001 is damaged") and "recomputing it" in m for m in messages)
    assert read_shard(target).to_pylist() == original
    assert sorted(keys_of(out)) == sorted(keys_of(filled_run))
    moved = list((out / "corrupt").rglob("00001.parquet"))
    assert len(moved) == 1 and moved[0].read_bytes() == replacement  # kept for the user, not deleted
    assert [p.name for p in shard_paths(out)] == ["00000.parquet", "00001.parquet", "00002.parquet"]


def test_exit_status_is_3_when_sequences_failed(ray_local, tiny_got10k, tmp_path):
    root = tmp_path / "train"
    shutil.copytree(tiny_got10k, root)
    ids = (root / "list.txt").read_text().split()
    (root / ids[1] / "00000003.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 64)  # fails at decode
    result, text = run_cli(*annotate_args(root, tmp_path / "out", "--method", "grabcut"))
    assert result.exit_code == 3, text
    assert f"  {ids[1]} [" in text and "failures.jsonl (1 sequences)" in text
    lines = (tmp_path / "out" / "failures.jsonl").read_text().splitlines()
    assert [json.loads(x)["sequence"] for x in lines] == [ids[1]]
    result, text = run_cli("status", tmp_path / "out")
    assert result.exit_code == 0 and "complete" not in text.split("state:")[1].splitlines()[-1]
    clean, text = run_cli(*annotate_args(tiny_got10k, tmp_path / "clean", "--method", "filled-box"))
    assert clean.exit_code == 0, text
    assert f"box2mask export {tmp_path / 'clean'} --format coco --dest {tmp_path / 'clean'}/coco.json" in text


@pytest.mark.parametrize("code, cause", [(28, "the disk is full"), (30, "the file system is read-only")])
def test_a_full_or_read_only_output_is_one_line_naming_the_cause(tiny_got10k, tmp_path, monkeypatch, code, cause):
    import errno

    import pipelines.annotate.runfolder as runfolder
    import pipelines.scan as scan

    assert code in (errno.ENOSPC, errno.EROFS)

    def refuse(table, out):
        raise OSError(code, os.strerror(code), str(out / "manifest.parquet"))

    monkeypatch.setattr(runfolder, "save_manifest", refuse)
    monkeypatch.setattr(scan, "save_manifest", refuse)
    for args in (annotate_args(tiny_got10k, tmp_path / "out", "--method", "filled-box"),
                 ("scan", "--dataset", "got10k", "--root", tiny_got10k, "--out", tmp_path / "scan")):
        result, text = run_cli(*args)
        assert result.exit_code == 2, text
        assert f"manifest.parquet: {cause}" in text and "Traceback" not in text
