"""Motion maps on synthetic clips with a known camera: compensation, object response, Eq. 2, edges."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from box2mask.boxes import box_from_mask
from box2mask.motion.config import PRESETS, MotionConfig
from box2mask.motion.maps import difference, normalise, prepare, warp
from box2mask.motion.output import read_map_png, write_map_png
from box2mask.motion.registration import register
from box2mask.motion.stream import motion_maps
from box2mask.motion.temporal import temporal_match
from tests.motion.synthetic import make_clip, write_sequence


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _raw_difference(clip, t: int, h: np.ndarray, config: MotionConfig) -> tuple[np.ndarray, np.ndarray]:
    prev = prepare(clip.frames[t - 1], config=config)
    cur = prepare(clip.frames[t], config=config)
    return difference(cur, warp(prev, h), config=config)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compensation_cuts_the_background_residual_at_least_fivefold(seed):
    """Pan + rotation + zoom with a known homography: what remains is sensor noise, not camera motion."""
    clip = make_clip(seed=seed, pan=(4.0, -2.0), rotate_deg=0.6, zoom=0.006)
    config = PRESETS["full"]
    for t in (2, 5):
        box = box_from_mask(clip.masks[t - 1] | clip.masks[t])[None]
        reg = register(_gray(clip.frames[t - 1]), _gray(clip.frames[t]), box, config=config)
        assert reg.fallback is None, reg.reason
        d_comp, valid = _raw_difference(clip, t, reg.homography, config)
        d_none, _ = _raw_difference(clip, t, np.eye(3), config)
        d_true, _ = _raw_difference(clip, t, clip.camera_motion(t), config)
        background = ~(clip.masks[t] | clip.masks[t - 1]) & valid
        residual, uncompensated = d_comp[background].mean(), d_none[background].mean()
        assert residual <= uncompensated / 5, (residual, uncompensated)
        assert residual <= 1.1 * d_true[background].mean()   # as good as the true camera motion


def test_moving_object_keeps_its_response_after_compensation(tmp_path):
    clip = make_clip(seed=3, pan=(4.0, 2.0), object_step=(5.0, 3.0))
    seq = write_sequence(clip, tmp_path / "clip")
    for frame in motion_maps(seq, config=PRESETS["full"]):
        obj = clip.masks[frame.index]
        near = np.zeros_like(obj)
        ys, xs = np.nonzero(obj)
        near[max(ys.min() - 12, 0):ys.max() + 13, max(xs.min() - 12, 0):xs.max() + 13] = True
        background = ~near & frame.valid
        assert frame.diagnostics.fallback is None
        assert frame.map[obj].mean() >= 4 * frame.map[background].mean() + 0.05, frame.index
        assert (frame.map[obj] > 0.5).mean() >= 0.15, frame.index          # the object shows at threshold 0.5
        assert (frame.map[background] > 0.5).mean() <= 0.02, frame.index   # the background does not


def test_without_compensation_the_background_lights_up(tmp_path):
    """The same clip without registration: the camera motion swamps the map (why we compensate)."""
    clip = make_clip(seed=3, pan=(4.0, 2.0), object_step=(5.0, 3.0))
    seq = write_sequence(clip, tmp_path / "clip")
    def contrast(config):
        maps = list(motion_maps(seq, config=config))
        return np.mean([f.map[clip.masks[f.index]].mean() / f.map[~clip.masks[f.index]].mean() for f in maps])

    raw, full = contrast(MotionConfig(name="raw", compensate=False)), contrast(PRESETS["full"])
    assert raw * 3 < full, (raw, full)


def test_maps_are_float32_in_unit_range_with_diagnostics(tmp_path):
    clip = make_clip(seed=5, n=5)
    seq = write_sequence(clip, tmp_path / "clip")
    frames = list(motion_maps(seq, config=PRESETS["full"]))
    assert [f.index for f in frames] == list(range(5))
    for f in frames:
        assert f.map.dtype == np.float32 and f.map.shape == (120, 160)
        assert f.map.min() >= 0 and f.map.max() <= 1
        assert f.valid.dtype == bool and not f.map[~f.valid].any()
        d = f.diagnostics.as_dict()
        assert d["inliers"] > 0 and d["reprojection_error"] is not None and d["fallback"] is None


def test_first_and_last_frames_are_one_sided(tmp_path):
    seq = write_sequence(make_clip(seed=6, n=5), tmp_path / "clip")
    sides = [f.diagnostics.sides for f in motion_maps(seq, config=PRESETS["full"])]
    assert sides == ["next", "both", "both", "both", "prev"]
    sides = [f.diagnostics.sides for f in motion_maps(seq, config=PRESETS["bf-bdf"])]
    assert sides == ["next", "prev", "prev", "prev", "prev"]
    first = next(motion_maps(seq, config=PRESETS["full"]))
    assert first.diagnostics.prev is None and first.diagnostics.next is not None


def test_single_frame_sequence_gives_an_empty_map(tmp_path):
    clip = make_clip(seed=6, n=1)
    (frame,) = motion_maps(write_sequence(clip, tmp_path / "one"), config=PRESETS["full"])
    assert frame.diagnostics.sides == "none" and not frame.map.any()


def test_absent_boxes_are_handled(tmp_path):
    clip = make_clip(seed=7, n=4)
    no_tracks = write_sequence(clip, tmp_path / "a", boxes=False)
    assert all(f.diagnostics.fallback is None for f in motion_maps(no_tracks, config=PRESETS["full"]))
    seq = write_sequence(clip, tmp_path / "b")
    boxes = np.array(seq.tracks[0].boxes)
    boxes[1:3] = np.nan  # the object is not annotated in two frames
    from dataclasses import replace

    from box2mask.structures import Track
    gappy = replace(seq, tracks=(Track(1, boxes, ~np.isnan(boxes).any(axis=1)),))
    frames = list(motion_maps(gappy, config=PRESETS["full"]))
    assert len(frames) == 4 and all(f.diagnostics.fallback is None for f in frames)


def test_textureless_sequence_is_flagged_not_fatal(tmp_path):
    clip = make_clip(seed=8, n=3)
    clip.frames = [np.full_like(f, 90) for f in clip.frames]
    frames = list(motion_maps(write_sequence(clip, tmp_path / "flat"), config=PRESETS["full"]))
    assert all(f.diagnostics.fallback == "identity" for f in frames)
    assert all(f.map.max() <= 0.5 for f in frames)   # nothing moves: the floor keeps it dark


def test_a_scene_cut_is_flagged_and_the_sound_side_is_used(tmp_path):
    a, b = make_clip(seed=9, n=3), make_clip(seed=10, n=3)
    clip = make_clip(seed=9, n=4)
    clip.frames = a.frames + b.frames[:1]   # frame 3 belongs to another scene
    clip.masks = a.masks + b.masks[:1]
    frames = list(motion_maps(write_sequence(clip, tmp_path / "cut"), config=PRESETS["full"]))
    assert frames[3].diagnostics.fallback == "identity" and frames[3].diagnostics.prev.reason
    assert frames[2].diagnostics.sides == "prev"   # the failed pair (2, 3) is dropped for frame 2
    assert frames[1].diagnostics.sides == "both"


def test_a_subset_of_frames_gives_the_same_maps(tmp_path):
    """Resuming computes only missing frames; their maps must equal a full run's."""
    seq = write_sequence(make_clip(seed=11, n=7), tmp_path / "clip")
    full = {f.index: f.map for f in motion_maps(seq, config=PRESETS["full"])}
    part = list(motion_maps(seq, config=PRESETS["full"], indices=[6, 0, 3]))
    assert [f.index for f in part] == [0, 3, 6]
    for f in part:
        assert np.array_equal(f.map, full[f.index])
    with pytest.raises(IndexError):
        list(motion_maps(seq, indices=[7]))


