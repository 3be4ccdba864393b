"""DAVIS exports cannot write outside --dest, whatever the shards say, and never touch the frames."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from box2mask.export import export_run
from box2mask.export.davis import UnsafePath, _check_link_target, name_problem
from box2mask.export.source import RunSource
from tests.export.runcopy import add_shard, copy_run, renamed, rewrite_shard, shards, snapshot, with_column


def _export(run: Path, dest: Path, *extra: str):
    from cli.main import main

    return CliRunner().invoke(main, ["export", str(run), "--format", "davis", "--dest", str(dest),
                                     "--link-images", *extra])


def _frames(data: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(data.rglob("*.jpg"))}


def _assert_sources_intact(frames: dict[Path, bytes]) -> None:
    for path, content in frames.items():
        assert not path.is_symlink() and path.is_file(), f"{path} is no longer a regular file"
        assert path.read_bytes() == content


def test_hostile_sequence_ids_write_nothing_outside_dest(synthetic_run, tmp_path):
    run, data = copy_run(synthetic_run, tmp_path)
    first, second = shards(run)
    good = RunSource(run).sequence(RunSource(run).sequence_ids()[1]).id
    victim = data / RunSource(run).sequence_ids()[0]              # the first sequence's own frame folder
    dest = tmp_path / "dest"
    # an id that leads from DEST/JPEGImages (and DEST/Annotations) straight into the victim's folder
    into_source = os.path.relpath(victim, dest / "JPEGImages")
    rewrite_shard(first, lambda t: renamed(t, into_source))
    from pyarrow import parquet as pq

    table = pq.read_table(second)
    hostile = {"../x": "a path separator", str(tmp_path / "abs"): "a path separator", "..": "'..'",
               "new\nline": "a control character", "": "is empty"}
    for k, seq_id in enumerate(hostile):
        add_shard(run, f"9{k:04d}", renamed(table, seq_id))
    # a plain id whose frame stems climb out of the folder
    add_shard(run, "99999", with_column(renamed(table, "stems"), "frame_stem",
                                        ["../../../escaped"] * table.num_rows))
    dest.mkdir()
    frames = _frames(data)
    before = snapshot(tmp_path, skip=dest)

    result = _export(run, dest)

    assert result.exit_code == 1, result.output
    assert snapshot(tmp_path, skip=dest) == before                 # nothing outside DEST changed
    _assert_sources_intact(frames)
    assert f"sequence {into_source!r}" in result.output and "sequence '../x'" in result.output
    assert "sequence 'stems'" in result.output and "'../../../escaped'" in result.output
    assert "7 sequence(s) skipped" in result.output
    # the good sequence is exported in full, its links lead to its own frames
    assert (dest / "ImageSets" / "all.txt").read_text().split() == [good]
    pngs = sorted((dest / "Annotations" / good).glob("*.png"))
    assert len(pngs) == 8
    for png in pngs:
        link = dest / "JPEGImages" / good / f"{png.stem}.jpg"
        assert link.is_symlink() and link.resolve() == (data / good / f"{png.stem}.jpg").resolve()
    assert set(json.loads((dest / "meta.json").read_text())["videos"]) == {good}
    # everything written lies inside DEST
    for path in dest.rglob("*"):
        assert os.path.realpath(path.parent).startswith(str(dest.resolve()))


def test_existing_files_and_linked_folders_in_dest_are_left_alone(synthetic_run, tmp_path):
    run, data = copy_run(synthetic_run, tmp_path)
    first, second = RunSource(run).sequence_ids()
    dest = tmp_path / "dest"
    # a regular file where a link would go, and a JPEGImages folder that is a link into the dataset
    (dest / "JPEGImages" / first).mkdir(parents=True)
    keep = dest / "JPEGImages" / first / "00000003.jpg"
    keep.write_bytes(b"my own copy")
    os.symlink(data / second, dest / "JPEGImages" / second)
    frames = _frames(data)
    before = snapshot(tmp_path, skip=dest)
    mtime = keep.stat().st_mtime_ns

    result = _export(run, dest)

    assert result.exit_code == 1, result.output
    assert snapshot(tmp_path, skip=dest) == before
    _assert_sources_intact(frames)
    assert keep.read_bytes() == b"my own copy" and not keep.is_symlink() and keep.stat().st_mtime_ns == mtime
    assert f"{keep} exists and is not a link" in result.output
    assert "outside --dest" in result.output
    # neither sequence was half-written: a sequence is checked before any of its files is
    assert not (dest / "Annotations" / first).exists() and not (dest / "Annotations" / second).exists()
    assert (dest / "ImageSets" / "all.txt").read_text() == ""


def test_links_are_replaced_atomically_and_re_export_is_stable(synthetic_run, tmp_path):
    run, data = copy_run(synthetic_run, tmp_path)
    dest = tmp_path / "dest"
    frames = _frames(data)
    assert _export(run, dest).exit_code == 0
    links = {p: os.readlink(p) for p in (dest / "JPEGImages").rglob("*.jpg")}
    assert len(links) == 16 and all(Path(t).is_absolute() for t in links.values())
    again = _export(run, dest)
    assert again.exit_code == 0, again.output
    assert {p: os.readlink(p) for p in (dest / "JPEGImages").rglob("*.jpg")} == links
    assert not [p for p in dest.rglob(".*")]                       # no temporary name left behind
    _assert_sources_intact(frames)


def test_a_dest_holding_the_dataset_gets_no_links_into_itself(synthetic_run, tmp_path):
    run, data = copy_run(synthetic_run, tmp_path)
    frames = _frames(data)
    dest = data.parent                                             # the frames would lie inside DEST
    result = _export(run, dest)
    assert result.exit_code == 1
    assert "lies inside --dest" in result.output and "could loop" in result.output
    assert not (dest / "JPEGImages").exists()
    _assert_sources_intact(frames)


def test_name_and_link_checks(tmp_path):
    for bad in ("../x", "a/b", "a\\b", "/abs", ".", "..", "", "tab\there", "x" * 300):
        assert name_problem(bad), bad
    for ok in ("bear", "GOT-10k_Train_000001", "airplane-1", ".hidden", "naïve name"):
        assert name_problem(ok) is None, ok
    frame = tmp_path / "data" / "f.jpg"
    frame.parent.mkdir()
    frame.write_bytes(b"\xff\xd8\xff")
    root = (tmp_path / "dest").resolve()
    root.mkdir()
    with pytest.raises(UnsafePath, match="point at itself"):
        _check_link_target(root, frame, frame)
    with pytest.raises(UnsafePath, match="not a file"):
        _check_link_target(root, tmp_path / "data" / "missing.jpg", root / "x.jpg")
    _check_link_target(root, frame, root / "JPEGImages" / "s" / "f.jpg")      # the ordinary case passes


def test_without_an_error_list_an_unusable_id_raises(synthetic_run, tmp_path):
    run, _ = copy_run(synthetic_run, tmp_path)
    rewrite_shard(shards(run)[0], lambda t: renamed(t, "../up"))
    with pytest.raises(UnsafePath, match=r"'\.\./up'"):
        export_run(run, "davis", tmp_path / "dest")
    assert not (tmp_path / "up").exists() and not (tmp_path / "dest" / "meta.json").exists()


def test_dest_and_split_are_checked(synthetic_run, tmp_path):
    from cli.main import main

    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(main, ["export", str(synthetic_run), "--format", "davis",
                                       "--dest", str(tmp_path / "file")])
    assert result.exit_code == 2 and "is a file; the davis export is a folder" in result.output
    result = CliRunner().invoke(main, ["export", str(synthetic_run), "--format", "davis",
                                       "--dest", str(tmp_path / "d"), "--split", "../../evil"])
    assert result.exit_code == 2 and "--split '../../evil'" in result.output
    assert not list(tmp_path.rglob("evil*"))


def test_a_linked_imagesets_folder_is_refused(synthetic_run, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(elsewhere, dest / "ImageSets")
    result = _export(synthetic_run, dest)
    assert result.exit_code == 2 and "outside --dest" in result.output and "nothing was exported" in result.output
    assert not list(elsewhere.iterdir()) and not (dest / "Annotations").exists()
