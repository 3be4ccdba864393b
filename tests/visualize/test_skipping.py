"""report, show and qa leave out what cannot be read, say so, and draw the rest."""

from __future__ import annotations

import re

import imageio.v2 as imageio
import pytest
from click.testing import CliRunner

from box2mask.export.source import RunSource
from tests.export.runcopy import add_shard, copy_run, rewrite_shard, shards, with_column


def _invoke(*args: str):
    from cli.main import main

    return CliRunner().invoke(main, list(args))


@pytest.fixture()
def broken_frame_run(synthetic_run, tmp_path):
    """A copy of the run whose second sequence has frame 00000004 truncated (only its first 100 bytes)."""
    run, data = copy_run(synthetic_run, tmp_path)
    seq_id = RunSource(run).sequence_ids()[1]
    frame = data / seq_id / "00000004.jpg"
    frame.write_bytes(frame.read_bytes()[:100])
    return run, seq_id, frame


def test_report_skips_a_truncated_frame_and_reports_the_rest(broken_frame_run, tmp_path):
    run, seq_id, frame = broken_frame_run
    dest = tmp_path / "r.html"
    result = _invoke("report", str(run), "--dest", str(dest), "--frames", "8", "--best", "1", "--worst", "1")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("skipped"))
    assert line.startswith(f"skipped 1 frame(s): {seq_id}/00000004 (frame {frame}")
    text = dest.read_text()
    assert "Skipped (could not be read)" in text and f"{seq_id}/00000004" in text
    # every frame of both strips but the broken one is pictured
    strips = re.findall(r'<div class="strip">(.*?)</div>', text)
    assert sorted(s.count("<img") for s in strips) == [7, 8]
    assert 'title="00000004' not in strips[[s.count("<img") for s in strips].index(7)]


def test_show_skips_a_truncated_frame(broken_frame_run, tmp_path):
    run, seq_id, frame = broken_frame_run
    result = _invoke("show", str(run), "--seq", seq_id, "--dest", str(tmp_path / "out"), "--tiles", "8")
    assert result.exit_code == 0, result.output
    assert f"skipped 1 frame(s): {seq_id}/00000004 (frame {frame}" in result.output
    with imageio.get_reader(tmp_path / "out" / f"{seq_id}.mp4", format="FFMPEG") as reader:
        assert len([f for f in reader.iter_data()]) == 7
    assert (tmp_path / "out" / f"{seq_id}_sheet.png").is_file()


def test_show_with_no_readable_frame_says_why_and_writes_nothing(synthetic_run, tmp_path):
    run, data = copy_run(synthetic_run, tmp_path)
    seq_id = RunSource(run).sequence_ids()[0]
    for frame in (data / seq_id).glob("*.jpg"):
        frame.write_text("not an image")
    result = _invoke("show", str(run), "--seq", seq_id, "--dest", str(tmp_path / "v.mp4"))
    assert result.exit_code == 2
    assert f"no frame of '{seq_id}' could be drawn" in result.output and "skipped 8 frame(s)" in result.output
    assert not (tmp_path / "v.mp4").exists() and not list(tmp_path.glob(".*mp4"))


def test_an_undecodable_mask_row_skips_its_frame(synthetic_run, tmp_path):
    run, _ = copy_run(synthetic_run, tmp_path)
    first = shards(run)[0]
    seq_id = RunSource(run).sequence_ids()[0]

    def corrupt(table):
        rle = table["rle"].to_pylist()
        stems = table["frame_stem"].to_pylist()
        return with_column(table, "rle", ["!!" if s == "00000002" else r for r, s in zip(rle, stems)])

    rewrite_shard(first, corrupt)
    result = _invoke("show", str(run), "--seq", seq_id, "--dest", str(tmp_path / "s.png"), "--tiles", "8")
    assert result.exit_code == 0, result.output
    assert f"skipped 1 frame(s): {seq_id}/00000002 (the shard row of track 1 has a mask that cannot be " \
           "decoded" in result.output
    report = _invoke("report", str(run), "--dest", str(tmp_path / "r.html"), "--frames", "8")
    assert report.exit_code == 0 and f"{seq_id}/00000002" in report.output


def test_qa_and_report_skip_an_unreadable_shard(synthetic_run, tmp_path):
    run, _ = copy_run(synthetic_run, tmp_path)
    bad, good = RunSource(run).sequence_ids()
    broken = shards(run)[0]                 # the first: the good sequence is read past it
    broken.write_bytes(b"this is not parquet")
    result = _invoke("qa", str(run), "--json", str(tmp_path / "qa.json"))
    assert result.exit_code == 0, result.output
    assert f"skipped 1 shard(s): shards/{broken.name} (shard {broken} cannot be read" in result.output
    assert bad not in result.output
    assert good in result.output and "in 1 sequences" in result.output
    import json

    assert json.loads((tmp_path / "qa.json").read_text())["skipped"][0]["kind"] == "shard"
    report = _invoke("report", str(run), "--dest", str(tmp_path / "r.html"), "--frames", "2")
    assert report.exit_code == 0, report.output
    assert f"skipped 1 shard(s): shards/{broken.name}" in report.output


def test_qa_summarises_rows_with_missing_values(synthetic_run, tmp_path):
    run, _ = copy_run(synthetic_run, tmp_path)
    table = __import__("pyarrow.parquet", fromlist=["x"]).read_table(shards(run)[0])
    broken = with_column(with_column(table, "area", [None] * table.num_rows), "visible",
                         [None] + table["visible"].to_pylist()[1:])
    add_shard(run, "99999", with_column(broken, "sequence", ["nulls"] * table.num_rows))
    result = _invoke("qa", str(run))
    assert result.exit_code == 0, result.output
    assert "in 3 sequences" in result.output


def test_qa_on_a_run_of_which_nothing_can_be_read(synthetic_run, tmp_path):
    run, _ = copy_run(synthetic_run, tmp_path)
    for shard in shards(run):
        shard.write_bytes(b"garbage")
    result = _invoke("qa", str(run))
    assert result.exit_code == 2 and "nothing of the run" in result.output
