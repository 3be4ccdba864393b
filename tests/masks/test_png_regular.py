"""Mask files are opened only when they are regular files: a FIFO gets an error, not a hang."""

from __future__ import annotations

import os
import threading

import pytest

from box2mask.masks.png import read_label_png


def test_a_fifo_in_place_of_a_mask_is_refused_without_blocking(tmp_path):
    path = tmp_path / "00000.png"
    os.mkfifo(path)
    outcome = {}

    def read():
        try:
            read_label_png(path)
        except OSError as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "reading a FIFO mask blocked"
    assert "not a regular file (a FIFO)" in outcome["error"]


def test_a_regular_mask_still_reads(tmp_path):
    import numpy as np

    from box2mask.masks.png import write_label_png

    labels = np.zeros((4, 5), np.uint8)
    labels[1:3, 1:4] = 2
    write_label_png(tmp_path / "m.png", labels)
    assert (read_label_png(tmp_path / "m.png") == labels).all()
    with pytest.raises(OSError):
        read_label_png(tmp_path / "missing.png")
