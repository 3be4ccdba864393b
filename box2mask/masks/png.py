"""Label PNGs as DAVIS writes them: 8-bit palette images, object ids 1..N, 0 = background."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from box2mask.atomic import atomic_path

VOID_LABEL = 255


def davis_palette() -> np.ndarray:
    """The standard DAVIS / PASCAL VOC palette as ``(256, 3) uint8``.

    Colour ``i`` spreads the bits of ``i`` over the high bits of R, G and B, so
    neighbouring ids get clearly different colours (1 = dark red, 2 = green, ...).
    """
    palette = np.zeros((256, 3), dtype=np.uint8)
    for label in range(256):
        value, r, g, b = label, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= ((value >> 0) & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette[label] = (r, g, b)
    return palette


def read_label_png(path: Path | str) -> np.ndarray:
    """Read a mask file as ``(H, W) uint8`` object ids.

    Palette PNGs give their indices (DAVIS 2017 multi-object); any other mode
    (grey, grey+alpha, RGB) is read as greyscale with every nonzero pixel = id 1,
    which is how DAVIS 2016 single-object masks are stored.
    """
    from box2mask.frames import open_regular

    with open_regular(path) as fh, Image.open(fh) as im:  # a FIFO in place of a mask cannot block
        if im.mode == "P":
            return np.array(im, dtype=np.uint8)
        grey = np.array(im.convert("L"), dtype=np.uint8)
    return (grey > 0).astype(np.uint8)


def write_label_png(path: Path | str, labels: np.ndarray) -> None:
    """Write ``(H, W) uint8`` ids as a mode-``P`` PNG with the DAVIS palette, atomically."""
    image = Image.fromarray(np.asarray(labels, dtype=np.uint8), mode="P")
    image.putpalette(davis_palette().reshape(-1).tolist())
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
