"""The HTML report: best and worst sequences for any count, a true footer, cropped mask thumbnails."""

from __future__ import annotations

import base64
import re

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from box2mask.eval.qa_summary import QASummary, SequenceQA
from box2mask.export.source import RunSource
from box2mask.shards import iter_rows
from box2mask.visualize.report import split_best_worst
from box2mask.visualize.sheet import crop_around, fit_width
from tests.export.runcopy import copy_run, shards


def _summary(n: int) -> QASummary:
    seqs = [SequenceQA(sequence=f"s{k}", dataset="x", masks=3, invisible=0, empty=0, mean=k / 10, min=0.0,
                       p10=0.0, low=0.0, box_iou=0.0, fill=0.0, temporal=0.0, confidence=0.0) for k in range(n)]
    return QASummary(seqs, [], [0] * 20)


@pytest.mark.parametrize("n, worst, best", [
    (1, ["s0"], ["s0"]),
    (2, ["s0"], ["s1"]),
    (5, ["s0", "s1", "s2"], ["s4", "s3"]),
    (8, ["s0", "s1", "s2", "s3"], ["s7", "s6", "s5", "s4"]),
    (10, ["s0", "s1", "s2", "s3"], ["s9", "s8", "s7", "s6"]),
])
def test_best_and_worst_for_any_count(n, worst, best):
    low, high = split_best_worst(_summary(n), best=4, worst=4)
    assert [s.sequence for s in low] == worst and [s.sequence for s in high] == best


def test_best_and_worst_respect_zero():
    low, high = split_best_worst(_summary(3), best=0, worst=4)
    assert [s.sequence for s in low] == ["s0", "s1", "s2"] and high == []
    low, high = split_best_worst(_summary(3), best=4, worst=0)
    assert low == [] and [s.sequence for s in high] == ["s2", "s1", "s0"]


def _section(text: str, title: str) -> str:
    start = text.index(f"<h2>{title}")
    return text[start:text.index("<h2>", start + 4)]


def _report(run, dest, *extra):
    from cli.main import main

    result = CliRunner().invoke(main, ["report", str(run), "--dest", str(dest), "--frames", "2", *extra])
    assert result.exit_code == 0, result.output
    return dest.read_text()


def test_two_sequences_fill_both_sections_with_default_counts(synthetic_run, tmp_path):
    text = _report(synthetic_run, tmp_path / "r.html")
    worst, best = _section(text, "Worst sequences"), _section(text, "Best sequences")
    assert worst.count('class="seq"') == 1 and best.count('class="seq"') == 1
    ids = RunSource(synthetic_run).sequence_ids()
    assert {i for i in ids if i in worst} | {i for i in ids if i in best} == set(ids)
    footer = text[text.rindex("<p class='meta'>"):]
    assert "aligning their boxes" in footer and "camera" not in footer


def test_one_sequence_is_both_best_and_worst(synthetic_run, tmp_path):
    run, _ = copy_run(synthetic_run, tmp_path)
    shards(run)[1].unlink()
    (seq_id,) = RunSource(run).sequence_ids()
    text = _report(run, tmp_path / "r.html")
    assert seq_id in _section(text, "Worst sequences") and seq_id in _section(text, "Best sequences")


def test_worst_mask_thumbnails_are_cropped_around_the_object(synthetic_run, tmp_path):
    text = _report(synthetic_run, tmp_path / "r.html")
    masks = _section(text, "Least trustworthy masks")
    figures = re.findall(r"<img src='data:image/jpeg;base64,([^']+)'><figcaption>(\S+) (\S+) track (\d+)<br>", masks)
    assert figures
    rows = {(r["sequence"], r["frame_stem"], r["track_id"]): r for r in iter_rows(synthetic_run)}
    for data, seq_id, stem, track in figures:
        thumb = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
        row = rows[(seq_id, stem, int(track))]
        frame = np.zeros((row["height"], row["width"], 3), np.uint8)
        crop = crop_around(frame, (row["source_box"], row["mask_box"]))
        assert crop.shape[0] < row["height"] or crop.shape[1] < row["width"]     # not the whole frame
        assert thumb.shape[:2] == fit_width(crop, 220).shape[:2]


def test_crop_around_keeps_the_box_with_context():
    image = np.zeros((480, 640, 3), np.uint8)
    crop = crop_around(image, ([300.0, 200.0, 340.0, 230.0], None), context=0.5, min_side=10)
    assert crop.shape[:2] == (70, 80)                       # 40x30 box + 20 px each side
    edge = crop_around(image, ([0.0, 0.0, 10.0, 10.0],), context=0.5)
    assert edge.shape[:2] == (37, 37)                        # clipped at the image corner, 64 px minimum
    assert crop_around(image, (None, [np.nan] * 4)).shape == image.shape
