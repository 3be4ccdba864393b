"""Crops around a box and the way back to the full frame.

Methods work on a square window centred on the box, ``context`` times the box's
geometric-mean side (never tighter than ``1.25 x`` its longer side), resampled to
a fixed size so that crops batch.  The window may run past the image border; the
outside is filled with zeros on the way in and ignored on the way out.  One
affine map does crop and resize in a single ``warpAffine`` (cheaper than slicing,
padding and resizing).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CropWindow:
    """A square window ``side`` pixels wide with top-left ``(x0, y0)`` in image coordinates."""

    x0: float
    y0: float
    side: float

    def to_crop(self, size: int) -> np.ndarray:
        """``2x3`` affine map from image to crop pixel coordinates for a ``size``-pixel crop."""
        s = size / self.side
        return np.array([[s, 0.0, -self.x0 * s], [0.0, s, -self.y0 * s]], dtype=np.float64)

    def box_to_crop(self, box: np.ndarray, size: int) -> np.ndarray:
        """``x0, y0, x1, y1`` image box in crop coordinates."""
        s = size / self.side
        b = np.asarray(box, dtype=np.float64)
        return np.array([(b[0] - self.x0) * s, (b[1] - self.y0) * s, (b[2] - self.x0) * s, (b[3] - self.y0) * s])

    def as_array(self) -> np.ndarray:
        return np.array([self.x0, self.y0, self.side], dtype=np.float64)


def square_window(box: np.ndarray, *, context: float, min_cover: float = 1.25,
                  jitter: np.ndarray | None = None) -> CropWindow:
    """The window for ``box`` (see module docstring).

    ``jitter = (dx, dy, log_scale)`` shifts the centre by fractions of the side
    and rescales it; training uses it so the object is not always dead centre.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    side = max(context * float(np.sqrt(w * h)), min_cover * max(w, h))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if jitter is not None:
        side *= float(np.exp(jitter[2]))
        cx += float(jitter[0]) * side
        cy += float(jitter[1]) * side
    return CropWindow(cx - side / 2, cy - side / 2, side)


def extract(image: np.ndarray, window: CropWindow, size: int, *,
            interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Resample ``window`` of ``image`` (``(H, W)`` or ``(H, W, C)``) to ``size x size``."""
    return cv2.warpAffine(image, window.to_crop(size), (size, size), flags=interpolation,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def paste(crop: np.ndarray, window: CropWindow, height: int, width: int, *,
          interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Map a ``(S, S)`` crop-space map back onto an ``(H, W)`` frame (zero outside the window)."""
    size = crop.shape[0]
    inverse = cv2.invertAffineTransform(window.to_crop(size))
    return cv2.warpAffine(crop, inverse, (width, height), flags=interpolation,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def transfer(crop: np.ndarray, source: CropWindow, target: CropWindow, size: int, *,
             interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """A ``(S, S)`` map over window ``source`` resampled onto window ``target`` at ``size x size``
    (zero where ``target`` reaches past ``source``): paste then extract, in one warp."""
    to_target = np.vstack([target.to_crop(size), [0.0, 0.0, 1.0]])
    from_source = np.vstack([cv2.invertAffineTransform(source.to_crop(crop.shape[0])), [0.0, 0.0, 1.0]])
    return cv2.warpAffine(crop, (to_target @ from_source)[:2], (size, size), flags=interpolation,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def box_in_crop(window: CropWindow, box: np.ndarray, size: int) -> np.ndarray:
    """The box drawn as a ``(S, S) float32`` {0, 1} mask in crop coordinates."""
    b = window.box_to_crop(box, size)
    out = np.zeros((size, size), np.float32)
    x0, y0 = int(np.clip(np.floor(b[0] + 0.5), 0, size)), int(np.clip(np.floor(b[1] + 0.5), 0, size))
    x1, y1 = int(np.clip(np.ceil(b[2] - 0.5), 0, size)), int(np.clip(np.ceil(b[3] - 0.5), 0, size))
    out[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)] = 1.0
    return out


def inside_image(window: CropWindow, size: int, height: int, width: int) -> np.ndarray:
    """``(S, S) bool``: which crop pixels come from inside the image."""
    ones = np.ones((height, width), dtype=np.uint8)
    return extract(ones, window, size, interpolation=cv2.INTER_NEAREST).astype(bool)
