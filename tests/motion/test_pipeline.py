"""The motion job and CLI: file layout, previews, resume, failure isolation."""

from __future__ import annotations

import json
import shutil

import cv2
import pytest
from click.testing import CliRunner

from box2mask.datasets import open_dataset
from box2mask.motion.config import PRESETS
from cli.main import main
from pipelines.motion import MotionOutputError, run_motion


@pytest.fixture
def dataset(synthetic_got10k, tmp_path):
    """A private copy of the tiny synthetic GOT-10k split (2 sequences x 8 frames, 240x320)."""
    root = tmp_path / "data"
    shutil.copytree(synthetic_got10k, root)
    return root


def _stems(folder, suffix):
    return sorted(p.stem for p in folder.glob(f"*{suffix}"))


def test_cli_writes_one_png_per_frame_and_previews(dataset, tmp_path):
    out = tmp_path / "motion"
    args = ["motion", "-d", "got10k", "-r", str(dataset), "--out", str(out), "--side-by-side"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    reader = open_dataset("got10k", dataset)
    for seq_id in reader.sequence_ids():
        seq = reader.load(seq_id)
        stems = [seq.frame_stem(i) for i in range(len(seq))]
        assert _stems(out / seq_id, ".png") == stems
        assert _stems(out / seq_id / "side-by-side", ".jpg") == stems
        png = cv2.imread(str(out / seq_id / f"{stems[3]}.png"), cv2.IMREAD_UNCHANGED)
        assert png.dtype.name == "uint8" and png.shape == (240, 320)
        preview = cv2.imread(str(out / seq_id / "side-by-side" / f"{stems[3]}.jpg"))
        assert preview.shape == (240, 640, 3)
        marker = json.loads((out / seq_id / "diagnostics.json").read_text())
        assert marker["frames"] == len(seq) and len(marker["per_frame"]) == len(seq)
        assert {"inliers", "reprojection_error", "fallback", "sides"} <= set(marker["per_frame"][0])
    assert json.loads((out / "failures.json").read_text()) == []
    assert json.loads((out / "motion.json").read_text())["config"]["name"] == "full"


def test_every_restricts_the_frames(dataset, tmp_path):
    out = tmp_path / "motion"
    summary = run_motion("got10k", dataset, out, config=PRESETS["bf"], every=3)
    seq_id = summary.results[0].id
    assert _stems(out / seq_id, ".png") == ["00000001", "00000004", "00000007"]


def test_rerun_skips_finished_sequences_and_completes_partial_ones(dataset, tmp_path):
    out = tmp_path / "motion"
    first = run_motion("got10k", dataset, out, config=PRESETS["full"])
    assert [r.status for r in first.results] == ["done", "done"] and first.written == 16
    a, b = first.results[0].id, first.results[1].id
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*.png")}

    again = run_motion("got10k", dataset, out, config=PRESETS["full"])
    assert [r.status for r in again.results] == ["skipped", "skipped"] and again.written == 0
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*.png")} == before

    # an interrupted sequence: one map and the completion marker are missing
    lost = out / b / "00000005.png"
    lost.unlink()
    (out / b / "diagnostics.json").unlink()
    third = run_motion("got10k", dataset, out, config=PRESETS["full"])
    assert [(r.status, r.written, r.reused) for r in third.results] == [("skipped", 0, 0), ("done", 1, 7)]
    assert lost.read_bytes() == before[lost][1]   # the same map as a run from scratch
    assert all(p.stat().st_mtime_ns == before[p][0] for p in before if p != lost)

    # a truncated map (e.g. a power cut before the data reached the disk) is redone, not trusted
    cut = out / a / "00000002.png"
    cut.write_bytes(before[cut][1][:100])
    (out / a / "diagnostics.json").unlink()
    fourth = run_motion("got10k", dataset, out, config=PRESETS["full"])
    assert [(r.status, r.written) for r in fourth.results] == [("done", 1), ("skipped", 0)]
    assert cut.read_bytes() == before[cut][1]


def test_other_configuration_in_the_same_folder_is_refused(dataset, tmp_path):
    out = tmp_path / "motion"
    run_motion("got10k", dataset, out, config=PRESETS["bf"], ids=[])
    with pytest.raises(MotionOutputError, match="'bf'"):
        run_motion("got10k", dataset, out, config=PRESETS["full"], ids=[])
    result = CliRunner().invoke(main, ["motion", "-d", "got10k", "-r", str(dataset), "--out", str(out)])
    assert result.exit_code == 2 and "another --out" in result.output


def test_a_broken_sequence_is_reported_and_the_others_are_processed(dataset, tmp_path):
    reader = open_dataset("got10k", dataset)
    broken, good = reader.sequence_ids()
    frame = dataset / broken / "00000004.jpg"
    frame.write_bytes(b"\xff\xd8\xff" + b"not really a jpeg" * 10)   # passes the header check, fails to decode
    out = tmp_path / "motion"
    result = CliRunner().invoke(main, ["motion", "-d", "got10k", "-r", str(dataset), "--out", str(out)])
    assert result.exit_code == 1
    assert broken in result.output and "00000004.jpg" in result.output
    failures = json.loads((out / "failures.json").read_text())
    assert [f["sequence"] for f in failures] == [broken] and "00000004.jpg" in failures[0]["reason"]
    assert len(list((out / good).glob("*.png"))) == 8 and (out / good / "diagnostics.json").is_file()
    assert not (out / broken / "diagnostics.json").exists()
    # no partial files were left behind
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_an_unreadable_sequence_folder_is_reported(dataset, tmp_path):
    reader = open_dataset("got10k", dataset)
    broken, good = reader.sequence_ids()
    (dataset / broken / "groundtruth.txt").write_text("1,2,3\n")
    summary = run_motion("got10k", dataset, tmp_path / "motion", config=PRESETS["none"])
    statuses = {r.id: r for r in summary.results}
    assert statuses[broken].status == "failed" and "groundtruth.txt" in statuses[broken].reason
    assert statuses[good].status == "done" and statuses[good].written == 8


def test_workers_write_the_same_maps(dataset, tmp_path):
    serial = run_motion("got10k", dataset, tmp_path / "one", config=PRESETS["full"])
    parallel = run_motion("got10k", dataset, tmp_path / "two", config=PRESETS["full"], workers=2)
    assert [r.status for r in parallel.results] == ["done", "done"] and parallel.written == serial.written == 16
    one = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*.png")}
    two = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*.png")}
    assert one == two
