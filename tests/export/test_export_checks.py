"""Repeated shard rows are read once; every JSON export is read back and checked before it appears."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from click.testing import CliRunner
from pycocotools.coco import COCO

from box2mask.export import export_run
from box2mask.export.source import RunSource
from box2mask.export.validate import ExportCheckError, scan_json
from tests.export.runcopy import copy_run, rewrite_shard, shards


@pytest.fixture()
def doubled_run(synthetic_run, tmp_path):
    """The first sequence annotated twice into its shard: 16 rows for 8 frames."""
    run, _ = copy_run(synthetic_run, tmp_path)
    rewrite_shard(shards(run)[0], lambda t: pa.concat_tables([t, t]))
    return run


def test_repeated_rows_are_read_once_and_ytvis_stays_valid(doubled_run, tmp_path):
    from cli.main import main

    seq_id = RunSource(doubled_run).sequence_ids()[0]
    assert len(RunSource(doubled_run).sequence(seq_id)) == 8
    dest = tmp_path / "y.json"
    result = CliRunner().invoke(main, ["export", str(doubled_run), "--format", "ytvis", "--dest", str(dest)])
    assert result.exit_code == 0, result.output
    assert f"{seq_id}: 8 row(s) repeat a track and frame already read" in result.output
    data = json.loads(dest.read_text())                      # parses: no "}{"
    assert len(data["videos"]) == 2 and len(data["annotations"]) == 2
    for ann in data["annotations"]:
        assert len(ann["segmentations"]) == len(ann["bboxes"]) == len(ann["scores"]) == 8


def test_repeated_rows_in_coco_and_davis(doubled_run, tmp_path):
    stats = export_run(doubled_run, "coco", tmp_path / "c.json")
    coco = COCO(str(tmp_path / "c.json"))
    assert len(coco.getImgIds()) == 16 and len(coco.getAnnIds()) == stats.masks == 12
    assert list(stats.repeated_rows.values()) == [8]
    davis = export_run(doubled_run, "davis", tmp_path / "d")
    assert davis.frames == 16 and len(list((tmp_path / "d" / "Annotations").rglob("*.png"))) == 16


def test_a_broken_ytvis_file_is_not_renamed_into_place(synthetic_run, tmp_path, monkeypatch):
    """The old slot bug (a second value for a track's last slot, written straight after the first)
    made ``}{``; the check after writing catches any such file and nothing appears at --dest."""
    from box2mask.export import ytvis
    from cli.main import main

    original = ytvis._write_track

    def doubled_last_slot(spool, *args, **kwargs):
        original(spool, *args, **kwargs)
        spool.raw('{"size":[1,1],"counts":"1"}')

    monkeypatch.setattr(ytvis, "_write_track", doubled_last_slot)
    dest = tmp_path / "y.json"
    result = CliRunner().invoke(main, ["export", str(synthetic_run), "--format", "ytvis", "--dest", str(dest)])
    assert result.exit_code == 2
    assert f"{dest}: the written export failed its check" in result.output
    assert "invalid JSON" in result.output or "expected" in result.output
    assert not dest.exists() and not list(tmp_path.glob(".*"))


def test_counts_that_differ_from_the_shards_are_an_error(synthetic_run, tmp_path, monkeypatch):
    from box2mask.export import coco

    real_keep = coco.keep_mask
    calls = {"n": 0}

    def drops_one(row, options, stats):
        calls["n"] += 1
        return False if calls["n"] == 1 else real_keep(row, options, stats)

    monkeypatch.setattr(coco, "keep_mask", drops_one)
    dest = tmp_path / "c.json"
    with pytest.raises(ExportCheckError, match=r"11 annotations written, but the shards hold 12") as info:
        export_run(synthetic_run, "coco", dest)
    assert str(dest) in str(info.value)
    assert not dest.exists() and not list(tmp_path.glob(".*"))


def test_scan_json_streams_and_says_where_it_breaks(tmp_path):
    good = tmp_path / "good.json"
    good.write_text('{"info": {"a": 1}, "videos": [{"id": 1}, {"id": 2}], "meta": {"x": [1], "y": 2}, "n": 12}')
    seen = []
    assert scan_json(good, lambda key, item: seen.append(key)) == {"info": 1, "videos": 2, "meta": 2}
    assert seen.count("videos") == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"annotations": [{"id": 1}{"id": 2}]}')
    with pytest.raises(ValueError, match=r"expected .,. or .\]. at character 26, found .\{."):
        scan_json(bad)
    cut = tmp_path / "cut.json"
    cut.write_text('{"annotations": [{"id": 1}, {"id": ')
    with pytest.raises(ValueError, match="invalid JSON"):
        scan_json(cut)
    trailing = tmp_path / "trailing.json"
    trailing.write_text('{"a": []}{')
    with pytest.raises(ValueError, match="extra data"):
        scan_json(trailing)


def test_scan_json_reads_items_across_buffer_edges(tmp_path):
    from box2mask.export import validate

    path = tmp_path / "long.json"
    items = [{"id": k, "counts": "x" * (k % 7), "n": 10 ** (k % 12)} for k in range(500)]
    path.write_text(json.dumps({"images": items, "total": 123456789}))
    got = []
    reader = validate._Reader
    try:
        validate._Reader = lambda fh: reader(fh, chunk=16)     # tiny buffer: items and numbers cross its edge
        assert scan_json(path, lambda key, item: got.append(item)) == {"images": 500}
    finally:
        validate._Reader = reader
    assert got == items


def test_ytvis_writes_one_value_per_slot_even_if_rows_repeat(doubled_run, tmp_path, monkeypatch):
    """The writer itself keeps one value per slot, also when handed repeated rows."""
    from box2mask.export import source

    monkeypatch.setattr(source, "_drop_repeated", lambda part: (part, 0))
    assert len(RunSource(doubled_run).sequence(RunSource(doubled_run).sequence_ids()[0])) == 16
    export_run(doubled_run, "ytvis", tmp_path / "y.json")
    data = json.loads((tmp_path / "y.json").read_text())
    assert [len(a["segmentations"]) for a in data["annotations"]] == [8, 8]
