"""Registration: Box Filter, Bi-Directional Filter, homography and its fallbacks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from box2mask.boxes import box_from_mask
from box2mask.motion.config import PRESETS, MotionConfig
from box2mask.motion.features import allowed_region, sample_points
from box2mask.motion.registration import (
    bidirectional_keep,
    register,
    rescale_homography,
    warp_boxes,
    warp_points,
)
from tests.motion.synthetic import make_clip


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _corner_error(h_est: np.ndarray, h_true: np.ndarray, shape: tuple[int, int]) -> float:
    height, width = shape
    corners = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], float)
    return float(np.abs(warp_points(h_est, corners) - warp_points(h_true, corners)).max())


def test_register_recovers_the_camera_homography():
    clip = make_clip(seed=1)
    for t in (1, 4, 7):
        box = box_from_mask(clip.masks[t - 1] | clip.masks[t])[None]
        reg = register(_gray(clip.frames[t - 1]), _gray(clip.frames[t]), box, config=PRESETS["full"])
        assert reg.fallback is None, reg.reason
        assert reg.inliers >= 20
        assert reg.reprojection_error < 1.0
        assert _corner_error(reg.homography, clip.camera_motion(t), clip.frames[0].shape[:2]) < 0.75


def test_register_at_reduced_input_reports_full_resolution():
    """Frames decoded at half size (libjpeg reduce=2) still give a full-resolution homography."""
    clip = make_clip(seed=2, height=160, width=224)
    prev, cur = _gray(clip.frames[2]), _gray(clip.frames[3])
    half = lambda g: cv2.resize(g, (g.shape[1] // 2, g.shape[0] // 2), interpolation=cv2.INTER_AREA)  # noqa: E731
    box = box_from_mask(clip.masks[2] | clip.masks[3])[None]
    reg = register(half(prev), half(cur), box, config=PRESETS["full"], full_size=(160, 224))
    assert reg.fallback is None, reg.reason
    assert _corner_error(reg.homography, clip.camera_motion(3), (160, 224)) < 1.5


def test_rescale_homography_round_trip_and_translation():
    shift = np.array([[1.0, 0, 4], [0, 1, 2], [0, 0, 1]])
    half = rescale_homography(shift, (100, 200), (50, 100))
    assert np.allclose(half, [[1, 0, 2], [0, 1, 1], [0, 0, 1]])
    h = np.array([[1.01, 0.02, 3.0], [-0.01, 0.99, -2.0], [1e-5, -2e-5, 1.0]])
    back = rescale_homography(rescale_homography(h, (480, 854), (240, 427)), (240, 427), (480, 854))
    assert np.allclose(back, h)


def test_warp_boxes_moves_a_box_by_a_translation():
    shift = np.array([[1.0, 0, 5], [0, 1, -3], [0, 0, 1]])
    assert np.allclose(warp_boxes(shift, np.array([[10, 20, 30, 40.0]])), [[15, 17, 35, 37]])


def test_box_filter_samples_no_point_inside_a_grown_box():
    rng = np.random.default_rng(0)
    gray = cv2.GaussianBlur(rng.integers(0, 255, (120, 160), dtype=np.uint8), (0, 0), 1.0)
    box = np.array([[40.0, 30.0, 100.0, 90.0]])
    allowed = allowed_region(gray.shape, box, margin=0.1, margin_px=4)
    pts = sample_points(gray, allowed, rows=12, cols=16)
    grown = (40 - 10, 30 - 10, 100 + 10, 90 + 10)  # 0.1 * 60 + 4 on every side

    def within(p: np.ndarray) -> np.ndarray:
        return (p[:, 0] >= grown[0]) & (p[:, 0] < grown[2]) & (p[:, 1] >= grown[1]) & (p[:, 1] < grown[3])

    inside = within(pts)
    assert len(pts) > 50 and not inside.any()
    # without the filter the same frame does give points there, and they are spread over the grid
    free = sample_points(gray, None, rows=12, cols=16)
    assert within(free).sum() >= 10
    cells = {(int(y) // 10, int(x) // 10) for x, y in free}
    assert len(cells) == len(free)  # at most one point per 10x10 grid cell


def test_box_filter_ignores_nan_and_clips_boxes_at_scale():
    allowed = allowed_region((60, 80), np.array([[np.nan] * 4, [-10, -10, 20, 20.0]]), scale=(2.0, 2.0),
                             margin=0.0, margin_px=0.0)
    assert not allowed[:10, :10].any() and allowed[10:, 10:].all()
    assert allowed_region((60, 80), None).all()
    assert allowed_region((60, 80), np.zeros((0, 4))).all()


def test_box_filter_keeps_object_points_out_of_the_fit():
    """A big textured object moving against the camera: the fit follows the background."""
    clip = make_clip(seed=3, object_size=60, object_step=(9.0, -6.0))
    t = 3
    box = box_from_mask(clip.masks[t - 1] | clip.masks[t])[None]
    prev, cur = _gray(clip.frames[t - 1]), _gray(clip.frames[t])
    with_bf = register(prev, cur, box, config=PRESETS["bf"])
    assert with_bf.fallback is None
    assert _corner_error(with_bf.homography, clip.camera_motion(t), prev.shape) < 0.75


def test_bidirectional_filter_keeps_points_at_or_below_the_median():
    err = np.array([0.1, 0.5, 0.2, 3.0, 0.4, 9.0, 0.3], np.float32)
    ok = np.array([True, True, True, True, True, True, False])
    keep = bidirectional_keep(err, ok)
    median = np.median(err[ok])  # 0.45
    assert keep.tolist() == [True, False, True, False, True, False, False]
    assert (err[keep] <= median).all()


def test_textureless_frames_fall_back_to_identity_with_a_reason():
    flat = np.full((90, 120), 128, np.uint8)
    reg = register(flat, flat, None, config=PRESETS["full"])
    assert reg.fallback == "identity" and "texture" in reg.reason
    assert np.allclose(reg.homography, np.eye(3)) and reg.inliers == 0 and not reg.trusted


def test_impossible_registration_is_flagged_not_raised():
    rng = np.random.default_rng(5)
    a = cv2.GaussianBlur(rng.integers(0, 255, (120, 160), dtype=np.uint8), (0, 0), 1.2)
    b = cv2.GaussianBlur(rng.integers(0, 255, (120, 160), dtype=np.uint8), (0, 0), 1.2)
    reg = register(a, b, None, config=PRESETS["full"])
    assert reg.fallback == "identity", (reg.fallback, reg.reason, reg.inliers)
    assert reg.reason
    # a box covering the whole frame leaves nothing to sample: flagged too
    whole = register(a, a, np.array([[0, 0, 160, 120.0]]), config=PRESETS["full"])
    assert whole.fallback == "identity" and "too little background" in whole.reason


def test_few_points_fall_back_to_a_similarity():
    clip = make_clip(seed=4)
    config = MotionConfig(grid_rows=2, grid_cols=4, min_points=10)   # at most 8 points
    reg = register(_gray(clip.frames[0]), _gray(clip.frames[1]), None, config=config.with_(bidirectional=False))
    assert reg.fallback == "similarity", reg.reason
    assert "points survived" in reg.reason


def test_frames_of_different_size_are_a_clear_error():
    with pytest.raises(ValueError, match="differ in size"):
        register(np.zeros((10, 10), np.uint8), np.zeros((10, 12), np.uint8), None)
