"""benchmarks/cv.py: the command lines a fold run is made of (nothing is trained here)."""

from __future__ import annotations

from pathlib import Path

import pytest

import benchmarks.cv as cv


def _teachers(cmd: list[str]) -> list[str]:
    return [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--teacher"]


@pytest.fixture
def commands(monkeypatch) -> list[list[str]]:
    seen: list[list[str]] = []
    monkeypatch.setattr(cv, "_run", lambda cmd, threads=None: seen.append(cmd))
    return seen


def test_a_plain_recipe_learns_from_the_grabcut_teachers_on_the_fold_s_training_boxes(tmp_path, commands):
    cv.train(tmp_path, "r4-lite2", "A", Path("lasot"), threads=1)
    (cmd,) = commands
    assert cmd[1] == "train"
    assert f"got10k:{tmp_path / 'data/fold-A/train'}:1.0" in cmd
    assert _teachers(cmd) == [str(tmp_path / "teacher/davis"), str(tmp_path / "teacher/synthetic")]


def test_the_blend_recipe_adds_its_base_network_s_masks_of_the_same_boxes(tmp_path, commands):
    with pytest.raises(SystemExit, match="train --recipe r4-lite2 --fold B first"):
        cv.train(tmp_path, "r7-blend", "B", Path("lasot"), threads=1)
    assert commands == []
    base = cv.run_dir(tmp_path, "r4-lite2", "B") / "weights.pt"
    base.parent.mkdir(parents=True)
    base.write_bytes(b"")
    cv.train(tmp_path, "r7-blend", "B", Path("lasot"), threads=1)
    teach, train = commands
    boxes = str(tmp_path / "data/fold-B/train")
    # the teacher run annotates the fold's own training boxes with the base weights of the same fold ...
    assert teach[1] == "annotate" and teach[teach.index("--root") + 1] == boxes
    assert teach[teach.index("--weights") + 1] == str(base)
    # ... and the student learns from it beside GrabCut's masks (averaged where both cover a frame)
    assert _teachers(train) == [str(tmp_path / "teacher/davis"), str(tmp_path / "teacher/synthetic"),
                                teach[teach.index("--out") + 1]]
    assert "--init" not in train
