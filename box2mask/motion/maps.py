"""Motion maps: warp a neighbour onto the frame, difference, mask what warping invented, normalise.

Frames are compared in CIE Lab (OpenCV's 8-bit encoding: L scaled to 0..255, a
and b offset by 128), as ``|dL| + chroma_weight * (|da| + |db|)``: lightness
carries most texture, chroma catches objects that match their background in
brightness only.  A constant alpha channel travels through the warp, so the
pixels the warp pulled in from outside the neighbour (alpha < 255) are known
exactly and never count as motion.
"""

from __future__ import annotations

import cv2
import numpy as np

from box2mask.motion.config import MotionConfig


def prepare(image: np.ndarray, *, config: MotionConfig) -> np.ndarray:
    """``(h, w, 4) uint8`` (Lab + alpha 255) or ``(h, w, 2) uint8`` (grey + alpha) ready to warp.

    ``image`` is ``(h, w, 3) uint8`` RGB, or ``(h, w) uint8`` grey for ``colour_space="gray"``.
    The light box blur (``pre_blur``) removes JPEG and interpolation noise that
    would otherwise show up as motion along every edge.
    """
    if config.colour_space == "lab":
        if image.ndim != 3:
            raise ValueError("colour_space 'lab' needs an (h, w, 3) RGB image")
        out = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2Lab), cv2.COLOR_RGB2RGBA)  # alpha = 255
    else:
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        out = cv2.merge([grey, np.full_like(grey, 255)])
    if config.pre_blur > 1:
        out = cv2.blur(out, (config.pre_blur, config.pre_blur))  # alpha stays 255
    return out


def warp(prepared: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``prepared`` warped by ``h`` (pixel-index coords of this image) onto the same grid."""
    height, width = prepared.shape[:2]
    out = cv2.warpPerspective(prepared, h, (width, height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out if out.ndim == 3 else out[..., None]


def difference(cur: np.ndarray, warped: np.ndarray, *, config: MotionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel colour difference ``(h, w) float32`` and its validity ``(h, w) bool``.

    Invalid pixels (brought in from outside the neighbour by the warp) hold 0, and
    are kept out of the ``post_blur`` so the image border does not bleed inwards.
    """
    diff = cv2.absdiff(cur, warped)
    channels = cur.shape[2] - 1
    planes = cv2.split(diff)
    if channels == 3:
        chroma = cv2.add(planes[1], planes[2], dtype=cv2.CV_32F)
        d = cv2.scaleAdd(chroma, config.chroma_weight, planes[0].astype(np.float32))
    else:
        d = planes[0].astype(np.float32)
    valid = warped[..., channels] == 255
    d[~valid] = 0.0
    if config.post_blur > 1:
        d = cv2.blur(d, (config.post_blur, config.post_blur))
        d[~valid] = 0.0
    return d, valid


def normalise(d: np.ndarray, valid: np.ndarray, *, config: MotionConfig) -> tuple[np.ndarray, float]:
    """``(h, w) float32`` map in [0, 1] and the divisor used.

    Divides by the frame's robust peak: the ``norm_quantile`` of the valid
    differences, but never less than ``norm_floor`` (difference units), so a frame
    where nothing moves stays dark instead of having its noise stretched to 1.
    """
    values = d[::2, ::2][valid[::2, ::2]]
    peak = float(np.quantile(values, config.norm_quantile)) if values.size else 0.0
    scale = max(peak, config.norm_floor)
    out = np.minimum(d * np.float32(1.0 / scale), np.float32(1.0))
    return out, scale


def to_uint8(motion: np.ndarray) -> np.ndarray:
    """``(h, w) uint8`` 0..255 of a ``[0, 1]`` map (rounded), for PNG output."""
    return cv2.convertScaleAbs(motion, alpha=255.0)  # rounds to nearest and saturates
