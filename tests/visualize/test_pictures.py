"""Overlays, contact sheets, MP4s and the HTML report, produced from real run folders."""

import re

import imageio.v2 as imageio
import numpy as np
from click.testing import CliRunner
from PIL import Image

from box2mask.export.source import RunSource
from box2mask.visualize.overlay import draw_box, tint, track_colour
from box2mask.visualize.render import render_sequence
from box2mask.visualize.sheet import contact_sheet, evenly


def test_tint_touches_only_the_mask_and_its_outline():
    image = np.full((40, 60, 3), 100, np.uint8)
    mask = np.zeros((40, 60), bool)
    mask[10:30, 20:40] = True
    out = tint(image, mask, (255, 0, 0))
    assert (out[~mask] == 100).all() and (out[15, 30] != 100).any()
    boxed = draw_box(image, [5.0, 5.0, 50.0, 35.0])
    assert (boxed[5, 5:50] == 255).all() and (boxed[20, 20] == 100).all()
    assert draw_box(image, [np.nan] * 4).tolist() == image.tolist()
    assert track_colour(0) != track_colour(1)


def test_contact_sheet_layout():
    tiles = [np.full((30, 40, 3), k * 20, np.uint8) for k in range(7)]
    sheet = contact_sheet(tiles, columns=3, tile_width=80, gap=2)
    assert sheet.shape == (3 * 60 + 4 * 2, 3 * 80 + 4 * 2, 3)
    assert evenly(10, 4) == [0, 3, 6, 9] and evenly(3, 10) == [0, 1, 2]


def test_render_draws_masks_and_motion(synthetic_run):
    source = RunSource(synthetic_run)
    seq_id = source.sequence_ids()[0]
    plain = list(render_sequence(source, seq_id, positions=[1, 3], captions=False))
    assert [r.frame.index for r in plain] == [1, 3] and all(r.qa is not None for r in plain)
    moving = list(render_sequence(source, seq_id, positions=[1, 3], captions=False, motion=True))
    assert any(np.abs(a.image.astype(int) - b.image.astype(int)).sum() > 0 for a, b in zip(plain, moving))
    hidden = list(render_sequence(source, seq_id, positions=[2]))[0]       # frame 2 not visible: no QA
    assert hidden.qa is None


def test_show_writes_mp4_and_contact_sheet(synthetic_run, tmp_path):
    from cli.main import main

    seq_id = RunSource(synthetic_run).sequence_ids()[1]
    result = CliRunner().invoke(main, ["show", str(synthetic_run), "--seq", seq_id, "--dest", str(tmp_path / "out"),
                                       "--tiles", "4", "--fps", "4"])
    assert result.exit_code == 0, result.output
    video = tmp_path / "out" / f"{seq_id}.mp4"
    with imageio.get_reader(video, format="FFMPEG") as reader:
        frames = [f for f in reader.iter_data()]
    assert len(frames) == 8 and frames[0].shape[:2] == (240, 320)
    with Image.open(tmp_path / "out" / f"{seq_id}_sheet.png") as sheet:
        assert sheet.mode == "RGB" and sheet.width > 4 * 200
    single = CliRunner().invoke(main, ["show", str(synthetic_run), "--seq", seq_id, "--dest",
                                       str(tmp_path / "s.png"), "--tiles", "3"])
    assert single.exit_code == 0 and (tmp_path / "s.png").is_file() and not (tmp_path / "s.mp4").exists()
    missing = CliRunner().invoke(main, ["show", str(synthetic_run), "--seq", "nope", "--dest", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "not in the run" in missing.output


def test_html_report(synthetic_run, tmp_path):
    from cli.main import main

    result = CliRunner().invoke(main, ["report", str(synthetic_run), "--dest", str(tmp_path / "r.html"),
                                       "--frames", "3", "--best", "1", "--worst", "1"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "r.html").read_text()
    assert text.count("<svg") == 5                                   # QA histogram + one per signal
    thumbs = re.findall(r"src=.data:image/jpeg;base64,", text)
    assert len(thumbs) >= 2 * 3
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    for seq_id in RunSource(synthetic_run).sequence_ids():
        assert seq_id in text