def test_temporal_matching_follows_eq2():
    prev = np.array([[50.0, 50.0, 10.0, 0.0]], np.float32)
    nxt = np.array([[45.0, 5.0, 30.0, 0.0]], np.float32)
    ones = np.ones_like(prev, bool)
    out, valid = temporal_match(prev, ones, nxt, ones, tau2=30.0)
    # kept where prev - next < tau2 (50-45, 10-30); zeroed where prev exceeds next by >= tau2 (50-5)
    assert out.tolist() == [[50.0, 0.0, 10.0, 0.0]] and valid.all()
    half = np.array([[True, True, False, False]])
    out, valid = temporal_match(prev, half, nxt, ~half, tau2=30.0)
    assert out.tolist() == [[50.0, 50.0, 30.0, 0.0]] and valid.all()   # one side only where the other is invalid


def test_temporal_matching_removes_the_ghost(tmp_path):
    """Where the object *was* (but no longer is) the backward map responds and Eq. 2 removes it."""
    clip = make_clip(seed=12, pan=(2.0, 1.0), object_step=(8.0, 0.0), object_size=24)
    seq = write_sequence(clip, tmp_path / "clip")
    with_tm = {f.index: f.map for f in motion_maps(seq, config=PRESETS["full"])}
    without = {f.index: f.map for f in motion_maps(seq, config=PRESETS["bf-bdf"])}
    for t in (2, 3, 4):
        ghost = clip.masks[t - 1] & ~clip.masks[t] & ~clip.masks[t + 1]
        assert ghost.sum() > 50
        assert (without[t][ghost] > 0.5).mean() > 0.3
        assert (with_tm[t][ghost] > 0.5).mean() < (without[t][ghost] > 0.5).mean() / 3


def test_normalise_divides_by_a_robust_peak_with_a_floor():
    config = MotionConfig()
    d = np.zeros((100, 100), np.float32)
    d[:10, :10] = 100.0                  # 1 % of the frame moves strongly
    out, scale = normalise(d, np.ones_like(d, bool), config=config.with_(norm_quantile=0.95))
    assert scale == config.norm_floor and out[:10, :10].min() == 1.0
    quiet = np.full((100, 100), 5.0, np.float32)
    out, scale = normalise(quiet, np.ones_like(quiet, bool), config=config)
    assert scale == config.norm_floor and np.allclose(out, 5.0 / config.norm_floor)
    loud = np.linspace(0, 200, 10000, dtype=np.float32).reshape(100, 100)
    out, scale = normalise(loud, np.ones_like(loud, bool), config=config)
    assert scale == pytest.approx(np.quantile(loud[::2, ::2], config.norm_quantile), rel=1e-4)
    assert out.max() == 1.0 and out.dtype == np.float32


def test_png_round_trip(tmp_path):
    m = np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(48, 64)
    write_map_png(tmp_path / "m.png", m)
    back = read_map_png(tmp_path / "m.png")
    assert back.shape == m.shape and np.abs(back - m).max() <= 0.5 / 255 + 1e-6
    assert ((back >= 128 / 255) == (m > 0.5)).all()
