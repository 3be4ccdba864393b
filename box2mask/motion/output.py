"""Files made from motion maps: the 8-bit PNG every consumer reads, and a side-by-side preview.

The PNG holds ``round(255 * map)`` at the processing resolution (see
``docs/motion.md``), so ``png / 255`` gives back the map to within 1/510 and a
threshold of 0.5 on the map is ``png >= 128``.  Encoding uses the "sub" row
filter and Huffman-only zlib: on these smooth, mostly dark maps it is about 3x
faster than OpenCV's default PNG settings and the files are no larger
(measured in ``docs/motion.md``).
"""

from __future__ import annotations

from pathlib import Path

import os

import cv2
import numpy as np

from box2mask.atomic import atomic_write_bytes
from box2mask.motion.maps import to_uint8

PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
              cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]


def encode_map_png(motion: np.ndarray) -> bytes:
    """PNG bytes of a ``(h, w) float32`` map in [0, 1] (8-bit grey)."""
    ok, buf = cv2.imencode(".png", to_uint8(motion), PNG_PARAMS)
    if not ok:
        raise OSError("could not encode a motion map as PNG")
    return buf.tobytes()


_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def write_map_png(path: Path | str, motion: np.ndarray, *, sync: bool = False) -> None:
    """Write the map atomically (the file is absent or complete, never partial).

    Without ``sync`` the fsync is left to :func:`flush_to_disk`, called once per
    sequence before it is marked complete: one journal commit instead of one per
    frame, which on a busy disk is the largest cost of the whole command.
    """
    atomic_write_bytes(path, encode_map_png(motion), sync=sync)


def write_jpeg(path: Path | str, rgb: np.ndarray, *, quality: int = 85) -> None:
    """Write an ``(h, w, 3) uint8`` RGB preview atomically (fsync left to :func:`flush_to_disk`)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"could not encode {path}")
    atomic_write_bytes(path, buf.tobytes(), sync=False)


def flush_to_disk(paths: list[Path]) -> None:
    """fsync ``paths`` and their folders, so a completion marker written next never outlives them."""
    for path in [*paths, *{Path(p).parent for p in paths}]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def is_complete_png(path: Path | str) -> bool:
    """True when ``path`` exists and ends with the PNG end chunk (cheap: reads 12 bytes)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(-len(_PNG_END), os.SEEK_END)
            return fh.read() == _PNG_END
    except OSError:
        return False


def read_map_png(path: Path | str) -> np.ndarray:
    """``(h, w) float32`` map in [0, 1] from a PNG written by :func:`write_map_png`."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise OSError(f"{path}: not a readable motion map PNG")
    return image.astype(np.float32) / 255.0


def side_by_side(frame: np.ndarray, motion: np.ndarray, valid: np.ndarray | None = None,
                 boxes: np.ndarray | None = None, *, box_scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """``(h, 2w, 3) uint8`` RGB: the frame (boxes drawn) | the map in the inferno colour map.

    ``frame`` is ``(h, w, 3) uint8`` RGB at the map's size; ``boxes`` are full-resolution
    ``x0, y0, x1, y1`` scaled by ``box_scale`` ``(sx, sy)`` (full pixels per map pixel).
    Pixels no neighbour covered (``valid`` False) are shown grey.
    """
    h, w = motion.shape
    if frame.shape[:2] != (h, w):
        frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    left = np.ascontiguousarray(frame)
    if boxes is not None:
        sx, sy = box_scale
        for x0, y0, x1, y1 in np.asarray(boxes, np.float64).reshape(-1, 4):
            if np.isfinite([x0, y0, x1, y1]).all():
                cv2.rectangle(left, (int(x0 / sx), int(y0 / sy)), (int(x1 / sx) - 1, int(y1 / sy) - 1),
                              (0, 255, 0), 1)
    right = cv2.cvtColor(cv2.applyColorMap(to_uint8(motion), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    if valid is not None:
        right[~valid] = 96
    return np.concatenate([left, right], axis=1)
