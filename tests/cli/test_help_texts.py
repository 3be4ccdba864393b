"""Help texts and titles say what the commands do (show, motion, eval)."""

from __future__ import annotations

import os
import re

from click.testing import CliRunner

from tests.runfixtures import synthetic_run  # noqa: F401


def _help(*args: str) -> str:
    from cli.main import main

    result = CliRunner().invoke(main, [*args, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def _option(text: str, name: str) -> str:
    """The help of one option: its line and the lines continuing it."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.strip().startswith(name))
    block = [lines[start]]
    for line in lines[start + 1:]:
        if line.strip().startswith("-") or not line.strip():
            break
        block.append(line)
    return " ".join(" ".join(block).split())


def test_show_help_names_the_sequence_and_documents_fps_and_columns():
    text = _help("show")
    assert "--seq SEQUENCE" in _option(text, "--seq")
    assert "Draw sequence SEQUENCE (--seq) of run OUT" in " ".join(text.split())
    assert not re.search(r"\bSEQ\b", text)
    assert "Frames per second of the MP4" in _option(text, "--fps")
    assert "Tiles per row of the contact sheet" in _option(text, "--columns")


def test_motion_every_is_about_motion_maps():
    every = _option(_help("motion"), "--every")
    assert "motion map" in every and "Annotate" not in every
    assert "preset" not in _option(_help("motion"), "--max-frames")


def test_eval_title_says_what_was_scored(synthetic_run, synthetic_got10k, tmp_path):  # noqa: F811
    from cli.main import main

    gt = tmp_path / "gt"
    gt.mkdir()
    os.symlink(synthetic_got10k.parent / "truth" / "Annotations", gt / "Annotations")
    runner = CliRunner()
    common = ["eval", str(synthetic_run), "--gt", str(gt), "--json", str(tmp_path / "e.json"),
              "--markdown", str(tmp_path / "e.md")]
    sampled = runner.invoke(main, [*common, "--sampled-only"])
    assert sampled.exit_code == 0, sampled.output
    assert "DAVIS measures (only the frames the run annotated)" in sampled.output
    assert "every" not in next(line for line in sampled.output.splitlines() if "DAVIS measures" in line)
    every = runner.invoke(main, common)
    assert every.exit_code == 0 and "DAVIS measures (every ground-truth frame counts)" in every.output
