"""Camera-motion registration between two frames: Box Filter, LK, Bi-Directional Filter, homography.

Conventions: homographies map *previous* to *current* frame pixel coordinates in
OpenCV's pixel-index convention (the centre of pixel ``(row r, col c)`` is
``(x=c, y=r)``) at **full** image resolution, so
``cv2.warpPerspective(prev, reg.homography, (W, H))`` lays the previous frame
over the current one.  (Boxes use continuous coordinates, half a pixel apart; see
:func:`warp_boxes`.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from box2mask.motion.config import MotionConfig
from box2mask.motion.features import allowed_region, sample_points

_IDENTITY = np.eye(3)


@dataclass(frozen=True)
class Registration:
    """How the previous frame maps onto the current one, and how much to trust it.

    ``homography`` is ``(3, 3) float64`` (full resolution, prev -> cur);
    ``inliers`` counts the point pairs the final model agrees with;
    ``reprojection_error`` is their mean distance in full-resolution pixels (NaN
    when there are none); ``fallback`` is None for a homography, ``"similarity"``
    when too few points survived for one, ``"identity"`` when nothing could be
    fitted (textureless frames, motion too large to track), with ``reason`` saying why.
    ``points`` were sampled, ``kept`` survived tracking and the filters.
    """

    homography: np.ndarray
    inliers: int
    reprojection_error: float
    fallback: str | None = None
    reason: str | None = None
    points: int = 0
    kept: int = 0

    @property
    def trusted(self) -> bool:
        """False when the transform is a guess (identity after a failed fit)."""
        return self.fallback != "identity"

    def inverse(self) -> np.ndarray:
        """``(3, 3) float64`` current -> previous homography."""
        return np.linalg.inv(self.homography)

    def as_dict(self) -> dict:
        """JSON-friendly diagnostics."""
        return {
            "homography": [[float(v) for v in row] for row in self.homography],
            "inliers": int(self.inliers),
            "reprojection_error": None if math.isnan(self.reprojection_error) else float(self.reprojection_error),
            "fallback": self.fallback, "reason": self.reason, "points": int(self.points), "kept": int(self.kept),
        }


def identity(reason: str | None, *, fallback: str | None = "identity", points: int = 0, kept: int = 0) -> Registration:
    """A registration that assumes a still camera."""
    return Registration(_IDENTITY.copy(), 0, float("nan"), fallback, reason, points, kept)


def rescale_homography(h: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """Express ``h`` (pixel-index coords of an image of ``from_size`` ``(H, W)``) for ``to_size``.

    Pixel centres correspond as ``x_to = k (x_from + 0.5) - 0.5`` with ``k`` the
    size ratio per axis, which is how area resizing and libjpeg scaling sample.
    """
    kx = to_size[1] / from_size[1]
    ky = to_size[0] / from_size[0]
    a = np.array([[kx, 0.0, 0.5 * kx - 0.5], [0.0, ky, 0.5 * ky - 0.5], [0.0, 0.0, 1.0]])
    a_inv = np.array([[1 / kx, 0.0, 0.5 / kx - 0.5], [0.0, 1 / ky, 0.5 / ky - 0.5], [0.0, 0.0, 1.0]])
    out = a @ h @ a_inv
    return out / out[2, 2]


def warp_points(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(N, 2)`` points through homography ``h`` (same coordinate convention in and out)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    q = np.hstack([p, np.ones((len(p), 1))]) @ np.asarray(h, dtype=np.float64).T
    return q[:, :2] / q[:, 2:3]


def warp_boxes(h: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` continuous-coordinate boxes moved by ``h``: the tight box of the warped corners."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    corners = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1) - 0.5
    moved = warp_points(h, corners.reshape(-1, 2)).reshape(-1, 4, 2) + 0.5
    return np.concatenate([moved.min(axis=1), moved.max(axis=1)], axis=1)


def plausible(h: np.ndarray, size: tuple[int, int], *, max_zoom: float = 2.0) -> str | None:
    """Why ``h`` is not a believable frame-to-frame camera motion for an image of ``size``, or None.

    Between neighbouring frames the image corners stay in front of the camera
    (positive ``w``), keep their order (a convex quadrilateral) and the area
    changes by less than ``max_zoom``.
    """
    if not np.isfinite(h).all():
        return "not finite"
    height, width = size
    corners = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float64)
    q = np.hstack([corners, np.ones((4, 1))]) @ h.T
    if (q[:, 2] <= 1e-6).any():
        return "maps image corners behind the camera"
    quad = (q[:, :2] / q[:, 2:3]).astype(np.float32)
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        return "folds the image"
    ratio = abs(cv2.contourArea(quad)) / max((width - 1) * (height - 1), 1)
    if not 1 / max_zoom <= ratio <= max_zoom:
        return f"scales the area by {ratio:.2f}"
    return None


def track_points(prev: np.ndarray, cur: np.ndarray, points: np.ndarray, *, config: MotionConfig,
                 backward: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pyramidal LK from ``prev`` to ``cur`` (and back when ``backward``).

    Returns ``(tracked (N, 2) float32, ok (N,) bool, fb_error (N,) float32)``;
    ``fb_error`` is the distance between each point and its forward-then-backward
    track (0 when ``backward`` is False).
    """
    win = (config.lk_window, config.lk_window)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, config.lk_iterations, 0.03)
    p0 = points.reshape(-1, 1, 2)
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, winSize=win, maxLevel=config.lk_levels, criteria=crit)
    ok = st1.ravel().astype(bool)
    h, w = cur.shape
    p1 = p1.reshape(-1, 2)
    ok &= np.isfinite(p1).all(axis=1) & (p1[:, 0] >= 0) & (p1[:, 0] <= w - 1) & (p1[:, 1] >= 0) & (p1[:, 1] <= h - 1)
    err = np.zeros(len(points), np.float32)
    if backward:
        p0b, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1.reshape(-1, 1, 2), None, winSize=win,
                                               maxLevel=config.lk_levels, criteria=crit)
        ok &= st2.ravel().astype(bool)
        err = np.linalg.norm(p0b.reshape(-1, 2) - points.reshape(-1, 2), axis=1).astype(np.float32)
        ok &= np.isfinite(err)
    return p1, ok, err


