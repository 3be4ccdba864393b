"""Frame decoding: one place that turns a path into pixels, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from box2mask.atomic import atomic_write_bytes
from box2mask.errors import FrameReadError

_MAGIC = {
    b"\xff\xd8\xff": "jpeg",
    b"\x89PN": "png",
    b"BM": "bmp",
    b"RIF": "webp",
}

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def sniff_image(path: Path) -> str | None:
    """Why ``path`` is not a readable image file, or ``None`` if its header looks right.

    Cheap (reads 3 bytes), so a scan can check every frame of a long video.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(3)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if not head:
        return "empty file"
    if not any(head.startswith(m) for m in _MAGIC):
        return "not an image (unknown file header)"
    return None


def read_rgb(path: Path | str, reduce: int = 1) -> np.ndarray:
    """Decode an image as ``(H, W, 3) uint8`` RGB.

    ``reduce`` in {1, 2, 4, 8} asks libjpeg for a downscaled decode, which is much
    faster than decoding at full size and resizing.
    """
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
             8: cv2.IMREAD_REDUCED_COLOR_8}[reduce]
    image = cv2.imread(str(path), flags)
    if image is None:
        reason = sniff_image(Path(path)) or "could not be decoded"
        raise FrameReadError(f"frame {path}: {reason}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_gray(path: Path | str, reduce: int = 1) -> np.ndarray:
    """Decode an image as ``(H, W) uint8`` luminance (see :func:`read_rgb` for ``reduce``)."""
    flags = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
             4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}[reduce]
    image = cv2.imread(str(path), flags)
    if image is None:
        reason = sniff_image(Path(path)) or "could not be decoded"
        raise FrameReadError(f"frame {path}: {reason}")
    return image


def image_size(path: Path | str) -> tuple[int, int]:
    """``(height, width)`` of an image file from its header alone (no pixel decode)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            width, height = im.size
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        reason = sniff_image(Path(path)) or f"could not be decoded ({exc})"
        raise FrameReadError(f"frame {path}: {reason}") from None
    return int(height), int(width)


def write_image_atomic(path: Path, image: np.ndarray, params: list[int] | None = None) -> None:
    """Write ``image`` (RGB or grey) so that ``path`` is either absent or complete."""
    path = Path(path)
    data = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(path.suffix, data, params or [])
    if not ok:
        raise OSError(f"could not encode {path}")
    atomic_write_bytes(path, buf.tobytes())
