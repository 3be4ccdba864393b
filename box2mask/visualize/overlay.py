"""Drawing one annotated frame: mask tint and outline, the given box, optionally the motion map.

All images are ``(H, W, 3) uint8`` RGB; drawing never modifies its input.
"""

from __future__ import annotations

import cv2
import numpy as np

from box2mask.masks.png import davis_palette

BOX_COLOUR = (255, 255, 255)


def track_colour(position: int) -> tuple[int, int, int]:
    """A clearly visible colour for the ``position``-th track (the DAVIS palette, lifted for dark ones)."""
    r, g, b = (int(v) for v in davis_palette()[position % 254 + 1])
    if max(r, g, b) < 160:
        scale = 200 / max(r, g, b, 1)
        r, g, b = (min(255, int(v * scale)) for v in (r, g, b))
    return r, g, b


def tint(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], alpha: float = 0.45) -> np.ndarray:
    """``image`` with ``mask`` (``(H, W) bool``) blended towards ``colour`` and outlined in it."""
    out = image.copy()
    m = np.asarray(mask, bool)
    if m.any():
        out[m] = (out[m].astype(np.float32) * (1 - alpha) + np.array(colour, np.float32) * alpha).astype(np.uint8)
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, colour, max(1, round(min(image.shape[:2]) / 300)))
    return out


def draw_box(image: np.ndarray, box, colour: tuple[int, int, int] = BOX_COLOUR, *, dashed: bool = False) -> np.ndarray:
    """``image`` with the continuous ``x0, y0, x1, y1`` box drawn around the pixels it covers."""
    out = image.copy()
    if box is None or not np.all(np.isfinite(np.asarray(box, dtype=np.float64))):
        return out
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    thickness = max(1, round(min(image.shape[:2]) / 240))
    cv2.rectangle(out, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), colour, thickness, cv2.LINE_8)
    return out


def motion_tint(image: np.ndarray, motion: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """``image`` with a ``(h, w) float`` motion map in [0, 1] (any size) laid over it as a heat map."""
    h, w = image.shape[:2]
    m = cv2.resize(np.clip(motion, 0, 1).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    heat = cv2.cvtColor(cv2.applyColorMap((m * 255).astype(np.uint8), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    weight = (alpha * m)[..., None]
    return (image.astype(np.float32) * (1 - weight) + heat.astype(np.float32) * weight).astype(np.uint8)


def caption(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` with ``text`` on a dark strip along its top edge."""
    out = image.copy()
    scale = max(0.4, min(image.shape[:2]) / 600)
    thickness = max(1, round(scale * 1.5))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(3, th // 3)
    strip = out[:th + base + 2 * pad, :min(out.shape[1], tw + 2 * pad)]
    strip[:] = (strip.astype(np.float32) * 0.35).astype(np.uint8)
    cv2.putText(out, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def overlay(image: np.ndarray, tracks: list[tuple[np.ndarray | None, object]], *, motion: np.ndarray | None = None,
            text: str | None = None, alpha: float = 0.45) -> np.ndarray:
    """One frame's picture: ``tracks`` is ``[(mask or None, box or None), ...]`` in track order."""
    out = motion_tint(image, motion) if motion is not None else image.copy()
    for k, (mask, box) in enumerate(tracks):
        colour = track_colour(k)
        if mask is not None:
            out = tint(out, mask, colour, alpha)
        out = draw_box(out, box, BOX_COLOUR)
    if text:
        out = caption(out, text)
    return out
