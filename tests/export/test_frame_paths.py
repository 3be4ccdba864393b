"""Frame paths in exports are relative to the image root, whichever links lead to it."""

from __future__ import annotations

import os

from box2mask.export.common import relative_to_root


def test_relative_paths_see_through_a_linked_root(tmp_path):
    real = tmp_path / "real" / "lasot" / "airplane" / "airplane-1" / "img"
    real.mkdir(parents=True)
    frame = real / "00000001.jpg"
    frame.write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    via_link = str(tmp_path / "link" / "lasot" / "airplane" / "airplane-1" / "img" / "00000001.jpg")
    expected = "airplane/airplane-1/img/00000001.jpg"
    assert relative_to_root(via_link, str(tmp_path / "real" / "lasot")) == expected
    assert relative_to_root(str(frame), str(tmp_path / "link" / "lasot")) == expected
    assert relative_to_root(via_link, str(tmp_path / "link" / "lasot")) == expected


def test_a_linked_frame_file_keeps_its_own_name(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "blob.jpg").write_bytes(b"x")
    seq = tmp_path / "data" / "seq"
    seq.mkdir(parents=True)
    os.symlink(tmp_path / "store" / "blob.jpg", seq / "00000001.jpg")
    assert relative_to_root(str(seq / "00000001.jpg"), str(tmp_path / "data")) == "seq/00000001.jpg"