def bidirectional_keep(fb_error: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``(N,) bool``: tracked points whose forward-backward error is at most the median (Eq. 1)."""
    keep = ok.copy()
    if ok.any():
        tau = float(np.median(fb_error[ok]))
        keep &= fb_error <= tau
    return keep


def fit_homography(src: np.ndarray, dst: np.ndarray, size: tuple[int, int], *, config: MotionConfig,
                   points: int = 0) -> Registration:
    """Robust homography ``src -> dst`` (``(N, 2)`` full-resolution points), falling back when unfit.

    Order: homography (RANSAC or MAGSAC) when at least ``min_points`` pairs are
    given and enough agree; else a similarity transform (needs 3 pairs); else the
    identity.  Every fallback says why in ``reason``.
    """
    n = len(src)
    method = cv2.USAC_MAGSAC if config.method == "magsac" else cv2.RANSAC
    need = lambda: max(config.min_inliers, math.ceil(config.min_inlier_ratio * n))  # noqa: E731
    reason = None
    if n >= max(config.min_points, 4):
        h, mask = cv2.findHomography(src, dst, method, config.ransac_threshold, maxIters=2000, confidence=0.995)
        if h is None:
            reason = f"no homography fits {n} points"
        else:
            inl = mask.ravel().astype(bool)
            why = plausible(h, size)
            if why is not None:
                reason = f"homography {why}"
            elif inl.sum() < need():
                reason = f"only {int(inl.sum())} of {n} points agree on a homography"
            else:
                return _result(h, src, dst, inl, None, None, points, n)
    else:
        reason = f"{n} points survived (a homography needs {max(config.min_points, 4)})"
    if n >= 3:
        a, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                              ransacReprojThreshold=config.ransac_threshold)
        if a is not None:
            h = np.vstack([a, [0.0, 0.0, 1.0]])
            inl = mask.ravel().astype(bool)
            if plausible(h, size) is None and inl.sum() >= max(3, math.ceil(config.min_inlier_ratio * n)):
                return _result(h, src, dst, inl, "similarity", reason, points, n)
    return identity(reason or "too few points", points=points, kept=n)


def _result(h, src, dst, inl, fallback, reason, points, kept) -> Registration:
    err = np.linalg.norm(warp_points(h, src[inl]) - dst[inl], axis=1)
    return Registration(np.asarray(h, np.float64) / h[2, 2], int(inl.sum()),
                        float(err.mean()) if err.size else float("nan"), fallback, reason, points, kept)


def downscale(gray: np.ndarray, side: int) -> np.ndarray:
    """``gray`` shrunk by an integer factor (area averaging) to a long side <= ``side``."""
    f = max(1, math.ceil(max(gray.shape) / max(side, 16)))
    if f == 1:
        return gray
    return cv2.resize(gray, (max(1, gray.shape[1] // f), max(1, gray.shape[0] // f)), interpolation=cv2.INTER_AREA)


def register(prev_gray: np.ndarray, cur_gray: np.ndarray, exclude_boxes: np.ndarray | None = None, *,
             config: MotionConfig = MotionConfig(), full_size: tuple[int, int] | None = None) -> Registration:
    """Estimate the camera motion from ``prev_gray`` to ``cur_gray`` (both ``(h, w) uint8``).

    ``exclude_boxes`` ``(N, 4)`` are full-resolution continuous ``x0, y0, x1, y1``
    boxes of objects whose points must not be used (Box Filter; ignored when
    ``config.box_filter`` is off; NaN rows are skipped).  ``full_size`` ``(H, W)``
    is the full image size when the inputs were decoded smaller (e.g. with
    ``read_gray(path, reduce=2)``); the result is always at full resolution.
    Never raises on hard inputs: it returns a flagged fallback instead.
    """
    if prev_gray.shape != cur_gray.shape:
        raise ValueError(f"frames differ in size: {prev_gray.shape} vs {cur_gray.shape}")
    full = tuple(full_size) if full_size is not None else prev_gray.shape[:2]
    if not config.compensate:
        return identity("compensation disabled", fallback=None)
    p_small = downscale(prev_gray, config.register_side)
    c_small = downscale(cur_gray, config.register_side)
    h, w = p_small.shape
    scale = (full[1] / w, full[0] / h)
    boxes = exclude_boxes if config.box_filter else None
    allowed = allowed_region((h, w), boxes, scale=scale, margin=config.box_margin,
                             margin_px=config.box_margin_px, border=2)
    pts = sample_points(p_small, allowed, rows=config.grid_rows, cols=config.grid_cols,
                        quality=config.corner_quality, min_strength=config.min_corner_strength)
    if len(pts) < 3:
        free = float(allowed.mean())
        if free < 0.1:
            why = f"the boxes cover {100 * (1 - free):.0f}% of the frame: too little background to register on"
        else:
            where = "outside the boxes" if boxes is not None and free < 0.999 else "in the frame"
            why = f"no texture: {len(pts)} corners {where}"
        return identity(why, points=len(pts))
    tracked, ok, fb = track_points(p_small, c_small, pts, config=config, backward=config.bidirectional)
    keep = bidirectional_keep(fb, ok) if config.bidirectional else ok
    if not keep.any():
        return identity(f"none of {len(pts)} points could be tracked (motion too large?)", points=len(pts))
    to_full = lambda p: np.stack([scale[0] * (p[:, 0] + 0.5) - 0.5, scale[1] * (p[:, 1] + 0.5) - 0.5], 1)  # noqa: E731
    src = to_full(pts[keep]).astype(np.float32)
    dst = to_full(tracked[keep]).astype(np.float32)
    return fit_homography(src, dst, full, config=config, points=len(pts))
