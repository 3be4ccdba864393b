"""MP4 output through imageio-ffmpeg (its wheel ships the ffmpeg binary)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np


def even_size(image: np.ndarray) -> np.ndarray:
    """Crop a row/column so both sides are even, as H.264 in yuv420p requires."""
    h, w = image.shape[:2]
    return image[: h - h % 2, : w - w % 2]


def write_mp4(path: Path | str, frames: Iterable[np.ndarray], *, fps: float = 10.0, quality: int = 7) -> int:
    """Encode RGB ``(H, W, 3) uint8`` frames as H.264 MP4, atomically; returns the frame count.

    Written to a temporary name beside ``path`` (ending in ``.mp4`` so ffmpeg
    picks the container) and renamed when complete.
    """
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial.mp4")
    count = 0
    try:
        writer = imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", quality=quality,
                                    macro_block_size=1, pixelformat="yuv420p")
        with writer:
            for frame in frames:
                writer.append_data(np.ascontiguousarray(even_size(frame)))
                count += 1
        if count == 0:
            raise ValueError(f"no frames to write to {path}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return count
